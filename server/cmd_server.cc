// Server commands: TIME, SHUTDOWN and DEBUG (SLEEP, LOADAOF, RELOAD), the shared HELP replies of
// the family, and its registration (CONFIG, COMMAND, SLOWLOG and LATENCY live in cmd_config.cc,
// cmd_command.cc and cmd_slowlog.cc). Depends on server/ and protocol/.
#include "server/cmd_server.h"

#include <sys/time.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "protocol/errors.h"
#include "server/aof.h"
#include "server/args.h"
#include "server/client.h"
#include "server/log.h"
#include "server/scripting.h"
#include "server/server.h"

namespace docket::server {

std::string AsciiToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AsciiToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

void ReplyHelp(CommandContext& ctx, std::initializer_list<std::string_view> lines) {
  ctx.reply.ArrayHeader(lines.size() + 3);
  ctx.reply.Simple(AsciiToUpper(ctx.arg(0)) +
                   " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  for (std::string_view line : lines) ctx.reply.Simple(line);
  ctx.reply.Simple("HELP");
  ctx.reply.Simple("    Prints this help.");
}

void ReplySubcommandSyntaxError(CommandContext& ctx) {
  ctx.reply.Error("unknown subcommand or wrong number of arguments for '" +
                  std::string(ctx.arg(1).substr(0, 128)) + "'. Try " + AsciiToUpper(ctx.arg(0)) +
                  " HELP.");
}

namespace {

namespace errors = protocol::errors;

// TIME
void CmdTime(CommandContext& ctx) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(tv.tv_sec));
  ctx.reply.Bulk(std::to_string(tv.tv_usec));
}

// LASTSAVE: Docket writes no RDB snapshot, so the last "save" is the server's start.
void CmdLastSave(CommandContext& ctx) {
  ctx.reply.Integer(ctx.server.stats().start_time_ms / 1000);
}

// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
void CmdShutdown(CommandContext& ctx) {
  ShutdownRequest req;
  bool abort = false;
  for (size_t i = 1; i < ctx.argc(); i++) {
    std::string_view opt = ctx.arg(i);
    if (EqualsIgnoreCase(opt, "nosave")) {
      req.nosave = true;
    } else if (EqualsIgnoreCase(opt, "save")) {
      req.save = true;
    } else if (EqualsIgnoreCase(opt, "now")) {
      req.now = true;
    } else if (EqualsIgnoreCase(opt, "force")) {
      req.force = true;
    } else if (EqualsIgnoreCase(opt, "abort")) {
      abort = true;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  bool any_flag = req.nosave || req.save || req.now || req.force;
  if ((abort && any_flag) || (req.nosave && req.save)) return ctx.reply.Error(errors::kSyntax);
  if (abort) {
    if (!ctx.server.shutdown_asked()) return ctx.reply.Error("No shutdown in progress.");
    ctx.server.AbortShutdown();
    return ctx.reply.Ok();
  }
  // While a script runs long only SHUTDOWN NOSAVE may stop the server (its writes are lost).
  if (!req.nosave && ctx.server.scripting().busy()) {
    return ctx.reply.Error(ctx.server.scripting().BusyError());
  }
  // Redis blocks the client and exits without replying: read nothing more from it (and close
  // it even if another client's SHUTDOWN ABORT comes first).
  ctx.client.Set(kClientCloseAfterReply);
  ctx.server.QueueWrite(ctx.client);
  ctx.server.RequestShutdown(req);
}

// DEBUG SLEEP seconds
void DebugSleep(CommandContext& ctx) {
  // As Redis: strtod without validation, so junk sleeps 0 and a negative time not at all.
  std::string text(ctx.arg(2));
  double seconds = strtod(text.c_str(), nullptr);
  int64_t usec = static_cast<int64_t>(seconds * 1000000);
  timespec ts{static_cast<time_t>(usec / 1000000), static_cast<long>((usec % 1000000) * 1000)};
  nanosleep(&ts, nullptr);
  ctx.reply.Ok();
}

// DEBUG LOADAOF: as Redis 7.0, the AOF buffer is written, the keyspace emptied and the manifest's
// files run again; when that fails (or there is no AOF) the server exits, its data being partial.
void DebugLoadAof(CommandContext& ctx) {
  if (!ctx.server.aof().DebugReload()) {
    DOCKET_LOG(LogLevel::kWarning, "DEBUG LOADAOF failed: exiting");
    exit(1);
  }
  DOCKET_LOG(LogLevel::kWarning, "Append Only File loaded by DEBUG LOADAOF");
  ctx.reply.Ok();
}

// DEBUG RELOAD [MERGE | NOFLUSH | NOSAVE ...]. Redis saves an RDB and loads it back; Docket has no
// RDB, so with appendonly yes it reloads from the AOF, and with appendonly no (nothing to save
// to) the dataset stays as it is.
void DebugReload(CommandContext& ctx) {
  bool flush = true;
  for (size_t i = 2; i < ctx.argc(); i++) {
    if (EqualsIgnoreCase(ctx.arg(i), "noflush")) {
      flush = false;
    } else if (!EqualsIgnoreCase(ctx.arg(i), "merge") && !EqualsIgnoreCase(ctx.arg(i), "nosave")) {
      return ctx.reply.Error("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
    }
  }
  if (!ctx.server.config().appendonly) return ctx.reply.Ok();
  if (!flush) {
    return ctx.reply.Error("DEBUG RELOAD NOFLUSH is not supported: Docket reloads the AOF");
  }
  if (!ctx.server.aof().DebugReload()) {
    return ctx.reply.Error("Error trying to load the AOF files, check server logs.");
  }
  DOCKET_LOG(LogLevel::kWarning, "DB reloaded by DEBUG RELOAD");
  ctx.reply.Ok();
}

// DEBUG SLEEP seconds | LOADAOF | RELOAD [option ...] | HELP
void CmdDebug(CommandContext& ctx) {
  if (EqualsIgnoreCase(ctx.arg(1), "help") && ctx.argc() == 2) {
    return ReplyHelp(
        ctx, {"LOADAOF", "    Flush the AOF buffers on disk and reload the AOF in memory.",
              "RELOAD [option ...]",
              "    Reload the dataset from the AOF (Docket has no RDB; without appendonly the",
              "    dataset is kept). Options MERGE and NOSAVE are accepted, NOFLUSH is not.",
              "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed."});
  }
  // As Redis, LOADAOF and RELOAD look at argv[1] only (RELOAD parses its options itself).
  if (EqualsIgnoreCase(ctx.arg(1), "loadaof")) return DebugLoadAof(ctx);
  if (EqualsIgnoreCase(ctx.arg(1), "reload")) return DebugReload(ctx);
  if (!EqualsIgnoreCase(ctx.arg(1), "sleep") || ctx.argc() != 3) {
    return ReplySubcommandSyntaxError(ctx);
  }
  DebugSleep(ctx);
}

}  // namespace

void RegisterServerCommands(CommandTable& table) {
  table.Register("time", CmdTime);
  table.Register("lastsave", CmdLastSave);
  table.Register("shutdown", CmdShutdown);
  table.Register("debug", CmdDebug);
  RegisterConfigCommands(table);
  RegisterCommandCommands(table);
  RegisterSlowlogCommands(table);
}

}  // namespace docket::server
