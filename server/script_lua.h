// One Lua 5.1 interpreter set up as Redis 7.0 sets up its scripting engines: the libraries
// (base, table, string, math, cjson, bit, struct, cmsgpack), the redis.* API, Redis's
// deterministic math.random, and the sandbox (readonly globals and library tables, no os, io,
// loadfile, dofile, bytecode). EVAL owns one engine; FUNCTION may create its own (as Redis does).
// Depends on Debian's liblua5.1 (C++ build: a Lua error is a C++ exception, so destructors run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <lua.hpp>
#include <string>
#include <string_view>

namespace docket::server {

class ScriptRun;

// Redis's redisLrand48 / redisSrand48 (rand.c): one sequence for the whole process, shared by
// every engine; math.random draws from it and math.randomseed reseeds it.
int32_t RedisLrand48();
void RedisSrand48(int32_t seed);

class LuaEngine {
 public:
  // Adds engine-specific API to the `redis` table (on top of the stack) before the sandbox locks
  // it: FUNCTION's redis.register_function, for example. May be null.
  using ApiExtension = void (*)(lua_State* L, LuaEngine* engine, void* arg);

  explicit LuaEngine(ApiExtension extension = nullptr, void* extension_arg = nullptr);
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  lua_State* state() const { return L_; }
  // The script running in this engine (set by ScriptRun for its duration), or nullptr. The
  // redis.call family, redis.setresp, redis.set_repl and math.random need one.
  ScriptRun* run() const { return run_; }
  void set_run(ScriptRun* run) { run_ = run; }
  // The Lua heap in bytes (used_memory_vm_eval).
  size_t UsedMemory() const;

  // Compiles code as chunk `chunkname` ("@user_script" for EVAL) with the sandboxed globals,
  // refusing bytecode. Pushes the function and returns true, or returns false with Lua's message
  // in *error and nothing pushed.
  bool Load(std::string_view code, const char* chunkname, std::string* error);
  // Pushes the error handler scripts run under (Redis's __redis__err__handler): it turns any
  // error into a table {err=..., source=..., line=...}.
  void PushErrorHandler();
  // Sets a global scripts can read but not assign (EVAL's KEYS and ARGV): pops the value.
  // After construction the state's globals table (LUA_GLOBALSINDEX) is the readonly proxy:
  // lua_setglobal raises there; C code sets globals through this or PushRealGlobals.
  void SetReadonlyGlobal(const char* name);
  // Pushes the real globals table (its metatable's __index raises "Script attempted to access
  // nonexistent global variable"). The proxy at LUA_GLOBALSINDEX reads through to it via its
  // metatable's __index, which FUNCTION LOAD may point elsewhere while a library loads.
  void PushRealGlobals();
  // Pushes a readonly view of the table at idx: scripts read through it, and any write, rawset,
  // setmetatable or table.insert raises "Attempt to modify a readonly table".
  void PushReadonlyProxy(int idx);
  // Runs a Lua GC step every 50 calls, as Redis does after each script.
  void GcStepAfterCall();

  // Redis's luaPushErrorBuff: pushes {err="CODE message"}. A text "-CODE message" keeps its
  // code, any other gets "ERR "; trailing CR/LF are trimmed.
  static void PushError(lua_State* L, std::string_view text);
  // Calls lua_error with the value on top of the stack (never returns).
  [[noreturn]] static void Raise(lua_State* L);
  // The engine owning L (a registry entry set at creation).
  static LuaEngine* FromState(lua_State* L);

 private:
  void OpenLibraries();
  void RegisterRedisApi(ApiExtension extension, void* extension_arg);
  void OverrideBuiltins();
  void InstallErrorHandler();
  void LockGlobals();

  lua_State* L_;
  ScriptRun* run_ = nullptr;
  int globals_ref_ = LUA_NOREF;  // the real globals table (scripts see it through a proxy)
  int gc_count_ = 0;
};

}  // namespace docket::server
