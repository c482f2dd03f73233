// Lua <-> reply conversions (script_convert.h), after Redis 7.0's redisProtocolToLuaType_* and
// luaReplyToRedisReply.
#include "server/script_convert.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/script_lua.h"

namespace docket::server {
namespace {

// Walks one reply the server wrote, pushing Lua values (or skipping, for attributes).
class ReplyParser {
 public:
  ReplyParser(lua_State* L, std::string_view s) : L_(L), s_(s) {}

  void Parse(bool push) {
    char type = s_[pos_++];
    std::string_view line = Line();
    if (push) luaL_checkstack(L_, 5, "lua stack limit reach when parsing redis.call reply");
    switch (type) {
      case '$':
      case '=':
        return Bulk(type, line, push);
      case '*':
      case '>':
        if (Number(line) < 0) {  // null array
          if (push) lua_pushboolean(L_, 0);
          return;
        }
        return Aggregate(Count(line), push, nullptr);
      case '%':
        return Aggregate(Count(line), push, "map");
      case '~':
        return Aggregate(Count(line), push, "set");
      case '|':  // attributes: parsed and dropped, then the reply they annotate
        for (size_t j = 0; j < 2 * Count(line); j++) Parse(false);
        return Parse(push);
      default:
        if (push) Simple(type, line);
    }
  }

 private:
  std::string_view Line() {
    size_t end = s_.find("\r\n", pos_);
    std::string_view line = s_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return line;
  }

  static int64_t Number(std::string_view line) {
    int64_t v = 0;
    std::from_chars(line.data(), line.data() + line.size(), v);
    return v;
  }
  static size_t Count(std::string_view line) {
    int64_t n = Number(line);
    return n < 0 ? 0 : static_cast<size_t>(n);
  }

  void Bulk(char type, std::string_view line, bool push) {
    int64_t len = Number(line);
    if (len < 0) {
      if (push) lua_pushboolean(L_, 0);
      return;
    }
    std::string_view body = s_.substr(pos_, len);
    pos_ += len + 2;
    if (!push) return;
    if (type == '$') return lua_pushlstring(L_, body.data(), body.size());
    lua_newtable(L_);  // verbatim: {verbatim_string={string=..., format=...}}
    lua_pushstring(L_, "verbatim_string");
    lua_newtable(L_);
    lua_pushstring(L_, "string");
    std::string_view text = body.size() >= 4 ? body.substr(4) : std::string_view();
    lua_pushlstring(L_, text.data(), text.size());
    lua_settable(L_, -3);
    lua_pushstring(L_, "format");
    lua_pushlstring(L_, body.data(), std::min<size_t>(3, body.size()));
    lua_settable(L_, -3);
    lua_settable(L_, -3);
  }

  void Aggregate(size_t n, bool push, const char* kind) {
    if (push) {
      lua_newtable(L_);
      if (kind != nullptr) {
        lua_pushstring(L_, kind);
        lua_newtable(L_);
      }
    }
    for (size_t j = 0; j < n; j++) {
      if (kind == nullptr) {
        if (push) lua_pushnumber(L_, static_cast<lua_Number>(j + 1));
        Parse(push);
      } else {
        Parse(push);
        if (kind[0] == 'm') {
          Parse(push);
        } else if (push) {
          lua_pushboolean(L_, 1);
        }
      }
      if (push) lua_settable(L_, -3);
    }
    if (push && kind != nullptr) lua_settable(L_, -3);
  }

  void Field(const char* name) {  // t[name] = value on top, t below it after a new table
    lua_newtable(L_);
    lua_pushstring(L_, name);
    lua_pushvalue(L_, -3);
    lua_settable(L_, -3);
    lua_remove(L_, -2);
  }

  void Simple(char type, std::string_view line) {
    switch (type) {
      case ':':
        return lua_pushnumber(L_, static_cast<lua_Number>(Number(line)));
      case '+':
        lua_pushlstring(L_, line.data(), line.size());
        return Field("ok");
      case '-':
        LuaEngine::PushError(L_, "-" + std::string(line));
        lua_pushstring(L_, "ignore_error_stats_update");  // counted when the command failed
        lua_pushboolean(L_, 1);
        lua_settable(L_, -3);
        return;
      case '_':
        return lua_pushnil(L_);
      case '#':
        return lua_pushboolean(L_, !line.empty() && line[0] == 't');
      case ',':
        lua_pushnumber(L_, strtod(std::string(line).c_str(), nullptr));
        return Field("double");
      case '(':
        lua_pushlstring(L_, line.data(), line.size());
        return Field("big_number");
      default:
        lua_pushnil(L_);
    }
  }

  lua_State* L_;
  std::string_view s_;
  size_t pos_ = 0;
};

std::string TrimmedCrLfMapped(std::string s) {
  size_t b = s.find_first_not_of("\r\n");
  size_t e = s.find_last_not_of("\r\n");
  s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

std::string CrLfMapped(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

// t[name] of the table at idx (default: on top), raw, when it has type `type`: pushed, true.
// Else nothing pushed.
bool RawField(lua_State* L, const char* name, int type, int idx = -1) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_pushstring(L, name);
  lua_rawget(L, idx);
  if (lua_type(L, -1) == type) return true;
  lua_pop(L, 1);
  return false;
}

void WriteTable(lua_State* L, protocol::ReplyWriter& out, int script_resp, int* uncounted);

void WriteErrorTable(lua_State* L, protocol::ReplyWriter& out, int* uncounted) {
  // luaExtractErrorInformation: err and ignore_error_stats_update, read with metamethods.
  lua_getfield(L, -1, "err");
  std::string msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  lua_getfield(L, -1, "ignore_error_stats_update");
  bool ignore = lua_isboolean(L, -1) && lua_toboolean(L, -1);
  lua_pop(L, 1);
  WriteScriptError(out, msg, !ignore);
  if (ignore && uncounted != nullptr) ++*uncounted;
}

void WriteMapOrSet(lua_State* L, protocol::ReplyWriter& out, int script_resp, bool map,
                   int* uncounted) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    n++;
  }
  map ? out.MapHeader(n) : out.SetHeader(n);
  lua_pushnil(L);
  while (lua_next(L, -2)) {  // table, key, value
    if (map) {
      lua_pushvalue(L, -2);
      WriteLuaAsReply(L, out, script_resp, uncounted);  // the key
      WriteLuaAsReply(L, out, script_resp, uncounted);  // the value
    } else {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      WriteLuaAsReply(L, out, script_resp, uncounted);
    }
  }
}

bool WriteVerbatim(lua_State* L, protocol::ReplyWriter& out) {
  if (!RawField(L, "format", LUA_TSTRING)) return false;
  if (!RawField(L, "string", LUA_TSTRING, -2)) {
    lua_pop(L, 1);
    return false;
  }
  size_t len;
  const char* text = lua_tolstring(L, -1, &len);
  std::string format = lua_tostring(L, -2);  // padded or cut to 3 characters, as Redis
  format.resize(3, ' ');
  out.Verbatim(std::string_view(text, len), format);
  lua_pop(L, 2);
  return true;
}

// The table on top (not popped): error, status, double, big number, verbatim, map, set, array.
void WriteTable(lua_State* L, protocol::ReplyWriter& out, int script_resp, int* uncounted) {
  if (RawField(L, "err", LUA_TSTRING)) {
    lua_pop(L, 1);
    return WriteErrorTable(L, out, uncounted);
  }
  if (RawField(L, "ok", LUA_TSTRING)) {
    out.Simple(CrLfMapped(lua_tostring(L, -1)));
    return lua_pop(L, 1);
  }
  if (RawField(L, "double", LUA_TNUMBER)) {
    out.Double(lua_tonumber(L, -1));
    return lua_pop(L, 1);
  }
  if (RawField(L, "big_number", LUA_TSTRING)) {
    size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    out.BigNumber(CrLfMapped(std::string(s, len)));
    return lua_pop(L, 1);
  }
  if (RawField(L, "verbatim_string", LUA_TTABLE)) {
    bool done = WriteVerbatim(L, out);
    lua_pop(L, 1);
    if (done) return;
  }
  for (const char* kind : {"map", "set"}) {
    if (RawField(L, kind, LUA_TTABLE)) {
      WriteMapOrSet(L, out, script_resp, kind[0] == 'm', uncounted);
      return lua_pop(L, 1);
    }
  }
  size_t n = 0;
  while (true) {
    lua_rawgeti(L, -1, static_cast<int>(n + 1));
    bool nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (nil) break;
    n++;
  }
  out.ArrayHeader(n);
  for (size_t j = 1; j <= n; j++) {
    lua_rawgeti(L, -1, static_cast<int>(j));
    WriteLuaAsReply(L, out, script_resp, uncounted);
  }
}

}  // namespace

int64_t LuaNumberToInt64(double d) {
  if (std::isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
    return INT64_MIN;
  }
  return static_cast<int64_t>(d);
}

void PushReplyAsLua(lua_State* L, std::string_view resp) { ReplyParser(L, resp).Parse(true); }

void WriteScriptError(protocol::ReplyWriter& out, std::string_view text, bool counted) {
  std::string s = TrimmedCrLfMapped("-" + std::string(text));
  if (counted) return out.Error(s);
  out.Raw(s);  // starts with '-': Redis's addReplyErrorLength adds no code
  out.Raw("\r\n");
}

void WriteLuaAsReply(lua_State* L, protocol::ReplyWriter& out, int script_resp, int* uncounted) {
  if (!lua_checkstack(L, 4)) {
    out.Error("reached lua stack limit");
    return lua_pop(L, 1);
  }
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t len;
      const char* s = lua_tolstring(L, -1, &len);
      out.Bulk(std::string_view(s, len));
      break;
    }
    case LUA_TBOOLEAN:
      if (script_resp == 2) {
        lua_toboolean(L, -1) ? out.Integer(1) : out.NullBulk();
      } else {
        out.Bool(lua_toboolean(L, -1));
      }
      break;
    case LUA_TNUMBER:
      out.Integer(LuaNumberToInt64(lua_tonumber(L, -1)));
      break;
    case LUA_TTABLE:
      WriteTable(L, out, script_resp, uncounted);
      break;
    default:
      out.NullBulk();
  }
  lua_pop(L, 1);
}

}  // namespace docket::server
