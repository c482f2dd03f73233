// Transactions: the WATCH registry (which clients watch which key of which database, Redis 7.0's
// touchWatchedKey / touchAllWatchedKeysInDb / isWatchedKeyExpired), the MULTI queue helpers, and
// the propagation buffer that wraps an EXEC's writes in MULTI ... EXEC. Depends on server/client.h
// and storage/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/keyspace.h"

namespace docket::server {

class Client;
class Server;
struct CommandSpec;

// Who watches what. A client watches a key of a database at most once; each watch remembers
// whether the key had already expired when WATCH ran (Redis 7.0 then ignores that expiry and
// the deletion of the expired key, but not a new value).
class WatchRegistry {
 public:
  bool empty() const { return by_client_.empty(); }
  size_t watched_keys(const Client& c) const;

  // WATCH key: c watches key of db.
  void Watch(Client& c, storage::Database& db, std::string_view key);
  // UNWATCH, EXEC, DISCARD, RESET, disconnect.
  void UnwatchAll(Client& c);

  // A key changed (signalModifiedKey): its watchers become dirty (kClientDirtyCas) and stop
  // watching. A key stored but logically expired counts as gone (the expire hook runs just
  // before the deletion).
  void Touch(storage::Database& db, std::string_view key);
  // FLUSHDB / FLUSHALL (replaced_with null) and SWAPDB, called before emptied's contents are
  // dropped or swapped: a watcher is dirty when its key exists in emptied or in replaced_with.
  void TouchAllInDb(storage::Database& emptied, storage::Database* replaced_with);
  // EXEC: true when a key c watches has expired since it was watched.
  bool AnyExpired(const Client& c, storage::Keyspace& keyspace) const;

 private:
  struct WatchedKey {
    Client* client;
    int db;
    std::string key;
    bool expired;  // the key had already expired when watched
  };
  using Watchers = std::vector<WatchedKey*>;  // in the order they started watching

  std::map<int, std::map<std::string, Watchers, std::less<>>> by_db_;
  std::unordered_map<const Client*, std::vector<std::unique_ptr<WatchedKey>>> by_client_;
};

// What EXEC propagates: while collecting, Server::Propagate keeps the commands here; at the end
// one command goes out alone and several are wrapped in MULTI ... EXEC (Redis 7.0's
// propagatePendingCommands).
class PropagationBuffer {
 public:
  struct Op {
    int db;
    std::vector<std::string> argv;
  };
  bool collecting() const { return collecting_; }
  void Begin() { collecting_ = true; }
  void Add(int db, std::span<const std::string_view> argv);
  // Stops collecting and returns the commands kept.
  std::vector<Op> Finish();

 private:
  bool collecting_ = false;
  std::vector<Op> ops_;
};

// Commands that run at once inside MULTI instead of being queued (Redis's processCommand list).
bool RunsInsideMulti(const CommandSpec& spec);
bool IsExecCommand(const CommandSpec& spec);

// Queues a command for EXEC (copying argv) unless the transaction is already doomed, and replies
// +QUEUED.
void QueueMultiCommand(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv);
// Redis's discardTransaction: drops the queue, leaves MULTI, clears the dirty flags, unwatches.
void DiscardTransaction(Server& server, Client& c);

}  // namespace docket::server
