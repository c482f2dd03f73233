// Tests for the Lua engine without a server: SHA-1 vectors, the sandbox (readonly proxies,
// nonexistent globals, no bytecode), cmsgpack and struct round trips, Redis's lrand48 sequence,
// the error-table helper, and Lua <-> reply conversions. Values were checked against
// redis-server 7.0.15. Depends on server/script_lua.h, server/script_convert.h and doctest.
#include "server/script_lua.h"

#include <doctest/doctest.h>

#include <string>

#include "server/lua/sha1.h"
#include "server/script_convert.h"

namespace docket::server {
namespace {

// Runs code in the engine; returns "ok:<tostring of the first result>" or "err:<message>".
std::string Run(LuaEngine& engine, const std::string& code) {
  lua_State* L = engine.state();
  std::string error;
  if (!engine.Load(code, "@user_script", &error)) return "compile:" + error;
  if (lua_pcall(L, 0, 1, 0) != 0) {
    std::string msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "<table>";
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "<no err>";
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return "err:" + msg;
  }
  lua_getglobal(L, "tostring");
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  std::string out = "ok:" + std::string(lua_tostring(L, -1));
  lua_pop(L, 1);
  return out;
}

// The reply bytes for the value code returns (RESP2 caller, RESP2 script).
std::string Reply(LuaEngine& engine, const std::string& code) {
  lua_State* L = engine.state();
  std::string error;
  REQUIRE(engine.Load(code, "@user_script", &error));
  REQUIRE(lua_pcall(L, 0, 1, 0) == 0);
  std::string out;
  protocol::ReplyWriter writer(&out, 2);
  WriteLuaAsReply(L, writer, 2);
  return out;
}

TEST_CASE("Sha1Hex matches the FIPS 180-1 vectors and redis.sha1hex") {
  CHECK(lua::Sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(lua::Sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(lua::Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(lua::Sha1Hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  CHECK(lua::Sha1Hex("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");  // EVAL's name
}

TEST_CASE("the sandbox: readonly globals and libraries, nonexistent globals, no bytecode") {
  LuaEngine engine;
  CHECK(Run(engine, "x = 1") == "err:user_script:1: Attempt to modify a readonly table");
  CHECK(Run(engine, "return y") ==
        "err:user_script:1: Script attempted to access nonexistent global variable 'y'");
  CHECK(Run(engine, "string.len = nil") == "err:user_script:1: Attempt to modify a readonly table");
  CHECK(Run(engine, "rawset(redis, 'call', 1)") == "err:Attempt to modify a readonly table");
  CHECK(Run(engine, "setmetatable(_G, nil)") == "err:Attempt to modify a readonly table");
  CHECK(Run(engine, "table.insert(math, 1)") == "err:Attempt to modify a readonly table");
  CHECK(Run(engine, "getmetatable('').__index = {}") ==
        "err:user_script:1: Attempt to modify a readonly table");
  CHECK(Run(engine, "return getmetatable('').__index == string") == "ok:true");
  CHECK(Run(engine, "return ('abc'):upper()") == "ok:ABC");
  CHECK(Run(engine, "local n = 0; for k in pairs(string) do n = n + 1 end; return n") == "ok:15");
  CHECK(Run(engine, "return rawget(_G, 'redis') ~= nil") == "ok:true");
  CHECK(Run(engine, "return type(os)") ==
        "err:user_script:1: Script attempted to access nonexistent global variable 'os'");
  CHECK(Run(engine, "return loadstring(string.dump(function() end))") == "ok:nil");
  CHECK(Run(engine, "local t = {}; table.insert(t, 'a'); t.x = 1; return #t") == "ok:1");
  // Outside a script run, the run-bound API refuses.
  CHECK(Run(engine, "return redis.call('ping')") ==
        "err:ERR redis.call/pcall can only be called inside a script invocation");
  CHECK(Run(engine, "return math.random()").rfind("err:", 0) == 0);
  // Bytecode as the script itself is parsed as text, as Redis's Lua does.
  std::string error;
  CHECK(!engine.Load("\x1bLuaQ", "@user_script", &error));
  CHECK(error == "user_script:1: unexpected symbol near 'char(27)'");
}

TEST_CASE("cmsgpack and struct round trips, as Redis's libraries") {
  LuaEngine engine;
  CHECK(Run(engine, "return cmsgpack.pack({1, 2, 3}) == '\\147\\1\\2\\3'") == "ok:true");
  CHECK(Run(engine,
            "local t = cmsgpack.unpack(cmsgpack.pack({a = {1, 'x'}, b = 2.5})); "
            "return t.a[2] .. t.b") == "ok:x2.5");
  CHECK(Run(engine, "return select('#', cmsgpack.unpack(cmsgpack.pack(1, 2, 3)))") == "ok:3");
  CHECK(Run(engine, "return cmsgpack.unpack('\\146\\1')") ==
        "err:user_script:1: Missing bytes in input.");
  CHECK(Run(engine, "return struct.unpack('>I2', struct.pack('>I2', 258))") == "ok:258");
  CHECK(Run(engine, "return struct.size('!4 b i4')") == "ok:8");
  CHECK(Run(engine, "return cjson.encode({1, 'a'})") == "ok:[1,\"a\"]");
  CHECK(Run(engine, "return bit.tohex(bit.band(0xff, 0x0f))") == "ok:0000000f");
}

TEST_CASE("RedisLrand48 follows Redis's sequence from its initial state") {
  RedisSrand48(0);
  int32_t first = RedisLrand48();
  RedisSrand48(0);
  CHECK(RedisLrand48() == first);
  RedisSrand48(7);
  int32_t seeded = RedisLrand48();
  CHECK(seeded != first);
  CHECK(seeded >= 0);
}

TEST_CASE("Lua values become replies as Redis converts them") {
  LuaEngine engine;
  CHECK(Reply(engine, "return 3.99") == ":3\r\n");
  CHECK(Reply(engine, "return 1e20") == ":-9223372036854775808\r\n");
  CHECK(Reply(engine, "return {1, 2, nil, 4}") == "*2\r\n:1\r\n:2\r\n");
  CHECK(Reply(engine, "return true") == ":1\r\n");
  CHECK(Reply(engine, "return false") == "$-1\r\n");
  CHECK(Reply(engine, "return {ok = 'a\\r\\nb'}") == "+a  b\r\n");
  CHECK(Reply(engine, "return {err = 'a\\r\\n'}") == "-a\r\n");
  CHECK(Reply(engine, "return {double = 1.5}") == "$3\r\n1.5\r\n");
  CHECK(Reply(engine, "return {map = {a = 1}}") == "*2\r\n$1\r\na\r\n:1\r\n");
  CHECK(Reply(engine, "return {set = {x = true}}") == "*1\r\n$1\r\nx\r\n");
  CHECK(LuaNumberToInt64(0.0 / 0.0) == INT64_MIN);
  CHECK(LuaNumberToInt64(-2.5) == -2);
}

TEST_CASE("replies become Lua values as Redis converts them") {
  LuaEngine engine;
  lua_State* L = engine.state();
  PushReplyAsLua(L, "*3\r\n:1\r\n$-1\r\n+OK\r\n");
  lua_rawgeti(L, -1, 2);
  CHECK(lua_type(L, -1) == LUA_TBOOLEAN);
  CHECK(!lua_toboolean(L, -1));
  lua_pop(L, 1);
  lua_rawgeti(L, -1, 3);
  lua_getfield(L, -1, "ok");
  CHECK(std::string(lua_tostring(L, -1)) == "OK");
  lua_pop(L, 3);
  PushReplyAsLua(L, "%1\r\n$1\r\nk\r\n,1.5\r\n");
  lua_getfield(L, -1, "map");
  lua_getfield(L, -1, "k");
  lua_getfield(L, -1, "double");
  CHECK(lua_tonumber(L, -1) == 1.5);
  lua_pop(L, 4);
  PushReplyAsLua(L, "-WRONGTYPE Operation\r\n");
  lua_getfield(L, -1, "err");
  CHECK(std::string(lua_tostring(L, -1)) == "WRONGTYPE Operation");
  lua_pop(L, 2);
}

}  // namespace
}  // namespace docket::server
