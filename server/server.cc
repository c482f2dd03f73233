// The server loop: start-up, BeforeSleep (blocked clients, replies, closing clients), the hz cron
// (client timeouts, active expiry, rehashing, pause expiry, metrics), pause, shutdown, and the
// write hooks. Networking is in server_net.cc, command dispatch in dispatch.cc.
#include "server/server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "protocol/errors.h"
#include "server/aof.h"
#include "server/functions.h"
#include "server/log.h"
#include "server/scripting.h"

namespace docket::server {
namespace {

std::string RandomHex(size_t n) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) out.push_back(kHex[rng() & 15]);
  return out;
}

}  // namespace

double ServerStats::Sample::Mean() const {
  double sum = 0;
  for (double s : samples) sum += s;
  return sum / 16;
}

Server::Server(ConfigRegistry* config) : config_(config) {
  storage::SetHashSeed(std::random_device{}() |
                       (static_cast<uint64_t>(std::random_device{}()) << 32));
  base_ = event_base_new();
  keyspace_ = std::make_unique<storage::Keyspace>(static_cast<int>(this->config().databases));
  run_id_ = RandomHex(40);
  stats_.start_time_ms = NowMs();
  keyspace_->set_now_ms(NowMs());
  RegisterConnectionCommands(commands_);
  RegisterStringCommands(commands_);
  RegisterKeyCommands(commands_);
  RegisterServerCommands(commands_);
  RegisterClientCommands(commands_);
  RegisterInfoCommands(commands_);
  RegisterListCommands(commands_);
  RegisterHashCommands(commands_);
  RegisterPubsubCommands(commands_);
  RegisterMultiCommands(commands_);
  RegisterAofCommands(commands_);
  RegisterSetCommands(commands_);
  RegisterZSetCommands(commands_);
  RegisterScriptingCommands(commands_);
  RegisterFunctionCommands(commands_);
  RegisterStreamCommands(commands_);
  RegisterSortCommands(commands_);
  InstallConfigApplyHooks(*this);
  aof_ = std::make_unique<Aof>(this);
  scripting_ = std::make_unique<Scripting>(this);
  functions_ = std::make_unique<Functions>();
  config_->SetApply("appendonly", [this](const Config& c) -> std::string {
    if (!c.appendonly) {
      aof_->Stop();
      return "";
    }
    return aof_->Start().empty() ? "" : "Unable to turn on AOF. Check server logs.";
  });
  keyspace_->set_expire_hook([this](int db, std::string_view key) {
    std::string_view argv[2] = {"DEL", key};
    Propagate(db, argv);
    NotifyKeyspaceEvent('x', "expired", key, db);
    SignalModifiedKey(db, key);
  });
  keyspace_->set_new_key_hook([this](int db, std::string_view key) {
    NotifyKeyspaceEvent('n', "new", key, db);  // a no-op unless 'n' is enabled
  });
}

Server::~Server() {
  clients_.clear();
  for (auto& [fd, ev] : listeners_) {
    event_free(ev);
    close(fd);
  }
  for (event* ev : signal_events_) event_free(ev);
  if (cron_event_ != nullptr) event_free(cron_event_);
  if (block_timer_ != nullptr) event_free(block_timer_);
  if (base_ != nullptr) event_base_free(base_);
}

int64_t Server::NowMs() const {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

int64_t Server::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Server::Start() {
  signal(SIGPIPE, SIG_IGN);
  SetLogLevel(static_cast<LogLevel>(config().loglevel));
  if (!config().logfile.empty() && !SetLogFile(config().logfile)) {
    fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
    return false;
  }
  DOCKET_LOG(LogLevel::kWarning, "oO0OoO0OoO0Oo Docket is starting oO0OoO0OoO0Oo");
  DOCKET_LOG(LogLevel::kWarning,
             "Docket version=%s (redis_version=%s), bits=64, pid=%d, just started",
             std::string(kDocketVersion).c_str(), std::string(kRedisVersion).c_str(),
             static_cast<int>(getpid()));
  for (const std::string& addr : config().bind) {
    if (!Listen(addr, config().port)) return false;
  }
  if (!config().unixsocket.empty() && !ListenUnix(config().unixsocket, config().unixsocketperm)) {
    return false;
  }
  if (listeners_.empty()) {
    DOCKET_LOG(LogLevel::kWarning, "Failed listening on port %d (tcp), aborting.", config().port);
    return false;
  }
  listen_port_ = config().port;
  listen_bind_ = config().bind;
  if (!config().pidfile.empty()) {
    FILE* f = fopen(config().pidfile.c_str(), "w");
    if (f != nullptr) {
      fprintf(f, "%d\n", static_cast<int>(getpid()));
      fclose(f);
    }
  }
  for (int sig : {SIGTERM, SIGINT}) {
    event* ev = evsignal_new(base_, sig, &Server::OnSignal, this);
    event_add(ev, nullptr);
    signal_events_.push_back(ev);
  }
  cron_event_ = event_new(base_, -1, EV_PERSIST, &Server::OnCron, this);
  block_timer_ = evtimer_new(base_, &Server::OnBlockTimer, this);
  current_hz_ = config().hz;
  timeval tv{0, static_cast<suseconds_t>(1000000 / current_hz_)};
  event_add(cron_event_, &tv);
  DOCKET_LOG(LogLevel::kNotice, "Server initialized");
  if (!aof_->LoadAtStartup()) return false;
  DOCKET_LOG(LogLevel::kNotice, "Running mode=standalone, port=%d.", config().port);
  stats_.startup_memory = stats_.peak_memory = UsedMemory();
  DOCKET_LOG(LogLevel::kNotice, "Ready to accept connections");
  return true;
}

void Server::ProcessEventsWhileLoading() {
  event_base_loop(base_, EVLOOP_NONBLOCK);
  keyspace_->set_now_ms(NowMs());
  HandlePendingWrites();
  FreeClosingClients();
  if (shutdown_asked_) {
    // As Redis's whileBlockedCron: a shutdown asked during loading exits without saving.
    DOCKET_LOG(LogLevel::kWarning, "Received shutdown signal during loading, exiting now.");
    if (!config().pidfile.empty()) unlink(config().pidfile.c_str());
    if (!config().unixsocket.empty()) unlink(config().unixsocket.c_str());
    _exit(0);
  }
}

int Server::Run() {
  while (running_) {
    BeforeSleep();
    if (!running_) break;
    event_base_loop(base_, EVLOOP_ONCE);
  }
  return exit_code_;
}

void Server::FreeClient(Client* c) {
  blocking_.Unblock(*c);
  watches_.UnwatchAll(*c);
  pubsub_.RemoveClient(*c);
  auto drop = [c](std::vector<uint64_t>& ids) { std::erase(ids, c->id()); };
  drop(unblocked_);
  drop(monitors_);
  drop(paused_clients_);
  std::erase(pending_writes_, c);
  clients_.erase(c->id());
}

Client* Server::FindClient(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Server::AddMonitor(Client& c) {
  c.Set(kClientMonitor);
  monitors_.push_back(c.id());
}

void Server::RemoveMonitor(Client& c) {
  c.Clear(kClientMonitor);
  std::erase(monitors_, c.id());
}

void Server::PauseClient(Client& c) {
  c.Set(kClientPaused);
  paused_clients_.push_back(c.id());
}

void Server::PauseClients(int64_t until_ms, bool writes_only) {
  // As Redis's pauseClients: the stricter type and the later end of the two pauses win.
  pause_writes_only_ = writes_only && (!paused() || pause_writes_only_);
  pause_end_ms_ = std::max(until_ms, pause_end_ms_);
  keyspace_->set_expire_paused(true);
}

void Server::UnpauseClients() {
  pause_end_ms_ = 0;
  keyspace_->set_expire_paused(false);
  resume_paused_ = true;  // held commands run in BeforeSleep, not inside CLIENT UNPAUSE
}

void Server::ResumePausedClients() {
  std::vector<uint64_t> paused;
  paused.swap(paused_clients_);
  for (uint64_t id : paused) {
    Client* c = FindClient(id);
    if (c == nullptr) continue;
    c->Clear(kClientPaused);
    c->ProcessInputBuffer();
  }
}

bool Server::IsPausedFor(const CommandSpec& spec) const {
  if (!paused()) return false;
  if (!pause_writes_only_) return true;
  return spec.Has(kCmdWrite) || spec.Has(kCmdMayReplicate);
}

void Server::BeforeSleep() {
  keyspace_->set_now_ms(NowMs());
  blocking_.HandleTimeouts(NowMs());
  blocking_.HandleReadyKeys();
  ProcessUnblockedClients();
  if (int64_t deadline = blocking_.NextDeadline(); deadline > 0) {
    int64_t wait_ms = std::max<int64_t>(0, deadline - NowMs());
    timeval tv{static_cast<time_t>(wait_ms / 1000),
               static_cast<suseconds_t>(wait_ms % 1000 * 1000)};
    event_add(block_timer_, &tv);
  }
  if (paused() && NowMs() >= pause_end_ms_) UnpauseClients();
  if (resume_paused_) {
    resume_paused_ = false;
    ResumePausedClients();
  }
  // The durability contract: the AOF is written (and with appendfsync always, fsynced) before
  // any reply of this iteration goes out; replies wait while that fails.
  aof_->Flush(false);
  HandlePendingWrites();
  FreeClosingClients();
  if (shutdown_asked_ && !FinishShutdown()) shutdown_asked_ = false;
}

void Server::OnSignal(evutil_socket_t sig, short, void* arg) {
  auto* self = static_cast<Server*>(arg);
  const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
  if (self->shutdown_asked_ && sig == SIGINT) {
    DOCKET_LOG(LogLevel::kWarning, "You insist... exiting now.");
    _exit(1);
  }
  DOCKET_LOG(LogLevel::kWarning, "Received %s scheduling shutdown...", name);
  ShutdownRequest req;
  req.from_signal = true;
  self->RequestShutdown(req);
}

void Server::RequestShutdown(const ShutdownRequest& req) {
  shutdown_asked_ = true;
  shutdown_req_ = req;
  event_base_loopbreak(base_);
}

bool Server::FinishShutdown() {
  DOCKET_LOG(LogLevel::kWarning, "User requested shutdown...");
  aof_->FlushAndSyncForShutdown();
  if (!config().pidfile.empty()) unlink(config().pidfile.c_str());
  if (!config().unixsocket.empty()) {
    DOCKET_LOG(LogLevel::kNotice, "Removing the unix socket file.");
    unlink(config().unixsocket.c_str());
  }
  // Best effort: give clients their last replies before the sockets close.
  for (auto& [id, c] : clients_) c->WriteOutput();
  DOCKET_LOG(LogLevel::kWarning, "Docket is now ready to exit, bye bye...");
  running_ = false;
  exit_code_ = 0;
  return true;
}

void Server::OnCron(evutil_socket_t, short, void* arg) { static_cast<Server*>(arg)->Cron(); }

void Server::Cron() {
  if (aof_->loading()) return;  // as Redis, no serverCron while loading
  int64_t now = NowMs();
  keyspace_->set_now_ms(now);
  cron_loops_++;
  for (auto* s : {&stats_.ops, &stats_.net_in, &stats_.net_out}) {
    uint64_t value = s == &stats_.ops      ? stats_.commands_processed
                     : s == &stats_.net_in ? stats_.net_input_bytes
                                           : stats_.net_output_bytes;
    if (s->last_time_ms != 0 && now > s->last_time_ms) {
      s->samples[s->index] = (value - s->last_value) * 1000.0 / (now - s->last_time_ms);
      s->index = (s->index + 1) % 16;
    }
    s->last_time_ms = now;
    s->last_value = value;
  }
  // No UsedMemory() here: glibc's mallinfo2 walks every free chunk, which stalled the loop for
  // tens of ms on large, fragmented heaps. INFO raises the peak when it reads the figure.
  ClientsCron();
  DatabasesCron();
  aof_->Cron();
  if (paused() && now >= pause_end_ms_) UnpauseClients();
  // Follow CONFIG SET hz.
  int64_t want_hz = config().hz;
  if (config().dynamic_hz) {
    while (want_hz < 500 && clients_.size() / static_cast<size_t>(want_hz) > 200) want_hz *= 2;
  }
  if (want_hz != current_hz_) {
    current_hz_ = want_hz;
    timeval tv{0, static_cast<suseconds_t>(1000000 / current_hz_)};
    event_add(cron_event_, &tv);
  }
}

void Server::ClientsCron() {
  if (config().timeout <= 0) return;
  int64_t now = NowMs();
  for (auto& [id, c] : clients_) {
    if (c->Has(kClientBlocked) || c->Has(kClientPubsub) || c->Has(kClientMonitor)) continue;
    if (now - c->last_interaction_ms > config().timeout * 1000) {
      DOCKET_LOG(LogLevel::kVerbose, "Closing idle client");
      CloseClientAsync(*c);
    }
  }
}

void Server::DatabasesCron() {
  if (!paused()) ActiveExpireCycle();
  for (int i = 0; i < keyspace_->count(); i++) {
    keyspace_->db(i).Resize();
    if (keyspace_->db(i).RehashFor(1000)) break;  // one database per cron, about 1 ms
  }
}

void Server::ActiveExpireCycle() {
  // Redis's slow cycle: sample 20 keys with a TTL per database (more with active-expire-effort),
  // repeating while over 10% of a sample was stale, within 25% of the cron period.
  int64_t effort = config().active_expire_effort - 1;
  size_t per_loop = 20 + 20 / 4 * effort;
  int acceptable_stale = 10 - static_cast<int>(effort);
  int64_t budget_us = 1000000 * (25 + 2 * effort) / current_hz_ / 100;
  int64_t start = NowUs();
  for (int i = 0; i < keyspace_->count(); i++) {
    storage::Database& db = keyspace_->db(i);
    int stale = 0;
    do {
      db.ActiveExpireSample(per_loop, &stale);
    } while (stale > acceptable_stale && NowUs() - start < budget_us);
    if (NowUs() - start >= budget_us) break;
  }
}

void Server::SignalModifiedKey(int db, std::string_view key) {
  blocking_.SignalKey(db, key);
  watches_.Touch(keyspace_->db(db), key);
}

void Server::OnBlockTimer(evutil_socket_t, short, void*) {
  // Nothing to do here: waking the loop runs BeforeSleep, which times the clients out.
}

void Server::RerunBlockedCommand(Client& c, const BlockedState& state, std::string_view ready_key) {
  std::vector<std::string_view> argv(state.argv.begin(), state.argv.end());
  int db = c.db_index();
  c.set_db_index(state.db);
  Call(c, *state.spec, argv, true, ready_key);
  if (c.db_index() == state.db) c.set_db_index(db);
}

void Server::ClientUnblocked(Client& c) {
  if (c.pending_output() > 0) QueueWrite(c);
  unblocked_.push_back(c.id());
}

void Server::ProcessUnblockedClients() {
  while (!unblocked_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(unblocked_);
    for (uint64_t id : ids) {
      if (Client* c = FindClient(id); c != nullptr && !c->Has(kClientBlocked)) {
        c->ProcessInputBuffer();
      }
    }
    blocking_.HandleReadyKeys();
  }
}

// Redis's notifyKeyspaceEvent: `__keyspace@<db>__:<key>` gets the event name and
// `__keyevent@<db>__:<event>` gets the key, for the classes notify-keyspace-events enables.
void Server::NotifyKeyspaceEvent(char type, std::string_view event, std::string_view key, int db) {
  int flags = config().notify_keyspace_events;
  if ((flags & NotifyClassOf(type)) == 0) return;
  std::string channel;
  if (flags & kNotifyKeyspace) {
    channel = "__keyspace@" + std::to_string(db) + "__:";
    channel.append(key);
    pubsub_.Publish(channel, event, false);
  }
  if (flags & kNotifyKeyevent) {
    channel = "__keyevent@" + std::to_string(db) + "__:";
    channel.append(event);
    pubsub_.Publish(channel, key, false);
  }
}

void Server::Propagate(int db, std::span<const std::string_view> argv) {
  if (propagation_muted_) return;
  // EXEC sends its commands out as one unit when it ends (ExecTransaction).
  if (exec_propagation_.collecting()) return exec_propagation_.Add(db, argv);
  aof_->Feed(db, argv);
}

void Server::CallFromScript(Client& c, const CommandSpec& spec,
                            std::span<const std::string_view> argv, bool propagate) {
  bool muted = propagation_muted_;
  propagation_muted_ = !propagate;
  Call(c, spec, argv);
  propagation_muted_ = muted;
}

bool Server::BeginPropagationUnit() {
  if (exec_propagation_.collecting()) return false;
  exec_propagation_.Begin();
  return true;
}

void Server::EndPropagationUnit() {
  std::vector<PropagationBuffer::Op> ops = exec_propagation_.Finish();
  if (ops.size() > 1) {
    std::string_view multi[] = {"MULTI"};
    Propagate(ops.front().db, multi);
  }
  for (const PropagationBuffer::Op& op : ops) {
    std::vector<std::string_view> argv(op.argv.begin(), op.argv.end());
    Propagate(op.db, argv);
  }
  if (ops.size() > 1) {
    std::string_view exec[] = {"EXEC"};
    Propagate(ops.back().db, exec);
  }
}

void Server::CountError(std::string_view code) {
  stats_.total_error_replies++;
  auto it = stats_.errorstats.find(std::string(code));
  if (it != stats_.errorstats.end()) {
    it->second++;
  } else if (stats_.errorstats.size() < 128) {  // Redis caps the distinct codes it tracks
    stats_.errorstats.emplace(std::string(code), 1);
  }
}

void Server::ResetStats() {
  uint64_t keep_start = stats_.start_time_ms;
  size_t keep_startup_memory = stats_.startup_memory;
  stats_ = ServerStats{};
  stats_.start_time_ms = keep_start;
  stats_.startup_memory = keep_startup_memory;
  keyspace_->ResetStats();
  commands_.ForEachWithSubcommands([](const CommandSpec& s) { s.stats = CommandStats{}; });
}

size_t Server::UsedMemory() const {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t Server::ResidentMemory() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace docket::server
