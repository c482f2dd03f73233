// The FUNCTION library registry (Redis 7.0's functions.c and function_lua.c): libraries loaded
// from `#!lua name=<lib>` code into their own Lua engine, the functions they register, the
// case-insensitive function namespace FCALL looks names up in, and RESTORE's joins.
// Depends on server/script_lua.h, server/script_run.h (flags) and server/script_sandbox.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/script_lua.h"

namespace docket::server {

struct Library;

struct FunctionInfo {
  std::string name;
  std::optional<std::string> description;
  uint64_t flags = 0;            // kScriptFlag* (no-writes, allow-oom, ...)
  int function_ref = LUA_NOREF;  // the callback, in the functions engine's registry
  const Library* library = nullptr;
};

struct Library {
  std::string name;
  std::string code;  // as FUNCTION LOAD got it, shebang included
  // Names are case-sensitive within a library (Redis's libraryFunctionDictType).
  std::map<std::string, std::unique_ptr<FunctionInfo>, std::less<>> functions;
};

// ASCII case-insensitive ordering: FCALL finds `F1` registered as `f1` (functionDictType).
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// Redis's functionsLibCtx: libraries by name and their functions by name.
struct LibraryCtx {
  std::map<std::string, std::unique_ptr<Library>, std::less<>> libraries;
  std::map<std::string, FunctionInfo*, CaseInsensitiveLess> functions;
  size_t functions_count = 0;  // FUNCTION STATS functions_count (per library, summed)

  void Link(std::unique_ptr<Library> lib);
  std::unique_ptr<Library> Unlink(std::string_view name);
};

enum class RestorePolicy { kFlush, kAppend, kReplace };

class Functions {
 public:
  Functions();
  ~Functions();
  Functions(const Functions&) = delete;
  Functions& operator=(const Functions&) = delete;

  LuaEngine& engine() { return *engine_; }
  const LibraryCtx& current() const { return current_; }
  // FCALL's lookup, case-insensitive. nullptr when there is no such function.
  const FunctionInfo* Find(std::string_view name) const;

  // FUNCTION LOAD [REPLACE]: compiles code and runs it with the load-time API (only
  // redis.register_function, redis.log and the version fields), stopping it after timeout_ms
  // (0: never). The library name, or nullopt with Redis's error text in *error.
  std::optional<std::string> Load(std::string_view code, bool replace, int64_t timeout_ms,
                                  std::string* error);
  // FUNCTION DELETE: false when there is no such library.
  bool Delete(std::string_view library_name);
  // FUNCTION FLUSH: every library goes, and the engine is created anew (as Redis does).
  void Flush();
  // FUNCTION RESTORE: the payload's libraries, all or none. False with Redis's error text.
  bool Restore(std::string_view payload, RestorePolicy policy, std::string* error);
  // FUNCTION DUMP.
  std::string Dump() const;

  // The AOF rewrite's head (rewriteFunctions): FUNCTION LOAD <code> per library, in RESP.
  void AppendRewrite(std::string& out) const;
  // used_memory_functions: names, codes, descriptions and their entries.
  size_t MemoryOverhead() const;

 private:
  // functionsCreateWithLibraryCtx: the library in code, into ctx.
  std::optional<std::string> Create(std::string_view code, bool replace, int64_t timeout_ms,
                                    LibraryCtx& ctx, std::string* error);
  // luaEngineCreate: compiles and runs body, the library registering into lib.
  bool RunLibraryCode(std::string_view body, Library* lib, int64_t timeout_ms, std::string* error);
  // libraryJoin: moves src's libraries into current_ (replacing same-named ones with replace).
  bool Join(LibraryCtx& src, bool replace, std::string* error);
  // Drops a library and its functions' references in the engine.
  void Free(std::unique_ptr<Library> lib);
  void FreeAll(LibraryCtx& ctx);
  void BuildLoadApi();
  static int LuaRegisterFunction(lua_State* L);

  std::unique_ptr<LuaEngine> engine_;
  int load_api_ref_ = LUA_NOREF;  // the globals a library sees while it loads
  LibraryCtx current_;
  Library* loading_ = nullptr;  // the library being loaded (register_function adds to it)
};

}  // namespace docket::server
