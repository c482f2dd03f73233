// The scripting commands (eval.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD, EXISTS,
// FLUSH, KILL, DEBUG, HELP, with Redis 7.0's replies and errors. The engine is script_lua.h, a
// run script_run.h, the cache scripting.h.
#include <string>
#include <string_view>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/scripting.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

constexpr std::string_view kNoScript = "-NOSCRIPT No matching script. Please use EVAL.";

// evalGenericCommand: numkeys, the script (cached, or compiled now for EVAL), then the run.
void EvalGeneric(CommandContext& ctx, bool evalsha, bool read_only) {
  int64_t numkeys;
  if (!storage::StringToInt64(ctx.arg(2), &numkeys)) return ctx.reply.Error(errors::kNotInteger);
  if (numkeys > static_cast<int64_t>(ctx.argc()) - 3) {
    return ctx.reply.Error("Number of keys can't be greater than number of args");
  }
  if (numkeys < 0) return ctx.reply.Error("Number of keys can't be negative");
  Scripting& scripting = ctx.server.scripting();
  std::string sha;
  const Scripting::EvalScript* script;
  if (evalsha) {
    sha = ctx.arg(1);
    for (char& ch : sha) ch = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
    script = scripting.FindEval(sha);
    if (script == nullptr) return ctx.reply.Error(kNoScript);
  } else {
    std::string error;
    script = scripting.CreateEval(ctx.arg(1), &sha, &error);
    if (script == nullptr) return ctx.reply.Error(error);
  }
  int function_ref = script->function_ref;
  LuaEngine& engine = scripting.eval_engine();
  ScriptRun run(ctx.server, engine, ctx.client, sha, script->flags, read_only, true);
  if (!run.Prepare()) return;
  run.set_command(ctx.spec, ctx.argv);
  engine.PushErrorHandler();
  lua_rawgeti(engine.state(), LUA_REGISTRYINDEX, function_ref);
  auto rest = ctx.argv.subspan(3);
  run.Execute(rest.first(numkeys), rest.subspan(numkeys));
}

// EVAL script numkeys [key [key ...]] [arg [arg ...]]
void CmdEval(CommandContext& ctx) {
  ctx.server.FeedMonitorsFor(ctx.client, ctx.argv);  // before the commands the script runs
  EvalGeneric(ctx, false, false);
}

// EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]
void CmdEvalRo(CommandContext& ctx) {
  ctx.server.FeedMonitorsFor(ctx.client, ctx.argv);
  EvalGeneric(ctx, false, true);
}

// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]] (and EVALSHA_RO)
void CmdEvalSha(CommandContext& ctx) {
  ctx.server.FeedMonitorsFor(ctx.client, ctx.argv);
  // No SHA1 has another length: refused before numkeys is read, as Redis.
  if (ctx.arg(1).size() != 40) return ctx.reply.Error(kNoScript);
  EvalGeneric(ctx, true, EqualsIgnoreCase(ctx.arg(0), "evalsha_ro"));
}

// SCRIPT LOAD script
void CmdScriptLoad(CommandContext& ctx) {
  std::string sha, error;
  if (ctx.server.scripting().CreateEval(ctx.arg(2), &sha, &error) == nullptr) {
    return ctx.reply.Error(error);
  }
  ctx.reply.Bulk(sha);
}

// SCRIPT EXISTS sha1 [sha1 ...]
void CmdScriptExists(CommandContext& ctx) {
  ctx.reply.ArrayHeader(ctx.argc() - 2);
  for (size_t j = 2; j < ctx.argc(); j++) {
    ctx.reply.Integer(ctx.server.scripting().FindEval(ToLower(ctx.arg(j))) != nullptr ? 1 : 0);
  }
}

// SCRIPT FLUSH [ASYNC | SYNC]
void CmdScriptFlush(CommandContext& ctx) {
  // ASYNC frees in the background in Redis; here both free at once (the cache is small).
  if (ctx.argc() > 3 || (ctx.argc() == 3 && !EqualsIgnoreCase(ctx.arg(2), "sync") &&
                         !EqualsIgnoreCase(ctx.arg(2), "async"))) {
    return ctx.reply.Error("SCRIPT FLUSH only support SYNC|ASYNC option");
  }
  ctx.server.scripting().FlushEval();
  ctx.reply.Ok();
}

// SCRIPT KILL
void CmdScriptKill(CommandContext& ctx) { ctx.server.scripting().Kill(ctx.reply, true); }

// SCRIPT DEBUG YES | SYNC | NO
void CmdScriptDebug(CommandContext& ctx) {
  if (ctx.client.pending_output() > 0) {
    return ctx.reply.Error("SCRIPT DEBUG must be called outside a pipeline");
  }
  std::string_view mode = ctx.arg(2);
  if (EqualsIgnoreCase(mode, "no")) return ctx.reply.Ok();
  if (EqualsIgnoreCase(mode, "yes") || EqualsIgnoreCase(mode, "sync")) {
    return ctx.reply.Error("Docket has no Lua debugger (LDB)");
  }
  ctx.reply.Error("Use SCRIPT DEBUG YES/SYNC/NO");
}

// SCRIPT HELP
void CmdScriptHelp(CommandContext& ctx) {
  ReplyHelp(ctx,
            {"DEBUG (YES|SYNC|NO)", "    Set the debug mode for subsequent scripts executed.",
             "EXISTS <sha1> [<sha1> ...]",
             "    Return information about the existence of the scripts in the script cache.",
             "FLUSH [ASYNC|SYNC]", "    Flush the Lua scripts cache. Very dangerous on replicas.",
             "    When called without the optional mode argument, the behavior is determined by "
             "the",
             "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
             "    * ASYNC: Asynchronously flush the scripts cache.",
             "    * SYNC: Synchronously flush the scripts cache.", "KILL",
             "    Kill the currently executing Lua script.", "LOAD <script>",
             "    Load a script into the scripts cache without executing it."});
}

}  // namespace

void RegisterScriptingCommands(CommandTable& table) {
  table.Register("eval", CmdEval);
  table.Register("eval_ro", CmdEvalRo);
  table.Register("evalsha", CmdEvalSha);
  table.Register("evalsha_ro", CmdEvalSha);
  table.Register("script|load", CmdScriptLoad);
  table.Register("script|exists", CmdScriptExists);
  table.Register("script|flush", CmdScriptFlush);
  table.Register("script|kill", CmdScriptKill);
  table.Register("script|debug", CmdScriptDebug);
  table.Register("script|help", CmdScriptHelp);
}

}  // namespace docket::server
