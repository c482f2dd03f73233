// Transactions: the WATCH registry, queuing between MULTI and EXEC, and EXEC's body (the queued
// commands through Server::Call, their propagation wrapped in MULTI ... EXEC), following Redis
// 7.0's multi.c.
#include "server/transaction.h"

#include <algorithm>

#include "server/client.h"
#include "server/command.h"
#include "server/server.h"

namespace docket::server {
namespace {

// Redis's dictFind on the main dict: the key is stored, expired or not.
bool Stored(storage::Database& db, std::string_view key) { return db.keys().Find(key) != nullptr; }

}  // namespace

size_t WatchRegistry::watched_keys(const Client& c) const {
  auto it = by_client_.find(&c);
  return it == by_client_.end() ? 0 : it->second.size();
}

void WatchRegistry::Watch(Client& c, storage::Database& db, std::string_view key) {
  auto& mine = by_client_[&c];
  for (const auto& wk : mine) {
    if (wk->db == db.index() && wk->key == key) return;  // already watched
  }
  auto wk = std::make_unique<WatchedKey>(WatchedKey{&c, db.index(), std::string(key), false});
  wk->expired = Stored(db, key) && db.IsExpired(key);
  auto& keys = by_db_[db.index()];
  auto it = keys.find(key);
  if (it == keys.end()) it = keys.emplace(std::string(key), Watchers{}).first;
  it->second.push_back(wk.get());
  mine.push_back(std::move(wk));
}

void WatchRegistry::UnwatchAll(Client& c) {
  auto mine = by_client_.find(&c);
  if (mine == by_client_.end()) return;
  for (const auto& wk : mine->second) {
    auto& keys = by_db_[wk->db];
    auto it = keys.find(wk->key);
    if (it == keys.end()) continue;
    std::erase(it->second, wk.get());
    if (it->second.empty()) keys.erase(it);
    if (keys.empty()) by_db_.erase(wk->db);
  }
  by_client_.erase(mine);
}

void WatchRegistry::Touch(storage::Database& db, std::string_view key) {
  if (by_client_.empty()) return;
  auto keys = by_db_.find(db.index());
  if (keys == by_db_.end()) return;
  auto it = keys->second.find(key);
  if (it == keys->second.end()) return;
  Watchers watchers = it->second;  // UnwatchAll below edits the registry
  bool gone = !Stored(db, key) || db.IsExpired(key);
  for (WatchedKey* wk : watchers) {
    if (wk->expired) {
      // The key had expired when watched: its deletion changes nothing logically.
      if (gone) {
        wk->expired = false;
        continue;
      }
      break;  // as Redis 7.0: the remaining watchers are left alone
    }
    Client* c = wk->client;
    c->Set(kClientDirtyCas);
    UnwatchAll(*c);  // no point in touching it again; frees wk
  }
}

void WatchRegistry::TouchAllInDb(storage::Database& emptied, storage::Database* replaced_with) {
  auto keys = by_db_.find(emptied.index());
  if (keys == by_db_.end()) return;
  for (auto& [key, watchers] : keys->second) {
    bool in_emptied = Stored(emptied, key);
    bool in_replacement = replaced_with != nullptr && Stored(*replaced_with, key);
    if (!in_emptied && !in_replacement) continue;
    for (WatchedKey* wk : watchers) {
      if (wk->expired) {
        if (!in_replacement) {
          wk->expired = false;  // the expired key is now deleted: no logical change
          continue;
        }
        if (replaced_with->IsExpired(key)) continue;  // still expired
      } else if (!in_emptied && replaced_with->IsExpired(key)) {
        wk->expired = true;  // a missing key replaced by an expired one
        continue;
      }
      // Unwatching here would edit the maps being walked; the client stays dirty until EXEC.
      wk->client->Set(kClientDirtyCas);
    }
  }
}

bool WatchRegistry::AnyExpired(const Client& c, storage::Keyspace& keyspace) const {
  auto mine = by_client_.find(&c);
  if (mine == by_client_.end()) return false;
  for (const auto& wk : mine->second) {
    if (!wk->expired && keyspace.db(wk->db).IsExpired(wk->key)) return true;
  }
  return false;
}

void PropagationBuffer::Add(int db, std::span<const std::string_view> argv) {
  ops_.push_back(Op{db, std::vector<std::string>(argv.begin(), argv.end())});
}

std::vector<PropagationBuffer::Op> PropagationBuffer::Finish() {
  collecting_ = false;
  std::vector<Op> ops;
  ops.swap(ops_);
  return ops;
}

bool IsExecCommand(const CommandSpec& spec) { return spec.name == "exec"; }

bool RunsInsideMulti(const CommandSpec& spec) {
  const std::string& n = spec.name;
  return n == "exec" || n == "discard" || n == "multi" || n == "watch" || n == "quit" ||
         n == "reset";
}

void QueueMultiCommand(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv) {
  // A doomed transaction keeps nothing (pipelined commands after a failure).
  if (!c.Has(kClientDirtyCas) && !c.Has(kClientDirtyExec)) {
    QueuedCommand& q = c.multi_queue.emplace_back();
    q.spec = &spec;
    q.argv.assign(argv.begin(), argv.end());
    for (std::string_view a : argv) c.multi_mem += a.size() + sizeof(void*);
  }
  c.reply().Raw("+QUEUED\r\n");
}

void DiscardTransaction(Server& server, Client& c) {
  c.multi_queue.clear();
  c.multi_queue.shrink_to_fit();
  c.multi_mem = 0;
  c.Clear(kClientMulti);
  c.Clear(kClientDirtyCas);
  c.Clear(kClientDirtyExec);
  server.watches().UnwatchAll(c);
}

void Server::ExecTransaction(Client& c) {
  bool could_block = !c.Has(kClientDenyBlocking);
  c.Set(kClientDenyBlocking);  // blocking commands act as their non-blocking forms
  watches_.UnwatchAll(c);
  exec_propagation_.Begin();
  c.reply().ArrayHeader(c.multi_queue.size());
  // No queued command can add to or clear the queue (MULTI, EXEC, DISCARD and RESET run at once).
  for (size_t i = 0; i < c.multi_queue.size(); i++) {
    const QueuedCommand& q = c.multi_queue[i];
    std::vector<std::string_view> argv(q.argv.begin(), q.argv.end());
    Call(c, *q.spec, argv);
    c.last_cmd = "exec";  // CLIENT LIST cmd= names the EXEC while it runs
  }
  if (could_block) c.Clear(kClientDenyBlocking);
  DiscardTransaction(*this, c);
  EndPropagationUnit();  // one command is atomic by itself; several go out in MULTI ... EXEC
}

void Server::AbortExec(Client& c, std::span<const std::string_view> argv, std::string_view why) {
  DiscardTransaction(*this, c);
  c.reply().Error("-EXECABORT Transaction discarded because of: " + std::string(why));
  // The EXEC did not run, so Call did not show it to MONITOR clients.
  if (!monitors_.empty()) FeedMonitors(c, c.db_index(), argv);
}

bool Server::IsPausedForTransaction(const Client& c) const {
  if (!paused() || !c.Has(kClientMulti)) return false;
  return std::any_of(c.multi_queue.begin(), c.multi_queue.end(),
                     [this](const QueuedCommand& q) { return IsPausedFor(*q.spec); });
}

}  // namespace docket::server
