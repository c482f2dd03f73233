// The server loop: listeners, accepting clients, BeforeSleep (write replies, free closed clients),
// and the hz cron (client timeouts, active expiry, rehashing, pause expiry, metrics).
#include "server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "protocol/errors.h"
#include "server/log.h"

namespace docket::server {
namespace {

constexpr int kMaxAcceptsPerCall = 1000;

constexpr std::string_view kDeniedMessage =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start accepting connections from "
    "the outside.\r\n";

std::string RandomHex(size_t n) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) out.push_back(kHex[rng() & 15]);
  return out;
}

std::string PeerToString(const sockaddr_storage& sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa.ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
    port = ntohs(s->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  if (sa.ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(&sa);
    inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
    port = ntohs(s->sin6_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  return "/unixsocket:0";
}

bool IsLoopbackAddr(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&sa);
    return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa.ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(&sa);
    return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
  }
  return true;  // unix socket
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Redis's resetClient: CLIENT REPLY SKIP mutes exactly the command after it, even when the SKIP
// itself was muted by an earlier one.
void ResetReplySkip(Client& c) {
  c.Clear(kClientReplySkip);
  if (c.Has(kClientReplySkipNext)) {
    c.Clear(kClientReplySkipNext);
    c.Set(kClientReplySkip);
  }
}

}  // namespace

double ServerStats::Sample::Mean() const {
  double sum = 0;
  for (double s : samples) sum += s;
  return sum / 16;
}

Server::Server(ConfigRegistry* config) : config_(config) {
  storage::SetHashSeed(std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32));
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
  RegisterPubsubCommands(commands_);
  RegisterMultiCommands(commands_);
  InstallConfigApplyHooks(*this);
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

bool Server::Listen(const std::string& spec, int port) {
  bool optional = !spec.empty() && spec[0] == '-';
  std::string addr = optional ? spec.substr(1) : spec;
  bool v6 = addr.find(':') != std::string::npos;
  if (addr == "*") addr = "0.0.0.0";
  if (addr == "::*") addr = "::";
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return optional;
  int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof(yes));
  sockaddr_storage sa{};
  socklen_t len;
  bool parsed;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&sa);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    parsed = inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1;
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&sa);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    parsed = inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1;
    len = sizeof(sockaddr_in);
  }
  if (!parsed || bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
      listen(fd, static_cast<int>(config().tcp_backlog)) != 0) {
    int err = errno;
    close(fd);
    if (optional) return true;
    DOCKET_LOG(LogLevel::kWarning, "Warning: Could not create server TCP listening socket %s:%d: %s",
               spec.c_str(), port, parsed ? strerror(err) : "Invalid argument");
    return false;
  }
  SetNonBlocking(fd);
  event* ev = event_new(base_, fd, EV_READ | EV_PERSIST, &Server::OnAccept, this);
  event_add(ev, nullptr);
  listeners_.emplace_back(fd, ev);
  return true;
}

bool Server::ListenUnix(const std::string& path, int64_t perm) {
  sockaddr_un sa{};
  if (path.size() >= sizeof(sa.sun_path)) {
    DOCKET_LOG(LogLevel::kWarning, "Failed opening Unix socket: path too long");
    return false;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path.data(), path.size());
  unlink(path.c_str());  // a stale socket from an earlier run
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      (perm != 0 && chmod(path.c_str(), static_cast<mode_t>(perm)) != 0) ||
      listen(fd, static_cast<int>(config().tcp_backlog)) != 0) {
    DOCKET_LOG(LogLevel::kWarning, "Failed opening Unix socket: %s", strerror(errno));
    close(fd);
    return false;
  }
  SetNonBlocking(fd);
  event* ev = event_new(base_, fd, EV_READ | EV_PERSIST, &Server::OnAcceptUnix, this);
  event_add(ev, nullptr);
  listeners_.emplace_back(fd, ev);
  DOCKET_LOG(LogLevel::kNotice, "The server is now ready to accept connections at %s",
             path.c_str());
  return true;
}

void Server::CloseTcpListeners() {
  std::erase_if(listeners_, [](const std::pair<int, event*>& l) {
    sockaddr_storage sa{};
    socklen_t len = sizeof(sa);
    if (getsockname(l.first, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
        sa.ss_family == AF_UNIX) {
      return false;
    }
    event_free(l.second);
    close(l.first);
    return true;
  });
}

bool Server::Relisten() {
  if (config().port == listen_port_ && config().bind == listen_bind_) return true;
  CloseTcpListeners();
  bool ok = true;
  if (config().port != 0) {
    for (const std::string& addr : config().bind) {
      if (!Listen(addr, config().port)) {
        ok = false;
        break;
      }
    }
  }
  if (!ok) {
    DOCKET_LOG(LogLevel::kWarning, "Failed to bind");
    CloseTcpListeners();
    listen_port_ = -1;  // the rollback to the old values listens again
    return false;
  }
  listen_port_ = config().port;
  listen_bind_ = config().bind;
  return true;
}

bool Server::Start() {
  signal(SIGPIPE, SIG_IGN);
  SetLogLevel(static_cast<LogLevel>(config().loglevel));
  if (!config().logfile.empty() && !SetLogFile(config().logfile)) {
    fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
    return false;
  }
  DOCKET_LOG(LogLevel::kWarning, "oO0OoO0OoO0Oo Docket is starting oO0OoO0OoO0Oo");
  DOCKET_LOG(LogLevel::kWarning, "Docket version=%s (redis_version=%s), bits=64, pid=%d, just started",
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
  DOCKET_LOG(LogLevel::kNotice, "Running mode=standalone, port=%d.", config().port);
  stats_.startup_memory = stats_.peak_memory = UsedMemory();
  DOCKET_LOG(LogLevel::kNotice, "Ready to accept connections");
  return true;
}

int Server::Run() {
  while (running_) {
    BeforeSleep();
    if (!running_) break;
    event_base_loop(base_, EVLOOP_ONCE);
  }
  return exit_code_;
}

void Server::OnAccept(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Server*>(arg);
  for (int i = 0; i < kMaxAcceptsPerCall; i++) {
    int cfd = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        DOCKET_LOG(LogLevel::kWarning, "Accepting client connection: %s", strerror(errno));
      }
      return;
    }
    self->AcceptClient(cfd, false);
  }
}

void Server::OnAcceptUnix(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Server*>(arg);
  for (int i = 0; i < kMaxAcceptsPerCall; i++) {
    int cfd = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) return;
    self->AcceptClient(cfd, true);
  }
}

void Server::AcceptClient(int fd, bool unix_socket) {
  sockaddr_storage peer{}, local{};
  socklen_t plen = sizeof(peer), llen = sizeof(local);
  getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
  if (!unix_socket) {
    int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    if (config().tcp_keepalive > 0) {
      int idle = static_cast<int>(config().tcp_keepalive);
      int intvl = std::max(1, idle / 3), cnt = 3;
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
  }
  stats_.connections_received++;
  if (clients_.size() >= static_cast<size_t>(config().maxclients)) {
    std::string_view err = "-ERR max number of clients reached\r\n";
    ssize_t ignored = write(fd, err.data(), err.size());  // best effort, as Redis
    (void)ignored;
    stats_.rejected_connections++;
    close(fd);
    return;
  }
  bool default_bind = config().bind == std::vector<std::string>{"*", "-::*"};
  if (config().protected_mode && default_bind && config().requirepass.empty() && !unix_socket &&
      !IsLoopbackAddr(peer)) {
    ssize_t ignored = write(fd, kDeniedMessage.data(), kDeniedMessage.size());
    (void)ignored;
    stats_.rejected_connections++;
    close(fd);
    return;
  }
  uint64_t id = next_client_id_++;
  auto client = std::make_unique<Client>(this, fd, id);
  client->set_addrs(PeerToString(peer), PeerToString(local));
  if (unix_socket) client->Set(kClientUnixSocket);
  client->set_authenticated(config().requirepass.empty());
  client->ctime_ms = client->last_interaction_ms = NowMs();
  client->read_event = event_new(base_, fd, EV_READ | EV_PERSIST, &Server::OnReadable, client.get());
  client->write_event = event_new(base_, fd, EV_WRITE | EV_PERSIST, &Server::OnWritable, client.get());
  event_add(client->read_event, nullptr);
  DOCKET_LOG(LogLevel::kVerbose, "Accepted %s", client->addr().c_str());
  clients_.emplace(id, std::move(client));
}

void Server::OnReadable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Client*>(arg);
  Server& self = c->server();
  if (c->Has(kClientCloseAsap)) return;
  if (!c->ReadAndProcess()) self.FreeClient(c);
}

void Server::OnWritable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Client*>(arg);
  Server& self = c->server();
  if (!c->WriteOutput()) {
    self.FreeClient(c);
    return;
  }
  if (c->pending_output() == 0) {
    event_del(c->write_event);
    if (c->Has(kClientCloseAfterReply)) self.FreeClient(c);
  }
}

void Server::QueueWrite(Client& c) {
  if (CheckOutputBufferLimits(c)) return;
  if (c.Has(kClientPendingWrite) || c.Has(kClientCloseAsap)) return;
  c.Set(kClientPendingWrite);
  pending_writes_.push_back(&c);
}

void Server::HandlePendingWrites() {
  std::vector<Client*> pending;
  pending.swap(pending_writes_);
  for (Client* c : pending) {
    c->Clear(kClientPendingWrite);
    if (c->Has(kClientCloseAsap)) continue;
    if (!c->WriteOutput()) {
      CloseClientAsync(*c);
      continue;
    }
    if (c->pending_output() > 0) {
      event_add(c->write_event, nullptr);  // the rest goes when the socket drains
    } else if (c->Has(kClientCloseAfterReply)) {
      CloseClientAsync(*c);
    }
  }
}

bool Server::CheckOutputBufferLimits(Client& c) {
  const ClientOutputLimit& limit =
      config().client_obuf_limits[c.Has(kClientPubsub) ? kObufPubsub : kObufNormal];
  if ((limit.hard_bytes | limit.soft_bytes) == 0) return false;  // normal clients by default
  size_t used = c.output_list_bytes();
  if (used == 0 || c.Has(kClientCloseAsap)) return false;
  bool hard = limit.hard_bytes != 0 && used >= limit.hard_bytes;
  bool soft = limit.soft_bytes != 0 && used >= limit.soft_bytes;
  if (soft) {
    int64_t now_s = keyspace_->now_ms() / 1000;  // the command clock, as Redis's unixtime
    if (c.obuf_soft_limit_reached_time == 0) {
      c.obuf_soft_limit_reached_time = now_s;
      soft = false;  // first time over the soft limit
    } else if (now_s - c.obuf_soft_limit_reached_time <= limit.soft_seconds) {
      soft = false;
    }
  } else {
    c.obuf_soft_limit_reached_time = 0;
  }
  if (!soft && !hard) return false;
  DOCKET_LOG(LogLevel::kWarning,
             "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
             ClientInfoString(*this, c).c_str());
  CloseClientAsync(c);
  return true;
}

void Server::CloseClientAsync(Client& c) {
  if (c.Has(kClientCloseAsap)) return;
  c.Set(kClientCloseAsap);
  closing_.push_back(c.id());
}

void Server::FreeClosingClients() {
  std::vector<uint64_t> closing;
  closing.swap(closing_);
  for (uint64_t id : closing) {
    if (Client* c = FindClient(id)) FreeClient(c);
  }
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
    timeval tv{static_cast<time_t>(wait_ms / 1000), static_cast<suseconds_t>(wait_ms % 1000 * 1000)};
    event_add(block_timer_, &tv);
  }
  if (paused() && NowMs() >= pause_end_ms_) UnpauseClients();
  if (resume_paused_) {
    resume_paused_ = false;
    ResumePausedClients();
  }
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
  int64_t now = NowMs();
  keyspace_->set_now_ms(now);
  cron_loops_++;
  for (auto* s : {&stats_.ops, &stats_.net_in, &stats_.net_out}) {
    uint64_t value = s == &stats_.ops        ? stats_.commands_processed
                     : s == &stats_.net_in   ? stats_.net_input_bytes
                                             : stats_.net_output_bytes;
    if (s->last_time_ms != 0 && now > s->last_time_ms) {
      s->samples[s->index] = (value - s->last_value) * 1000.0 / (now - s->last_time_ms);
      s->index = (s->index + 1) % 16;
    }
    s->last_time_ms = now;
    s->last_value = value;
  }
  stats_.peak_memory = std::max(stats_.peak_memory, UsedMemory());
  ClientsCron();
  DatabasesCron();
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

// The dispatch path, in processCommand's order.
bool Server::ProcessCommand(Client& c, std::span<const std::string_view> argv) {
  keyspace_->set_now_ms(NowMs());
  bool sub_unknown;
  CommandSpec* spec = commands_.Lookup(argv, &sub_unknown);
  // As Redis, CLIENT LIST's cmd= names even a rejected command ("NULL" when unknown).
  c.last_cmd = spec != nullptr && !sub_unknown ? spec->fullname : "NULL";
  // A rejection is a reply like any other: CLIENT REPLY OFF / SKIP mute it.
  std::string discarded;
  if (c.Has(kClientReplyOff) || c.Has(kClientReplySkip)) c.reply().set_buffer(&discarded);
  bool rejected = RejectCommand(c, argv, spec, sub_unknown);
  c.reply().set_buffer(&c.out());
  if (rejected) {
    if (c.Has(kClientMulti)) c.Set(kClientDirtyExec);  // Redis's flagTransaction
    c.commands_processed++;
    ResetReplySkip(c);
    return true;
  }
  if ((IsPausedFor(*spec) || (paused() && IsExecCommand(*spec) && IsPausedForTransaction(c))) &&
      !c.Has(kClientMonitor)) {
    PauseClient(c);
    return false;
  }
  if (c.Has(kClientMulti) && !RunsInsideMulti(*spec)) {
    if (c.Has(kClientReplyOff) || c.Has(kClientReplySkip)) c.reply().set_buffer(&discarded);
    QueueMultiCommand(c, *spec, argv);
    c.reply().set_buffer(&c.out());
    c.commands_processed++;
    ResetReplySkip(c);
    return true;
  }
  Call(c, *spec, argv);
  ResetReplySkip(c);
  // Clients blocked on keys this command made ready are served now, before the next command.
  if (blocking_.HasReadyKeys() && !c.Has(kClientMulti)) blocking_.HandleReadyKeys();
  return true;
}

bool Server::RejectCommand(Client& c, std::span<const std::string_view> argv, CommandSpec* spec,
                           bool sub_unknown) {
  protocol::ReplyWriter& reply = c.reply();
  if (spec == nullptr) {
    // Redis formats these with "%.128s" from C strings: a NUL ends the text.
    auto c_str = [](std::string_view s, size_t max) { return s.substr(0, std::min(max, s.find('\0'))); };
    std::string args;
    for (size_t i = 1; i < argv.size() && args.size() < 128; i++) {
      size_t room = 128 - args.size();
      args += "'" + std::string(c_str(argv[i], room)) + "' ";
    }
    std::string name(c_str(argv[0], 128));
    reply.Error("unknown command '" + name + "', with args beginning with: " + args);
    return true;
  }
  if (sub_unknown) {
    std::string parent = spec->name;
    for (char& ch : parent) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    std::string_view sub = argv[1].substr(0, std::min<size_t>(128, argv[1].find('\0')));
    reply.Error("unknown subcommand '" + std::string(sub) + "'. Try " + parent +
                " HELP.");
    spec->stats.rejected_calls++;
    return true;
  }
  if (!spec->ArityOk(argv.size()) && IsExecCommand(*spec)) {
    // As Redis's rejectCommand, with or without MULTI (the only refusal EXEC can meet here).
    AbortExec(c, argv, "wrong number of arguments for 'exec' command");
    spec->stats.rejected_calls++;
    return true;
  }
  if (!spec->ArityOk(argv.size()) || (spec->handler == nullptr)) {
    reply.Error("wrong number of arguments for '" + spec->fullname + "' command");
    spec->stats.rejected_calls++;
    return true;
  }
  // Redis's protected-command check (DEBUG and enable-debug-command), before authentication.
  if (spec->name == "debug" && config().enable_debug_command != "yes" &&
      (config().enable_debug_command != "local" || !c.IsLoopback())) {
    reply.Error(
        "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
        "can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server.");
    spec->stats.rejected_calls++;
    return true;
  }
  // As Redis's authRequired: a client that never authenticated needs no AUTH once requirepass
  // is cleared by CONFIG SET.
  if (!c.authenticated() && !config().requirepass.empty() && !spec->Has(kCmdNoAuth)) {
    reply.Error(protocol::errors::kNoAuth);
    spec->stats.rejected_calls++;
    return true;
  }
  if (c.Has(kClientMulti) && spec->Has(kCmdNoMulti)) {
    reply.Error("Command not allowed inside a transaction");
    spec->stats.rejected_calls++;
    return true;
  }
  if (c.Has(kClientPubsub) && c.resp() == 2) {
    static const std::string_view kAllowed[] = {"ping",        "subscribe",    "ssubscribe",
                                                "unsubscribe", "sunsubscribe", "psubscribe",
                                                "punsubscribe", "quit",        "reset"};
    std::string_view top = spec->parent != nullptr ? spec->parent->name : spec->name;
    if (std::find(std::begin(kAllowed), std::end(kAllowed), top) == std::end(kAllowed)) {
      reply.Error(Format("Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                         "QUIT / RESET are allowed in this context",
                         spec->fullname.c_str()));
      spec->stats.rejected_calls++;
      return true;
    }
  }
  // A MONITOR client is a replica to Redis: it may not touch the keyspace.
  if (c.Has(kClientMonitor) &&
      (spec->Has(kCmdWrite) || spec->Has(kCmdReadonly) || spec->Has(kCmdMayReplicate))) {
    reply.Error("Replica can't interact with the keyspace");
    spec->stats.rejected_calls++;
    return true;
  }
  return false;
}

void Server::Call(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv,
                  bool reprocessing, std::string_view ready_key) {
  int64_t start = NowUs();
  uint64_t errors_before = c.reply().errors();
  errors_mark_ = stats_.total_error_replies;
  std::string discarded;
  bool muted = c.Has(kClientReplyOff) || c.Has(kClientReplySkip);
  if (muted) c.reply().set_buffer(&discarded);
  storage::Database& db = keyspace_->db(c.db_index());
  CommandContext ctx(*this, c, argv, c.reply(), db, spec);
  ctx.reprocessing = reprocessing;
  ctx.ready_key = ready_key;
  spec.handler(ctx);
  c.reply().set_buffer(&c.out());
  int64_t duration = NowUs() - start;

  c.last_cmd = spec.fullname;
  if (!reprocessing) {  // a served blocked command was counted when it first ran
    c.commands_processed++;
    stats_.commands_processed++;
    spec.stats.calls++;
  }
  spec.stats.usec += duration;
  // As Redis's incrCommandStatsOnError: errors since the last call ended, so that EXEC does not
  // count its queued commands' errors as its own.
  if (c.reply().errors() > errors_before && stats_.total_error_replies > errors_mark_) {
    spec.stats.failed_calls++;
  }
  errors_mark_ = stats_.total_error_replies;
  std::vector<std::string_view> shown;  // argv with passwords hidden, for slowlog and monitor
  if (ctx.redacted != 0) {
    shown.assign(argv.begin(), argv.end());
    for (size_t i = 0; i < shown.size() && i < 64; i++) {
      if (ctx.redacted & (uint64_t{1} << i)) shown[i] = "(redacted)";
    }
    argv = shown;
  }
  if (!spec.Has(kCmdSkipSlowlog)) {
    slowlog_.Maybe(argv, duration, config().slowlog_log_slower_than,
                   static_cast<size_t>(config().slowlog_max_len), NowMs() / 1000, c.addr(),
                   c.name());
  }
  latency_.Maybe(spec.Has(kCmdFast) ? "fast-command" : "command", duration / 1000,
                 config().latency_monitor_threshold, NowMs() / 1000);
  if (ctx.dirty > 0) {
    dirty_ += ctx.dirty;
    if (ctx.rewritten.empty()) {
      Propagate(db.index(), ctx.argv);
    } else {
      std::vector<std::string_view> views(ctx.rewritten.begin(), ctx.rewritten.end());
      Propagate(db.index(), views);
    }
  }
  for (const auto& extra : ctx.extra) {
    std::vector<std::string_view> views(extra.begin(), extra.end());
    Propagate(db.index(), views);
  }
  if (!monitors_.empty() && !reprocessing && !spec.Has(kCmdSkipMonitor) &&
      !spec.Has(kCmdAdmin)) {
    FeedMonitors(c, c.db_index(), argv);
  }
}

void Server::FeedMonitors(Client& c, int db, std::span<const std::string_view> argv) {
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string from = c.Has(kClientUnixSocket) ? "unix:" + config().unixsocket : c.addr();
  std::string line = Format("%lld.%06lld [%d %s]", static_cast<long long>(now_us / 1000000),
                            static_cast<long long>(now_us % 1000000), db, from.c_str());
  for (std::string_view a : argv) {
    line += " \"";
    for (unsigned char ch : a) {
      switch (ch) {
        case '\\': line += "\\\\"; break;
        case '"': line += "\\\""; break;
        case '\n': line += "\\n"; break;
        case '\r': line += "\\r"; break;
        case '\t': line += "\\t"; break;
        case '\a': line += "\\a"; break;
        case '\b': line += "\\b"; break;
        default:
          if (isprint(ch)) {
            line.push_back(static_cast<char>(ch));
          } else {
            line += Format("\\x%02x", ch);
          }
      }
    }
    line += "\"";
  }
  for (uint64_t id : monitors_) {
    Client* m = FindClient(id);
    if (m == nullptr) continue;  // as Redis, a monitor sees its own commands too
    m->reply().Simple(line);
    QueueWrite(*m);
  }
}

void Server::SignalModifiedKey(int db, std::string_view key) {
  blocking_.SignalKey(db, key);
  watches_.Touch(keyspace_->db(db), key);
}

void Server::OnBlockTimer(evutil_socket_t, short, void*) {
  // Nothing to do here: waking the loop runs BeforeSleep, which times the clients out.
}

void Server::RerunBlockedCommand(Client& c, const BlockedState& state,
                                 std::string_view ready_key) {
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
  // EXEC sends its commands out as one unit when it ends (ExecTransaction).
  if (exec_propagation_.collecting()) return exec_propagation_.Add(db, argv);
  // The append-only file attaches here.
  (void)db;
  (void)argv;
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
