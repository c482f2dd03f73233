// SLOWLOG GET / LEN / RESET / HELP over the server's SlowLog, as Redis 7.0's slowlog.c replies.
// Depends on server/.
#include <algorithm>
#include <string>

#include "server/cmd_server.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {
namespace {

// SLOWLOG GET [count]
void CmdSlowlogGet(CommandContext& ctx) {
  if (ctx.argc() > 3) return ReplySubcommandSyntaxError(ctx);
  const auto& entries = ctx.server.slowlog().entries();
  int64_t count = 10;
  if (ctx.argc() == 3) {
    if (!storage::StringToInt64(ctx.arg(2), &count) || count < -1) {
      return ctx.reply.Error("count should be greater than or equal to -1");
    }
    if (count == -1) count = static_cast<int64_t>(entries.size());
  }
  size_t n = std::min(entries.size(), static_cast<size_t>(count));
  ctx.reply.ArrayHeader(n);
  for (size_t i = 0; i < n; i++) {
    const SlowLogEntry& e = entries[i];
    ctx.reply.ArrayHeader(6);
    ctx.reply.Integer(static_cast<int64_t>(e.id));
    ctx.reply.Integer(e.time_sec);
    ctx.reply.Integer(e.duration_us);
    ctx.reply.ArrayHeader(e.argv.size());
    for (const std::string& arg : e.argv) ctx.reply.Bulk(arg);
    ctx.reply.Bulk(e.client_addr);
    ctx.reply.Bulk(e.client_name);
  }
}

// SLOWLOG LEN
void CmdSlowlogLen(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.slowlog().entries().size()));
}

// SLOWLOG RESET
void CmdSlowlogReset(CommandContext& ctx) {
  ctx.server.slowlog().Reset();
  ctx.reply.Ok();
}

// SLOWLOG HELP
void CmdSlowlogHelp(CommandContext& ctx) {
  ReplyHelp(ctx,
            {
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            });
}

}  // namespace

void RegisterSlowlogCommands(CommandTable& table) {
  table.Register("slowlog|get", CmdSlowlogGet);
  table.Register("slowlog|len", CmdSlowlogLen);
  table.Register("slowlog|reset", CmdSlowlogReset);
  table.Register("slowlog|help", CmdSlowlogHelp);
  RegisterLatencyCommands(table);
}

}  // namespace docket::server
