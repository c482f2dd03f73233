// The command table: registration from Redis's metadata and case-insensitive lookup.
#include "server/command.h"

#include <cstdio>
#include <cstdlib>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/client.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {
namespace {

struct FlagName {
  std::string_view name;
  CommandFlag flag;
};

constexpr FlagName kFlagNames[] = {
    {"write", kCmdWrite},
    {"readonly", kCmdReadonly},
    {"denyoom", kCmdDenyOom},
    {"admin", kCmdAdmin},
    {"pubsub", kCmdPubsub},
    {"noscript", kCmdNoscript},
    {"blocking", kCmdBlocking},
    {"loading", kCmdLoading},
    {"stale", kCmdStale},
    {"skip_monitor", kCmdSkipMonitor},
    {"skip_slowlog", kCmdSkipSlowlog},
    {"fast", kCmdFast},
    {"no_auth", kCmdNoAuth},
    {"may_replicate", kCmdMayReplicate},
    {"no_multi", kCmdNoMulti},
    {"allow_busy", kCmdAllowBusy},
    {"movablekeys", kCmdMovableKeys},
};

}  // namespace

uint32_t ParseFlags(std::string_view redis_flags) {
  uint32_t flags = 0;
  while (!redis_flags.empty()) {
    size_t sp = redis_flags.find(' ');
    std::string_view word = redis_flags.substr(0, sp);
    for (const FlagName& f : kFlagNames) {
      if (f.name == word) flags |= f.flag;
    }
    if (sp == std::string_view::npos) break;
    redis_flags.remove_prefix(sp + 1);
  }
  return flags;
}

CommandSpec& CommandTable::Register(std::string_view name, CommandHandler handler) {
  const CommandMeta* meta = FindCommandMeta(name);
  if (meta == nullptr) {
    fprintf(stderr, "BUG: no Redis metadata for command '%.*s'\n", static_cast<int>(name.size()),
            name.data());
    abort();
  }
  CommandSpec& spec = RegisterCustom(name, meta->arity, ParseFlags(meta->flags), handler);
  spec.meta = meta;
  if (meta->movablekeys) spec.flags |= kCmdMovableKeys;
  return spec;
}

CommandSpec& CommandTable::RegisterCustom(std::string_view name, int arity, uint32_t flags,
                                          CommandHandler handler) {
  size_t bar = name.find('|');
  std::unique_ptr<CommandSpec> spec = std::make_unique<CommandSpec>();
  spec->name = std::string(name);
  spec->fullname = spec->name;
  spec->arity = arity;
  spec->flags = flags;
  spec->handler = handler;
  CommandSpec* raw = spec.get();
  if (bar == std::string_view::npos) {
    auto& slot = commands_[spec->name];
    if (slot != nullptr) {  // created earlier as a bare parent: keep its subcommands
      spec->subcommands = std::move(slot->subcommands);
      for (auto& [n, sub] : spec->subcommands) sub->parent = raw;
    }
    slot = std::move(spec);
    fast_[raw->name] = raw;
    return *raw;
  }
  std::string parent_name(name.substr(0, bar));
  CommandSpec* parent = Find(parent_name);
  if (parent == nullptr) parent = &Register(parent_name, nullptr);
  raw->parent = parent;
  parent->subcommands[std::string(name.substr(bar + 1))] = std::move(spec);
  return *raw;
}

CommandSpec* CommandTable::Find(std::string_view lowercase_name) const {
  auto it = fast_.find(lowercase_name);
  return it == fast_.end() ? nullptr : it->second;
}

CommandSpec* CommandTable::Lookup(std::span<const std::string_view> argv, bool* sub_unknown) const {
  *sub_unknown = false;
  if (argv.empty()) return nullptr;
  char buf[64];
  std::string_view name = argv[0];
  if (name.size() >= sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  auto it = fast_.find(std::string_view(buf, name.size()));
  if (it == fast_.end()) return nullptr;
  CommandSpec* spec = it->second;
  if (spec->subcommands.empty() || argv.size() < 2) return spec;
  auto sub = spec->subcommands.find(ToLower(argv[1]));
  if (sub == spec->subcommands.end()) {
    *sub_unknown = true;
    return spec;
  }
  return sub->second.get();
}

storage::Keyspace& CommandContext::keyspace() { return server.keyspace(); }
int64_t CommandContext::now_ms() { return server.keyspace().now_ms(); }

void CommandContext::KeyModified(std::string_view key) { KeyModified(db, key); }
void CommandContext::KeyModified(storage::Database& in_db, std::string_view key) {
  server.SignalModifiedKey(in_db.index(), key);
}

void CommandContext::Notify(char type, std::string_view event, std::string_view key) {
  server.NotifyKeyspaceEvent(type, event, key, db.index());
}
void CommandContext::Notify(char type, std::string_view event, std::string_view key, int db_index) {
  server.NotifyKeyspaceEvent(type, event, key, db_index);
}

void CommandContext::DeleteEmptied(std::string_view key) {
  db.Delete(key);
  Notify('g', "del", key);
}

bool CommandContext::ParseInt64(std::string_view arg, int64_t* out) {
  if (storage::StringToInt64(arg, out)) return true;
  reply.Error(protocol::errors::kNotInteger);
  return false;
}

storage::Value* CommandContext::LookupRead(std::string_view key) {
  storage::Value* v = db.Lookup(key);
  if (v != nullptr) {
    server.stats().keyspace_hits++;
  } else {
    server.stats().keyspace_misses++;
    server.NotifyKeyspaceEvent('m', "keymiss", key, db.index());
  }
  return v;
}

storage::Value* CommandContext::LookupWrite(std::string_view key) { return db.Lookup(key); }

storage::Value* CommandContext::LookupReadOfType(std::string_view key, storage::ValueType t,
                                                 bool* wrong) {
  storage::Value* v = LookupRead(key);
  *wrong = v != nullptr && v->type() != t;
  if (*wrong) reply.Error(protocol::errors::kWrongType);
  return *wrong ? nullptr : v;
}

storage::Value* CommandContext::LookupWriteOfType(std::string_view key, storage::ValueType t,
                                                  bool* wrong) {
  storage::Value* v = LookupWrite(key);
  *wrong = v != nullptr && v->type() != t;
  if (*wrong) reply.Error(protocol::errors::kWrongType);
  return *wrong ? nullptr : v;
}

void CommandContext::WrongArity() {
  std::string name = spec.fullname;
  reply.Error("wrong number of arguments for '" + name + "' command");
}

}  // namespace docket::server
