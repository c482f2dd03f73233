// Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis 7.0's replies. Queuing
// happens in Server::ProcessCommand; the watch registry and EXEC's body are in transaction.cc.
#include "protocol/errors.h"
#include "server/client.h"
#include "server/command.h"
#include "server/server.h"
#include "server/transaction.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// MULTI
void CmdMulti(CommandContext& ctx) {
  if (ctx.client.Has(kClientMulti)) return ctx.reply.Error(errors::kMultiNested);
  ctx.client.Set(kClientMulti);
  ctx.reply.Ok();
}

// EXEC
void CmdExec(CommandContext& ctx) {
  Client& c = ctx.client;
  if (!c.Has(kClientMulti)) return ctx.reply.Error("EXEC without MULTI");
  // A watched key that expired since WATCH counts as modified.
  if (ctx.server.watches().AnyExpired(c, ctx.keyspace())) c.Set(kClientDirtyCas);
  if (c.Has(kClientDirtyExec)) {
    ctx.reply.Error(errors::kExecAbort);
  } else if (c.Has(kClientDirtyCas)) {
    ctx.reply.NullArray();
  } else {
    return ctx.server.ExecTransaction(c);
  }
  DiscardTransaction(ctx.server, c);
}

// DISCARD
void CmdDiscard(CommandContext& ctx) {
  if (!ctx.client.Has(kClientMulti)) return ctx.reply.Error("DISCARD without MULTI");
  DiscardTransaction(ctx.server, ctx.client);
  ctx.reply.Ok();
}

// WATCH key [key ...]
void CmdWatch(CommandContext& ctx) {
  if (ctx.client.Has(kClientMulti)) return ctx.reply.Error("WATCH inside MULTI is not allowed");
  // A dirty client's EXEC fails anyway: no point in watching more.
  if (!ctx.client.Has(kClientDirtyCas)) {
    for (size_t j = 1; j < ctx.argc(); j++) {
      ctx.server.watches().Watch(ctx.client, ctx.db, ctx.arg(j));
    }
  }
  ctx.reply.Ok();
}

// UNWATCH
void CmdUnwatch(CommandContext& ctx) {
  ctx.server.watches().UnwatchAll(ctx.client);
  ctx.client.Clear(kClientDirtyCas);
  ctx.reply.Ok();
}

}  // namespace

void RegisterMultiCommands(CommandTable& table) {
  table.Register("multi", CmdMulti);
  table.Register("exec", CmdExec);
  table.Register("discard", CmdDiscard);
  table.Register("watch", CmdWatch);
  table.Register("unwatch", CmdUnwatch);
}

}  // namespace docket::server
