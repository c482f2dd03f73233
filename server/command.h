// The command table: each command's spec (arity, flags, key positions, taken from Redis's own
// COMMAND INFO through command_meta) and its handler, plus the context a handler runs in.
// Families register themselves explicitly: RegisterStringCommands(table), ...
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/reply_writer.h"
#include "server/command_meta.h"
#include "storage/keyspace.h"

namespace docket::server {

class Server;
class Client;
struct CommandSpec;

// Redis's command flags, as bits.
enum CommandFlag : uint32_t {
  kCmdWrite = 1 << 0,
  kCmdReadonly = 1 << 1,
  kCmdDenyOom = 1 << 2,
  kCmdAdmin = 1 << 3,
  kCmdPubsub = 1 << 4,
  kCmdNoscript = 1 << 5,
  kCmdBlocking = 1 << 6,
  kCmdLoading = 1 << 7,
  kCmdStale = 1 << 8,
  kCmdSkipMonitor = 1 << 9,
  kCmdSkipSlowlog = 1 << 10,
  kCmdFast = 1 << 11,
  kCmdNoAuth = 1 << 12,
  kCmdMayReplicate = 1 << 13,
  kCmdNoMulti = 1 << 14,
  kCmdAllowBusy = 1 << 15,
  kCmdMovableKeys = 1 << 16,
};

// What a handler gets: the arguments, the reply writer, the client's database, and the hooks a
// write uses (dirty count, propagation rewrite, keyspace events, modified keys).
struct CommandContext {
  CommandContext(Server& s, Client& c, std::span<const std::string_view> args,
                 protocol::ReplyWriter& r, storage::Database& d, const CommandSpec& sp)
      : server(s), client(c), argv(args), reply(r), db(d), spec(sp) {}

  Server& server;
  Client& client;
  std::span<const std::string_view> argv;
  protocol::ReplyWriter& reply;
  storage::Database& db;
  const CommandSpec& spec;

  size_t argc() const { return argv.size(); }
  std::string_view arg(size_t i) const { return argv[i]; }
  storage::Keyspace& keyspace();
  int64_t now_ms();

  // A write that changed data: counts toward `dirty` and makes the command propagate.
  void Dirty(int64_t n = 1) { dirty += n; }
  // Propagate this instead of argv (e.g. SET EX as SET PXAT, BLPOP as LPOP).
  void RewriteArgv(std::vector<std::string> args) { rewritten = std::move(args); }
  // Propagate an extra command after this one (e.g. DEL for a lazily expired key).
  void AlsoPropagate(std::vector<std::string> args) { extra.push_back(std::move(args)); }
  // A key's value changed: invalidates WATCH, wakes clients blocked on it.
  void KeyModified(std::string_view key);
  void KeyModified(storage::Database& in_db, std::string_view key);
  // A keyspace event (notify-keyspace-events): type is one of Redis's class letters.
  void Notify(char type, std::string_view event, std::string_view key);
  void Notify(char type, std::string_view event, std::string_view key, int db_index);
  // A collection command left key's collection empty: deletes key, with Redis's `del` event.
  void DeleteEmptied(std::string_view key);
  // getLongLongFromObjectOrReply: false after replying "value is not an integer or out of range".
  bool ParseInt64(std::string_view arg, int64_t* out);
  // Replies "-ERR wrong number of arguments for '<name>' command".
  void WrongArity();

  // Key lookups as Redis's lookupKeyRead / lookupKeyWrite: lazy expiry, the access clock, and
  // (for reads) keyspace_hits / keyspace_misses. nullptr when the key does not exist.
  storage::Value* LookupRead(std::string_view key);
  storage::Value* LookupWrite(std::string_view key);
  // Lookup for a command that needs type t: replies WRONGTYPE and sets *wrong when the key holds
  // another type. nullptr when missing or wrong.
  storage::Value* LookupReadOfType(std::string_view key, storage::ValueType t, bool* wrong);
  storage::Value* LookupWriteOfType(std::string_view key, storage::ValueType t, bool* wrong);

  // Blocking commands (BLPOP, BLMOVE, ...). CanBlock() is false inside MULTI and scripts: the
  // command then behaves as its non-blocking form (the timeout reply at once).
  bool CanBlock() const;
  // Blocks the client on keys until one of them, holding a value of `type`, is modified, or the
  // deadline passes (unix ms, 0 = forever). When such a key changes, the same argv is run again,
  // after the command or transaction that changed it has finished, with reprocessing = true:
  // the handler serves and replies, or calls Block again to keep its place in the queue. At the
  // deadline the client gets a null array (Redis's timeout reply for every blocking pop). As in
  // Redis 7.0, a key that now holds another type does not wake the client. With
  // end_if_deleted (XREADGROUP), a key deleted or now holding another type ends the wait with
  // "-UNBLOCKED the stream key no longer exists" instead.
  void Block(std::span<const std::string_view> keys, int64_t deadline_ms,
             storage::ValueType type = storage::ValueType::kList, bool end_if_deleted = false);
  bool reprocessing = false;
  // With reprocessing: the key whose change woke the client. Redis 7.0 serves a woken client
  // from that key, even when an earlier key of its command also has data.
  std::string_view ready_key;

  // Hides argument i (a password) from SLOWLOG and MONITOR, as Redis's
  // redactClientCommandArgument.
  void Redact(size_t i) {
    if (i < 64) redacted |= uint64_t{1} << i;
  }

  int64_t dirty = 0;
  uint64_t redacted = 0;  // bit i: argv[i] is shown as "(redacted)"
  std::vector<std::string> rewritten;
  std::vector<std::vector<std::string>> extra;
};

using CommandHandler = void (*)(CommandContext&);

struct CommandStats {
  uint64_t calls = 0;
  uint64_t usec = 0;
  uint64_t rejected_calls = 0;
  uint64_t failed_calls = 0;
};

struct CommandSpec {
  std::string name;      // lowercase; subcommands "config|get"
  std::string fullname;  // same, for stats keys
  int arity = 0;
  uint32_t flags = 0;
  const CommandMeta* meta = nullptr;  // nullptr for commands Redis does not have
  CommandHandler handler = nullptr;
  CommandSpec* parent = nullptr;
  std::map<std::string, std::unique_ptr<CommandSpec>, std::less<>> subcommands;
  mutable CommandStats stats;

  bool Has(CommandFlag f) const { return (flags & f) != 0; }
  bool ArityOk(size_t argc) const {
    return arity > 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
};

class CommandTable {
 public:
  // Registers a command (or "parent|sub" subcommand) with arity, flags and keys from Redis's
  // metadata. A parent without its own handler is created on first subcommand registration.
  // REQUIRES: Redis has such a command (its metadata exists).
  CommandSpec& Register(std::string_view name, CommandHandler handler);
  // For commands Docket adds that Redis lacks: the caller supplies arity and flags.
  CommandSpec& RegisterCustom(std::string_view name, int arity, uint32_t flags,
                              CommandHandler handler);

  // Case-insensitive lookup of argv[0] (and argv[1] for container commands). nullptr when
  // unknown; *sub_unknown is set when the parent exists but the subcommand does not.
  CommandSpec* Lookup(std::span<const std::string_view> argv, bool* sub_unknown) const;
  CommandSpec* Find(std::string_view lowercase_name) const;

  // All top-level commands, by name.
  const std::map<std::string, std::unique_ptr<CommandSpec>, std::less<>>& all() const {
    return commands_;
  }
  template <typename Fn>
  void ForEachWithSubcommands(Fn&& fn) const {
    for (auto& [name, spec] : commands_) {
      fn(*spec);
      for (auto& [sub_name, sub] : spec->subcommands) fn(*sub);
    }
  }

 private:
  std::map<std::string, std::unique_ptr<CommandSpec>, std::less<>> commands_;
  // Command names are short: FNV-1a is cheaper than std::hash, and transparent lookup by
  // string_view avoids building a std::string per command.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      uint64_t h = 1469598103934665603ULL;
      for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      return h;
    }
  };
  std::unordered_map<std::string, CommandSpec*, NameHash, std::equal_to<>> fast_;  // lowercase
};

uint32_t ParseFlags(std::string_view redis_flags);

// Family registration, called explicitly at start-up (server.cc).
void RegisterConnectionCommands(CommandTable& table);
void RegisterStringCommands(CommandTable& table);
void RegisterKeyCommands(CommandTable& table);
void RegisterServerCommands(CommandTable& table);
void RegisterClientCommands(CommandTable& table);
void RegisterInfoCommands(CommandTable& table);
void RegisterListCommands(CommandTable& table);
void RegisterPubsubCommands(CommandTable& table);
void RegisterMultiCommands(CommandTable& table);
void RegisterHashCommands(CommandTable& table);
void RegisterSetCommands(CommandTable& table);
void RegisterZSetCommands(CommandTable& table);
void RegisterScriptingCommands(CommandTable& table);  // EVAL family, SCRIPT (cmd_script.cc)
void RegisterFunctionCommands(CommandTable& table);   // FUNCTION, FCALL (cmd_function.cc)
void RegisterStreamCommands(CommandTable& table);
void RegisterSortCommands(CommandTable& table);

}  // namespace docket::server
