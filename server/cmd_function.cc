// The FUNCTION commands (functions.c): FUNCTION LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS,
// KILL, HELP, and FCALL / FCALL_RO, with Redis 7.0's replies and errors. The registry is
// functions.h, a run script_run.h, the busy state scripting.h.
#include <string>
#include <string_view>
#include <vector>

#include "server/aof.h"
#include "server/args.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/functions.h"
#include "server/scripting.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/number.h"

namespace docket::server {
namespace {

constexpr int64_t kLoadTimeoutMs = 500;  // LOAD_TIMEOUT_MS

// fcallCommandGeneric: the function, numkeys, then the run (monitors first, as Redis).
void FcallGeneric(CommandContext& ctx, bool read_only) {
  ctx.server.FeedMonitorsFor(ctx.client, ctx.argv);
  Functions& functions = ctx.server.functions();
  const FunctionInfo* fn = functions.Find(ctx.arg(1));
  if (fn == nullptr) return ctx.reply.Error("Function not found");
  int64_t numkeys;
  if (!storage::StringToInt64(ctx.arg(2), &numkeys)) {
    return ctx.reply.Error("Bad number of keys provided");
  }
  if (numkeys > static_cast<int64_t>(ctx.argc()) - 3) {
    return ctx.reply.Error("Number of keys can't be greater than number of args");
  }
  if (numkeys < 0) return ctx.reply.Error("Number of keys can't be negative");
  LuaEngine& engine = functions.engine();
  ScriptRun run(ctx.server, engine, ctx.client, fn->name, fn->flags, read_only, false);
  if (!run.Prepare()) return;
  run.set_command(ctx.spec, ctx.argv);
  engine.PushErrorHandler();
  lua_rawgeti(engine.state(), LUA_REGISTRYINDEX, fn->function_ref);
  auto rest = ctx.argv.subspan(3);
  run.Execute(rest.first(numkeys), rest.subspan(numkeys));
}

// FCALL function numkeys [key [key ...]] [arg [arg ...]]
void CmdFcall(CommandContext& ctx) { FcallGeneric(ctx, false); }

// FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]
void CmdFcallRo(CommandContext& ctx) { FcallGeneric(ctx, true); }

// FUNCTION LOAD [REPLACE] function-code
void CmdFunctionLoad(CommandContext& ctx) {
  bool replace = false;
  for (size_t i = 2; i + 1 < ctx.argc(); i++) {
    if (!OptionIs(ctx.arg(i), "replace")) {
      return ctx.reply.Error("Unknown option given: " + std::string(CString(ctx.arg(i))));
    }
    replace = true;
  }
  // The AOF's FUNCTION LOADs run however long they take (Redis's mustObeyClient).
  int64_t timeout = ctx.server.aof().IsLoadingClient(ctx.client) ? 0 : kLoadTimeoutMs;
  std::string error;
  std::optional<std::string> name =
      ctx.server.functions().Load(ctx.arg(ctx.argc() - 1), replace, timeout, &error);
  if (!name) return ctx.reply.Error(error);
  ctx.Dirty();
  ctx.reply.Bulk(*name);
}

void ReplyFunction(protocol::ReplyWriter& reply, const FunctionInfo& fn) {
  reply.MapHeader(3);
  reply.Bulk("name");
  reply.Bulk(fn.name);
  reply.Bulk("description");
  fn.description ? reply.Bulk(*fn.description) : reply.NullBulk();
  reply.Bulk("flags");
  size_t count = 0;
  for (const ScriptFlagName& f : kScriptFlagNames) count += (fn.flags & f.flag) ? 1 : 0;
  reply.SetHeader(count);
  for (const ScriptFlagName& f : kScriptFlagNames) {
    if (fn.flags & f.flag) reply.Simple(f.name);
  }
}

// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
void CmdFunctionList(CommandContext& ctx) {
  bool with_code = false, has_pattern = false;
  std::string_view pattern;
  for (size_t i = 2; i < ctx.argc(); i++) {
    if (!with_code && OptionIs(ctx.arg(i), "withcode")) {
      with_code = true;
    } else if (!has_pattern && OptionIs(ctx.arg(i), "libraryname")) {
      if (i + 1 >= ctx.argc()) return ctx.reply.Error("library name argument was not given");
      pattern = ctx.arg(++i);
      has_pattern = true;
    } else {
      return ctx.reply.Error("Unknown argument " + std::string(CString(ctx.arg(i))));
    }
  }
  std::vector<const Library*> libs;
  for (const auto& [name, lib] : ctx.server.functions().current().libraries) {
    if (!has_pattern || storage::GlobMatch(pattern, name, true)) libs.push_back(lib.get());
  }
  ctx.reply.ArrayHeader(libs.size());
  for (const Library* lib : libs) {
    ctx.reply.MapHeader(with_code ? 4 : 3);
    ctx.reply.Bulk("library_name");
    ctx.reply.Bulk(lib->name);
    ctx.reply.Bulk("engine");
    ctx.reply.Bulk("LUA");
    ctx.reply.Bulk("functions");
    ctx.reply.ArrayHeader(lib->functions.size());
    for (const auto& [name, fn] : lib->functions) ReplyFunction(ctx.reply, *fn);
    if (with_code) {
      ctx.reply.Bulk("library_code");
      ctx.reply.Bulk(lib->code);
    }
  }
}

// FUNCTION DELETE library-name
void CmdFunctionDelete(CommandContext& ctx) {
  if (!ctx.server.functions().Delete(ctx.arg(2))) return ctx.reply.Error("Library not found");
  ctx.Dirty();
  ctx.reply.Ok();
}

// FUNCTION FLUSH [ASYNC | SYNC]
void CmdFunctionFlush(CommandContext& ctx) {
  if (ctx.argc() > 3) return ReplySubcommandSyntaxError(ctx);
  if (ctx.argc() == 3 && !OptionIs(ctx.arg(2), "sync") && !OptionIs(ctx.arg(2), "async")) {
    return ctx.reply.Error("FUNCTION FLUSH only supports SYNC|ASYNC option");
  }
  ctx.server.functions().Flush();  // ASYNC frees at once too: libraries are small
  ctx.Dirty();
  ctx.reply.Ok();
}

// FUNCTION DUMP
void CmdFunctionDump(CommandContext& ctx) { ctx.reply.Bulk(ctx.server.functions().Dump()); }

// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
void CmdFunctionRestore(CommandContext& ctx) {
  if (ctx.argc() > 4) return ReplySubcommandSyntaxError(ctx);
  RestorePolicy policy = RestorePolicy::kAppend;
  if (ctx.argc() == 4) {
    if (OptionIs(ctx.arg(3), "append")) {
      policy = RestorePolicy::kAppend;
    } else if (OptionIs(ctx.arg(3), "replace")) {
      policy = RestorePolicy::kReplace;
    } else if (OptionIs(ctx.arg(3), "flush")) {
      policy = RestorePolicy::kFlush;
    } else {
      return ctx.reply.Error(
          "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
    }
  }
  std::string error;
  if (!ctx.server.functions().Restore(ctx.arg(2), policy, &error)) return ctx.reply.Error(error);
  ctx.Dirty();
  ctx.reply.Ok();
}

// FUNCTION STATS
void CmdFunctionStats(CommandContext& ctx) {
  ScriptRun* run = ScriptRun::current();
  if (run != nullptr && run->eval_mode())
    return ctx.reply.Error(ctx.server.scripting().BusyError());
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("running_script");
  if (run == nullptr) {
    ctx.reply.NullBulk();
  } else {
    ctx.reply.MapHeader(3);
    ctx.reply.Bulk("name");
    ctx.reply.Bulk(run->funcname());
    ctx.reply.Bulk("command");
    ctx.reply.ArrayHeader(run->command().size());
    for (std::string_view a : run->command()) ctx.reply.Bulk(a);
    ctx.reply.Bulk("duration_ms");
    ctx.reply.Integer((Server::NowUs() - run->start_us()) / 1000);
  }
  const LibraryCtx& current = ctx.server.functions().current();
  ctx.reply.Bulk("engines");
  ctx.reply.MapHeader(1);
  ctx.reply.Bulk("LUA");
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("libraries_count");
  ctx.reply.Integer(static_cast<int64_t>(current.libraries.size()));
  ctx.reply.Bulk("functions_count");
  ctx.reply.Integer(static_cast<int64_t>(current.functions_count));
}

// FUNCTION KILL
void CmdFunctionKill(CommandContext& ctx) { ctx.server.scripting().Kill(ctx.reply, false); }

// FUNCTION HELP
void CmdFunctionHelp(CommandContext& ctx) {
  ReplyHelp(
      ctx,
      {"LOAD [REPLACE] <FUNCTION CODE>",
       "    Create a new library with the given library name and code.",
       "DELETE <LIBRARY NAME>",
       "    Delete the given library.",
       "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
       "    Return general information on all the libraries:",
       "    * Library name",
       "    * The engine used to run the Library",
       "    * Library description",
       "    * Functions list",
       "    * Library code (if WITHCODE is given)",
       "    It also possible to get only function that matches a pattern using LIBRARYNAME "
       "argument.",
       "STATS",
       "    Return information about the current function running:",
       "    * Function name",
       "    * Command used to run the function",
       "    * Duration in MS that the function is running",
       "    If no function is running, return nil",
       "    In addition, returns a list of available engines.",
       "KILL",
       "    Kill the current running function.",
       "FLUSH [ASYNC|SYNC]",
       "    Delete all the libraries.",
       "    When called without the optional mode argument, the behavior is determined by the",
       "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
       "    * ASYNC: Asynchronously flush the libraries.",
       "    * SYNC: Synchronously flush the libraries.",
       "DUMP",
       "    Return a serialized payload representing the current libraries, can be restored using "
       "FUNCTION RESTORE command",
       "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
       "    Restore the libraries represented by the given payload, it is possible to give a "
       "restore policy to",
       "    control how to handle existing libraries (default APPEND):",
       "    * FLUSH: delete all existing libraries.",
       "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
       "abort.",
       "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
       "replace the old",
       "      libraries with the new libraries (notice that even on this option there is a "
       "chance of failure",
       "      in case of functions name collision with another library)."});
}

}  // namespace

void RegisterFunctionCommands(CommandTable& table) {
  table.Register("fcall", CmdFcall);
  table.Register("fcall_ro", CmdFcallRo);
  table.Register("function|load", CmdFunctionLoad);
  table.Register("function|list", CmdFunctionList);
  table.Register("function|delete", CmdFunctionDelete);
  table.Register("function|flush", CmdFunctionFlush);
  table.Register("function|dump", CmdFunctionDump);
  table.Register("function|restore", CmdFunctionRestore);
  table.Register("function|stats", CmdFunctionStats);
  table.Register("function|kill", CmdFunctionKill);
  table.Register("function|help", CmdFunctionHelp);
}

}  // namespace docket::server
