// One script invocation (Redis's scriptRunCtx, script.c + luaCallFunction): the checks before it
// runs, KEYS/ARGV, the call under Redis's error handler, redis.call executing commands as the
// script's client, busy-reply-threshold (serving other clients -BUSY while it runs long, SCRIPT
// KILL), and what it propagates as one MULTI ... EXEC unit. Used by EVAL and by FCALL.
#pragma once

#include <cstdint>
#include <lua.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace docket::server {

class Client;
class LuaEngine;
class Server;
struct CommandSpec;

// Flags a script declares: `#!lua flags=...` for EVAL, register_function's flags for FUNCTION
// (Redis's SCRIPT_FLAG_*). kScriptFlagEvalCompatMode marks an EVAL script without a shebang.
enum ScriptFlag : uint64_t {
  kScriptFlagNoWrites = 1 << 0,
  kScriptFlagAllowOom = 1 << 1,
  kScriptFlagAllowStale = 1 << 2,
  kScriptFlagNoCluster = 1 << 3,
  kScriptFlagEvalCompatMode = 1 << 4,
  kScriptFlagAllowCrossSlot = 1 << 5,
};

struct ScriptFlagName {
  uint64_t flag;
  std::string_view name;
};
// Redis's scripts_flags_def, in its order (FUNCTION LIST prints flags in this order).
inline constexpr ScriptFlagName kScriptFlagNames[] = {
    {kScriptFlagNoWrites, "no-writes"},
    {kScriptFlagAllowOom, "allow-oom"},
    {kScriptFlagAllowStale, "allow-stale"},
    {kScriptFlagNoCluster, "no-cluster"},
    {kScriptFlagAllowCrossSlot, "allow-cross-slot-keys"},
};
// The flag called name, or 0.
uint64_t ScriptFlagByName(std::string_view name);

// redis.set_repl targets (Redis's PROPAGATE_AOF / PROPAGATE_REPL).
inline constexpr int kPropagateAof = 1;
inline constexpr int kPropagateRepl = 2;

class ScriptRun {
 public:
  // funcname names the script in errors ("script: <funcname>, on ..."): the SHA for EVAL, the
  // function name for FCALL. read_only_command: EVAL_RO / EVALSHA_RO / FCALL_RO. eval_mode:
  // EVAL family (KEYS/ARGV globals, SCRIPT KILL) rather than FCALL (FUNCTION KILL).
  ScriptRun(Server& server, LuaEngine& engine, Client& caller, std::string funcname,
            uint64_t script_flags, bool read_only_command, bool eval_mode);
  // Ends the run: restores the caller (if the script ran long), closes the propagation unit.
  ~ScriptRun();
  ScriptRun(const ScriptRun&) = delete;
  ScriptRun& operator=(const ScriptRun&) = delete;

  // Redis's scriptPrepareForRun refusals (no-writes under *_RO, ...): replies the error to the
  // caller and returns false. Call once, before Execute.
  bool Prepare();
  // REQUIRES: Prepare() succeeded; the Lua stack holds the error handler then the function
  // (LuaEngine::PushErrorHandler, then the script's function). Calls it with keys and args
  // (EVAL: as the globals KEYS and ARGV; FCALL: as its two arguments), replies the result or
  // the error to the caller, and pops both.
  void Execute(std::span<const std::string_view> keys, std::span<const std::string_view> args);

  // The script in progress, if any (EVAL and FCALL share it: one runs at a time).
  static ScriptRun* current() { return current_; }
  bool eval_mode() const { return eval_mode_; }
  bool timed_out() const { return timed_out_; }  // past busy-reply-threshold
  bool wrote() const { return write_dirty_; }
  const std::string& funcname() const { return funcname_; }
  Client& caller() { return caller_; }
  int64_t start_us() const { return start_us_; }  // Server::NowUs() when it started
  // The command that runs the script: its stats count the run as failed when the reply is an
  // error not counted in errorstats (as Redis); FUNCTION STATS shows its argv (views valid
  // while the script runs).
  void set_command(const CommandSpec& spec, std::span<const std::string_view> argv) {
    spec_ = &spec;
    command_ = argv;
  }
  std::span<const std::string_view> command() const { return command_; }
  // SCRIPT KILL / FUNCTION KILL: the script stops at its next hook with an error.
  void Kill() { killed_ = true; }

  // The redis.* functions that act on the run (called from the Lua C functions).
  int LuaRedisCall(lua_State* L, bool raise_error);
  int LuaAclCheckCmd(lua_State* L);
  void SetResp(int resp);
  void SetRepl(int flags) { repl_flags_ = flags; }

 private:
  bool ArgsToArgv(lua_State* L);
  std::string RunCommand();
  void ReplyError(lua_State* L);
  static void CountHook(lua_State* L, lua_Debug* ar);
  void Interrupt(lua_State* L);

  static ScriptRun* current_;
  Server& server_;
  LuaEngine& engine_;
  Client& caller_;
  Client& script_client_;
  std::string funcname_;
  uint64_t script_flags_;
  bool read_only_;
  bool eval_mode_;
  int repl_flags_ = kPropagateAof | kPropagateRepl;
  bool prepared_ = false;
  bool own_unit_ = false;  // this run opened the propagation unit
  bool write_dirty_ = false;
  bool timed_out_ = false;
  bool killed_ = false;
  bool in_call_ = false;  // inside redis.call (a hook calling it again is refused)
  int64_t start_us_ = 0;
  int64_t snapshot_ms_ = 0;  // the command clock: keys do not expire while the script runs
  const CommandSpec* spec_ = nullptr;
  std::span<const std::string_view> command_;
  std::vector<std::string> argv_;
  std::vector<std::string_view> argv_views_;
};

}  // namespace docket::server
