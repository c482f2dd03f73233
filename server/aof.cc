// The append-only file at run time (Redis 7.0's aof.c): feeding propagated commands, writing and
// fsyncing by appendfsync policy, the background fsync thread, write-error state (-MISCONF), the
// appendonly switch and INFO persistence. Depends on server/ and storage/aof_file.
#include "server/aof.h"

#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "server/client.h"
#include "server/functions.h"
#include "server/log.h"
#include "server/server.h"
#include "server/transaction.h"

namespace docket::server {
namespace {

void AppendBulk(std::string& out, std::string_view arg) {
  out.push_back('$');
  out += std::to_string(arg.size());
  out += "\r\n";
  out.append(arg);
  out += "\r\n";
}

}  // namespace

AofFsyncThread::AofFsyncThread() : thread_([this] { Loop(); }) {}

AofFsyncThread::~AofFsyncThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AofFsyncThread::Submit(std::shared_ptr<storage::AofWritableFile> file, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (busy_.load()) return;
  job_ = std::move(file);
  job_seq_ = seq;
  busy_.store(true);
  cv_.notify_all();
}

void AofFsyncThread::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !busy_.load(); });
}

void AofFsyncThread::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (job_ == nullptr) return;  // stop_ with nothing queued
    std::shared_ptr<storage::AofWritableFile> file = std::move(job_);
    uint64_t seq = job_seq_;
    lock.unlock();
    int rc = file->Fsync();
    int err = rc == 0 ? 0 : errno;
    file.reset();
    lock.lock();
    last_errno_.store(err);
    done_seq_.store(seq);
    busy_.store(false);
    cv_.notify_all();
    if (int fd = notify_fd_.load(); fd >= 0) {  // still under mu_ (see set_notify_fd)
      uint64_t one = 1;
      if (write(fd, &one, sizeof(one)) < 0) {
        // EAGAIN: the counter is saturated, a wake-up is pending anyway.
      }
    }
  }
}

Aof::Aof(Server* server) : server_(server), env_(storage::DefaultAofEnv()) {}

Aof::~Aof() {
  if (sync_event_ != nullptr) {
    fsync_thread_.set_notify_fd(-1);
    event_free(sync_event_);
    close(sync_event_fd_);
  }
  if (child_pid_ > 0) {
    kill(child_pid_, SIGUSR1);
    std::string tmp = storage::JoinPath(server_->config().dir, TempRewriteName(child_pid_));
    env_->Remove(tmp);
  }
}

bool Aof::always() const { return server_->config().appendfsync == "always"; }

std::string Aof::Dir() const {
  return storage::JoinPath(server_->config().dir, server_->config().appenddirname);
}

const std::string& Aof::FileName() const { return server_->config().appendfilename; }

void Aof::Feed(int db, std::span<const std::string_view> argv) {
  // While a base is being written for CONFIG SET appendonly yes, the new incr file already
  // collects what happens (Redis feeds the buffer in AOF_WAIT_REWRITE with a child running).
  if (state_ == AofState::kOff || (state_ == AofState::kWaitRewrite && child_pid_ <= 0)) return;
  if (db != selected_db_) {
    std::string n = std::to_string(db);
    buf_ += "*2\r\n$6\r\nSELECT\r\n";
    AppendBulk(buf_, n);
    selected_db_ = db;
  }
  buf_.push_back('*');
  buf_ += std::to_string(argv.size());
  buf_ += "\r\n";
  for (std::string_view a : argv) AppendBulk(buf_, a);
}

void Aof::SetWriteError(int err_no) {
  if (last_write_errno_ == 0) {
    DOCKET_LOG(LogLevel::kWarning, "Error writing to the AOF file: %s", strerror(err_no));
  }
  last_write_errno_ = err_no;
}

void Aof::ClearWriteError() {
  if (last_write_errno_ != 0) {
    DOCKET_LOG(LogLevel::kWarning, "AOF write error looks solved, Docket can write again.");
  }
  last_write_errno_ = 0;
}

// Writes buf_ to the file. A short write is cut back off the file (as Redis does) so that the
// file never ends inside a command that a retry would then repeat.
bool Aof::WriteBuffer() {
  bool pad = always();
  if (!pad) TrimPadding();
  // The write ends at an even offset, so that the padding after it starts with '#'.
  if (pad && (incr_size_ + static_cast<int64_t>(buf_.size())) % 2 != 0) buf_ += "##\n";
  int err_no = 0;
  size_t n = storage::WriteAll(file_.get(), buf_.data(), buf_.size(), &err_no);
  if (n == buf_.size()) {
    current_size_ += static_cast<int64_t>(n);
    incr_size_ += static_cast<int64_t>(n);
    buf_.clear();
    if (pad) PadAhead();
    return true;
  }
  if (n > 0) {
    if (file_->Truncate(incr_size_) != 0) {
      // The partial command stays in the file: drop what was written from the buffer so that
      // the rest completes it on the next try.
      DOCKET_LOG(LogLevel::kWarning,
                 "Could not remove short write from the append-only file. Docket may refuse to "
                 "load the AOF the next time it starts.  ftruncate: %s",
                 strerror(errno));
      current_size_ += static_cast<int64_t>(n);
      incr_size_ += static_cast<int64_t>(n);
      buf_.erase(0, n);
    }
  }
  SetWriteError(err_no);
  return false;
}

void Aof::PadAhead() {
  constexpr int64_t kChunk = 1 << 20;  // one size change (a slower fsync) per MB of commands
  if (padded_end_ - incr_size_ >= 64 * 1024) return;
  int64_t from = std::max(padded_end_, incr_size_);
  // A failure is harmless (the padding is only a speed-up): it is cut off with the rest.
  padded_end_ = file_->WritePadding(from, kChunk) == 0 ? from + kChunk : incr_size_ + 1;
}

void Aof::TrimPadding() {
  if (padded_end_ == 0 || file_ == nullptr) return;
  padded_end_ = 0;
  if (file_->Truncate(incr_size_) != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Can't cut the padding off the append-only file: %s",
               strerror(errno));
  }
}

void Aof::SetLiveFile(std::shared_ptr<storage::AofWritableFile> f, int64_t size) {
  TrimPadding();
  file_ = std::move(f);
  incr_size_ = size;
  padded_end_ = 0;
}

int64_t Aof::FilesSize() {
  int64_t total = 0;
  if (manifest_.has_base) {
    base_size_ =
        std::max<int64_t>(0, env_->FileSize(storage::JoinPath(Dir(), manifest_.base.file_name)));
    total = base_size_;
  }
  for (size_t i = 0; i < manifest_.incr.size(); i++) {
    bool live = file_ != nullptr && i + 1 == manifest_.incr.size();
    std::string path = storage::JoinPath(Dir(), manifest_.incr[i].file_name);
    total += live ? incr_size_ : std::max<int64_t>(0, env_->FileSize(path));
  }
  return total;
}

void Aof::Flush(bool force) {
  if (state_ == AofState::kOff || file_ == nullptr) return;
  if (always()) {
    if (!buf_.empty()) {
      if (!WriteBuffer()) return;
      written_seq_++;
    }
    return force ? SyncNow() : SubmitSync();
  }
  int64_t now = server_->NowMs();
  bool everysec = server_->config().appendfsync == "everysec";
  if (!buf_.empty()) {
    if (everysec && !force && fsync_thread_.busy()) {
      if (postponed_since_ms_ == 0) {
        postponed_since_ms_ = now;
        return;
      }
      if (now - postponed_since_ms_ < 2000) return;
      delayed_fsync_++;
      DOCKET_LOG(LogLevel::kNotice,
                 "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF "
                 "buffer without waiting for fsync to complete, this may slow down Docket.");
    }
    postponed_since_ms_ = 0;
    if (!WriteBuffer()) return;
    needs_fsync_ = true;
    ClearWriteError();
  }
  if (!needs_fsync_) return;
  if (!everysec) {
    needs_fsync_ = false;  // appendfsync no: the OS decides
  } else if (now - last_fsync_ms_ >= 1000 && !fsync_thread_.busy()) {
    fsync_thread_.Submit(file_);
    needs_fsync_ = false;
    last_fsync_ms_ = now;
  }
}

// appendfsync always runs as a pipelined group commit: the loop writes each iteration's batch
// and goes on serving while the fsync thread syncs what was written; when it ends, the next
// fsync takes every batch written meanwhile, and the output waiting on them goes out.
void Aof::SubmitSync() {
  if (written_seq_ <= synced_seq_ || fsync_thread_.busy()) return;
  if (last_write_errno_ != 0 && !sync_retry_due_) return;  // a failing disk: the cron retries
  sync_retry_due_ = false;
  if (sync_event_ == nullptr) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    event* ev = fd < 0
                    ? nullptr
                    : event_new(server_->base(), fd, EV_READ | EV_PERSIST, &Aof::OnSyncEvent, this);
    if (ev == nullptr || event_add(ev, nullptr) != 0) {
      if (ev != nullptr) event_free(ev);
      if (fd >= 0) close(fd);
      return SyncNow();
    }
    sync_event_fd_ = fd;
    sync_event_ = ev;
    fsync_thread_.set_notify_fd(fd);
  }
  fsync_thread_.Submit(file_, written_seq_);
}

void Aof::OnSyncEvent(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Aof*>(arg);
  uint64_t count;
  if (read(fd, &count, sizeof(count)) < 0) {
    // EAGAIN: already taken.
  }
  self->TakeSyncResult();
  if (self->state_ != AofState::kOff && self->file_ != nullptr && self->always()) {
    self->SubmitSync();  // the batches written while it ran
  }
}

void Aof::TakeSyncResult() {
  if (fsync_thread_.busy() || !always()) return;  // everysec errors are the cron's
  if (int err = fsync_thread_.last_errno(); err != 0) {
    fsync_thread_.clear_error();
    return SetWriteError(err);
  }
  if (fsync_thread_.done_seq() > synced_seq_) {
    synced_seq_ = fsync_thread_.done_seq();
    last_fsync_ms_ = server_->NowMs();
    if (buf_.empty()) ClearWriteError();
  }
}

void Aof::SyncNow() {
  fsync_thread_.Drain();
  TakeSyncResult();
  if (file_ == nullptr || written_seq_ <= synced_seq_) return;
  if (file_->Fsync() != 0) return SetWriteError(errno);
  synced_seq_ = written_seq_;
  last_fsync_ms_ = server_->NowMs();
  if (buf_.empty()) ClearWriteError();
}

void Aof::TagReply(Client& c, bool dirtied) {
  if (state_ == AofState::kOff) return;
  uint64_t need = buf_.empty() ? written_seq_ : written_seq_ + 1;
  if (need <= synced_seq_ || need <= c.aof_wait_seq || !always()) return;
  if (!dirtied && last_write_errno_ != 0) return;  // -MISCONF: reads go on
  c.aof_wait_seq = need;
}

bool Aof::MustHold(const Client& c) const {
  return c.aof_wait_seq > synced_seq_ && state_ != AofState::kOff && always();
}

void Aof::FlushAndSyncForShutdown() {
  if (state_ == AofState::kOff || file_ == nullptr) return;
  fsync_thread_.Drain();
  Flush(true);
  TrimPadding();
  if (file_->Fsync() != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Error fsyncing the AOF at shutdown: %s", strerror(errno));
  }
}

std::string Aof::WriteErrorReply() const {
  if (state_ == AofState::kOff) return "";
  int err = last_write_errno_ != 0 ? last_write_errno_ : fsync_thread_.last_errno();
  if (err == 0) return "";
  return std::string("-MISCONF Errors writing to the AOF file: ") + strerror(err);
}

void Aof::Cron() {
  ReapChild();
  if (state_ == AofState::kOff) return;
  // Retry a failed write or fsync, and the everysec fsync of an idle server.
  sync_retry_due_ = true;
  if (!buf_.empty() || needs_fsync_ || last_write_errno_ != 0 || written_seq_ > synced_seq_) {
    Flush(false);
  }
  if (fsync_thread_.last_errno() != 0 && !fsync_thread_.busy()) {
    // A failed background fsync is retried until it works (the data is already written).
    fsync_thread_.clear_error();
    if (file_->Fsync() != 0) {
      SetWriteError(errno);
    } else {
      ClearWriteError();
    }
  }
  CheckAutoRewrite();
}

std::string Aof::OpenIncr(bool persist_manifest) {
  if (manifest_.incr.empty()) manifest_.NewIncr(FileName());
  std::string path = storage::JoinPath(Dir(), manifest_.incr.back().file_name);
  std::unique_ptr<storage::AofWritableFile> f = env_->OpenAppend(path);
  if (f == nullptr) return "Can't open the append-only file " + path + ": " + strerror(errno);
  SetLiveFile(std::move(f), std::max<int64_t>(0, env_->FileSize(path)));
  current_size_ = FilesSize();
  selected_db_ = -1;
  if (persist_manifest) return storage::PersistAofManifest(env_, Dir(), FileName(), manifest_);
  return "";
}

std::string Aof::Start() {
  if (state_ != AofState::kOff) return "";
  if (env_->MakeDir(Dir()) != 0) {
    return "Can't open or create append-only dir " + Dir() + ": " + strerror(errno);
  }
  if (child_pid_ > 0) return "a rewrite is already in progress";
  state_ = AofState::kWaitRewrite;
  std::string err = StartRewrite();
  if (!err.empty()) {
    state_ = AofState::kOff;
    DOCKET_LOG(LogLevel::kWarning,
               "Docket needs to enable the AOF but can't trigger a background AOF rewrite "
               "operation. Check the above logs for more info about the error.");
    return "Failed to start AOF";
  }
  return "";
}

void Aof::Stop() {
  if (state_ == AofState::kOff) return;
  Flush(true);
  TrimPadding();
  if (file_ != nullptr) file_->Fsync();
  fsync_thread_.Drain();
  SetLiveFile(nullptr, 0);
  buf_.clear();
  needs_fsync_ = false;
  last_write_errno_ = 0;
  fsync_thread_.clear_error();
  synced_seq_ = written_seq_;  // nothing waits on a file that is closed
  if (child_pid_ > 0) {
    DOCKET_LOG(LogLevel::kNotice, "Killing running AOF rewrite child: %ld",
               static_cast<long>(child_pid_));
    kill(child_pid_, SIGUSR1);
    stopped_during_rewrite_ = true;
  }
  if (state_ == AofState::kWaitRewrite && !rewrite_incr_name_.empty()) {
    env_->Remove(storage::JoinPath(Dir(), rewrite_incr_name_));  // the base never came
  }
  state_ = AofState::kOff;
  rewrite_scheduled_ = false;
}

void Aof::AppendLoadingInfo(std::string& out) const {
  out += "loading:" + std::to_string(loading_ ? 1 : 0) + "\r\n";
}

void Aof::AppendInfo(std::string& out) const {
  auto line = [&out](const char* name, const std::string& v) {
    out += name;
    out.push_back(':');
    out += v;
    out += "\r\n";
  };
  auto num = [&line](const char* name, int64_t v) { line(name, std::to_string(v)); };
  int64_t now_s = server_->NowMs() / 1000;
  num("aof_enabled", state_ != AofState::kOff);
  num("aof_rewrite_in_progress", child_pid_ > 0);
  num("aof_rewrite_scheduled", rewrite_scheduled_);
  num("aof_last_rewrite_time_sec", last_rewrite_time_s_);
  num("aof_current_rewrite_time_sec", child_pid_ > 0 ? now_s - rewrite_start_ms_ / 1000 : -1);
  line("aof_last_bgrewrite_status", last_rewrite_ok_ ? "ok" : "err");
  num("aof_rewrites", static_cast<int64_t>(rewrites_));
  num("aof_rewrites_consecutive_failures", static_cast<int64_t>(rewrite_failures_));
  line("aof_last_write_status", WriteErrorReply().empty() ? "ok" : "err");
  num("aof_last_cow_size", 0);
  num("module_fork_in_progress", 0);
  num("module_fork_last_cow_size", 0);
  // As Redis, the size lines follow appendonly, so they show (as zeros) while loading too.
  if (state_ != AofState::kOff || loading_) {
    num("aof_current_size", current_size_);
    num("aof_base_size", base_size_);
    num("aof_pending_rewrite", rewrite_scheduled_);
    num("aof_buffer_length", static_cast<int64_t>(buf_.size()));
    num("aof_pending_bio_fsync", fsync_thread_.busy());
    num("aof_delayed_fsync", static_cast<int64_t>(delayed_fsync_));
  }
  if (!loading_) return;
  // As Redis 7.0's genRedisInfoString while server.loading.
  int64_t start_s = loading_start_ms_ / 1000;
  int64_t elapsed = time(nullptr) - start_s;
  int64_t remaining = loading_total_bytes_ - loading_loaded_bytes_;
  double perc = static_cast<double>(loading_loaded_bytes_) / (loading_total_bytes_ + 1) * 100;
  num("loading_start_time", start_s);
  num("loading_total_bytes", loading_total_bytes_);
  num("loading_rdb_used_mem", 0);
  num("loading_loaded_bytes", loading_loaded_bytes_);
  char buf[64];
  snprintf(buf, sizeof(buf), "%.2f", perc);
  line("loading_loaded_perc", buf);
  num("loading_eta_seconds", elapsed == 0 ? 1 : elapsed * remaining / (loading_loaded_bytes_ + 1));
}

bool Aof::DebugReload() {
  if (state_ != AofState::kOff) Flush(true);
  if (file_ != nullptr && state_ == AofState::kOn && !manifest_.incr.empty()) {
    // The file may have been changed behind our back: write on from its real end.
    std::string path = storage::JoinPath(Dir(), manifest_.incr.back().file_name);
    padded_end_ = 0;
    env_->TrimPadding(path);
    int64_t size = std::max<int64_t>(0, env_->FileSize(path));
    current_size_ += size - incr_size_;
    incr_size_ = size;
    file_->Truncate(size);
  }
  storage::AofManifest disk;
  bool found = false;
  std::string err = storage::LoadAofManifest(env_, Dir(), FileName(), &disk, &found);
  if (!err.empty() || !found) {
    DOCKET_LOG(LogLevel::kWarning, "Can't reload the AOF: %s",
               found ? err.c_str() : "there is no manifest");
    return false;
  }
  storage::Keyspace& keyspace = server_->keyspace();
  for (int i = 0; i < keyspace.count(); i++) {
    server_->watches().TouchAllInDb(keyspace.db(i), nullptr);
  }
  keyspace.FlushAll();
  server_->functions().Flush();  // as Redis's emptyData: the files load them again
  // The replayed commands are in the files already: nothing is fed while they run.
  std::swap(manifest_, disk);
  AofState state = state_;
  state_ = AofState::kOff;
  bool ok = LoadManifestFiles();
  state_ = state;
  std::swap(manifest_, disk);
  return ok;
}

}  // namespace docket::server
