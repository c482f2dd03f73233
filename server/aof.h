// The append-only file, as Redis 7.0's aof.c: propagated commands are encoded in RESP into a
// buffer (with SELECT when the database changes), written in BeforeSleep before any reply goes
// out and fsynced by policy (always: in the loop, once per iteration; everysec: a background
// thread). Loading is in aof_load.cc, BGREWRITEAOF (fork) in aof_rewrite.cc. Base files are
// always RESP: aof-use-rdb-preamble is accepted and treated as no.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "storage/aof_file.h"

namespace docket::server {

class Client;
class Server;

enum class AofState { kOff, kOn, kWaitRewrite };

// fsyncs files off the loop thread, one at a time (Redis's bio AOF fsync job).
class AofFsyncThread {
 public:
  AofFsyncThread();
  ~AofFsyncThread();
  // Queues an fsync of file; no-op when one is already queued or running. seq names the job
  // (appendfsync always: the last write batch it covers); notify_fd, when set, gets an eventfd
  // increment each time a job ends.
  void Submit(std::shared_ptr<storage::AofWritableFile> file, uint64_t seq = 0);
  // Under the lock the thread signals with: once it returns, the old fd is no longer written.
  void set_notify_fd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    notify_fd_.store(fd);
  }
  bool busy() const { return busy_.load(); }
  // The seq of the last job that ended.
  uint64_t done_seq() const { return done_seq_.load(); }
  // 0 when the last background fsync worked, else its errno.
  int last_errno() const { return last_errno_.load(); }
  void clear_error() { last_errno_.store(0); }
  // Waits until the queue is empty (shutdown, file switch).
  void Drain();

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<storage::AofWritableFile> job_;
  uint64_t job_seq_ = 0;
  std::atomic<uint64_t> done_seq_{0};
  std::atomic<int> notify_fd_{-1};
  std::atomic<bool> busy_{false};
  std::atomic<int> last_errno_{0};
  bool stop_ = false;
  std::thread thread_;
};

class Aof {
 public:
  explicit Aof(Server* server);
  ~Aof();

  // Start-up (aof_load.cc): with appendonly yes, loads the manifest's files (or creates the
  // directory, an empty base and the manifest) and opens the last incr file. False: the server
  // must not start (the reason is logged).
  bool LoadAtStartup();
  // Appends argv, run in database db, to the buffer (Redis's feedAppendOnlyFile).
  void Feed(int db, std::span<const std::string_view> argv);
  // Writes the buffer and, with appendfsync always, fsyncs it (Redis's flushAppendOnlyFile).
  // force: write even while a background fsync is running (shutdown, file switch).
  void Flush(bool force);
  // hz cron: retries a failed write, starts rewrites, reaps the rewrite child.
  void Cron();
  // Shutdown: writes and fsyncs everything.
  void FlushAndSyncForShutdown();
  // DEBUG LOADAOF / RELOAD (aof.cc): writes the buffer, empties the keyspace and runs the files
  // of the manifest on disk again. False when there is none or loading failed (logged).
  bool DebugReload();

  // Writes are refused (-MISCONF) while this is non-empty.
  std::string WriteErrorReply() const;
  // appendfsync always (pipelined group commit): a command's output must not leave before the
  // write batch holding what it changed (or could have seen) is fsynced. TagReply, after each
  // command, names that batch for c; MustHold says whether c's output still waits for it.
  void TagReply(Client& c, bool dirtied);
  bool MustHold(const Client& c) const;

  // CONFIG SET appendonly (and start-up). Returns "" or an error text.
  std::string Start();
  void Stop();
  // BGREWRITEAOF (aof_rewrite.cc): "" when a rewrite started, else Redis's error text.
  std::string StartRewrite();
  bool rewrite_in_progress() const { return child_pid_ > 0; }
  bool rewrite_scheduled() const { return rewrite_scheduled_; }
  void set_rewrite_scheduled(bool s) { rewrite_scheduled_ = s; }

  AofState state() const { return state_; }
  bool loading() const { return loading_; }
  // The fake client replaying the file: exempt from -LOADING.
  bool IsLoadingClient(const Client& c) const { return loading_ && &c == loading_client_; }
  // INFO persistence lines from "aof_enabled" on.
  void AppendInfo(std::string& out) const;
  void AppendLoadingInfo(std::string& out) const;

  // Tests and tools may replace the file layer.
  void set_env(storage::AofEnv* env) { env_ = env; }

 private:
  friend class AofLoader;
  bool always() const;
  std::string Dir() const;  // dir/appenddirname
  const std::string& FileName() const;
  // Opens the last incr file of the manifest for appending (creating one when there is none).
  std::string OpenIncr(bool persist_manifest);
  bool WriteBuffer();
  // appendfsync always: hands the written batches to the fsync thread when it is idle.
  void SubmitSync();
  // The fsync thread ended a job (eventfd callback; also called after Drain).
  static void OnSyncEvent(evutil_socket_t fd, short, void* arg);
  void TakeSyncResult();
  // Waits for the fsync thread, then fsyncs here: everything written is synced after it.
  void SyncNow();
  // appendfsync always: keeps padding ahead of the data (storage/aof_file.h says why).
  void PadAhead();
  // Cuts the padding off before the live file is closed or replaced, or the policy changes.
  void TrimPadding();
  // Makes f (holding size bytes) the live file.
  void SetLiveFile(std::shared_ptr<storage::AofWritableFile> f, int64_t size);
  // Base plus incr files, the live one by its data (not its padding).
  int64_t FilesSize();
  void SetWriteError(int err_no);
  void ClearWriteError();
  // aof_load.cc
  bool LoadManifestFiles();
  bool LoadFile(const std::string& name, bool last);
  std::string CreateEmptyAof();
  // aof_rewrite.cc
  void RewriteChild(const std::string& path);
  void ReapChild();
  void RewriteDone(bool ok);
  void CheckAutoRewrite();
  std::string TempRewriteName(pid_t pid) const;

  Server* server_;
  storage::AofEnv* env_;
  AofState state_ = AofState::kOff;
  storage::AofManifest manifest_;
  std::shared_ptr<storage::AofWritableFile> file_;
  AofFsyncThread fsync_thread_;
  std::string buf_;
  int selected_db_ = -1;
  int64_t current_size_ = 0;  // aof_current_size
  // appendfsync always: write batches written to the file, and fsynced.
  uint64_t written_seq_ = 0;
  uint64_t synced_seq_ = 0;
  bool sync_retry_due_ = true;  // after a failed fsync, the next try waits for the cron
  int sync_event_fd_ = -1;
  event* sync_event_ = nullptr;
  int64_t incr_size_ = 0;   // data bytes in the live file (the write position)
  int64_t padded_end_ = 0;  // the live file's padding reaches here (0: none)
  int64_t base_size_ = 0;   // aof_base_size (size at the last rewrite or load)
  int64_t last_fsync_ms_ = 0;
  bool needs_fsync_ = false;        // written but not yet fsynced (or fsync queued)
  int64_t postponed_since_ms_ = 0;  // everysec: a write waits on a busy fsync since then
  uint64_t delayed_fsync_ = 0;      // aof_delayed_fsync
  int last_write_errno_ = 0;        // 0: aof_last_write_status ok
  bool loading_ = false;
  int64_t loading_start_ms_ = 0;
  int64_t loading_total_bytes_ = 0;
  int64_t loading_loaded_bytes_ = 0;
  int64_t loading_file_offset_ = 0;  // bytes of the files before the current one
  Client* loading_client_ = nullptr;
  bool serve_while_loading_ = false;  // start-up: clients are served between slices
  // Rewrite.
  pid_t child_pid_ = -1;
  bool rewrite_scheduled_ = false;
  int64_t rewrite_start_ms_ = 0;
  int64_t last_rewrite_time_s_ = -1;
  bool last_rewrite_ok_ = true;
  uint64_t rewrites_ = 0;
  uint64_t rewrite_failures_ = 0;  // consecutive
  std::string rewrite_incr_name_;  // the incr file opened at fork time
  bool stopped_during_rewrite_ = false;
};

// BGREWRITEAOF (aof_rewrite.cc).
class CommandTable;
void RegisterAofCommands(CommandTable& table);

}  // namespace docket::server
