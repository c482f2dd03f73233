// Blocked clients: who waits on which key, in the order they blocked; ready keys collected while
// commands run and served after the command (or transaction) ends; deadlines; CLIENT UNBLOCK.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/value.h"

namespace docket::server {

class Client;
class Server;
struct CommandContext;
struct CommandSpec;

// Parses a blocking timeout in seconds (a decimal) as Redis's getTimeoutFromObjectOrReply:
// replies the error and returns false on bad input; *deadline_ms is 0 (forever) or absolute.
bool ParseBlockTimeout(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms);

// What a blocked client is waiting for; the argv is owned so the command can run again.
struct BlockedState {
  int db = 0;
  std::vector<std::string> keys;
  std::vector<std::string> argv;
  const CommandSpec* spec = nullptr;
  int64_t deadline_ms = 0;                              // 0 = forever
  storage::ValueType type = storage::ValueType::kList;  // what a ready key must hold
  bool end_if_deleted = false;  // XREADGROUP: a deleted key (or another type) ends the wait
};

class BlockingRegistry {
 public:
  explicit BlockingRegistry(Server* server) : server_(server) {}

  size_t blocked_clients() const { return blocked_.size(); }
  bool IsBlocked(const Client& c) const { return blocked_.count(&c) != 0; }

  // Registers c as waiting (appended to each key's queue). A client already blocked (its
  // command being run again) keeps its place.
  void Block(Client& c, BlockedState state);
  // The earliest deadline of any blocked client, or 0.
  int64_t NextDeadline() const { return deadlines_.empty() ? 0 : deadlines_.begin()->first; }
  // Removes c from every queue (served, timed out, unblocked or disconnected).
  void Unblock(Client& c);

  // A key changed: when clients wait on it, it is served after the current command ends.
  void SignalKey(int db, std::string_view key);
  bool HasReadyKeys() const { return !ready_.empty(); }
  // Serves clients blocked on ready keys, in the order they blocked, by running their command
  // again. Runs until no key is ready (a served client may make other keys ready).
  void HandleReadyKeys();
  // Replies the timeout reply to clients whose deadline has passed.
  void HandleTimeouts(int64_t now_ms);
  // CLIENT UNBLOCK: with error the client gets -UNBLOCKED, else the timeout reply.
  bool UnblockByRequest(Client& c, bool error);

 private:
  using Waiters = std::list<Client*>;
  struct KeyRef {
    int db;
    std::string key;
    bool operator<(const KeyRef& o) const { return db != o.db ? db < o.db : key < o.key; }
  };
  void ServeKey(const KeyRef& ref);
  // Redis 7.0's unblockDeletedStreamReadgroupClients: the key is gone or holds another type.
  void EndDeletedWaits(const KeyRef& ref);
  void ReplyTimeout(Client& c);

  Server* server_;
  std::map<KeyRef, Waiters> waiting_;  // key -> clients, oldest first
  std::map<const Client*, BlockedState> blocked_;
  std::vector<KeyRef> ready_;
  std::multimap<int64_t, Client*> deadlines_;
  Client* rerunning_ = nullptr;  // the client whose command is being run again
  bool rerun_blocked_ = false;   // it called Block again: keep its place
};

}  // namespace docket::server
