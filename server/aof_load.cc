// Loading the append-only file at start-up, as Redis 7.0's loadAppendOnlyFiles: the manifest's
// base then incr files, each command run through the normal dispatch path by a fake client whose
// replies are dropped; a truncated tail of the last file is cut off (aof-load-truncated yes) or
// refused; corruption stops the start naming the file and byte offset.
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "server/aof.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/aof_reader.h"

namespace docket::server {
namespace {

// A file read in chunks through storage::AofReader, as Redis's loader reads with fread: memory
// stays at one chunk (or one command, when bigger) however large the file. Offsets are absolute.
class AofFileStream {
 public:
  static constexpr size_t kChunk = 4 << 20;

  ~AofFileStream() {
    if (fd_ >= 0) close(fd_);
  }
  // 0, or -1 with errno set.
  int Open(const std::string& path) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ < 0 || !Fill() ? -1 : 0;
  }
  bool StartsWith(std::string_view prefix) const { return buf_.rfind(prefix, 0) == 0; }
  // As AofReader::Next; a read error is kCorrupt with read_error() set.
  storage::AofReadStatus Next(std::vector<std::string_view>* argv) {
    for (;;) {
      storage::AofReadStatus status = reader_.Next(argv);
      if (status == storage::AofReadStatus::kCommand) {
        commands_++;
        return status;
      }
      if (status == storage::AofReadStatus::kCorrupt || eof_) return status;
      // The chunk ends (inside a command, maybe): keep the unread part, read more.
      size_t used = reader_.valid_end();
      buf_.erase(0, used);
      base_ += used;
      if (!Fill()) {
        read_error_ = errno;
        return storage::AofReadStatus::kCorrupt;
      }
    }
  }
  size_t valid_end() const { return base_ + reader_.valid_end(); }
  size_t error_offset() const { return base_ + reader_.error_offset(); }
  size_t commands() const { return commands_; }
  int read_error() const { return read_error_; }

 private:
  bool Fill() {
    size_t old = buf_.size();
    buf_.resize(old + kChunk);
    ssize_t n;
    do {
      n = read(fd_, buf_.data() + old, kChunk);
    } while (n < 0 && errno == EINTR);
    buf_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) eof_ = true;
    reader_ = storage::AofReader(buf_);
    return n >= 0;
  }

  int fd_ = -1;
  std::string buf_;
  size_t base_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  int read_error_ = 0;
  size_t commands_ = 0;
  storage::AofReader reader_{std::string_view()};
};

}  // namespace

bool Aof::LoadAtStartup() {
  if (!server_->config().appendonly) return true;
  bool found = false;
  std::string err = storage::LoadAofManifest(env_, Dir(), FileName(), &manifest_, &found);
  if (!err.empty()) {
    DOCKET_LOG(LogLevel::kWarning, "%s", err.c_str());
    return false;
  }
  if (!found) {
    err = CreateEmptyAof();
  } else {
    // As Redis 7.0's loadDataFromDisk: the listeners are open, clients connecting now are
    // served between slices of the file and get -LOADING until it is done.
    // A crash under appendfsync always leaves padding after the last command: cut it off.
    for (const storage::AofInfo& ai : manifest_.incr) {
      std::string path = storage::JoinPath(Dir(), ai.file_name);
      if (env_->TrimPadding(path) != 0) {
        DOCKET_LOG(LogLevel::kWarning, "Can't cut the padding off %s: %s", path.c_str(),
                   strerror(errno));
      }
    }
    serve_while_loading_ = true;
    bool ok = LoadManifestFiles();
    serve_while_loading_ = false;
    if (!ok) return false;
    err = OpenIncr(true);
  }
  if (!err.empty()) {
    DOCKET_LOG(LogLevel::kWarning, "%s", err.c_str());
    return false;
  }
  state_ = AofState::kOn;
  last_fsync_ms_ = server_->NowMs();
  return true;
}

// With no manifest, as Redis's aofOpenIfNeededOnServerStart: the directory, an empty base (an
// empty dataset rewrites to nothing), the first incr file and the manifest.
std::string Aof::CreateEmptyAof() {
  if (env_->MakeDir(Dir()) != 0) {
    return "Can't open or create append-only dir " + Dir() + ": " + strerror(errno);
  }
  manifest_ = storage::AofManifest{};
  std::string base = manifest_.NewBase(FileName());
  if (env_->WriteFileSynced(storage::JoinPath(Dir(), base), "") != 0) {
    return "Can't create the AOF base file " + base + ": " + strerror(errno);
  }
  DOCKET_LOG(LogLevel::kNotice, "Creating AOF base file %s on server start", base.c_str());
  manifest_.NewIncr(FileName());
  DOCKET_LOG(LogLevel::kNotice, "Creating AOF incr file %s on server start",
             manifest_.incr.back().file_name.c_str());
  std::string err = OpenIncr(true);
  base_size_ = 0;
  return err;
}

bool Aof::LoadManifestFiles() {
  int64_t start = server_->NowUs();
  std::vector<std::pair<std::string, const char*>> files;
  if (manifest_.has_base) files.emplace_back(manifest_.base.file_name, "base");
  for (const storage::AofInfo& ai : manifest_.incr) files.emplace_back(ai.file_name, "incr");
  loading_ = true;
  loading_start_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // As Redis's getBaseAndIncrAppendOnlyFilesSize: progress is over all the files.
  loading_total_bytes_ = 0;
  loading_loaded_bytes_ = 0;
  loading_file_offset_ = 0;
  for (const auto& f : files) {
    loading_total_bytes_ += std::max<int64_t>(0, env_->FileSize(storage::JoinPath(Dir(), f.first)));
  }
  bool expire_was_paused = server_->keyspace().expire_paused();
  server_->keyspace().set_expire_paused(true);
  auto done = [&](bool ok) {
    loading_ = false;
    loading_client_ = nullptr;
    server_->keyspace().set_expire_paused(expire_was_paused);
    return ok;
  };
  for (size_t i = 0; i < files.size(); i++) {
    int64_t file_start = server_->NowUs();
    if (!LoadFile(files[i].first, i + 1 == files.size())) return done(false);
    loading_file_offset_ = loading_loaded_bytes_;
    DOCKET_LOG(LogLevel::kNotice, "DB loaded from %s file %s: %.3f seconds", files[i].second,
               files[i].first.c_str(), (server_->NowUs() - file_start) / 1e6);
  }
  done(true);
  DOCKET_LOG(LogLevel::kNotice, "DB loaded from append only file: %.3f seconds",
             (server_->NowUs() - start) / 1e6);
  return true;
}

// Runs one file's commands. A truncated tail is acceptable only in the last file.
bool Aof::LoadFile(const std::string& name, bool last) {
  std::string path = storage::JoinPath(Dir(), name);
  AofFileStream reader;
  if (reader.Open(path) != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Fatal error: can't open the append log file %s for reading: %s",
               name.c_str(), strerror(errno));
    return false;
  }
  if (reader.StartsWith("REDIS")) {
    DOCKET_LOG(LogLevel::kWarning,
               "The AOF file %s starts with an RDB preamble, which Docket cannot read: rewrite it "
               "with a Redis that has aof-use-rdb-preamble no",
               name.c_str());
    return false;
  }
  Client fake(server_, -1, 0);
  fake.set_authenticated(true);
  loading_client_ = &fake;
  struct ClearClient {
    Client** slot;
    ~ClearClient() { *slot = nullptr; }
  } clear_client{&loading_client_};
  std::vector<std::string_view> argv;
  storage::AofReadStatus status;
  int64_t last_log_ms = server_->NowMs();
  size_t command_start = 0, before_multi = 0;
  while ((status = reader.Next(&argv)) == storage::AofReadStatus::kCommand) {
    if (argv[0].size() == 5 && strncasecmp(argv[0].data(), "multi", 5) == 0) {
      before_multi = command_start;
    }
    bool sub_unknown = false;
    if (server_->commands().Lookup(argv, &sub_unknown) == nullptr) {
      DOCKET_LOG(LogLevel::kWarning, "Unknown command '%s' reading the append only file %s",
                 std::string(argv[0]).c_str(), name.c_str());
      return false;
    }
    server_->ProcessCommand(fake, argv);
    fake.out().clear();
    command_start = reader.valid_end();
    if ((reader.commands() & 1023) != 0) continue;
    // Every 1024 commands, as Redis's loadSingleAppendOnlyFile: progress, then the clients.
    loading_loaded_bytes_ = loading_file_offset_ + static_cast<int64_t>(reader.valid_end());
    if (server_->NowMs() - last_log_ms >= 1000) {
      last_log_ms = server_->NowMs();
      DOCKET_LOG(LogLevel::kNotice, "Loading AOF %s: %lld of %lld bytes", name.c_str(),
                 static_cast<long long>(loading_loaded_bytes_),
                 static_cast<long long>(loading_total_bytes_));
    }
    if (serve_while_loading_ && !fake.Has(kClientMulti)) server_->ProcessEventsWhileLoading();
  }
  loading_loaded_bytes_ = loading_file_offset_ + static_cast<int64_t>(reader.valid_end());
  size_t truncate_at = reader.valid_end();
  if (fake.Has(kClientMulti) && status != storage::AofReadStatus::kCorrupt) {
    // A MULTI without its EXEC: its commands were queued, never run; as Redis, the file is
    // treated as truncated before the MULTI.
    DOCKET_LOG(LogLevel::kWarning, "Revert incomplete MULTI/EXEC transaction in AOF file %s",
               name.c_str());
    status = storage::AofReadStatus::kTruncated;
    truncate_at = before_multi;
  }
  if (status == storage::AofReadStatus::kEnd) return true;
  if (status == storage::AofReadStatus::kCorrupt && reader.read_error() != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Unrecoverable error reading the append only file %s: %s",
               name.c_str(), strerror(reader.read_error()));
    return false;
  }
  if (status == storage::AofReadStatus::kCorrupt) {
    DOCKET_LOG(LogLevel::kWarning,
               "Bad file format reading the append only file %s at offset %zu: make a backup of "
               "your AOF file, then use redis-check-aof --fix <filename.manifest>",
               name.c_str(), reader.error_offset());
    return false;
  }
  if (!last) {
    DOCKET_LOG(LogLevel::kWarning, "Fatal error: the truncated file %s is not the last file",
               name.c_str());
    return false;
  }
  if (!server_->config().aof_load_truncated) {
    DOCKET_LOG(LogLevel::kWarning,
               "Unexpected end of file reading the append only file %s. You can: 1) Make a backup "
               "of your AOF file, then use redis-check-aof --fix <filename.manifest>. 2) "
               "Alternatively you can set the 'aof-load-truncated' configuration option to yes "
               "and restart the server.",
               name.c_str());
    return false;
  }
  DOCKET_LOG(LogLevel::kWarning, "!!! Warning: short read while loading the AOF file %s!!!",
             name.c_str());
  DOCKET_LOG(LogLevel::kWarning, "!!! Truncating the AOF %s at offset %zu !!!", name.c_str(),
             truncate_at);
  std::unique_ptr<storage::AofWritableFile> f = env_->OpenAppend(path);
  if (f == nullptr || f->Truncate(static_cast<off_t>(truncate_at)) != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Error truncating the AOF file %s: %s", name.c_str(),
               strerror(errno));
    return false;
  }
  DOCKET_LOG(LogLevel::kWarning, "AOF %s loaded anyway because aof-load-truncated is enabled",
             name.c_str());
  return true;
}

}  // namespace docket::server
