// The sandbox's readonly tables on stock Lua 5.1. Redis patches its VM with readonly tables; here
// scripts see each protected table through an empty proxy whose metatable reads from the real
// table and refuses writes ("Attempt to modify a readonly table"), and the builtins that bypass
// metatables (rawset, rawget, next, pairs, ipairs, getmetatable, setmetatable, table.insert,
// table.remove) know the proxies. loadstring/load refuse bytecode. Depends on Lua 5.1 only.
#pragma once

#include <lua.hpp>

namespace docket::server::sandbox {

// Creates the registry tables the proxies need and replaces the builtins above (and pcall, with
// Redis's: an error table {err=...} comes back as its message) in the current globals table.
// Call once per state, before the globals are locked.
void InstallBuiltins(lua_State* L);

// Pushes the readonly proxy of the table at idx, created on first use and then reused.
void PushReadonlyProxy(lua_State* L, int idx);

// __index of the real globals: raises "Script attempted to access nonexistent global variable
// '<name>'" (Redis's luaProtectedTableError).
int NonexistentGlobal(lua_State* L);

}  // namespace docket::server::sandbox
