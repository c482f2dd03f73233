// The server's networking: TCP and Unix listeners, accepting clients (maxclients, protected mode),
// socket read/write events, the pending-write step of BeforeSleep, output-buffer limits, and
// closing clients.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "server/aof.h"
#include "server/log.h"
#include "server/server.h"

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

}  // namespace

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
    DOCKET_LOG(LogLevel::kWarning,
               "Warning: Could not create server TCP listening socket %s:%d: %s", spec.c_str(),
               port, parsed ? strerror(err) : "Invalid argument");
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
  client->read_event =
      event_new(base_, fd, EV_READ | EV_PERSIST, &Server::OnReadable, client.get());
  client->write_event =
      event_new(base_, fd, EV_WRITE | EV_PERSIST, &Server::OnWritable, client.get());
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
  if (self.aof().MustHold(*c)) {
    // Its output follows AOF data not yet fsynced: BeforeSleep writes it once it is.
    event_del(c->write_event);
    self.QueueWrite(*c);
    return;
  }
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
  // appendfsync always: output that follows AOF data not yet fsynced waits for its fsync
  // (nothing unsynced is acknowledged or shown); other clients are served.
  for (Client* c : pending) {
    if (aof_->MustHold(*c)) {
      pending_writes_.push_back(c);
      continue;
    }
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
    Client* c = FindClient(id);
    if (c != nullptr && c->Has(kClientProtected)) {
      closing_.push_back(id);  // its script is still running: freed after it ends
    } else if (c != nullptr) {
      FreeClient(c);
    }
  }
}

void Server::ProcessEventsWhileBusy(Client& caller) {
  // The event loop is running this script's command: poll the sockets here instead.
  std::vector<pollfd> fds;
  std::vector<event*> listener_events;
  for (auto& [fd, ev] : listeners_) {
    fds.push_back({fd, POLLIN, 0});
    listener_events.push_back(ev);
  }
  std::vector<uint64_t> ids;
  for (auto& [id, c] : clients_) {
    if (c.get() == &caller || c->Has(kClientCloseAsap)) continue;
    fds.push_back({c->fd(), POLLIN, 0});
    ids.push_back(id);
  }
  if (poll(fds.data(), fds.size(), 0) > 0) {
    for (size_t i = 0; i < fds.size(); i++) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (i < listener_events.size()) {
        event* ev = listener_events[i];
        event_get_callback(ev)(fds[i].fd, EV_READ, event_get_callback_arg(ev));
      } else if (Client* c = FindClient(ids[i - listener_events.size()]); c != nullptr) {
        OnReadable(c->fd(), EV_READ, c);
      }
    }
  }
  // BeforeSleep's order: replies that follow a write go out after the AOF has it (the running
  // script's own writes are still held in its propagation unit).
  aof_->Flush(false);
  HandlePendingWrites();
  FreeClosingClients();
  if (shutdown_asked_) {  // SHUTDOWN NOSAVE while the script runs: exit at once, as Redis
    FinishShutdown();
    exit(exit_code_);
  }
}

}  // namespace docket::server
