// The sandboxed Lua engine (script_lua.h): libraries, the redis.* API table, math.random on
// Redis's lrand48, the error handler, and the locked globals (readonly proxies from
// script_sandbox.h).
#include "server/script_lua.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "server/log.h"
#include "server/lua/lua_libs.h"
#include "server/lua/sha1.h"
#include "server/script_run.h"
#include "server/script_sandbox.h"
#include "server/server.h"

extern "C" {
int luaopen_cjson(lua_State* L);
int luaopen_bit(lua_State* L);
}

namespace docket::server {
namespace {

// Registry keys (their addresses are unique light userdata).
char kEngineKey, kErrorHandlerKey;

// The globals a script sees (Redis 7.0.15's, as `pairs(_G)` lists them; KEYS and ARGV come
// with each EVAL).
constexpr std::string_view kAllowedGlobals =
    " _G _VERSION assert bit cjson cmsgpack collectgarbage coroutine error gcinfo getmetatable "
    "ipairs load loadstring math next pairs pcall rawequal rawget rawset redis select setmetatable "
    "string struct table tonumber tostring type unpack xpcall debug __redis__err__handler ";

const char* const kLibraries[] = {"string", "math", "table",  "coroutine", "redis",
                                  "cjson",  "bit",  "struct", "cmsgpack"};

uint64_t rand48_state = 0x1234ABCD330EULL;  // Redis's X0, X1, X2

void PushRegistry(lua_State* L, void* key) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}

void SetRegistry(lua_State* L, void* key) {  // pops the value
  lua_pushlightuserdata(L, key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

// math.random / math.randomseed as Lua's, on Redis's lrand48.
int MathRandom(lua_State* L) {
  if (LuaEngine::FromState(L)->run() == nullptr) {
    return luaL_error(L, "math.random can only be called inside a script invocation");
  }
  constexpr int32_t kMax = INT32_MAX;
  lua_Number r = static_cast<lua_Number>(RedisLrand48() % kMax) / static_cast<lua_Number>(kMax);
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, r);
      break;
    case 1: {
      int u = luaL_checkint(L, 1);
      luaL_argcheck(L, 1 <= u, 1, "interval is empty");
      lua_pushnumber(L, floor(r * u) + 1);
      break;
    }
    case 2: {
      int l = luaL_checkint(L, 1);
      int u = luaL_checkint(L, 2);
      luaL_argcheck(L, l <= u, 2, "interval is empty");
      lua_pushnumber(L, floor(r * (u - l + 1)) + l);
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  return 1;
}

int MathRandomSeed(lua_State* L) {
  if (LuaEngine::FromState(L)->run() == nullptr) {
    return luaL_error(L, "math.randomseed can only be called inside a script invocation");
  }
  RedisSrand48(luaL_checkint(L, 1));
  return 0;
}

// ---- the redis.* API ---------------------------------------------------------------------

ScriptRun* RunOrRaise(lua_State* L, const char* what) {
  ScriptRun* run = LuaEngine::FromState(L)->run();
  if (run == nullptr) {
    LuaEngine::PushError(L, std::string(what) + " can only be called inside a script invocation");
    LuaEngine::Raise(L);
  }
  return run;
}

int RedisCall(lua_State* L) { return RunOrRaise(L, "redis.call/pcall")->LuaRedisCall(L, true); }
int RedisPCall(lua_State* L) { return RunOrRaise(L, "redis.call/pcall")->LuaRedisCall(L, false); }

int RedisAclCheckCmd(lua_State* L) {
  return RunOrRaise(L, "redis.acl_check_cmd")->LuaAclCheckCmd(L);
}

int RedisSetResp(lua_State* L) {
  ScriptRun* run = RunOrRaise(L, "redis.setresp");
  int argc = lua_gettop(L);
  if (argc != 1) {
    LuaEngine::PushError(L, "redis.setresp() requires one argument.");
    LuaEngine::Raise(L);
  }
  int resp = static_cast<int>(lua_tonumber(L, -argc));
  if (resp != 2 && resp != 3) {
    LuaEngine::PushError(L, "RESP version must be 2 or 3.");
    LuaEngine::Raise(L);
  }
  run->SetResp(resp);
  return 0;
}

int RedisSetRepl(lua_State* L) {
  ScriptRun* run = RunOrRaise(L, "redis.set_repl");
  if (lua_gettop(L) != 1) {
    LuaEngine::PushError(L, "redis.set_repl() requires two arguments.");
    LuaEngine::Raise(L);
  }
  int flags = static_cast<int>(lua_tonumber(L, -1));
  if ((flags & ~(kPropagateAof | kPropagateRepl)) != 0) {
    LuaEngine::PushError(
        L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    LuaEngine::Raise(L);
  }
  run->SetRepl(flags);
  return 0;
}

int RedisSha1Hex(lua_State* L) {
  if (lua_gettop(L) != 1) {
    LuaEngine::PushError(L, "wrong number of arguments");
    LuaEngine::Raise(L);
  }
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  std::string digest = lua::Sha1Hex(s != nullptr ? std::string_view(s, len) : "");
  lua_pushstring(L, digest.c_str());
  return 1;
}

int RedisErrorReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    LuaEngine::PushError(L, "wrong number or type of arguments");
    return 1;
  }
  std::string err = lua_tostring(L, -1);  // C string: stops at a NUL, as Redis's
  LuaEngine::PushError(L, err[0] == '-' ? err : "-" + err);
  return 1;
}

int RedisStatusReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    LuaEngine::PushError(L, "wrong number or type of arguments");
    return 1;
  }
  lua_newtable(L);
  lua_pushstring(L, "ok");
  lua_pushvalue(L, -3);
  lua_settable(L, -3);
  return 1;
}

int RedisLog(lua_State* L) {
  int argc = lua_gettop(L);
  if (argc < 2) {
    LuaEngine::PushError(L, "redis.log() requires two arguments or more.");
    LuaEngine::Raise(L);
  }
  if (!lua_isnumber(L, -argc)) {
    LuaEngine::PushError(L, "First argument must be a number (log level).");
    LuaEngine::Raise(L);
  }
  int level = static_cast<int>(lua_tonumber(L, -argc));
  if (level < 0 || level > 3) {
    LuaEngine::PushError(L, "Invalid debug level.");
    LuaEngine::Raise(L);
  }
  if (level < static_cast<int>(GetLogLevel())) return 0;
  std::string line;
  for (int j = 1; j < argc; j++) {
    size_t len;
    const char* s = lua_tolstring(L, -argc + j, &len);
    if (s == nullptr) continue;
    if (j != 1) line += ' ';
    line.append(s, len);
  }
  Log(static_cast<LogLevel>(level), line);
  return 0;
}

int RedisBreakpoint(lua_State* L) {  // no debugger: never stops
  lua_pushboolean(L, 0);
  return 1;
}

int RedisDebug(lua_State*) { return 0; }

int RedisReplicateCommands(lua_State* L) {  // deprecated: effects replication is the only mode
  lua_pushboolean(L, 1);
  return 1;
}

void SetFunction(lua_State* L, const char* name, lua_CFunction fn) {
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, name);
}

void SetNumber(lua_State* L, const char* name, lua_Number n) {
  lua_pushnumber(L, n);
  lua_setfield(L, -2, name);
}

// Redis's error handler: any error becomes {err=..., source=..., line=...}, the position being
// the Lua code that raised it (the caller, when a C function like redis.call raised).
const char kErrorHandler[] =
    "local dbg = debug\n"
    "return function(err)\n"
    "  local i = dbg.getinfo(2,'nSl')\n"
    "  if i and i.what == 'C' then\n"
    "    i = dbg.getinfo(3,'nSl')\n"
    "  end\n"
    "  if type(err) ~= 'table' then\n"
    "    err = {err='ERR ' .. tostring(err)}\n"
    "  end\n"
    "  if i then\n"
    "    err['source'] = i.source\n"
    "    err['line'] = i.currentline\n"
    "  end\n"
    "  return err\n"
    "end\n";

}  // namespace

int32_t RedisLrand48() {
  rand48_state = (0x5DEECE66DULL * rand48_state + 0xB) & ((uint64_t{1} << 48) - 1);
  return static_cast<int32_t>(rand48_state >> 17);
}

void RedisSrand48(int32_t seed) {
  rand48_state = (static_cast<uint64_t>(static_cast<uint32_t>(seed)) << 16) | 0x330E;
}

LuaEngine::LuaEngine(ApiExtension extension, void* extension_arg) : L_(luaL_newstate()) {
  lua_pushlightuserdata(L_, this);
  SetRegistry(L_, &kEngineKey);
  OpenLibraries();
  RegisterRedisApi(extension, extension_arg);
  OverrideBuiltins();
  InstallErrorHandler();
  LockGlobals();
}

LuaEngine::~LuaEngine() { lua_close(L_); }

LuaEngine* LuaEngine::FromState(lua_State* L) {
  PushRegistry(L, &kEngineKey);
  auto* engine = static_cast<LuaEngine*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return engine;
}

void LuaEngine::OpenLibraries() {
  const struct {
    lua_CFunction open;
    const char* name;
  } kStock[] = {{luaopen_base, ""},
                {luaopen_table, LUA_TABLIBNAME},
                {luaopen_string, LUA_STRLIBNAME},
                {luaopen_math, LUA_MATHLIBNAME},
                {luaopen_debug, LUA_DBLIBNAME}};
  for (const auto& lib : kStock) {
    lua_pushcfunction(L_, lib.open);
    lua_pushstring(L_, lib.name);
    lua_call(L_, 1, 0);
  }
  const struct {
    lua_CFunction open;
    const char* name;
  } kExtra[] = {{luaopen_cjson, "cjson"},
                {lua::OpenStruct, "struct"},
                {lua::OpenCmsgpack, "cmsgpack"},
                {luaopen_bit, "bit"}};
  for (const auto& lib : kExtra) {
    lua_pushcfunction(L_, lib.open);
    lua_pushstring(L_, lib.name);
    lua_call(L_, 1, 1);
    lua_setglobal(L_, lib.name);
  }
  // Drop what Redis does not offer (print, dofile, loadfile, getfenv, setfenv, newproxy, ...).
  std::vector<std::string> drop;
  lua_pushnil(L_);
  while (lua_next(L_, LUA_GLOBALSINDEX)) {
    lua_pop(L_, 1);
    bool allowed = lua_type(L_, -1) == LUA_TSTRING &&
                   kAllowedGlobals.find(" " + std::string(lua_tostring(L_, -1)) + " ") !=
                       std::string_view::npos;
    if (!allowed) drop.emplace_back(lua_tostring(L_, -1));
  }
  for (const std::string& name : drop) {
    lua_pushnil(L_);
    lua_setglobal(L_, name.c_str());
  }
}

void LuaEngine::RegisterRedisApi(ApiExtension extension, void* extension_arg) {
  lua_newtable(L_);
  SetFunction(L_, "call", RedisCall);
  SetFunction(L_, "pcall", RedisPCall);
  SetFunction(L_, "log", RedisLog);
  SetNumber(L_, "LOG_DEBUG", 0);
  SetNumber(L_, "LOG_VERBOSE", 1);
  SetNumber(L_, "LOG_NOTICE", 2);
  SetNumber(L_, "LOG_WARNING", 3);
  SetNumber(L_, "REDIS_VERSION_NUM", (7 << 16) | (0 << 8) | 15);
  lua_pushlstring(L_, kRedisVersion.data(), kRedisVersion.size());
  lua_setfield(L_, -2, "REDIS_VERSION");
  SetFunction(L_, "setresp", RedisSetResp);
  SetFunction(L_, "sha1hex", RedisSha1Hex);
  SetFunction(L_, "error_reply", RedisErrorReply);
  SetFunction(L_, "status_reply", RedisStatusReply);
  SetFunction(L_, "set_repl", RedisSetRepl);
  SetNumber(L_, "REPL_NONE", 0);
  SetNumber(L_, "REPL_AOF", kPropagateAof);
  SetNumber(L_, "REPL_SLAVE", kPropagateRepl);
  SetNumber(L_, "REPL_REPLICA", kPropagateRepl);
  SetNumber(L_, "REPL_ALL", kPropagateAof | kPropagateRepl);
  SetFunction(L_, "acl_check_cmd", RedisAclCheckCmd);
  SetFunction(L_, "breakpoint", RedisBreakpoint);
  SetFunction(L_, "debug", RedisDebug);
  SetFunction(L_, "replicate_commands", RedisReplicateCommands);
  if (extension != nullptr) extension(L_, this, extension_arg);
  lua_setglobal(L_, "redis");
}

void LuaEngine::OverrideBuiltins() {
  sandbox::InstallBuiltins(L_);
  lua_getglobal(L_, "math");
  SetFunction(L_, "random", MathRandom);
  SetFunction(L_, "randomseed", MathRandomSeed);
  lua_pop(L_, 1);
}

void LuaEngine::InstallErrorHandler() {
  luaL_loadbuffer(L_, kErrorHandler, strlen(kErrorHandler), "@err_handler_def");
  lua_call(L_, 0, 1);
  lua_pushvalue(L_, -1);
  SetRegistry(L_, &kErrorHandlerKey);
  lua_setglobal(L_, "__redis__err__handler");
  lua_pushnil(L_);
  lua_setglobal(L_, "debug");  // only the handler keeps it
}

void LuaEngine::LockGlobals() {
  for (const char* lib : kLibraries) {
    lua_getglobal(L_, lib);
    PushReadonlyProxy(-1);
    lua_setglobal(L_, lib);
    lua_pop(L_, 1);
  }
  // Strings find their methods through their metatable: point it at the readonly string
  // library, and show the metatable itself readonly (getmetatable("").__index = ... fails).
  lua_pushstring(L_, "");
  lua_getmetatable(L_, -1);
  lua_getglobal(L_, "string");
  lua_setfield(L_, -2, "__index");
  PushReadonlyProxy(-1);
  lua_pop(L_, 3);
  // The real globals: a missing name is an error. Scripts see them through a readonly proxy.
  lua_pushvalue(L_, LUA_GLOBALSINDEX);
  lua_newtable(L_);
  lua_pushcfunction(L_, sandbox::NonexistentGlobal);
  lua_setfield(L_, -2, "__index");
  lua_setmetatable(L_, -2);
  PushReadonlyProxy(-1);
  lua_pushvalue(L_, -1);
  lua_setfield(L_, -3, "_G");
  lua_replace(L_, LUA_GLOBALSINDEX);
  globals_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);  // pops the real globals
}

void LuaEngine::PushReadonlyProxy(int idx) { sandbox::PushReadonlyProxy(L_, idx); }

void LuaEngine::PushRealGlobals() { lua_rawgeti(L_, LUA_REGISTRYINDEX, globals_ref_); }

void LuaEngine::SetReadonlyGlobal(const char* name) {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, globals_ref_);
  lua_insert(L_, -2);
  lua_setfield(L_, -2, name);  // the real table has no __newindex: a plain set
  lua_pop(L_, 1);
}

bool LuaEngine::Load(std::string_view code, const char* chunkname, std::string* error) {
  int status;
  if (!code.empty() && code[0] == '\x1b') {
    std::string text = " " + std::string(code);
    status = luaL_loadbuffer(L_, text.data(), text.size(), chunkname);
  } else {
    status = luaL_loadbuffer(L_, code.data(), code.size(), chunkname);
  }
  if (status == 0) return true;
  const char* msg = lua_tostring(L_, -1);
  *error = msg != nullptr ? msg : "unknown error";
  lua_pop(L_, 1);
  return false;
}

void LuaEngine::PushErrorHandler() { PushRegistry(L_, &kErrorHandlerKey); }

size_t LuaEngine::UsedMemory() const {
  return static_cast<size_t>(lua_gc(L_, LUA_GCCOUNT, 0)) * 1024;
}

void LuaEngine::GcStepAfterCall() {
  if (++gc_count_ == 50) {
    lua_gc(L_, LUA_GCSTEP, 50);
    gc_count_ = 0;
  }
}

void LuaEngine::PushError(lua_State* L, std::string_view text) {
  std::string code = "ERR", msg;
  if (!text.empty() && text[0] == '-') {
    size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      msg = text.substr(1);
    } else {
      code = text.substr(1, space - 1);
      msg = text.substr(space + 1);
    }
  } else {
    msg = text;
  }
  // sdstrim(msg, "\r\n"): both ends.
  size_t b = msg.find_first_not_of("\r\n");
  size_t e = msg.find_last_not_of("\r\n");
  msg = b == std::string::npos ? "" : msg.substr(b, e - b + 1);
  std::string final_msg = code + " " + msg;
  lua_newtable(L);
  lua_pushstring(L, "err");
  lua_pushstring(L, final_msg.c_str());  // C strings in Redis: a NUL ends the message
  lua_settable(L, -3);
}

void LuaEngine::Raise(lua_State* L) {
  lua_error(L);
  __builtin_unreachable();
}

}  // namespace docket::server
