// Lua libraries Redis embeds that Debian does not package with Redis's API: cmsgpack (MessagePack,
// after Redis's deps/lua/src/lua_cmsgpack.c) and struct (after lua_struct.c). Each opener leaves
// the library table on the stack and sets no global. Depends on Lua 5.1 only.
#pragma once

#include <lua.hpp>

namespace docket::server::lua {

// cmsgpack.pack(...), unpack(s), unpack_one(s [, offset]), unpack_limit(s, limit [, offset]).
int OpenCmsgpack(lua_State* L);
// struct.pack(fmt, ...), unpack(fmt, s [, pos]), size(fmt).
int OpenStruct(lua_State* L);

}  // namespace docket::server::lua
