// Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO.
#include <string>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/client.h"
#include "server/command.h"
#include "server/server.h"
#include "server/transaction.h"
#include "storage/number.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// PING [message]
void CmdPing(CommandContext& ctx) {
  if (ctx.argc() > 2) return ctx.WrongArity();
  if (ctx.client.Has(kClientPubsub) && ctx.client.resp() == 2) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk("pong");
    ctx.reply.Bulk(ctx.argc() == 2 ? ctx.arg(1) : "");
  } else if (ctx.argc() == 2) {
    ctx.reply.Bulk(ctx.arg(1));
  } else {
    ctx.reply.Raw("+PONG\r\n");
  }
}

// ECHO message
void CmdEcho(CommandContext& ctx) { ctx.reply.Bulk(ctx.arg(1)); }

// QUIT
void CmdQuit(CommandContext& ctx) {
  ctx.reply.Ok();
  ctx.client.Set(kClientCloseAfterReply);
}

// SELECT index
void CmdSelect(CommandContext& ctx) {
  int64_t index;
  if (!storage::StringToInt64(ctx.arg(1), &index) || index < INT32_MIN || index > INT32_MAX) {
    return ctx.reply.Error(errors::kNotInteger);
  }
  if (index < 0 || index >= ctx.keyspace().count()) {
    return ctx.reply.Error(errors::kDbIndexOutOfRange);
  }
  ctx.client.set_db_index(static_cast<int>(index));
  ctx.reply.Ok();
}

// Checks a username/password pair against requirepass (the only user is "default").
bool CheckPassword(CommandContext& ctx, std::string_view user, std::string_view pass) {
  const std::string& required = ctx.server.config().requirepass;
  if (user != "default") return false;
  return required.empty() || pass == required;
}

// AUTH [username] password
void CmdAuth(CommandContext& ctx) {
  if (ctx.argc() > 3) return ctx.reply.Error(errors::kSyntax);
  std::string_view user = "default", pass = ctx.arg(1);
  ctx.Redact(1);
  if (ctx.argc() == 2) {
    if (ctx.server.config().requirepass.empty()) {
      return ctx.reply.Error(errors::kAuthNotConfigured);
    }
  } else {
    user = ctx.arg(1);
    pass = ctx.arg(2);
    ctx.Redact(2);
  }
  if (!CheckPassword(ctx, user, pass)) return ctx.reply.Error(errors::kWrongPass);
  ctx.client.set_authenticated(true);
  ctx.reply.Ok();
}

// Redis's clientSetName rule: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

void WriteHelloReply(CommandContext& ctx) {
  protocol::ReplyWriter& r = ctx.reply;
  r.MapHeader(7);
  r.Bulk("server");
  r.Bulk("redis");
  r.Bulk("version");
  r.Bulk(kRedisVersion);
  r.Bulk("proto");
  r.Integer(ctx.client.resp());
  r.Bulk("id");
  r.Integer(static_cast<int64_t>(ctx.client.id()));
  r.Bulk("mode");
  r.Bulk("standalone");
  r.Bulk("role");
  r.Bulk("master");
  r.Bulk("modules");
  r.ArrayHeader(0);
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
void CmdHello(CommandContext& ctx) {
  int64_t version = 0;
  size_t next = 1;
  if (ctx.argc() >= 2) {
    if (!storage::StringToInt64(ctx.arg(next++), &version)) {
      return ctx.reply.Error("Protocol version is not an integer or out of range");
    }
    if (version < 2 || version > 3) return ctx.reply.Error(errors::kNoProto);
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  for (size_t j = next; j < ctx.argc(); j++) {
    size_t more = ctx.argc() - 1 - j;
    if (EqualsIgnoreCase(ctx.arg(j), "AUTH") && more >= 2) {
      user = ctx.arg(j + 1);
      pass = ctx.arg(j + 2);
      ctx.Redact(j + 1);
      ctx.Redact(j + 2);
      has_auth = true;
      j += 2;
    } else if (EqualsIgnoreCase(ctx.arg(j), "SETNAME") && more >= 1) {
      name = ctx.arg(j + 1);
      has_name = true;
      j++;
    } else {
      return ctx.reply.Error("Syntax error in HELLO option '" + std::string(ctx.arg(j)) + "'");
    }
  }
  if (has_auth) {
    if (!CheckPassword(ctx, user, pass)) return ctx.reply.Error(errors::kWrongPass);
    ctx.client.set_authenticated(true);
  }
  if (!ctx.client.authenticated()) {
    return ctx.reply.Error(
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (has_name) {
    if (!ValidClientName(name)) {
      return ctx.reply.Error("Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.client.set_name(std::string(name));
  }
  if (version != 0) ctx.client.set_resp(static_cast<int>(version));
  WriteHelloReply(ctx);
}

// RESET
void CmdReset(CommandContext& ctx) {
  Client& c = ctx.client;
  c.set_db_index(0);
  c.set_resp(2);
  c.set_name("");
  ctx.server.pubsub().RemoveClient(c);  // leaves every channel and pattern, without replies
  DiscardTransaction(ctx.server, c);    // leaves MULTI and unwatches every key
  for (ClientFlag f : {kClientReplyOff, kClientReplySkip, kClientReplySkipNext, kClientNoEvict,
                       kClientNoTouch, kClientPubsub}) {
    c.Clear(f);
  }
  if (c.Has(kClientMonitor)) ctx.server.RemoveMonitor(c);  // as Redis: a normal client again
  c.set_authenticated(ctx.server.config().requirepass.empty());
  ctx.reply.set_buffer(&c.out());  // replies were muted by CLIENT REPLY OFF: RESET answers
  ctx.reply.Simple("RESET");
}

}  // namespace

void RegisterConnectionCommands(CommandTable& table) {
  table.Register("ping", CmdPing);
  table.Register("echo", CmdEcho);
  table.Register("quit", CmdQuit);
  table.Register("select", CmdSelect);
  table.Register("auth", CmdAuth);
  table.Register("hello", CmdHello);
  table.Register("reset", CmdReset);
}

}  // namespace docket::server
