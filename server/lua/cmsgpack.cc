// cmsgpack for the scripting sandbox: MessagePack pack/unpack with Redis 7.0's behaviour, ported
// from Redis's deps/lua/src/lua_cmsgpack.c (lua-cmsgpack 0.4.0, Copyright (C) 2012 Salvatore
// Sanfilippo, MIT licence: permission is granted to use, copy, modify and distribute it provided
// the copyright notice is kept). Depends on Lua 5.1 only.
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "server/lua/lua_libs.h"

namespace docket::server::lua {
namespace {

constexpr int kMaxNesting = 16;  // deeper tables are encoded as nil (survives cycles)

enum CursorError { kCurOk = 0, kCurEof = 1, kCurBadFormat = 2 };

struct Cursor {
  const unsigned char* p;
  size_t left;
  int err = kCurOk;
  bool Need(size_t n) {
    if (left < n) err = kCurEof;
    return left >= n;
  }
  void Consume(size_t n) {
    p += n;
    left -= n;
  }
};

// MessagePack stores numbers big endian.
void AppendBigEndian(std::string& buf, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) buf.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBigEndian(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
  return v;
}

void EncodeBytes(std::string& buf, const char* s, size_t len) {
  if (len < 32) {
    buf.push_back(static_cast<char>(0xa0 | (len & 0xff)));  // fix raw
  } else if (len <= 0xff) {
    buf.push_back(static_cast<char>(0xd9));
    AppendBigEndian(buf, len, 1);
  } else if (len <= 0xffff) {
    buf.push_back(static_cast<char>(0xda));
    AppendBigEndian(buf, len, 2);
  } else {
    buf.push_back(static_cast<char>(0xdb));
    AppendBigEndian(buf, len & 0xffffffff, 4);
  }
  buf.append(s, len);
}

void EncodeDouble(std::string& buf, double d) {
  float f = static_cast<float>(d);
  if (d == static_cast<double>(f)) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    buf.push_back(static_cast<char>(0xca));
    AppendBigEndian(buf, bits, 4);
  } else {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    buf.push_back(static_cast<char>(0xcb));
    AppendBigEndian(buf, bits, 8);
  }
}

void EncodeInt(std::string& buf, int64_t n) {
  auto tagged = [&](int tag, int bytes) {
    buf.push_back(static_cast<char>(tag));
    AppendBigEndian(buf, static_cast<uint64_t>(n), bytes);
  };
  if (n >= 0) {
    if (n <= 127) {
      buf.push_back(static_cast<char>(n & 0x7f));  // positive fixnum
    } else if (n <= 0xff) {
      tagged(0xcc, 1);
    } else if (n <= 0xffff) {
      tagged(0xcd, 2);
    } else if (n <= 0xffffffffLL) {
      tagged(0xce, 4);
    } else {
      tagged(0xcf, 8);
    }
  } else if (n >= -32) {
    buf.push_back(static_cast<char>(static_cast<signed char>(n)));  // negative fixnum
  } else if (n >= -128) {
    tagged(0xd0, 1);
  } else if (n >= -32768) {
    tagged(0xd1, 2);
  } else if (n >= -2147483648LL) {
    tagged(0xd2, 4);
  } else {
    tagged(0xd3, 8);
  }
}

void EncodeContainer(std::string& buf, uint64_t n, int fix, int tag16, int tag32) {
  if (n <= 15) {
    buf.push_back(static_cast<char>(fix | (n & 0xf)));
  } else if (n <= 65535) {
    buf.push_back(static_cast<char>(tag16));
    AppendBigEndian(buf, n, 2);
  } else {
    buf.push_back(static_cast<char>(tag32));
    AppendBigEndian(buf, n & 0xffffffff, 4);
  }
}

// Redis's IS_INT64_EQUIVALENT: the double holds an int64 exactly.
bool IsInt64Equivalent(double n) {
  return std::isfinite(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
         static_cast<double>(static_cast<int64_t>(n)) == n;
}

void EncodeLuaType(lua_State* L, std::string& buf, int level);

// True when the table on top holds exactly the keys 1..N.
bool TableIsArray(lua_State* L) {
  int count = 0, max = 0;
  int top = lua_gettop(L);
  luaL_checkstack(L, 2, "in function table_is_an_array");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    double n;
    if (lua_type(L, -1) != LUA_TNUMBER || (n = lua_tonumber(L, -1)) <= 0 || n > INT_MAX ||
        static_cast<double>(static_cast<int>(n)) != n) {
      lua_settop(L, top);
      return false;
    }
    max = static_cast<int>(n) > max ? static_cast<int>(n) : max;
    count++;
  }
  lua_settop(L, top);
  return max == count;
}

void EncodeLuaTable(lua_State* L, std::string& buf, int level) {
  if (TableIsArray(L)) {
    size_t len = lua_objlen(L, -1);
    EncodeContainer(buf, len, 0x90, 0xdc, 0xdd);
    luaL_checkstack(L, 1, "in function mp_encode_lua_table_as_array");
    for (size_t j = 1; j <= len; j++) {
      lua_pushnumber(L, static_cast<lua_Number>(j));
      lua_gettable(L, -2);
      EncodeLuaType(L, buf, level + 1);
    }
    return;
  }
  size_t len = 0;
  luaL_checkstack(L, 3, "in function mp_encode_lua_table_as_map");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    len++;
  }
  EncodeContainer(buf, len, 0x80, 0xde, 0xdf);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);  // key value key
    EncodeLuaType(L, buf, level + 1);
    EncodeLuaType(L, buf, level + 1);
  }
}

// Encodes and pops the value on top of the stack.
void EncodeLuaType(lua_State* L, std::string& buf, int level) {
  int t = lua_type(L, -1);
  if (t == LUA_TTABLE && level == kMaxNesting) t = LUA_TNIL;
  switch (t) {
    case LUA_TSTRING: {
      size_t len;
      const char* s = lua_tolstring(L, -1, &len);
      EncodeBytes(buf, s, len);
      break;
    }
    case LUA_TBOOLEAN:
      buf.push_back(static_cast<char>(lua_toboolean(L, -1) ? 0xc3 : 0xc2));
      break;
    case LUA_TNUMBER: {
      lua_Number n = lua_tonumber(L, -1);
      if (IsInt64Equivalent(n)) {
        EncodeInt(buf, static_cast<int64_t>(lua_tointeger(L, -1)));
      } else {
        EncodeDouble(buf, n);
      }
      break;
    }
    case LUA_TTABLE:
      EncodeLuaTable(L, buf, level);
      break;
    default:
      buf.push_back(static_cast<char>(0xc0));
  }
  lua_pop(L, 1);
}

// cmsgpack.pack(...): all arguments, concatenated.
int Pack(lua_State* L) {
  int nargs = lua_gettop(L);
  if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
  if (!lua_checkstack(L, nargs)) {
    return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
  }
  std::string buf;
  for (int i = 1; i <= nargs; i++) {
    luaL_checkstack(L, 1, "in function mp_check");
    lua_pushvalue(L, i);
    EncodeLuaType(L, buf, 0);
    lua_pushlstring(L, buf.data(), buf.size());
    buf.clear();
  }
  lua_concat(L, nargs);
  return 1;
}

void DecodeToLua(lua_State* L, Cursor& c);

void DecodeArray(lua_State* L, Cursor& c, size_t len) {
  int index = 1;
  lua_newtable(L);
  luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
  while (len--) {
    lua_pushnumber(L, index++);
    DecodeToLua(L, c);
    if (c.err) return;
    lua_settable(L, -3);
  }
}

void DecodeMap(lua_State* L, Cursor& c, size_t len) {
  lua_newtable(L);
  while (len--) {
    DecodeToLua(L, c);
    if (c.err) return;
    DecodeToLua(L, c);
    if (c.err) return;
    lua_settable(L, -3);
  }
}

// A raw (string) whose length takes `bytes` bytes after the tag.
void DecodeRaw(lua_State* L, Cursor& c, int bytes) {
  if (!c.Need(1 + bytes)) return;
  size_t l = ReadBigEndian(c.p + 1, bytes);
  c.Consume(1 + bytes);
  if (!c.Need(l)) return;
  lua_pushlstring(L, reinterpret_cast<const char*>(c.p), l);
  c.Consume(l);
}

// Arrays and maps whose element count takes `bytes` bytes after the tag.
void DecodeSized(lua_State* L, Cursor& c, int bytes, bool map) {
  if (!c.Need(1 + bytes)) return;
  size_t l = ReadBigEndian(c.p + 1, bytes);
  c.Consume(1 + bytes);
  map ? DecodeMap(L, c, l) : DecodeArray(L, c, l);
}

// Fixed-width numbers: the tag and `bytes` big-endian bytes.
bool DecodeNumber(lua_State* L, Cursor& c, unsigned char tag) {
  static const struct {
    unsigned char tag;
    int bytes;
  } kWidths[] = {{0xcc, 1}, {0xd0, 1}, {0xcd, 2}, {0xd1, 2}, {0xce, 4},
                 {0xd2, 4}, {0xcf, 8}, {0xd3, 8}, {0xca, 4}, {0xcb, 8}};
  for (const auto& w : kWidths) {
    if (w.tag != tag) continue;
    if (!c.Need(1 + w.bytes)) return true;
    uint64_t v = ReadBigEndian(c.p + 1, w.bytes);
    c.Consume(1 + w.bytes);
    switch (tag) {
      case 0xd0:
        lua_pushinteger(L, static_cast<signed char>(v));
        break;
      case 0xd1:
        lua_pushinteger(L, static_cast<int16_t>(v));
        break;
      case 0xd2:
        lua_pushinteger(L, static_cast<int32_t>(v));
        break;
      case 0xd3:
        lua_pushnumber(L, static_cast<lua_Number>(static_cast<int64_t>(v)));
        break;
      case 0xca: {
        float f;
        uint32_t bits = static_cast<uint32_t>(v);
        memcpy(&f, &bits, 4);
        lua_pushnumber(L, f);
        break;
      }
      case 0xcb: {
        double d;
        memcpy(&d, &v, 8);
        lua_pushnumber(L, d);
        break;
      }
      default:
        lua_pushinteger(L, static_cast<lua_Integer>(v));  // unsigned, as Redis
    }
    return true;
  }
  return false;
}

// Decodes one value at the cursor and pushes it (or sets c.err).
void DecodeToLua(lua_State* L, Cursor& c) {
  if (!c.Need(1)) return;
  luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
  unsigned char tag = c.p[0];
  if (DecodeNumber(L, c, tag)) return;
  switch (tag) {
    case 0xc0:
      lua_pushnil(L);
      c.Consume(1);
      return;
    case 0xc3:
      lua_pushboolean(L, 1);
      c.Consume(1);
      return;
    case 0xc2:
      lua_pushboolean(L, 0);
      c.Consume(1);
      return;
    case 0xd9:
      return DecodeRaw(L, c, 1);
    case 0xda:
      return DecodeRaw(L, c, 2);
    case 0xdb:
      return DecodeRaw(L, c, 4);
    case 0xdc:
      return DecodeSized(L, c, 2, false);
    case 0xdd:
      return DecodeSized(L, c, 4, false);
    case 0xde:
      return DecodeSized(L, c, 2, true);
    case 0xdf:
      return DecodeSized(L, c, 4, true);
    default:
      break;
  }
  if ((tag & 0x80) == 0) {  // positive fixnum
    lua_pushinteger(L, tag);
    c.Consume(1);
  } else if ((tag & 0xe0) == 0xe0) {  // negative fixnum
    lua_pushinteger(L, static_cast<signed char>(tag));
    c.Consume(1);
  } else if ((tag & 0xe0) == 0xa0) {  // fix raw
    size_t l = tag & 0x1f;
    if (!c.Need(1 + l)) return;
    lua_pushlstring(L, reinterpret_cast<const char*>(c.p) + 1, l);
    c.Consume(1 + l);
  } else if ((tag & 0xf0) == 0x90) {  // fix array
    c.Consume(1);
    DecodeArray(L, c, tag & 0xf);
  } else if ((tag & 0xf0) == 0x80) {  // fix map
    c.Consume(1);
    DecodeMap(L, c, tag & 0xf);
  } else {
    c.err = kCurBadFormat;
  }
}

int UnpackFull(lua_State* L, lua_Integer limit, lua_Integer offset) {
  size_t len;
  const char* s = luaL_checklstring(L, 1, &len);
  bool decode_all = limit == 0 && offset == 0;
  if (offset < 0 || limit < 0) {
    // Redis prints the length where it means the limit; kept for identical errors.
    return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                      static_cast<int>(offset), static_cast<int>(len));
  }
  if (static_cast<size_t>(offset) > len) {
    return luaL_error(L, "Start offset %d greater than input length %d.", static_cast<int>(offset),
                      static_cast<int>(len));
  }
  if (decode_all) limit = INT_MAX;
  Cursor c{reinterpret_cast<const unsigned char*>(s) + offset, len - offset};
  int cnt;
  for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
    DecodeToLua(L, c);
    if (c.err == kCurEof) return luaL_error(L, "Missing bytes in input.");
    if (c.err == kCurBadFormat) return luaL_error(L, "Bad data format in input.");
  }
  if (!decode_all) {
    size_t new_offset = len - c.left;
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, c.left == 0 ? -1 : static_cast<lua_Integer>(new_offset));
    lua_insert(L, 2);  // the offset comes first, after the argument
    cnt += 1;
  }
  return cnt;
}

int Unpack(lua_State* L) { return UnpackFull(L, 0, 0); }

int UnpackOne(lua_State* L) {
  lua_Integer offset = luaL_optinteger(L, 2, 0);
  lua_pop(L, lua_gettop(L) - 1);
  return UnpackFull(L, 1, offset);
}

int UnpackLimit(lua_State* L) {
  lua_Integer limit = luaL_checkinteger(L, 2);
  lua_Integer offset = luaL_optinteger(L, 3, 0);
  lua_pop(L, lua_gettop(L) - 1);
  return UnpackFull(L, limit, offset);
}

}  // namespace

int OpenCmsgpack(lua_State* L) {
  static const luaL_Reg kFuncs[] = {
      {"pack", Pack}, {"unpack", Unpack}, {"unpack_one", UnpackOne}, {"unpack_limit", UnpackLimit}};
  lua_newtable(L);
  for (const luaL_Reg& f : kFuncs) {
    lua_pushcfunction(L, f.func);
    lua_setfield(L, -2, f.name);
  }
  static const char* const kMeta[][2] = {{"_NAME", "cmsgpack"},
                                         {"_VERSION", "lua-cmsgpack 0.4.0"},
                                         {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
                                         {"_DESCRIPTION", "MessagePack C implementation for Lua"}};
  for (const auto& m : kMeta) {
    lua_pushstring(L, m[1]);
    lua_setfield(L, -2, m[0]);
  }
  return 1;
}

}  // namespace docket::server::lua
