// The server's scripting state (Redis's eval.c context): the EVAL engine and its script cache
// (SHA1 -> body, shebang flags, compiled function), the client scripts run commands as, and the
// busy-script state dispatch consults (-BUSY) and SCRIPT KILL / FUNCTION KILL act on.
// Depends on server/script_lua.h, server/script_run.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/reply_writer.h"
#include "server/script_lua.h"
#include "server/script_run.h"

namespace docket::server {

class Client;
class Server;

// Redis's evalExtractShebangFlags: for a body starting with "#!", checks the engine (lua) and
// options (only flags=a,b,...) and sets *flags and *shebang_len (the first line, without its
// newline). A body without a shebang gets kScriptFlagEvalCompatMode. False with Redis's error
// text in *error ("Unexpected flag in script shebang: x", ...).
bool ParseShebang(std::string_view body, uint64_t* flags, size_t* shebang_len, std::string* error);

class Scripting {
 public:
  explicit Scripting(Server* server);
  ~Scripting();
  Scripting(const Scripting&) = delete;
  Scripting& operator=(const Scripting&) = delete;

  LuaEngine& eval_engine() { return *eval_engine_; }
  // The client scripts run their commands as (Redis's lua_client): never connected.
  Client& script_client() { return *script_client_; }

  // A script is running (a command it runs, or a client served while it runs long, sees it).
  bool running() const { return ScriptRun::current() != nullptr; }
  // It has run past busy-reply-threshold: other clients get BusyError() for everything but the
  // allow-busy commands.
  bool busy() const { return running() && ScriptRun::current()->timed_out(); }
  // "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
  // (FUNCTION KILL when the script is a function). REQUIRES: running().
  std::string_view BusyError() const;
  // SCRIPT KILL (is_eval) and FUNCTION KILL: Redis's scriptKill replies.
  void Kill(protocol::ReplyWriter& reply, bool is_eval);

  struct EvalScript {
    std::string body;
    uint64_t flags = 0;
    int function_ref = LUA_NOREF;  // the compiled chunk, in the engine's registry
  };
  // sha: 40 lowercase hex digits. nullptr when not cached.
  const EvalScript* FindEval(std::string_view sha) const;
  // Redis's luaCreateFunction: parses the shebang and compiles body once; *sha gets its SHA1.
  // nullptr with the error reply text in *error ("Error compiling script (new function): ...").
  const EvalScript* CreateEval(std::string_view body, std::string* sha, std::string* error);
  // SCRIPT FLUSH: a new engine and an empty cache.
  void FlushEval();
  size_t eval_scripts() const { return eval_cache_.size(); }
  // used_memory_scripts_eval: bodies, SHAs and their entries.
  size_t EvalScriptsMemory() const { return eval_scripts_mem_ + eval_cache_.size() * 64; }

 private:
  Server* server_;
  std::unique_ptr<LuaEngine> eval_engine_;
  std::unique_ptr<Client> script_client_;
  struct ShaHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, EvalScript, ShaHash, std::equal_to<>> eval_cache_;
  size_t eval_scripts_mem_ = 0;
};

}  // namespace docket::server
