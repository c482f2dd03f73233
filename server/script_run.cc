// One script invocation (script_run.h), after Redis 7.0's script.c (scriptPrepareForRun,
// scriptCall, scriptInterrupt, scriptResetRun) and script_lua.c (luaCallFunction,
// luaRedisGenericCommand, luaMaskCountHook).
#include "server/script_run.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "server/aof.h"
#include "server/log.h"
#include "server/script_convert.h"
#include "server/script_lua.h"
#include "server/scripting.h"
#include "server/server.h"

namespace docket::server {

ScriptRun* ScriptRun::current_ = nullptr;

uint64_t ScriptFlagByName(std::string_view name) {
  for (const ScriptFlagName& f : kScriptFlagNames) {
    if (f.name == name) return f.flag;
  }
  return 0;
}

ScriptRun::ScriptRun(Server& server, LuaEngine& engine, Client& caller, std::string funcname,
                     uint64_t script_flags, bool read_only_command, bool eval_mode)
    : server_(server),
      engine_(engine),
      caller_(caller),
      script_client_(server.scripting().script_client()),
      funcname_(std::move(funcname)),
      script_flags_(script_flags),
      read_only_(read_only_command),
      eval_mode_(eval_mode) {}

bool ScriptRun::Prepare() {
  if (!(script_flags_ & kScriptFlagEvalCompatMode) && !(script_flags_ & kScriptFlagNoWrites)) {
    // A script declaring writes is a write command: refused like one while the AOF fails.
    if (std::string err = server_.aof().WriteErrorReply(); !err.empty()) {
      caller_.reply().Error(err);
      return false;
    }
    if (read_only_) {
      caller_.reply().Error("Can not execute a script with write flag using *_ro command.");
      return false;
    }
  }
  if (!(script_flags_ & kScriptFlagEvalCompatMode) && (script_flags_ & kScriptFlagNoWrites)) {
    read_only_ = true;
  }
  prepared_ = true;
  script_client_.set_db_index(caller_.db_index());
  script_client_.set_resp(2);  // scripts choose RESP3 with redis.setresp(3)
  if (caller_.Has(kClientMulti)) script_client_.Set(kClientMulti);
  start_us_ = Server::NowUs();
  snapshot_ms_ = server_.keyspace().now_ms();
  own_unit_ = server_.BeginPropagationUnit();
  current_ = this;
  engine_.set_run(this);
  return true;
}

ScriptRun::~ScriptRun() {
  if (!prepared_) return;
  current_ = nullptr;
  engine_.set_run(nullptr);
  script_client_.Clear(kClientMulti);
  if (timed_out_) {  // the caller was left out of the event loop while the script ran long
    caller_.Clear(kClientProtected);
    if (caller_.read_event != nullptr) event_add(caller_.read_event, nullptr);
    if (caller_.pending_output() > 0) server_.QueueWrite(caller_);
  }
  if (own_unit_) server_.EndPropagationUnit();
}

namespace {

// "%.17g", as Redis formats a number argument; integers (the common case) without printf: %.17g
// prints them exactly below 1e17, and -0 as "-0".
void FormatNumber(double d, std::string* out) {
  char buf[64];
  if (d == std::floor(d) && std::fabs(d) < 1e15 && !(d == 0 && std::signbit(d))) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(d));
    out->assign(buf, end - buf);
    return;
  }
  int n = snprintf(buf, sizeof(buf), "%.17g", d);
  out->assign(buf, n);
}

void PushArray(lua_State* L, std::span<const std::string_view> elems) {
  lua_createtable(L, static_cast<int>(elems.size()), 0);
  for (size_t j = 0; j < elems.size(); j++) {
    lua_pushlstring(L, elems[j].data(), elems[j].size());
    lua_rawseti(L, -2, static_cast<int>(j + 1));
  }
}

}  // namespace

void ScriptRun::Execute(std::span<const std::string_view> keys,
                        std::span<const std::string_view> args) {
  lua_State* L = engine_.state();
  bool hook = server_.config().busy_reply_threshold > 0;
  if (hook) lua_sethook(L, &ScriptRun::CountHook, LUA_MASKCOUNT, 100000);
  PushArray(L, keys);
  if (eval_mode_) engine_.SetReadonlyGlobal("KEYS");
  PushArray(L, args);
  if (eval_mode_) engine_.SetReadonlyGlobal("ARGV");
  int err = eval_mode_ ? lua_pcall(L, 0, 1, -2) : lua_pcall(L, 2, 1, -4);
  engine_.GcStepAfterCall();
  if (err != 0) {
    ReplyError(L);
  } else {
    int uncounted = 0;
    WriteLuaAsReply(L, caller_.reply(), script_client_.resp(), &uncounted);  // pops the result
    if (spec_ != nullptr) spec_->stats.failed_calls += uncounted;
  }
  lua_pop(L, 1);  // the error handler
  if (hook) lua_sethook(L, nullptr, 0, 0);
}

// The pcall failed: the error object (normally the handler's table) is on top; popped.
void ScriptRun::ReplyError(lua_State* L) {
  if (!lua_istable(L, -1)) {
    const char* msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
    WriteScriptError(caller_.reply(),
                     Format("ERR Error running script %s, %.100s", funcname_.c_str(), msg), true);
    return lua_pop(L, 1);
  }
  auto field = [&](const char* name) -> std::optional<std::string> {
    lua_getfield(L, -1, name);
    std::optional<std::string> v;
    if (lua_isstring(L, -1)) v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
  };
  std::optional<std::string> err = field("err"), source = field("source"), line = field("line");
  lua_getfield(L, -1, "ignore_error_stats_update");
  bool ignore = lua_isboolean(L, -1) && lua_toboolean(L, -1);
  lua_pop(L, 2);
  // An error table without a message crashes Redis 7.0; Docket reports it as a failure.
  std::string msg = err ? *err : "ERR Error running script " + funcname_ + ", execution failure";
  if (line && source) msg += " script: " + funcname_ + ", on " + *source + ":" + *line + ".";
  WriteScriptError(caller_.reply(), msg, !ignore);
  if (ignore && spec_ != nullptr) spec_->stats.failed_calls++;
}

// Lua arguments to argv (luaArgsToRedisArgv): numbers as "%.17g", strings as they are. Pops
// them; on failure pushes the error table instead.
bool ScriptRun::ArgsToArgv(lua_State* L) {
  int argc = lua_gettop(L);
  if (argc == 0) {
    LuaEngine::PushError(L, "Please specify at least one argument for this redis lib call");
    return false;
  }
  if (argv_.size() < static_cast<size_t>(argc)) argv_.resize(argc);
  int j;
  for (j = 0; j < argc; j++) {
    if (lua_type(L, j + 1) == LUA_TNUMBER) {
      FormatNumber(lua_tonumber(L, j + 1), &argv_[j]);
      continue;
    }
    size_t len;
    const char* s = lua_tolstring(L, j + 1, &len);
    if (s == nullptr) break;
    argv_[j].assign(s, len);
  }
  lua_pop(L, argc);
  if (j != argc) {
    LuaEngine::PushError(L, "Lua redis lib command arguments must be strings or integers");
    return false;
  }
  argv_views_.assign(argv_.begin(), argv_.begin() + argc);
  return true;
}

// scriptCall: the checks, then the command through the normal call path. "" or the error.
std::string ScriptRun::RunCommand() {
  bool sub_unknown = false;
  const CommandSpec* spec = server_.commands().Lookup(argv_views_, &sub_unknown);
  if (spec == nullptr || sub_unknown) return "Unknown Redis command called from script";
  if (!spec->ArityOk(argv_views_.size()) || spec->handler == nullptr) {
    return "Wrong number of args calling Redis command from script";
  }
  if (spec->Has(kCmdNoscript)) return "This Redis command is not allowed from script";
  if (spec->Has(kCmdWrite)) {
    if (read_only_) return "Write commands are not allowed from read-only scripts.";
    if (std::string err = server_.aof().WriteErrorReply(); !err.empty()) return err;
    write_dirty_ = true;
  }
  server_.CallFromScript(script_client_, *spec, argv_views_, (repl_flags_ & kPropagateAof) != 0);
  return "";
}

int ScriptRun::LuaRedisCall(lua_State* L, bool raise_error) {
  if (!ArgsToArgv(L)) {
    if (raise_error) LuaEngine::Raise(L);
    return 1;
  }
  if (in_call_) {
    const char* warning =
        "luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua "
        "debug hooks?";
    DOCKET_LOG(LogLevel::kWarning, "%s", warning);
    LuaEngine::PushError(L, warning);
    return 1;
  }
  struct InCall {
    bool& flag;
    ~InCall() { flag = false; }
  } in_call{in_call_ = true};
  std::string err = RunCommand();
  if (!err.empty()) {  // no command ran: counted when the script replies it
    LuaEngine::PushError(L, err);
    if (raise_error) LuaEngine::Raise(L);
    return 1;
  }
  std::string reply;
  reply.swap(script_client_.out());  // parsing may raise: leave the client's buffer empty
  bool is_error = !reply.empty() && reply[0] == '-';
  PushReplyAsLua(L, reply);
  reply.clear();
  reply.swap(script_client_.out());  // keep the capacity for the next call
  if (raise_error && is_error) LuaEngine::Raise(L);
  return 1;
}

int ScriptRun::LuaAclCheckCmd(lua_State* L) {
  if (!ArgsToArgv(L)) LuaEngine::Raise(L);
  bool sub_unknown = false;
  const CommandSpec* spec = server_.commands().Lookup(argv_views_, &sub_unknown);
  if (spec == nullptr || sub_unknown) {
    LuaEngine::PushError(L, "Invalid command passed to redis.acl_check_cmd()");
    LuaEngine::Raise(L);
  }
  lua_pushboolean(L, 1);  // the default user may run everything
  return 1;
}

void ScriptRun::SetResp(int resp) { script_client_.set_resp(resp); }

void ScriptRun::CountHook(lua_State* L, lua_Debug*) {
  ScriptRun* run = LuaEngine::FromState(L)->run();
  if (run != nullptr) run->Interrupt(L);
}

// scriptInterrupt: past busy-reply-threshold, serve other clients from here (they get -BUSY
// except for allow-busy commands); a killed script stops with an error.
void ScriptRun::Interrupt(lua_State* L) {
  if (!timed_out_) {
    int64_t elapsed_ms = (Server::NowUs() - start_us_) / 1000;
    if (elapsed_ms < server_.config().busy_reply_threshold) return;
    DOCKET_LOG(LogLevel::kWarning,
               "Slow script detected: still in execution after %lld milliseconds. You can try "
               "killing the script using the %s command.",
               static_cast<long long>(elapsed_ms), eval_mode_ ? "SCRIPT KILL" : "FUNCTION KILL");
    timed_out_ = true;
    // Redis's protectClient: the caller's socket is left alone until the script ends.
    caller_.Set(kClientProtected);
    if (caller_.read_event != nullptr) event_del(caller_.read_event);
    if (caller_.write_event != nullptr) event_del(caller_.write_event);
  }
  server_.ProcessEventsWhileBusy(caller_);
  server_.keyspace().set_now_ms(snapshot_ms_);
  if (killed_) {
    DOCKET_LOG(LogLevel::kWarning, "Lua script killed by user with SCRIPT KILL.");
    // Every line from now on raises again, so pcall cannot keep the script alive.
    lua_sethook(L, &ScriptRun::CountHook, LUA_MASKLINE, 0);
    LuaEngine::PushError(L, "Script killed by user with SCRIPT KILL...");
    LuaEngine::Raise(L);
  }
}

}  // namespace docket::server
