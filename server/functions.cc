// The FUNCTION library registry (functions.h): library metadata, the load-time Lua environment
// and redis.register_function (function_lua.c), library creation, joins and RESTORE.
#include "server/functions.h"

#include <chrono>
#include <cstring>

#include "server/args.h"
#include "server/config.h"
#include "server/function_dump.h"
#include "server/script_run.h"
#include "server/script_sandbox.h"

namespace docket::server {
namespace {

constexpr char kLibraryNameError[] =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long";

int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The load in progress, for the timeout hook (luaEngineLoadHook).
struct LoadClock {
  int64_t start_us;
  int64_t timeout_ms;
};
LoadClock* load_clock = nullptr;

void LoadHook(lua_State* L, lua_Debug*) {
  if (load_clock == nullptr || load_clock->timeout_ms <= 0) return;
  if ((MonotonicUs() - load_clock->start_us) / 1000 <= load_clock->timeout_ms) return;
  lua_sethook(L, LoadHook, LUA_MASKLINE, 0);  // a pcall in the code cannot swallow it
  LuaEngine::PushError(L, "FUNCTION LOAD timeout");
  LuaEngine::Raise(L);
}

// functionsVerifyName: [a-zA-Z0-9_]+.
bool VerifyName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// functionExtractLibMetaData: "#!<engine> name=<name>\n<body>". The body keeps its leading
// newline, so error lines count from the shebang.
bool ExtractMetadata(std::string_view code, std::string* engine, std::string* name,
                     std::string_view* body, std::string* error) {
  if (code.substr(0, 2) != "#!") {
    *error = "Missing library metadata";
    return false;
  }
  size_t end = CString(code).find('\n');  // strchr on the C string
  std::vector<std::string> parts;
  if (end == std::string_view::npos || !SplitConfigLine(code.substr(0, end), &parts) ||
      parts.empty()) {
    *error = "Invalid library metadata";
    return false;
  }
  *engine = parts[0].substr(std::min<size_t>(2, parts[0].size()));
  bool has_name = false;
  for (size_t i = 1; i < parts.size(); i++) {
    if (parts[i].size() >= 5 &&
        EqualsIgnoreCase(std::string_view(parts[i]).substr(0, 5), "name=")) {
      if (has_name) {
        *error = "Invalid metadata value, name argument was given multiple times";
        return false;
      }
      *name = parts[i].substr(5);
      has_name = true;
      continue;
    }
    *error = "Invalid metadata value given: " + std::string(CString(parts[i]));
    return false;
  }
  if (!has_name) {
    *error = "Library name was not given";
    return false;
  }
  *body = code.substr(end);
  return true;
}

// Pushes {err="ERR <text>"} and raises it.
[[noreturn]] void RaiseError(lua_State* L, std::string_view text) {
  LuaEngine::PushError(L, text);
  LuaEngine::Raise(L);
}

// The string at idx as Redis's luaGetStringSds (numbers convert), or false.
bool GetString(lua_State* L, int idx, std::string* out) {
  if (!lua_isstring(L, idx)) return false;
  size_t len;
  const char* s = lua_tolstring(L, idx, &len);
  out->assign(s, len);
  return true;
}

// luaRegisterFunctionReadFlags: the table on top holds flag names at 1, 2, ... until a nil.
bool ReadFlags(lua_State* L, uint64_t* flags) {
  *flags = 0;
  for (int j = 1;; j++) {
    lua_pushnumber(L, j);
    lua_gettable(L, -2);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return true;
    }
    std::string name;
    bool ok = GetString(L, -1, &name);
    lua_pop(L, 1);
    if (!ok) return false;
    uint64_t flag = 0;
    for (const ScriptFlagName& f : kScriptFlagNames) {
      if (OptionIs(name, f.name)) flag = f.flag;
    }
    if (flag == 0) return false;
    *flags |= flag;
  }
}

struct RegisterArgs {
  std::string name;
  std::optional<std::string> description;
  uint64_t flags = 0;
  int ref = LUA_NOREF;
};

// luaRegisterFunctionReadNamedArgs: "" or the error text (any callback reference is dropped).
std::string ReadNamedArgs(lua_State* L, RegisterArgs* args) {
  if (!lua_istable(L, 1)) {
    return "calling redis.register_function with a single argument is only applicable to Lua "
           "table (representing named arguments).";
  }
  bool has_name = false;
  lua_pushnil(L);
  while (lua_next(L, 1)) {  // table, key, value
    if (!lua_isstring(L, -2)) {
      return "named argument key given to redis.register_function is not a string";
    }
    lua_pushvalue(L, -2);  // a copy: converting a number key in place would break lua_next
    std::string key = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (OptionIs(key, "function_name")) {
      if (!GetString(L, -1, &args->name)) {
        return "function_name argument given to redis.register_function must be a string";
      }
      has_name = true;
    } else if (OptionIs(key, "description")) {
      std::string desc;
      if (!GetString(L, -1, &desc)) {
        return "description argument given to redis.register_function must be a string";
      }
      args->description = std::move(desc);
    } else if (OptionIs(key, "callback")) {
      if (!lua_isfunction(L, -1)) {
        return "callback argument given to redis.register_function must be a function";
      }
      if (args->ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, args->ref);
      args->ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the value
      continue;
    } else if (OptionIs(key, "flags")) {
      if (!lua_istable(L, -1)) {
        return "flags argument to redis.register_function must be a table representing function "
               "flags";
      }
      if (!ReadFlags(L, &args->flags)) return "unknown flag given";
    } else {
      return "unknown argument given to redis.register_function";
    }
    lua_pop(L, 1);
  }
  if (!has_name) return "redis.register_function must get a function name argument";
  if (args->ref == LUA_NOREF) return "redis.register_function must get a callback argument";
  return "";
}

// luaRegisterFunctionReadArgs: positional (name, callback) or one table of named arguments.
std::string ReadRegisterArgs(lua_State* L, RegisterArgs* args) {
  int argc = lua_gettop(L);
  if (argc < 1 || argc > 2) return "wrong number of arguments to redis.register_function";
  if (argc == 1) return ReadNamedArgs(L, args);
  if (!GetString(L, 1, &args->name)) {
    return "first argument to redis.register_function must be a string";
  }
  if (!lua_isfunction(L, 2)) return "second argument to redis.register_function must be a function";
  args->ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the callback
  return "";
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; i++) {
    int ca = tolower(static_cast<unsigned char>(a[i]));
    int cb = tolower(static_cast<unsigned char>(b[i]));
    if (ca != cb) return ca < cb;
  }
  return a.size() < b.size();
}

void LibraryCtx::Link(std::unique_ptr<Library> lib) {
  for (auto& [name, fn] : lib->functions) functions.emplace(name, fn.get());  // first one wins
  functions_count += lib->functions.size();
  std::string name = lib->name;
  libraries.emplace(std::move(name), std::move(lib));
}

std::unique_ptr<Library> LibraryCtx::Unlink(std::string_view name) {
  auto it = libraries.find(name);
  if (it == libraries.end()) return nullptr;
  std::unique_ptr<Library> lib = std::move(it->second);
  libraries.erase(it);
  for (auto& [fn_name, fn] : lib->functions) {
    auto f = functions.find(fn_name);
    if (f != functions.end() && f->second == fn.get()) functions.erase(f);
  }
  functions_count -= lib->functions.size();
  return lib;
}

Functions::Functions() : engine_(std::make_unique<LuaEngine>()) { BuildLoadApi(); }

Functions::~Functions() = default;

// The globals a library's code sees while it loads (luaEngineInitEngine's LIBRARY_API): only
// `redis`, holding register_function, log, the LOG_* levels and the version; any other name
// raises "Script attempted to access nonexistent global variable", and both tables are readonly.
void Functions::BuildLoadApi() {
  lua_State* L = engine_->state();
  auto set_error_metatable = [&](int idx) {
    lua_newtable(L);
    lua_pushcfunction(L, sandbox::NonexistentGlobal);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, idx);
  };
  lua_newtable(L);  // the globals
  int api = lua_gettop(L);
  lua_newtable(L);  // their redis table
  int redis = lua_gettop(L);
  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, &Functions::LuaRegisterFunction, 1);
  lua_setfield(L, redis, "register_function");
  engine_->PushRealGlobals();
  lua_getfield(L, -1, "redis");  // the runtime redis table
  for (const char* name : {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                           "REDIS_VERSION", "REDIS_VERSION_NUM"}) {
    lua_getfield(L, -1, name);
    lua_setfield(L, redis, name);
  }
  lua_pop(L, 2);
  set_error_metatable(redis);
  engine_->PushReadonlyProxy(redis);
  lua_setfield(L, api, "redis");
  lua_pop(L, 1);  // the redis table (the proxy keeps it)
  set_error_metatable(api);
  load_api_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
}

int Functions::LuaRegisterFunction(lua_State* L) {
  auto* self = static_cast<Functions*>(lua_touserdata(L, lua_upvalueindex(1)));
  if (self->loading_ == nullptr) {
    RaiseError(L, "redis.register_function can only be called on FUNCTION LOAD command");
  }
  RegisterArgs args;
  std::string err = ReadRegisterArgs(L, &args);
  if (err.empty() && !VerifyName(args.name)) err = kLibraryNameError;  // sic, as Redis 7.0
  if (err.empty() && self->loading_->functions.count(args.name) != 0) {
    err = "Function already exists in the library";
  }
  if (!err.empty()) {
    if (args.ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, args.ref);
    RaiseError(L, err);
  }
  auto fn = std::make_unique<FunctionInfo>();
  fn->name = args.name;
  fn->description = std::move(args.description);
  fn->flags = args.flags;
  fn->function_ref = args.ref;
  fn->library = self->loading_;
  self->loading_->functions.emplace(std::move(args.name), std::move(fn));
  return 0;
}

bool Functions::RunLibraryCode(std::string_view body, Library* lib, int64_t timeout_ms,
                               std::string* error) {
  lua_State* L = engine_->state();
  auto set_globals_index = [&](bool load_api) {
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    if (load_api) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, load_api_ref_);
    } else {
      engine_->PushRealGlobals();
    }
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  };
  set_globals_index(true);
  std::string lua_error;
  bool ok = engine_->Load(body, "@user_function", &lua_error);
  if (!ok) {
    *error = "Error compiling function: " + lua_error;
  } else {
    LoadClock clock{MonotonicUs(), timeout_ms};
    load_clock = &clock;
    loading_ = lib;
    lua_sethook(L, LoadHook, LUA_MASKCOUNT, 100000);
    if (lua_pcall(L, 0, 0, 0) != 0) {  // luaExtractErrorInformation
      std::string msg = "(null)";
      if (lua_isstring(L, -1)) {
        msg = "ERR " + std::string(lua_tostring(L, -1));
      } else if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        if (lua_isstring(L, -1)) msg = lua_tostring(L, -1);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      *error = "Error registering functions: " + msg;
      ok = false;
    }
    lua_sethook(L, nullptr, 0, 0);
    load_clock = nullptr;
    loading_ = nullptr;
  }
  set_globals_index(false);
  return ok;
}

std::optional<std::string> Functions::Create(std::string_view code, bool replace,
                                             int64_t timeout_ms, LibraryCtx& ctx,
                                             std::string* error) {
  std::string engine_name, name;
  std::string_view body;
  if (!ExtractMetadata(code, &engine_name, &name, &body, error)) return std::nullopt;
  if (!VerifyName(name)) {
    *error = kLibraryNameError;
    return std::nullopt;
  }
  if (!OptionIs(engine_name, "lua")) {
    *error = "Engine '" + engine_name + "' not found";
    return std::nullopt;
  }
  bool exists = ctx.libraries.count(name) != 0;
  if (exists && !replace) {
    *error = "Library '" + name + "' already exists";
    return std::nullopt;
  }
  std::unique_ptr<Library> old = exists ? ctx.Unlink(name) : nullptr;
  auto lib = std::make_unique<Library>();
  lib->name = name;
  lib->code = code;
  bool ok = RunLibraryCode(body, lib.get(), timeout_ms, error);
  if (ok && lib->functions.empty()) {
    *error = "No functions registered";
    ok = false;
  }
  for (auto it = lib->functions.begin(); ok && it != lib->functions.end(); ++it) {
    if (ctx.functions.count(it->first) != 0) {
      *error = "Function " + it->first + " already exists";
      ok = false;
    }
  }
  if (!ok) {
    Free(std::move(lib));
    if (old != nullptr) ctx.Link(std::move(old));
    return std::nullopt;
  }
  ctx.Link(std::move(lib));
  if (old != nullptr) Free(std::move(old));
  return name;
}

std::optional<std::string> Functions::Load(std::string_view code, bool replace, int64_t timeout_ms,
                                           std::string* error) {
  return Create(code, replace, timeout_ms, current_, error);
}

const FunctionInfo* Functions::Find(std::string_view name) const {
  auto it = current_.functions.find(name);
  return it == current_.functions.end() ? nullptr : it->second;
}

bool Functions::Delete(std::string_view library_name) {
  std::unique_ptr<Library> lib = current_.Unlink(library_name);
  if (lib == nullptr) return false;
  Free(std::move(lib));
  return true;
}

void Functions::Free(std::unique_ptr<Library> lib) {
  for (auto& [name, fn] : lib->functions) {
    luaL_unref(engine_->state(), LUA_REGISTRYINDEX, fn->function_ref);
  }
}

void Functions::FreeAll(LibraryCtx& ctx) {
  while (!ctx.libraries.empty()) Free(ctx.Unlink(ctx.libraries.begin()->first));
}

void Functions::Flush() {
  current_ = LibraryCtx{};  // the references die with the old engine
  engine_ = std::make_unique<LuaEngine>();
  BuildLoadApi();
}

bool Functions::Join(LibraryCtx& src, bool replace, std::string* error) {
  std::vector<std::unique_ptr<Library>> replaced;
  bool ok = true;
  for (auto it = src.libraries.begin(); ok && it != src.libraries.end(); ++it) {
    if (current_.libraries.count(it->first) == 0) continue;
    if (!replace) {
      *error = "Library " + it->first + " already exists";
      ok = false;
    } else {
      replaced.push_back(current_.Unlink(it->first));
    }
  }
  for (auto it = src.functions.begin(); ok && it != src.functions.end(); ++it) {
    if (current_.functions.count(it->first) != 0) {
      *error = "Function " + it->first + " already exists";
      ok = false;
    }
  }
  if (!ok) {
    for (auto& lib : replaced) current_.Link(std::move(lib));
    return false;
  }
  while (!src.libraries.empty()) current_.Link(src.Unlink(src.libraries.begin()->first));
  for (auto& lib : replaced) Free(std::move(lib));
  return true;
}

bool Functions::Restore(std::string_view payload, RestorePolicy policy, std::string* error) {
  FunctionsPayloadReader reader(payload);
  if (!reader.Verify(error)) return false;
  LibraryCtx restored;
  std::string code;
  for (;;) {
    FunctionsPayloadReader::Status status = reader.Next(&code, error);
    if (status == FunctionsPayloadReader::Status::kDone) break;
    // Restored code already passed a FUNCTION LOAD somewhere: no load timeout, as Redis.
    if (status == FunctionsPayloadReader::Status::kError ||
        !Create(code, false, 0, restored, error)) {
      FreeAll(restored);
      return false;
    }
  }
  if (policy == RestorePolicy::kFlush) {
    FreeAll(current_);
    current_ = std::move(restored);
    return true;
  }
  if (!Join(restored, policy == RestorePolicy::kReplace, error)) {
    FreeAll(restored);
    return false;
  }
  return true;
}

std::string Functions::Dump() const {
  std::vector<std::string_view> codes;
  for (const auto& [name, lib] : current_.libraries) codes.push_back(lib->code);
  return BuildFunctionsPayload(codes);
}

void Functions::AppendRewrite(std::string& out) const {
  for (const auto& [name, lib] : current_.libraries) {
    out += "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$" + std::to_string(lib->code.size()) + "\r\n";
    out += lib->code;
    out += "\r\n";
  }
}

size_t Functions::MemoryOverhead() const {
  size_t total = sizeof(LibraryCtx);
  for (const auto& [name, lib] : current_.libraries) {
    total += sizeof(Library) + 2 * name.size() + lib->code.size() + 64;
    for (const auto& [fn_name, fn] : lib->functions) {
      total += sizeof(FunctionInfo) + 3 * fn_name.size() + 96;
      if (fn->description) total += fn->description->size();
    }
  }
  return total;
}

}  // namespace docket::server
