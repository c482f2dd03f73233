// The server: one libevent loop, the listeners, the clients, the keyspace, the command table and
// the dispatch path (lookup, arity, auth, pause, call, stats, monitor, propagation), with Redis's
// beforeSleep ordering and hz-driven cron.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/blocking.h"
#include "server/client.h"
#include "server/command.h"
#include "server/config.h"
#include "server/latency.h"
#include "server/pubsub.h"
#include "server/slowlog.h"
#include "server/transaction.h"
#include "storage/keyspace.h"

namespace docket::server {

class Aof;
class Functions;
class Scripting;

inline constexpr std::string_view kRedisVersion = "7.0.15";
inline constexpr std::string_view kDocketVersion = "0.1.0";

// Counters INFO stats reports (Redis's field names in comments).
struct ServerStats {
  uint64_t connections_received = 0;  // total_connections_received
  uint64_t commands_processed = 0;    // total_commands_processed
  uint64_t rejected_connections = 0;  // rejected_connections
  uint64_t net_input_bytes = 0;       // total_net_input_bytes
  uint64_t net_output_bytes = 0;      // total_net_output_bytes
  uint64_t keyspace_hits = 0, keyspace_misses = 0;
  uint64_t expired_stale_perc = 0;
  uint64_t total_error_replies = 0;
  uint64_t unexpected_error_replies = 0;
  uint64_t client_qbuf_limit_disconnections = 0;
  uint64_t io_reads_processed = 0, io_writes_processed = 0;
  std::map<std::string, uint64_t> errorstats;  // errorstat_<CODE>:count=
  int64_t start_time_ms = 0;
  size_t startup_memory = 0;  // used_memory_startup (kept by CONFIG RESETSTAT)
  size_t peak_memory = 0;     // used_memory_peak, raised whenever INFO reads used_memory
  // Instantaneous metrics, sampled in cron (ops/sec, kbps), as Redis's trackInstantaneousMetric.
  struct Sample {
    int64_t last_time_ms = 0;
    uint64_t last_value = 0;
    double samples[16] = {};
    int index = 0;
    double Mean() const;
  } ops, net_in, net_out;
};

// Why a shutdown was asked for (SHUTDOWN flags or a signal).
struct ShutdownRequest {
  bool nosave = false, save = false, now = false, force = false;
  bool from_signal = false;
};

class Server {
 public:
  explicit Server(ConfigRegistry* config);
  ~Server();

  // Binds the listeners, logs start-up lines and "Ready to accept connections".
  // Returns false (after logging why) when the server cannot start.
  bool Start();
  // Runs the loop until shutdown. Returns the process exit code.
  int Run();

  event_base* base() { return base_; }
  storage::Keyspace& keyspace() { return *keyspace_; }
  ConfigRegistry& config_registry() { return *config_; }
  const Config& config() const { return config_->values(); }
  CommandTable& commands() { return commands_; }
  ServerStats& stats() { return stats_; }
  SlowLog& slowlog() { return slowlog_; }
  LatencyMonitor& latency() { return latency_; }
  const std::string& run_id() const { return run_id_; }
  int64_t dirty() const { return dirty_; }
  int64_t cron_loops() const { return cron_loops_; }
  int64_t hz() const { return current_hz_; }

  // Dispatch: everything processCommand does between a parsed argv and the reply. Returns false
  // when the command was held back (CLIENT PAUSE) and must be parsed again later.
  bool ProcessCommand(Client& c, std::span<const std::string_view> argv);
  // True when CLIENT PAUSE holds back this command now.
  bool IsPausedFor(const CommandSpec& spec) const;

  // Clients.
  const std::map<uint64_t, std::unique_ptr<Client>>& clients() const { return clients_; }
  Client* FindClient(uint64_t id);
  // Queues c's pending output for the write step of BeforeSleep.
  void QueueWrite(Client& c);
  // Marks c to be freed in BeforeSleep (safe from inside c's own callbacks).
  void CloseClientAsync(Client& c);
  void PauseClient(Client& c);  // c holds a command back until the pause ends
  uint64_t monitors_count() const { return monitors_.size(); }
  void AddMonitor(Client& c);
  void RemoveMonitor(Client& c);  // RESET: c is a normal client again
  // Clients waiting in a blocking command or held back by CLIENT PAUSE (Redis counts both).
  size_t blocked_clients() const { return blocking_.blocked_clients() + paused_clients_.size(); }
  BlockingRegistry& blocking() { return blocking_; }
  PubsubRegistry& pubsub() { return pubsub_; }
  // Transactions (transaction.cc). ExecTransaction is EXEC's body once the transaction may run:
  // the queued commands through Call, blocking denied, their replies one array; what they
  // propagate goes out alone or, for several commands, wrapped in MULTI ... EXEC.
  WatchRegistry& watches() { return watches_; }
  Aof& aof() { return *aof_; }  // the append-only file (server/aof.h)
  void ExecTransaction(Client& c);
  // EXEC refused (Redis's execCommandAbort, MULTI or not): discards, replies -EXECABORT with why.
  void AbortExec(Client& c, std::span<const std::string_view> argv, std::string_view why);
  // CLIENT PAUSE holds back an EXEC whose queued commands it would hold back.
  bool IsPausedForTransaction(const Client& c) const;
  // Redis's closeClientOnOutputBufferLimitReached(async): closes c (logged) when its pending
  // output passes the client-output-buffer-limit of its class. True when c is being closed.
  bool CheckOutputBufferLimits(Client& c);
  // Runs a blocked client's command again (BlockingRegistry, when a key it waits on changed).
  void RerunBlockedCommand(Client& c, const BlockedState& state, std::string_view ready_key);
  // c left the blocked state (served, timed out, unblocked): its reply goes out and its
  // pipelined commands run, from BeforeSleep.
  void ClientUnblocked(Client& c);

  // CLIENT PAUSE / UNPAUSE.
  void PauseClients(int64_t until_ms, bool writes_only);
  void UnpauseClients();
  bool paused() const { return pause_end_ms_ != 0; }

  // Hooks for writes. Later capabilities (WATCH, blocking pops, keyspace events, AOF) hang here.
  void SignalModifiedKey(int db, std::string_view key);
  void NotifyKeyspaceEvent(char type, std::string_view event, std::string_view key, int db);
  void Propagate(int db, std::span<const std::string_view> argv);

  // Scripting (server/scripting.h; scripts run through server/script_run.h).
  Scripting& scripting() { return *scripting_; }
  // FUNCTION libraries (server/functions.h).
  Functions& functions() { return *functions_; }
  // Runs a command for a script's client through Call (stats, slowlog, MONITOR, propagation);
  // with propagate false (redis.set_repl) nothing it propagates goes out.
  void CallFromScript(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv,
                      bool propagate);
  // A script's writes go out as one unit, as EXEC's: one command alone, several wrapped in
  // MULTI ... EXEC. Begin returns false when a unit is already open (a script inside EXEC);
  // only a caller that got true calls End.
  bool BeginPropagationUnit();
  void EndPropagationUnit();
  // MONITOR for EVAL/FCALL, fed before the commands the script runs (they are skip_monitor).
  void FeedMonitorsFor(Client& c, std::span<const std::string_view> argv) {
    if (!monitors_.empty()) FeedMonitors(c, c.db_index(), argv);
  }
  // While a script runs past busy-reply-threshold (Redis's processEventsWhileBlocked): accepts
  // clients, reads and runs their commands (-BUSY for all but allow-busy ones), writes replies.
  // The script's caller is left alone (kClientProtected). A SHUTDOWN NOSAVE exits from here.
  void ProcessEventsWhileBusy(Client& caller);

  // CONFIG SET port / bind: closes the TCP listeners and listens on config().bind and
  // config().port (none for port 0), as Redis's changeListenPort / changeBindAddr. No-op when
  // those are what the server already listens on. False (no TCP listener left) on failure.
  bool Relisten();

  void RequestShutdown(const ShutdownRequest& req);
  void AbortShutdown() { shutdown_asked_ = false; }
  bool shutdown_asked() const { return shutdown_asked_; }

  // Errors counted for INFO errorstats (called by the reply path for every error reply).
  void CountError(std::string_view code);
  void ResetStats();

  // Memory (bytes), for INFO memory.
  size_t UsedMemory() const;
  static size_t ResidentMemory();

  int64_t NowMs() const;   // wall clock
  static int64_t NowUs();  // monotonic
  // While the AOF loads at start-up (Redis's processEventsWhileBlocked): accepts clients, runs
  // their commands (-LOADING for most), writes replies; exits on a shutdown signal.
  void ProcessEventsWhileLoading();

 private:
  bool Listen(const std::string& addr, int port);
  void CloseTcpListeners();
  static void OnAccept(evutil_socket_t fd, short events, void* arg);
  static void OnAcceptUnix(evutil_socket_t fd, short events, void* arg);
  bool ListenUnix(const std::string& path, int64_t perm);
  static void OnReadable(evutil_socket_t fd, short events, void* arg);
  static void OnWritable(evutil_socket_t fd, short events, void* arg);
  static void OnCron(evutil_socket_t fd, short events, void* arg);
  static void OnSignal(evutil_socket_t fd, short events, void* arg);
  void AcceptClient(int fd, bool unix_socket);
  void BeforeSleep();
  void Cron();
  void ClientsCron();
  void DatabasesCron();
  void ActiveExpireCycle();
  void HandlePendingWrites();
  void FreeClient(Client* c);
  void FreeClosingClients();
  void ResumePausedClients();
  bool RejectCommand(Client& c, std::span<const std::string_view> argv, CommandSpec* spec,
                     bool sub_unknown);
  void Call(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv,
            bool reprocessing = false, std::string_view ready_key = {});
  void ProcessUnblockedClients();
  static void OnBlockTimer(evutil_socket_t fd, short events, void* arg);
  void FeedMonitors(Client& c, int db, std::span<const std::string_view> argv);
  bool FinishShutdown();

  ConfigRegistry* config_;
  event_base* base_ = nullptr;
  std::vector<std::pair<int, event*>> listeners_;
  int listen_port_ = -1;  // what the TCP listeners serve (Relisten)
  std::vector<std::string> listen_bind_;
  event* cron_event_ = nullptr;
  std::vector<event*> signal_events_;
  std::unique_ptr<storage::Keyspace> keyspace_;
  CommandTable commands_;
  ServerStats stats_;
  SlowLog slowlog_;
  BlockingRegistry blocking_{this};
  PubsubRegistry pubsub_{this};
  WatchRegistry watches_;
  PropagationBuffer exec_propagation_;  // collects while EXEC runs
  bool propagation_muted_ = false;       // a script's redis.set_repl(REPL_NONE)
  std::unique_ptr<Scripting> scripting_;
  std::unique_ptr<Functions> functions_;
  uint64_t errors_mark_ = 0;  // total_error_replies when the last Call (or nested Call) ended
  std::vector<uint64_t> unblocked_;  // clients to resume in BeforeSleep
  event* block_timer_ = nullptr;     // wakes the loop at the next blocking deadline
  LatencyMonitor latency_;
  std::string run_id_;

  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;
  std::vector<Client*> pending_writes_;
  std::vector<uint64_t> closing_;
  std::vector<uint64_t> paused_clients_;
  std::vector<uint64_t> monitors_;
  int64_t pause_end_ms_ = 0;
  bool resume_paused_ = false;
  bool pause_writes_only_ = false;

  int64_t dirty_ = 0;
  int64_t cron_loops_ = 0;
  int64_t current_hz_ = 10;
  bool shutdown_asked_ = false;
  ShutdownRequest shutdown_req_;
  int exit_code_ = 0;
  bool running_ = true;
  std::unique_ptr<Aof> aof_;  // last: destroyed first (joins its fsync thread)
};

// Installs the CONFIG SET hooks that act on the running server (loglevel, port, bind,
// maxclients); defined in cmd_config.cc.
void InstallConfigApplyHooks(Server& server);

// CLIENT LIST's line for c, as Redis's catClientInfoString (defined in cmd_client.cc).
std::string ClientInfoString(Server& server, Client& c);

}  // namespace docket::server
