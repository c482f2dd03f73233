// Conversions between Lua values and replies, both ways, exactly as Redis 7.0's script_lua.c:
// a command's reply (RESP2 or RESP3) becomes the Lua value redis.call returns, and a script's
// return value becomes the caller's reply. Depends on Lua 5.1 and protocol/.
#pragma once

#include <lua.hpp>
#include <string_view>

#include "protocol/reply_writer.h"

namespace docket::server {

// Pushes the Lua value for the one reply in resp (redisProtocolToLuaType): integers as numbers,
// bulk strings as strings, null bulk/array as false, RESP3 null as nil, status as {ok=...},
// errors as {err=..., ignore_error_stats_update=true}, maps as {map={...}}, sets as {set={...}},
// doubles as {double=...}, big numbers as {big_number=...}, verbatim strings as
// {verbatim_string={string=..., format=...}}, attributes dropped.
// REQUIRES: resp is one well-formed reply (the server wrote it).
void PushReplyAsLua(lua_State* L, std::string_view resp);

// Writes the Lua value on top of the stack as a reply and pops it (luaReplyToRedisReply).
// script_resp is the protocol the script chose with redis.setresp: with 2, true is :1 and false
// a null; with 3 they are RESP3 booleans. Error tables a failed command left (redis.pcall's) are
// not counted in errorstats again; *uncounted_errors (when given) is raised for each, since
// Redis still counts the script command as failed.
void WriteLuaAsReply(lua_State* L, protocol::ReplyWriter& out, int script_resp,
                     int* uncounted_errors = nullptr);

// A script error reply, as Redis's addReplyErrorFormatEx("-%s", text): CR/LF trimmed at both
// ends and turned into spaces inside. Not counted in errorstats when counted is false (the
// command that failed inside the script was counted already).
void WriteScriptError(protocol::ReplyWriter& out, std::string_view text, bool counted);

// C's (long long) cast of a double on x86-64: out of range and NaN give INT64_MIN.
int64_t LuaNumberToInt64(double d);

}  // namespace docket::server
