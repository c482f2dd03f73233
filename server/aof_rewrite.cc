// AOF rewrite, as Redis 7.0's rewriteAppendOnlyFileBackground and backgroundRewriteDoneHandler:
// the parent flushes and opens a new incr file, a forked child writes a compact RESP base from its
// copy-on-write keyspace, and when it succeeds the parent renames the base in, switches the
// manifest atomically and deletes the files it no longer names. Automatic rewrite by size.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/aof.h"
#include "server/functions.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/stream.h"
#include "storage/zset.h"

namespace docket::server {
namespace {

constexpr size_t kRewriteItemsPerCmd = 64;  // AOF_REWRITE_ITEMS_PER_CMD

void Bulk(std::string& out, std::string_view arg) {
  out += "$" + std::to_string(arg.size()) + "\r\n";
  out.append(arg);
  out += "\r\n";
}

void Command(std::string& out, std::initializer_list<std::string_view> argv) {
  out += "*" + std::to_string(argv.size()) + "\r\n";
  for (std::string_view a : argv) Bulk(out, a);
}

// Emits `<cmd> key item...` commands of at most kRewriteItemsPerCmd items (pairs for hashes).
class BatchWriter {
 public:
  BatchWriter(std::string& out, std::string_view cmd, std::string_view key, size_t per_item)
      : out_(out), cmd_(cmd), key_(key), per_item_(per_item) {}
  ~BatchWriter() { Emit(); }
  void Add(std::string_view item) {
    items_.emplace_back(item);
    if (items_.size() == kRewriteItemsPerCmd * per_item_) Emit();
  }

 private:
  void Emit() {
    if (items_.empty()) return;
    out_ += "*" + std::to_string(items_.size() + 2) + "\r\n";
    Bulk(out_, cmd_);
    Bulk(out_, key_);
    for (const std::string& item : items_) Bulk(out_, item);
    items_.clear();
  }
  std::string& out_;
  std::string_view cmd_, key_;
  size_t per_item_;
  std::vector<std::string> items_;
};

// rewriteStreamObject: XADD per entry (or the XADD MAXLEN 0 trick for an empty stream), XSETID
// with ENTRIESADDED / MAXDELETEDID, then per group XGROUP CREATE ... ENTRIESREAD, an XCLAIM ...
// FORCE per pending entry and XGROUP CREATECONSUMER for consumers without any.
void RewriteStream(std::string& out, std::string_view key, const storage::StreamObject& s) {
  if (s.length() == 0) Command(out, {"XADD", key, "MAXLEN", "0", "0-1", "x", "y"});
  for (storage::StreamIterator it(s); it.Next();) {
    out += "*" + std::to_string(3 + it.field_values().size()) + "\r\n";
    Bulk(out, "XADD");
    Bulk(out, key);
    Bulk(out, it.id().ToString());
    for (std::string_view fv : it.field_values()) Bulk(out, fv);
  }
  Command(out, {"XSETID", key, s.last_id().ToString(), "ENTRIESADDED",
                std::to_string(s.entries_added()), "MAXDELETEDID",
                s.max_deleted_entry_id().ToString()});
  for (const auto& [name, group] : s.groups()) {
    Command(out, {"XGROUP", "CREATE", key, name, group->last_id.ToString(), "ENTRIESREAD",
                  std::to_string(group->entries_read)});
    for (const auto& [cname, consumer] : group->consumers) {
      if (consumer->pel.empty()) Command(out, {"XGROUP", "CREATECONSUMER", key, name, cname});
      for (const auto& [id, nack] : consumer->pel) {
        Command(out, {"XCLAIM", key, name, cname, "0", id.ToString(), "TIME",
                      std::to_string(nack->delivery_time_ms), "RETRYCOUNT",
                      std::to_string(nack->delivery_count), "JUSTID", "FORCE"});
      }
    }
  }
}

// One key as the commands that rebuild it (Redis's rewriteAppendOnlyFileRio). False for a type
// this rewrite does not know: the rewrite then fails rather than drop the key.
bool RewriteKey(std::string& out, std::string_view key, const storage::Value& v) {
  switch (v.type()) {
    case storage::ValueType::kString:
      Command(out, {"SET", key, v.str()});
      return true;
    case storage::ValueType::kList: {
      BatchWriter batch(out, "RPUSH", key, 1);
      v.As<storage::ListObject>().Walk(true, [&](size_t, std::string_view item) {
        batch.Add(item);
        return true;
      });
      return true;
    }
    case storage::ValueType::kSet: {
      BatchWriter batch(out, "SADD", key, 1);
      v.As<storage::SetObject>().ForEach([&](std::string_view m) { batch.Add(m); });
      return true;
    }
    case storage::ValueType::kHash: {
      BatchWriter batch(out, "HMSET", key, 2);
      v.As<storage::HashObject>().ForEach([&](std::string_view f, std::string_view val) {
        batch.Add(f);
        batch.Add(val);
      });
      return true;
    }
    case storage::ValueType::kZSet: {  // rewriteSortedSetObject: rioWriteBulkDouble's %.17g
      BatchWriter batch(out, "ZADD", key, 2);
      for (auto* x = v.As<storage::ZSetObject>().First(); x != nullptr; x = x->next()) {
        char buf[128];
        batch.Add(std::string_view(buf, std::snprintf(buf, sizeof(buf), "%.17g", x->score)));
        batch.Add(x->member());
      }
      return true;
    }
    case storage::ValueType::kStream:
      RewriteStream(out, key, v.As<storage::StreamObject>());
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string Aof::TempRewriteName(pid_t pid) const {
  return "temp-rewriteaof-bg-" + std::to_string(pid) + ".aof";
}

// Runs in the child: writes the whole keyspace to path and fsyncs it. Exits the process.
void Aof::RewriteChild(const std::string& path) {
  std::unique_ptr<storage::AofWritableFile> f = env_->OpenAppend(path);
  if (f == nullptr) _exit(1);
  storage::Keyspace& ks = server_->keyspace();
  int64_t now = server_->NowMs();
  std::string out;
  int err_no = 0;
  auto drain = [&](bool all) {
    if (out.size() < (all ? 1 : 64 * 1024)) return true;
    bool ok = storage::WriteAll(f.get(), out.data(), out.size(), &err_no) == out.size();
    out.clear();
    return ok;
  };
  // Functions first, as Redis's rewriteFunctions: FUNCTION LOAD per library (the child's copy of
  // the registry is as the fork left it).
  server_->functions().AppendRewrite(out);
  bool ok = true;
  for (int i = 0; i < ks.count() && ok; i++) {
    storage::Database& db = ks.db(i);
    if (db.size() == 0) continue;
    Command(out, {"SELECT", std::to_string(i)});
    db.keys().ForEach([&](auto& e) {
      if (!ok) return;
      int64_t when = db.GetExpire(e.key);
      if (when != -1 && when < now) return;  // already expired, as Redis skips it
      if (!RewriteKey(out, e.key, e.value)) {
        ok = false;
        return;
      }
      if (when != -1) Command(out, {"PEXPIREAT", e.key, std::to_string(when)});
      ok = drain(false);
    });
  }
  if (!ok || !drain(true) || f->Fsync() != 0) _exit(1);
  _exit(0);
}

std::string Aof::StartRewrite() {
  if (child_pid_ > 0) return "-ERR Background append only file rewriting already in progress";
  if (env_->MakeDir(Dir()) != 0) {
    return "-ERR Can't open or create append-only dir " + Dir() + ": " + strerror(errno);
  }
  // What is buffered belongs to the old files; the new incr file starts at the fork.
  if (state_ == AofState::kOn) {
    Flush(true);
    if (!buf_.empty() || last_write_errno_ != 0) {
      return "-ERR Can't execute an AOF background rewriting. Please check the server logs for "
             "more information.";
    }
    fsync_thread_.Drain();
    if (file_ != nullptr) file_->Fsync();
    storage::AofManifest next = manifest_;
    std::string name = next.NewIncr(FileName());
    std::unique_ptr<storage::AofWritableFile> f = env_->OpenAppend(storage::JoinPath(Dir(), name));
    std::string err =
        f == nullptr ? strerror(errno) : storage::PersistAofManifest(env_, Dir(), FileName(), next);
    if (!err.empty()) {
      DOCKET_LOG(LogLevel::kWarning, "Can't open new incr AOF file %s: %s", name.c_str(),
                 err.c_str());
      return "-ERR Can't execute an AOF background rewriting. Please check the server logs for "
             "more information.";
    }
    manifest_ = next;
    SetLiveFile(std::move(f), 0);
    rewrite_incr_name_ = name;
  } else {
    // CONFIG SET appendonly yes (or BGREWRITEAOF with appendonly no): start from the manifest on
    // disk (its files become history), and collect new commands in a temporary incr file until the
    // base exists.
    bool found = false;
    if (!storage::LoadAofManifest(env_, Dir(), FileName(), &manifest_, &found).empty() || !found) {
      manifest_ = storage::AofManifest{};
    }
    rewrite_incr_name_.clear();
  }
  if (state_ == AofState::kWaitRewrite) {
    rewrite_incr_name_ = "temp-" + FileName() + ".incr";
    std::string path = storage::JoinPath(Dir(), rewrite_incr_name_);
    env_->Remove(path);
    SetLiveFile(env_->OpenAppend(path), 0);
    if (file_ == nullptr)
      return "-ERR Can't open the temporary AOF incr file: " + std::string(strerror(errno));
    buf_.clear();
  }
  selected_db_ = -1;
  pid_t pid = fork();
  if (pid == 0) {
    RewriteChild(storage::JoinPath(server_->config().dir, TempRewriteName(getpid())));
  }
  if (pid < 0) {
    DOCKET_LOG(LogLevel::kWarning, "Can't rewrite append only file in background: fork: %s",
               strerror(errno));
    return "-ERR Can't execute an AOF background rewriting. Please check the server logs for "
           "more information.";
  }
  DOCKET_LOG(LogLevel::kNotice, "Background append only file rewriting started by pid %ld",
             static_cast<long>(pid));
  child_pid_ = pid;
  rewrite_scheduled_ = false;
  rewrite_start_ms_ = server_->NowMs();
  return "";
}

void Aof::ReapChild() {
  if (child_pid_ <= 0) {
    if (rewrite_scheduled_ && state_ != AofState::kOff) StartRewrite();
    return;
  }
  int status = 0;
  pid_t pid = waitpid(child_pid_, &status, WNOHANG);
  if (pid == 0) return;
  bool ok = pid == child_pid_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok && pid == child_pid_ && WIFSIGNALED(status)) {
    DOCKET_LOG(LogLevel::kWarning, "Background AOF rewrite terminated by signal %d",
               WTERMSIG(status));
  }
  RewriteDone(ok);
}

void Aof::RewriteDone(bool ok) {
  std::string tmp = storage::JoinPath(server_->config().dir, TempRewriteName(child_pid_));
  child_pid_ = -1;
  last_rewrite_time_s_ = (server_->NowMs() - rewrite_start_ms_) / 1000;
  std::string err = ok ? "" : "the child failed";
  storage::AofManifest next = manifest_;
  if (err.empty() && state_ == AofState::kOff && stopped_during_rewrite_) {
    err = "the AOF was turned off";
  }
  stopped_during_rewrite_ = false;
  if (err.empty()) {
    std::string base = next.NewBase(FileName());
    if (env_->Rename(tmp, storage::JoinPath(Dir(), base)) != 0) err = strerror(errno);
    if (err.empty() && state_ == AofState::kWaitRewrite) {
      // Flush first so the temporary incr file holds everything since the fork.
      Flush(true);
      std::string incr = next.NewIncr(FileName());
      next.MarkRewrittenIncrAsHistory();
      if (env_->Rename(storage::JoinPath(Dir(), rewrite_incr_name_),
                       storage::JoinPath(Dir(), incr)) != 0) {
        err = strerror(errno);
      }
    } else if (state_ == AofState::kOff) {
      next.MarkRewrittenIncrAsHistory();  // the base holds everything: no incr file is live
      for (storage::AofInfo& ai : next.incr) ai.file_type = storage::AofFileType::kHistory;
      next.history.insert(next.history.end(), next.incr.begin(), next.incr.end());
      next.incr.clear();
    } else {
      next.MarkRewrittenIncrAsHistory();
    }
    if (err.empty()) err = storage::PersistAofManifest(env_, Dir(), FileName(), next);
  }
  if (!err.empty()) {
    DOCKET_LOG(LogLevel::kWarning, "Background AOF rewrite failed: %s", err.c_str());
    env_->Remove(tmp);
    last_rewrite_ok_ = false;
    rewrite_failures_++;
    if (state_ == AofState::kWaitRewrite) {
      SetLiveFile(nullptr, 0);
      env_->Remove(storage::JoinPath(Dir(), rewrite_incr_name_));
      buf_.clear();
      state_ = AofState::kOff;
    }
    return;
  }
  manifest_ = next;
  for (const storage::AofInfo& ai : manifest_.history) {
    env_->Remove(storage::JoinPath(Dir(), ai.file_name));
  }
  manifest_.history.clear();
  storage::PersistAofManifest(env_, Dir(), FileName(), manifest_);
  if (state_ == AofState::kWaitRewrite) {
    state_ = AofState::kOn;
    last_fsync_ms_ = server_->NowMs();
    DOCKET_LOG(LogLevel::kNotice, "Background AOF rewrite finished successfully");
  }
  current_size_ = FilesSize();
  last_rewrite_ok_ = true;
  rewrites_++;
  rewrite_failures_ = 0;
  DOCKET_LOG(LogLevel::kNotice, "Background AOF rewrite terminated with success");
}

// Redis's serverCron check: rewrite when the AOF grew auto-aof-rewrite-percentage over its
// size after the last rewrite, and is at least auto-aof-rewrite-min-size.
void Aof::CheckAutoRewrite() {
  const Config& cfg = server_->config();
  if (state_ != AofState::kOn || child_pid_ > 0 || cfg.auto_aof_rewrite_percentage == 0) return;
  if (current_size_ < cfg.auto_aof_rewrite_min_size) return;
  int64_t base = base_size_ > 0 ? base_size_ : 1;
  int64_t growth = (current_size_ * 100 / base) - 100;
  if (growth < cfg.auto_aof_rewrite_percentage) return;
  DOCKET_LOG(LogLevel::kNotice, "Starting automatic rewriting of AOF on %lld%% growth",
             static_cast<long long>(growth));
  StartRewrite();
}

namespace {

// BGREWRITEAOF
void CmdBgRewriteAof(CommandContext& ctx) {
  Aof& aof = ctx.server.aof();
  if (aof.rewrite_in_progress()) {
    return ctx.reply.Error("Background append only file rewriting already in progress");
  }
  if (ctx.client.Has(kClientDenyBlocking) && ctx.client.Has(kClientMulti)) {
    aof.set_rewrite_scheduled(true);  // inside EXEC, as Redis's server.in_exec
    return ctx.reply.Simple("Background append only file rewriting scheduled");
  }
  std::string err = aof.StartRewrite();
  if (!err.empty()) return ctx.reply.Error(err);
  ctx.reply.Simple("Background append only file rewriting started");
}

}  // namespace

void RegisterAofCommands(CommandTable& table) { table.Register("bgrewriteaof", CmdBgRewriteAof); }

}  // namespace docket::server
