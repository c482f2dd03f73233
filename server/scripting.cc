// The server's scripting state (scripting.h): the EVAL script cache and engine, the script
// client, shebang parsing, busy-script errors and SCRIPT KILL / FUNCTION KILL.
#include "server/scripting.h"

#include <vector>

#include "server/client.h"
#include "server/config.h"
#include "server/lua/sha1.h"
#include "server/server.h"

namespace docket::server {

bool ParseShebang(std::string_view body, uint64_t* flags, size_t* shebang_len, std::string* error) {
  *flags = kScriptFlagEvalCompatMode;
  *shebang_len = 0;
  if (body.substr(0, 2) != "#!") return true;
  size_t end = body.find('\n');
  if (end == std::string_view::npos) {
    *error = "Invalid script shebang";
    return false;
  }
  std::vector<std::string> parts;
  if (!SplitConfigLine(body.substr(0, end), &parts) || parts.empty()) {
    *error = "Invalid engine in script shebang";
    return false;
  }
  if (parts[0] != "#!lua") {
    *error = "Unexpected engine in script shebang: " + parts[0];
    return false;
  }
  *flags = 0;
  for (size_t j = 1; j < parts.size(); j++) {
    if (parts[j].rfind("flags=", 0) != 0) {
      *error = "Unknown lua shebang option: " + parts[j];
      return false;
    }
    std::string_view list = std::string_view(parts[j]).substr(6);
    // sdssplitlen: "" has no flags, "a,,b" has an empty one.
    size_t pos = 0;
    while (!list.empty() && pos <= list.size()) {
      size_t comma = std::min(list.find(',', pos), list.size());
      std::string_view name = list.substr(pos, comma - pos);
      uint64_t flag = ScriptFlagByName(name);
      if (flag == 0) {
        *error = "Unexpected flag in script shebang: " + std::string(name);
        return false;
      }
      *flags |= flag;
      pos = comma + 1;
    }
  }
  *shebang_len = end;
  return true;
}

Scripting::Scripting(Server* server)
    : server_(server),
      eval_engine_(std::make_unique<LuaEngine>()),
      script_client_(std::make_unique<Client>(server, -1, 0)) {
  script_client_->set_authenticated(true);
  script_client_->Set(kClientDenyBlocking);  // blocking commands act as their non-blocking forms
  script_client_->set_addrs("lua", "");      // MONITOR shows its commands as "[db lua]"
}

Scripting::~Scripting() = default;

std::string_view Scripting::BusyError() const {
  return ScriptRun::current()->eval_mode()
             ? "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
               "NOSAVE."
             : "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
               "SHUTDOWN NOSAVE.";
}

void Scripting::Kill(protocol::ReplyWriter& reply, bool is_eval) {
  ScriptRun* run = ScriptRun::current();
  if (run == nullptr) return reply.Error("-NOTBUSY No scripts in execution right now.");
  if (run->wrote()) {
    return reply.Error(
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You "
        "can either wait the script termination or kill the server in a hard way using the "
        "SHUTDOWN NOSAVE command.");
  }
  if (is_eval != run->eval_mode()) return reply.Error(BusyError());
  run->Kill();
  reply.Ok();
}

const Scripting::EvalScript* Scripting::FindEval(std::string_view sha) const {
  auto it = eval_cache_.find(sha);
  return it == eval_cache_.end() ? nullptr : &it->second;
}

const Scripting::EvalScript* Scripting::CreateEval(std::string_view body, std::string* sha,
                                                   std::string* error) {
  *sha = lua::Sha1Hex(body);
  if (const EvalScript* found = FindEval(*sha)) return found;
  EvalScript script;
  size_t shebang_len;
  if (!ParseShebang(body, &script.flags, &shebang_len, error)) return nullptr;
  // The shebang line goes, its newline stays: line numbers in errors match the script's.
  std::string lua_error;
  if (!eval_engine_->Load(body.substr(shebang_len), "@user_script", &lua_error)) {
    *error = "Error compiling script (new function): " + lua_error;
    return nullptr;
  }
  script.function_ref = luaL_ref(eval_engine_->state(), LUA_REGISTRYINDEX);
  script.body = body;
  eval_scripts_mem_ += sha->size() + body.size();
  return &eval_cache_.emplace(*sha, std::move(script)).first->second;
}

void Scripting::FlushEval() {
  eval_cache_.clear();
  eval_scripts_mem_ = 0;
  eval_engine_ = std::make_unique<LuaEngine>();
}

}  // namespace docket::server
