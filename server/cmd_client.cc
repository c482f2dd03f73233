// Client commands: CLIENT ID / SETNAME / GETNAME / LIST / INFO / KILL / PAUSE / UNPAUSE / REPLY /
// NO-EVICT / UNBLOCK / GETREDIR / TRACKINGINFO / HELP, and MONITOR.
// CLIENT LIST lines follow Redis 7.0's catClientInfoString field for field.
#include <event2/event.h>

#include <optional>
#include <string>

#include "protocol/errors.h"
#include "server/client.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// Redis's client types (getClientType / getClientTypeByName).
enum class ClientType { kNormal, kReplica, kPubsub, kMaster };

std::optional<ClientType> ParseClientType(std::string_view name) {
  if (EqualsIgnoreCase(name, "normal")) return ClientType::kNormal;
  if (EqualsIgnoreCase(name, "slave") || EqualsIgnoreCase(name, "replica")) {
    return ClientType::kReplica;
  }
  if (EqualsIgnoreCase(name, "pubsub")) return ClientType::kPubsub;
  if (EqualsIgnoreCase(name, "master")) return ClientType::kMaster;
  return std::nullopt;
}

// Docket has no replication links; a MONITOR client counts as normal, as in Redis.
ClientType TypeOf(const Client& c) {
  return c.Has(kClientPubsub) ? ClientType::kPubsub : ClientType::kNormal;
}

void UnknownClientType(CommandContext& ctx, std::string_view name) {
  ctx.reply.Error("Unknown client type '" + std::string(name) + "'");
}

// The flag letters of CLIENT LIST, in Redis's order (O for MONITOR; a command held back by
// CLIENT PAUSE is a blocked client there, hence b).
std::string FlagLetters(const Client& c) {
  std::string f;
  if (c.Has(kClientMonitor)) f += 'O';
  if (c.Has(kClientPubsub)) f += 'P';
  if (c.Has(kClientMulti)) f += 'x';
  if (c.Has(kClientBlocked) || c.Has(kClientPaused)) f += 'b';
  if (c.Has(kClientDirtyCas)) f += 'd';
  if (c.Has(kClientCloseAfterReply)) f += 'c';
  if (c.Has(kClientCloseAsap)) f += 'A';
  if (c.Has(kClientUnixSocket)) f += 'U';
  if (c.Has(kClientNoEvict)) f += 'e';
  if (f.empty()) f = "N";
  return f;
}

// One CLIENT LIST / CLIENT INFO line (without the trailing newline). Only the running client
// and clients held by CLIENT PAUSE have a parsed command, so only they report argv-mem.
std::string ClientInfoLine(Server& server, Client& c, const Client* current) {
  int64_t now_s = server.NowMs() / 1000;
  size_t argv_mem = (&c == current || c.Has(kClientPaused)) ? c.argv_mem() : 0;
  size_t qbuf_cap = c.query_buffer_size() + c.query_buffer_free();
  size_t tot_mem = sizeof(Client) + qbuf_cap + c.out().capacity() + argv_mem + c.multi_mem;
  int multi = c.Has(kClientMulti) ? static_cast<int>(c.multi_queue.size()) : -1;
  const PubsubRegistry& pubsub = server.pubsub();
  std::string events;
  if (c.read_event != nullptr && event_pending(c.read_event, EV_READ, nullptr)) events += 'r';
  if (c.write_event != nullptr && event_pending(c.write_event, EV_WRITE, nullptr)) events += 'w';
  return Format(
      "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu psub=%zu "
      "ssub=%zu multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu obl=%zu "
      "oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s user=default redir=-1 resp=%d",
      static_cast<unsigned long long>(c.id()), c.addr().c_str(), c.laddr().c_str(), c.fd(),
      c.name().c_str(), static_cast<long long>(now_s - c.ctime_ms / 1000),
      static_cast<long long>(now_s - c.last_interaction_ms / 1000), FlagLetters(c).c_str(),
      c.db_index(), pubsub.channels_of(c), pubsub.patterns_of(c), pubsub.shard_channels_of(c),
      multi, c.query_buffer_size(), c.query_buffer_free(), argv_mem, c.multi_mem,
      c.out().capacity(), c.pending_output(), c.output_buffer_bytes(), c.output_list_blocks(),
      c.output_list_bytes(), tot_mem, events.c_str(), std::string(c.last_cmd).c_str(), c.resp());
}

// Redis's clientSetName rule (also CLIENT SETINFO values): printable ASCII without spaces.
bool ValidClientAttr(std::string_view value) {
  for (char ch : value) {
    if (ch < '!' || ch > '~') return false;
  }
  return true;
}

// CLIENT ID
void CmdClientId(CommandContext& ctx) { ctx.reply.Integer(static_cast<int64_t>(ctx.client.id())); }

// CLIENT SETNAME connection-name
void CmdClientSetName(CommandContext& ctx) {
  if (!ValidClientAttr(ctx.arg(2))) {
    return ctx.reply.Error("Client names cannot contain spaces, newlines or special characters.");
  }
  ctx.client.set_name(std::string(ctx.arg(2)));  // "" removes the name
  ctx.reply.Ok();
}

// CLIENT GETNAME
void CmdClientGetName(CommandContext& ctx) {
  if (ctx.client.name().empty()) return ctx.reply.NullBulk();
  ctx.reply.Bulk(ctx.client.name());
}

// CLIENT INFO
void CmdClientInfo(CommandContext& ctx) {
  ctx.reply.Verbatim(ClientInfoLine(ctx.server, ctx.client, &ctx.client) + "\n", "txt");
}

// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id [client-id ...]]
void CmdClientList(CommandContext& ctx) {
  std::optional<ClientType> type;
  std::string out;
  if (ctx.argc() == 4 && EqualsIgnoreCase(ctx.arg(2), "type")) {
    type = ParseClientType(ctx.arg(3));
    if (!type) return UnknownClientType(ctx, ctx.arg(3));
  } else if (ctx.argc() > 3 && EqualsIgnoreCase(ctx.arg(2), "id")) {
    for (size_t j = 3; j < ctx.argc(); j++) {
      int64_t id;
      if (!storage::StringToInt64(ctx.arg(j), &id)) return ctx.reply.Error("Invalid client ID");
      Client* c = id > 0 ? ctx.server.FindClient(static_cast<uint64_t>(id)) : nullptr;
      if (c != nullptr) out += ClientInfoLine(ctx.server, *c, &ctx.client) + "\n";
    }
    return ctx.reply.Verbatim(out, "txt");
  } else if (ctx.argc() != 2) {
    return ctx.reply.Error(errors::kSyntax);
  }
  for (const auto& [id, c] : ctx.server.clients()) {
    if (type && TypeOf(*c) != *type) continue;
    out += ClientInfoLine(ctx.server, *c, &ctx.client) + "\n";
  }
  ctx.reply.Verbatim(out, "txt");
}

// What CLIENT KILL's filters select; unset filters match every client.
struct KillFilter {
  std::optional<std::string_view> addr, laddr;
  std::optional<ClientType> type;
  uint64_t id = 0;
  bool skipme = true;

  bool Matches(const Client& c) const {
    return (!addr || c.addr() == *addr) && (!laddr || c.laddr() == *laddr) &&
           (!type || TypeOf(c) == *type) && (id == 0 || c.id() == id);
  }
};

bool Fail(CommandContext& ctx, std::string_view error) {
  ctx.reply.Error(error);
  return false;
}

// Parses the filter pairs of the new CLIENT KILL form; replies the error and returns false on
// bad input. The only user is "default", which every client is authenticated as.
bool ParseKillFilters(CommandContext& ctx, KillFilter* f) {
  for (size_t i = 2; i < ctx.argc(); i += 2) {
    std::string_view opt = ctx.arg(i);
    if (i + 1 >= ctx.argc()) return Fail(ctx, errors::kSyntax);
    std::string_view value = ctx.arg(i + 1);
    if (EqualsIgnoreCase(opt, "id")) {
      int64_t id;
      if (!storage::StringToInt64(value, &id) || id < 1) {
        return Fail(ctx, "client-id should be greater than 0");
      }
      f->id = static_cast<uint64_t>(id);
    } else if (EqualsIgnoreCase(opt, "type")) {
      f->type = ParseClientType(value);
      if (!f->type) return Fail(ctx, "Unknown client type '" + std::string(value) + "'");
    } else if (EqualsIgnoreCase(opt, "addr")) {
      f->addr = value;
    } else if (EqualsIgnoreCase(opt, "laddr")) {
      f->laddr = value;
    } else if (EqualsIgnoreCase(opt, "user")) {
      if (value != "default") {
        return Fail(ctx, "No such user '" + std::string(value) + "'");
      }
    } else if (EqualsIgnoreCase(opt, "skipme") && EqualsIgnoreCase(value, "yes")) {
      f->skipme = true;
    } else if (EqualsIgnoreCase(opt, "skipme") && EqualsIgnoreCase(value, "no")) {
      f->skipme = false;
    } else {
      return Fail(ctx, errors::kSyntax);
    }
  }
  return true;
}

// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [USER user] [ADDR ip:port]
//   [LADDR ip:port] [SKIPME yes|no] ...
void CmdClientKill(CommandContext& ctx) {
  KillFilter filter;
  bool old_form = ctx.argc() == 3;
  if (old_form) {
    filter.addr = ctx.arg(2);
    filter.skipme = false;  // the old form may kill the caller
  } else if (!ParseKillFilters(ctx, &filter)) {
    return;
  }
  int64_t killed = 0;
  bool close_self = false;
  for (const auto& [id, c] : ctx.server.clients()) {
    if (!filter.Matches(*c)) continue;
    if (c.get() == &ctx.client) {
      if (filter.skipme) continue;
      close_self = true;
    } else {
      ctx.server.CloseClientAsync(*c);  // freed in BeforeSleep, never under a running command
    }
    killed++;
  }
  if (!old_form) {
    ctx.reply.Integer(killed);
  } else if (killed == 0) {
    ctx.reply.Error("No such client");
  } else {
    ctx.reply.Ok();
  }
  if (!close_self) return;
  // The caller goes once its reply is out; with replies muted there is nothing to wait for.
  bool muted = ctx.client.Has(kClientReplyOff) || ctx.client.Has(kClientReplySkip);
  if (muted) {
    ctx.server.CloseClientAsync(ctx.client);
  } else {
    ctx.client.Set(kClientCloseAfterReply);
  }
}

// CLIENT PAUSE timeout [WRITE|ALL]
void CmdClientPause(CommandContext& ctx) {
  if (ctx.argc() > 4) return ReplySubcommandSyntaxError(ctx);
  bool writes_only = false;
  if (ctx.argc() == 4) {
    if (EqualsIgnoreCase(ctx.arg(3), "write")) {
      writes_only = true;
    } else if (!EqualsIgnoreCase(ctx.arg(3), "all")) {
      return ctx.reply.Error("CLIENT PAUSE mode must be WRITE or ALL");
    }
  }
  int64_t timeout;
  if (!storage::StringToInt64(ctx.arg(2), &timeout)) {
    return ctx.reply.Error("timeout is not an integer or out of range");
  }
  if (timeout < 0) return ctx.reply.Error(errors::kTimeoutNegative);
  int64_t now = ctx.server.NowMs();
  // Redis adds without an overflow check: a huge timeout wraps into the past (no pause).
  int64_t end =
      timeout > 0
          ? static_cast<int64_t>(static_cast<uint64_t>(timeout) + static_cast<uint64_t>(now))
          : 0;
  // A pause that would already be over only matters as a merge with a running one.
  if (end > now || ctx.server.paused()) ctx.server.PauseClients(end, writes_only);
  ctx.reply.Ok();
}

// CLIENT UNPAUSE
void CmdClientUnpause(CommandContext& ctx) {
  ctx.server.UnpauseClients();
  ctx.reply.Ok();
}

// CLIENT REPLY ON|OFF|SKIP
void CmdClientReply(CommandContext& ctx) {
  Client& c = ctx.client;
  std::string_view mode = ctx.arg(2);
  if (EqualsIgnoreCase(mode, "on")) {
    c.Clear(kClientReplySkip);
    c.Clear(kClientReplyOff);
    ctx.reply.set_buffer(&c.out());  // this reply was muted until now: it goes out
    ctx.reply.Ok();
  } else if (EqualsIgnoreCase(mode, "off")) {
    c.Set(kClientReplyOff);
  } else if (EqualsIgnoreCase(mode, "skip")) {
    if (!c.Has(kClientReplyOff)) c.Set(kClientReplySkipNext);
  } else {
    ctx.reply.Error(errors::kSyntax);
  }
}

// CLIENT NO-EVICT ON|OFF
void CmdClientNoEvict(CommandContext& ctx) {
  if (EqualsIgnoreCase(ctx.arg(2), "on")) {
    ctx.client.Set(kClientNoEvict);
  } else if (EqualsIgnoreCase(ctx.arg(2), "off")) {
    ctx.client.Clear(kClientNoEvict);
  } else {
    return ctx.reply.Error(errors::kSyntax);
  }
  ctx.reply.Ok();
}

// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
void CmdClientUnblock(CommandContext& ctx) {
  if (ctx.argc() > 4) return ReplySubcommandSyntaxError(ctx);
  if (ctx.argc() == 4 && !EqualsIgnoreCase(ctx.arg(3), "timeout") &&
      !EqualsIgnoreCase(ctx.arg(3), "error")) {
    return ctx.reply.Error("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  int64_t id;
  if (!storage::StringToInt64(ctx.arg(2), &id)) return ctx.reply.Error(errors::kNotInteger);
  Client* target = ctx.server.FindClient(static_cast<uint64_t>(id));
  bool error = ctx.argc() == 4 && EqualsIgnoreCase(ctx.arg(3), "error");
  bool unblocked = target != nullptr && ctx.server.blocking().UnblockByRequest(*target, error);
  ctx.reply.Integer(unblocked ? 1 : 0);
}

// CLIENT GETREDIR (client-side caching is not offered: never redirecting)
void CmdClientGetRedir(CommandContext& ctx) { ctx.reply.Integer(-1); }

// CLIENT TRACKINGINFO
void CmdClientTrackingInfo(CommandContext& ctx) {
  ctx.reply.MapHeader(3);
  ctx.reply.Bulk("flags");
  ctx.reply.SetHeader(1);
  ctx.reply.Bulk("off");
  ctx.reply.Bulk("redirect");
  ctx.reply.Integer(-1);
  ctx.reply.Bulk("prefixes");
  ctx.reply.ArrayHeader(0);
}

// CLIENT HELP
void CmdClientHelp(CommandContext& ctx) {
  ReplyHelp(ctx,
            {
                "CACHING (YES|NO)",
                "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
            });
}

// MONITOR
void CmdMonitor(CommandContext& ctx) {
  // Queued in MULTI, it runs inside EXEC, where a client expects one reply per command.
  if (ctx.client.Has(kClientDenyBlocking)) {
    return ctx.reply.Error("MONITOR isn't allowed for DENY BLOCKING client");
  }
  if (ctx.client.Has(kClientMonitor)) return;  // as Redis: a second MONITOR gets no reply
  ctx.server.AddMonitor(ctx.client);
  ctx.reply.Ok();
}

}  // namespace

std::string ClientInfoString(Server& server, Client& c) {
  return ClientInfoLine(server, c, nullptr);
}

void RegisterClientCommands(CommandTable& table) {
  table.Register("client|id", CmdClientId);
  table.Register("client|setname", CmdClientSetName);
  table.Register("client|getname", CmdClientGetName);
  table.Register("client|info", CmdClientInfo);
  table.Register("client|list", CmdClientList);
  table.Register("client|kill", CmdClientKill);
  table.Register("client|pause", CmdClientPause);
  table.Register("client|unpause", CmdClientUnpause);
  table.Register("client|reply", CmdClientReply);
  table.Register("client|no-evict", CmdClientNoEvict);
  table.Register("client|unblock", CmdClientUnblock);
  table.Register("client|getredir", CmdClientGetRedir);
  table.Register("client|trackinginfo", CmdClientTrackingInfo);
  table.Register("client|help", CmdClientHelp);
  // No CLIENT SETINFO: Redis 7.0 answers "unknown subcommand", which clients that send it on
  // connect (redis-py, Jedis, go-redis) ignore.
  table.Register("monitor", CmdMonitor);
}

}  // namespace docket::server
