// struct for the scripting sandbox: binary pack/unpack/size as Redis 7.0 ships it, ported from
// Redis's deps/lua/src/lua_struct.c (Roberto Ierusalimschy's struct 1.4, Copyright (C) 2010-2012
// Lua.org, PUC-Rio, MIT licence, with Redis's overflow checks). Depends on Lua 5.1 only.
//
// Formats: > big endian, < little endian, ![n] alignment, x padding, b/B byte, h/H short,
// l/L long, T size_t, i/In int of n bytes, cn n chars (c0: whole string / previous number),
// s zero-terminated string, f float, d double, ' ' ignored.
#include <cctype>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "server/lua/lua_libs.h"

namespace docket::server::lua {
namespace {

constexpr int kMaxIntSize = 32;
constexpr int kMaxAlign = 8;  // Redis's MAXALIGN on x86-64: the padding before a double
enum Endian { kBig = 0, kLittle = 1 };
constexpr int kNativeEndian = kLittle;

struct Header {
  int endian = kNativeEndian;
  int align = 1;
};

bool IsPowerOf2(int x) { return x > 0 && (x & (x - 1)) == 0; }

int GetNum(lua_State* L, const char** fmt, int df) {
  if (!isdigit(static_cast<unsigned char>(**fmt))) return df;
  int a = 0;
  do {
    if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0'))) {
      luaL_error(L, "integral size overflow");
    }
    a = a * 10 + *((*fmt)++) - '0';
  } while (isdigit(static_cast<unsigned char>(**fmt)));
  return a;
}

size_t OptSize(lua_State* L, char opt, const char** fmt) {
  switch (opt) {
    case 'B':
    case 'b':
      return sizeof(char);
    case 'H':
    case 'h':
      return sizeof(short);
    case 'L':
    case 'l':
      return sizeof(long);
    case 'T':
      return sizeof(size_t);
    case 'f':
      return sizeof(float);
    case 'd':
      return sizeof(double);
    case 'x':
      return 1;
    case 'c':
      return GetNum(L, fmt, 1);
    case 'i':
    case 'I': {
      int sz = GetNum(L, fmt, sizeof(int));
      if (sz > kMaxIntSize) {
        luaL_error(L, "integral size %d is larger than limit of %d", sz, kMaxIntSize);
      }
      return sz;
    }
    default:
      return 0;  // other options need no alignment
  }
}

// Bytes needed to align an element of `size` at position len.
int GetToAlign(size_t len, const Header& h, int opt, size_t size) {
  if (size == 0 || opt == 'c') return 0;
  if (size > static_cast<size_t>(h.align)) size = h.align;
  return static_cast<int>((size - (len & (size - 1))) & (size - 1));
}

void ControlOptions(lua_State* L, int opt, const char** fmt, Header* h) {
  switch (opt) {
    case ' ':
      return;
    case '>':
      h->endian = kBig;
      return;
    case '<':
      h->endian = kLittle;
      return;
    case '!': {
      int a = GetNum(L, fmt, kMaxAlign);
      if (!IsPowerOf2(a)) luaL_error(L, "alignment %d is not a power of 2", a);
      h->align = a;
      return;
    }
    default: {
      const char* msg = lua_pushfstring(L, "invalid format option '%c'", opt);
      luaL_argerror(L, 1, msg);
    }
  }
}

void PutInteger(lua_State* L, luaL_Buffer* b, int arg, int endian, int size) {
  lua_Number n = luaL_checknumber(L, arg);
  // C's (unsigned long)(long)n and (unsigned long)n, without undefined behaviour out of range.
  uint64_t value;
  if (n < 0) {
    value = n >= -9223372036854775808.0 ? static_cast<uint64_t>(static_cast<int64_t>(n))
                                        : uint64_t{1} << 63;
  } else {
    value = n < 18446744073709551616.0 ? static_cast<uint64_t>(n) : 0;
  }
  char buff[kMaxIntSize];
  for (int i = 0; i < size; i++) {
    buff[endian == kLittle ? i : size - 1 - i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  luaL_addlstring(b, buff, size);
}

void CorrectBytes(char* b, int size, int endian) {
  if (endian == kNativeEndian) return;
  int i = 0;
  while (i < --size) {
    char temp = b[i];
    b[i++] = b[size];
    b[size] = temp;
  }
}

int Pack(lua_State* L) {
  luaL_Buffer b;
  const char* fmt = luaL_checkstring(L, 1);
  Header h;
  int arg = 2;
  size_t totalsize = 0;
  lua_pushnil(L);  // separates the arguments from the string buffer
  luaL_buffinit(L, &b);
  while (*fmt != '\0') {
    int opt = *fmt++;
    size_t size = OptSize(L, static_cast<char>(opt), &fmt);
    int toalign = GetToAlign(totalsize, h, opt, size);
    totalsize += toalign;
    while (toalign-- > 0) luaL_addchar(&b, '\0');
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I':
        PutInteger(L, &b, arg++, h.endian, static_cast<int>(size));
        break;
      case 'x':
        luaL_addchar(&b, '\0');
        break;
      case 'f': {
        float f = static_cast<float>(luaL_checknumber(L, arg++));
        CorrectBytes(reinterpret_cast<char*>(&f), static_cast<int>(size), h.endian);
        luaL_addlstring(&b, reinterpret_cast<char*>(&f), size);
        break;
      }
      case 'd': {
        double d = luaL_checknumber(L, arg++);
        CorrectBytes(reinterpret_cast<char*>(&d), static_cast<int>(size), h.endian);
        luaL_addlstring(&b, reinterpret_cast<char*>(&d), size);
        break;
      }
      case 'c':
      case 's': {
        size_t l;
        const char* s = luaL_checklstring(L, arg++, &l);
        if (size == 0) size = l;
        luaL_argcheck(L, l >= size, arg, "string too short");
        luaL_addlstring(&b, s, size);
        if (opt == 's') {
          luaL_addchar(&b, '\0');
          size++;
        }
        break;
      }
      default:
        ControlOptions(L, opt, &fmt, &h);
    }
    totalsize += size;
  }
  luaL_pushresult(&b);
  return 1;
}

lua_Number GetInteger(const char* buff, int endian, bool is_signed, int size) {
  uint64_t l = 0;
  for (int i = 0; i < size; i++) {
    l <<= 8;
    l |= static_cast<unsigned char>(buff[endian == kBig ? i : size - 1 - i]);
  }
  if (!is_signed) return static_cast<lua_Number>(l);
  // x86 masks the shift count: keeps Redis's result for sizes past 8 bytes.
  uint64_t mask = ~uint64_t{0} << ((size * 8 - 1) & 63);
  if (l & mask) l |= mask;
  return static_cast<lua_Number>(static_cast<int64_t>(l));
}

bool Fits(size_t pos, size_t size, size_t ld) { return size <= ld && pos <= ld - size; }

int Unpack(lua_State* L) {
  Header h;
  const char* fmt = luaL_checkstring(L, 1);
  size_t ld;
  const char* data = luaL_checklstring(L, 2, &ld);
  size_t pos = static_cast<size_t>(luaL_optinteger(L, 3, 1)) - 1;
  lua_settop(L, 2);
  while (*fmt) {
    int opt = *fmt++;
    size_t size = OptSize(L, static_cast<char>(opt), &fmt);
    pos += GetToAlign(pos, h, opt, size);
    luaL_argcheck(L, Fits(pos, size, ld), 2, "data string too short");
    luaL_checkstack(L, 1, "too many results");
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I':
        lua_pushnumber(L, GetInteger(data + pos, h.endian, islower(opt), static_cast<int>(size)));
        break;
      case 'x':
        break;
      case 'f': {
        float f;
        memcpy(&f, data + pos, size);
        CorrectBytes(reinterpret_cast<char*>(&f), sizeof(f), h.endian);
        lua_pushnumber(L, f);
        break;
      }
      case 'd': {
        double d;
        memcpy(&d, data + pos, size);
        CorrectBytes(reinterpret_cast<char*>(&d), sizeof(d), h.endian);
        lua_pushnumber(L, d);
        break;
      }
      case 'c': {
        if (size == 0) {
          if (!lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
          double n = lua_tonumber(L, -1);
          size = n >= 0 && n < 1.8e19 ? static_cast<size_t>(n) : SIZE_MAX;
          lua_pop(L, 1);
          luaL_argcheck(L, Fits(pos, size, ld), 2, "data string too short");
        }
        lua_pushlstring(L, data + pos, size);
        break;
      }
      case 's': {
        const char* e = static_cast<const char*>(memchr(data + pos, '\0', ld - pos));
        if (e == nullptr) luaL_error(L, "unfinished string in data");
        size = (e - (data + pos)) + 1;
        lua_pushlstring(L, data + pos, size - 1);
        break;
      }
      default:
        ControlOptions(L, opt, &fmt, &h);
    }
    pos += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(pos + 1));
  return lua_gettop(L) - 2;
}

int Size(lua_State* L) {
  Header h;
  const char* fmt = luaL_checkstring(L, 1);
  size_t pos = 0;
  while (*fmt) {
    int opt = *fmt++;
    size_t size = OptSize(L, static_cast<char>(opt), &fmt);
    pos += GetToAlign(pos, h, opt, size);
    if (opt == 's') {
      luaL_argerror(L, 1, "option 's' has no fixed size");
    } else if (opt == 'c' && size == 0) {
      luaL_argerror(L, 1, "option 'c0' has no fixed size");
    }
    if (!isalnum(opt)) ControlOptions(L, opt, &fmt, &h);
    pos += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(pos));
  return 1;
}

}  // namespace

int OpenStruct(lua_State* L) {
  static const luaL_Reg kFuncs[] = {{"pack", Pack}, {"unpack", Unpack}, {"size", Size}};
  lua_newtable(L);
  for (const luaL_Reg& f : kFuncs) {
    lua_pushcfunction(L, f.func);
    lua_setfield(L, -2, f.name);
  }
  return 1;
}

}  // namespace docket::server::lua
