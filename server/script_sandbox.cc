// Readonly proxies and the builtins that respect them (script_sandbox.h).
#include "server/script_sandbox.h"

#include <string>

namespace docket::server::sandbox {
namespace {

// Registry keys (their addresses are unique light userdata).
char kProxyToRealKey, kRealToProxyKey, kStockNextKey, kStockIpairsAuxKey;

constexpr char kReadonlyError[] = "Attempt to modify a readonly table";

void PushRegistry(lua_State* L, void* key) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}

void SetRegistry(lua_State* L, void* key) {  // pops the value
  lua_pushlightuserdata(L, key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

// If the value at idx is a readonly proxy, pushes the real table and returns true.
bool PushRealOfProxy(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  PushRegistry(L, &kProxyToRealKey);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

bool IsProxy(lua_State* L, int idx) {
  if (!PushRealOfProxy(L, idx)) return false;
  lua_pop(L, 1);
  return true;
}

// Raised without a position, as Redis's VM does from inside a C function.
[[noreturn]] void RaiseReadonly(lua_State* L) {
  lua_pushstring(L, kReadonlyError);
  lua_error(L);
  __builtin_unreachable();
}

int ProxyNewIndex(lua_State* L) { return luaL_error(L, kReadonlyError); }

int NonexistentGlobalImpl(lua_State* L) {
  if (lua_gettop(L) != 2) luaL_error(L, "Wrong number of arguments to luaProtectedTableError");
  if (!lua_isstring(L, -1) && !lua_isnumber(L, -1)) {
    luaL_error(L, "Second argument to luaProtectedTableError must be a string or number");
  }
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    lua_tostring(L, -1));
}

// A readonly view of the table at idx (one per table, kept in the registry).
void PushProxy(lua_State* L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  PushRegistry(L, &kRealToProxyKey);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_newtable(L);  // registry-real2proxy, proxy
  lua_newtable(L);  // its metatable
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ProxyNewIndex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, idx);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);  // real2proxy[real] = proxy
  PushRegistry(L, &kProxyToRealKey);
  lua_pushvalue(L, -2);
  lua_pushvalue(L, idx);
  lua_rawset(L, -3);  // proxy2real[proxy] = real
  lua_pop(L, 1);
  lua_remove(L, -2);
}

// ---- builtins that must see through proxies -------------------------------------------------

int RawSet(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (IsProxy(L, 1)) RaiseReadonly(L);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

int RawGet(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  if (PushRealOfProxy(L, 1)) lua_replace(L, 1);
  lua_settop(L, 2);
  lua_rawget(L, 1);
  return 1;
}

int SetMetatable(lua_State* L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
  if (IsProxy(L, 1)) RaiseReadonly(L);
  if (luaL_getmetafield(L, 1, "__metatable")) luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

int GetMetatable(lua_State* L) {
  luaL_checkany(L, 1);
  if (PushRealOfProxy(L, 1)) {  // a proxy shows the real table's metatable, readonly
    if (!lua_getmetatable(L, -1)) {
      lua_pushnil(L);
      return 1;
    }
    PushProxy(L, -1);
    return 1;
  }
  if (!lua_getmetatable(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  PushRegistry(L, &kRealToProxyKey);  // a protected metatable (strings') is shown readonly
  lua_pushvalue(L, -2);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 2);
  luaL_getmetafield(L, 1, "__metatable");  // returns __metatable if present, else the table
  return 1;
}

int Next(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (PushRealOfProxy(L, 1)) lua_replace(L, 1);
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

// pairs/ipairs return Lua's own iterators over the real table: no cost per step.
int Pairs(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  PushRegistry(L, &kStockNextKey);
  if (!PushRealOfProxy(L, 1)) lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int Ipairs(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  PushRegistry(L, &kStockIpairsAuxKey);
  if (!PushRealOfProxy(L, 1)) lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

// table.insert and table.remove as ltablib.c, refusing readonly tables.
int TableInsert(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int e = static_cast<int>(lua_objlen(L, 1)) + 1;
  int pos;
  switch (lua_gettop(L)) {
    case 2:
      pos = e;
      break;
    case 3:
      pos = luaL_checkint(L, 2);
      if (pos > e) e = pos;
      if (IsProxy(L, 1)) RaiseReadonly(L);
      for (int i = e; i > pos; i--) {
        lua_rawgeti(L, 1, i - 1);
        lua_rawseti(L, 1, i);
      }
      break;
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  if (IsProxy(L, 1)) RaiseReadonly(L);
  lua_rawseti(L, 1, pos);  // t[pos] = v, the last argument
  return 0;
}

int TableRemove(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int e = static_cast<int>(lua_objlen(L, 1));
  int pos = luaL_optint(L, 2, e);
  if (!(1 <= pos && pos <= e)) return 0;
  if (IsProxy(L, 1)) RaiseReadonly(L);
  lua_rawgeti(L, 1, pos);
  for (; pos < e; pos++) {
    lua_rawgeti(L, 1, pos + 1);
    lua_rawseti(L, 1, pos);
  }
  lua_pushnil(L);
  lua_rawseti(L, 1, e);
  return 1;
}

// loadstring and load as lbaselib.c, except that bytecode is parsed as text (Redis's Lua refuses
// precompiled chunks the same way: "unexpected symbol near 'char(27)'").
int LoadAux(lua_State* L, int status) {
  if (status == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

int LoadString(lua_State* L) {
  size_t l;
  const char* s = luaL_checklstring(L, 1, &l);
  const char* chunkname = luaL_optstring(L, 2, s);
  if (l > 0 && s[0] == '\x1b') {
    std::string text = " " + std::string(s, l);
    return LoadAux(L, luaL_loadbuffer(L, text.data(), text.size(), chunkname));
  }
  return LoadAux(L, luaL_loadbuffer(L, s, l, chunkname));
}

struct ReaderState {
  bool first = true;
  bool pending = false;  // the first piece was bytecode: a space went out before it
};

const char* GenericReader(lua_State* L, void* ud, size_t* size) {
  auto* st = static_cast<ReaderState*>(ud);
  if (st->pending) {
    st->pending = false;
    return lua_tolstring(L, 3, size);
  }
  luaL_checkstack(L, 2, "too many nested functions");
  lua_pushvalue(L, 1);
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) {
    *size = 0;
    return nullptr;
  }
  if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
  lua_replace(L, 3);
  const char* piece = lua_tolstring(L, 3, size);
  if (st->first && *size > 0 && piece[0] == '\x1b') {
    st->first = false;
    st->pending = true;
    *size = 1;
    return " ";
  }
  st->first = false;
  return piece;
}

int LuaLoad(lua_State* L) {
  const char* cname = luaL_optstring(L, 2, "=(load)");
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 3);
  ReaderState st;
  return LoadAux(L, lua_load(L, GenericReader, &st, cname));
}

// Redis's luaRedisPcall: an error table {err=...} comes back as its message.
int RedisPcallBuiltin(lua_State* L) {
  int argc = lua_gettop(L);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
    lua_remove(L, 1);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) {
        lua_replace(L, -2);
      } else {
        lua_pop(L, 1);
      }
    }
    lua_pushboolean(L, 0);
    lua_insert(L, 1);
  }
  return lua_gettop(L);
}

}  // namespace

int NonexistentGlobal(lua_State* L) { return NonexistentGlobalImpl(L); }

void PushReadonlyProxy(lua_State* L, int idx) { PushProxy(L, idx); }

void InstallBuiltins(lua_State* L) {
  for (void* key : {static_cast<void*>(&kProxyToRealKey), static_cast<void*>(&kRealToProxyKey)}) {
    lua_newtable(L);
    lua_newtable(L);  // weak keys: a proxy lives as long as its table
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    SetRegistry(L, key);
  }
  // Lua's own iterators, for pairs/ipairs over real tables.
  lua_getglobal(L, "pairs");
  lua_newtable(L);
  lua_call(L, 1, 1);  // pairs({}) returns next first
  SetRegistry(L, &kStockNextKey);
  lua_getglobal(L, "ipairs");
  lua_newtable(L);
  lua_call(L, 1, 1);
  SetRegistry(L, &kStockIpairsAuxKey);
  const luaL_Reg kBase[] = {{"pcall", RedisPcallBuiltin},
                            {"rawset", RawSet},
                            {"rawget", RawGet},
                            {"setmetatable", SetMetatable},
                            {"getmetatable", GetMetatable},
                            {"next", Next},
                            {"pairs", Pairs},
                            {"ipairs", Ipairs},
                            {"loadstring", LoadString},
                            {"load", LuaLoad}};
  for (const luaL_Reg& f : kBase) {
    lua_pushcfunction(L, f.func);
    lua_setglobal(L, f.name);
  }
  lua_getglobal(L, "table");
  lua_pushcfunction(L, TableInsert);
  lua_setfield(L, -2, "insert");
  lua_pushcfunction(L, TableRemove);
  lua_setfield(L, -2, "remove");
  lua_pop(L, 1);
}

}  // namespace docket::server::sandbox
