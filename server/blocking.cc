// Blocked clients. A blocked client's command is run again when a key it waits on changes, in
// the order clients blocked; the re-run either serves it or blocks it again in the same place.
#include "server/blocking.h"

#include <algorithm>
#include <climits>

#include "protocol/errors.h"
#include "server/client.h"
#include "server/command.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {

bool ParseBlockTimeout(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms) {
  long double seconds;
  if (!storage::StringToLongDouble(arg, &seconds)) {
    ctx.reply.Error(protocol::errors::kTimeoutNotFloat);
    return false;
  }
  // Redis 7.0 casts seconds*1000 to long long: on x86-64 a value out of range (inf, 1e20)
  // becomes LLONG_MIN, so it is reported as negative.
  long double ms = seconds * 1000.0L;
  bool in_range = ms > -9223372036854775808.0L && ms < 9223372036854775808.0L;
  int64_t tval = in_range ? static_cast<int64_t>(ms) : INT64_MIN;
  if (tval < 0) {
    ctx.reply.Error(protocol::errors::kTimeoutNegative);
    return false;
  }
  if (tval > 0) {
    // A deadline past the end of time waits forever (Redis would overflow here).
    tval = tval > INT64_MAX - ctx.now_ms() ? INT64_MAX : tval + ctx.now_ms();
  }
  *deadline_ms = tval;
  return true;
}

bool CommandContext::CanBlock() const {
  return !client.Has(kClientMulti) && !client.Has(kClientDenyBlocking);
}

void CommandContext::Block(std::span<const std::string_view> keys, int64_t deadline_ms,
                           storage::ValueType type, bool end_if_deleted) {
  BlockedState state;
  state.db = db.index();
  state.keys.assign(keys.begin(), keys.end());
  state.argv.assign(argv.begin(), argv.end());
  state.spec = &spec;
  state.deadline_ms = deadline_ms;
  state.type = type;
  state.end_if_deleted = end_if_deleted;
  server.blocking().Block(client, std::move(state));
}

void BlockingRegistry::Block(Client& c, BlockedState state) {
  if (&c == rerunning_) {
    rerun_blocked_ = true;  // still waiting: keeps its place in every queue
    return;
  }
  for (const std::string& key : state.keys) {
    Waiters& w = waiting_[KeyRef{state.db, key}];
    if (std::find(w.begin(), w.end(), &c) == w.end()) w.push_back(&c);
  }
  if (state.deadline_ms > 0) deadlines_.emplace(state.deadline_ms, &c);
  blocked_[&c] = std::move(state);
  c.Set(kClientBlocked);
}

void BlockingRegistry::Unblock(Client& c) {
  auto it = blocked_.find(&c);
  if (it == blocked_.end()) return;
  const BlockedState& state = it->second;
  for (const std::string& key : state.keys) {
    auto w = waiting_.find(KeyRef{state.db, key});
    if (w == waiting_.end()) continue;
    w->second.remove(&c);
    if (w->second.empty()) waiting_.erase(w);
  }
  if (state.deadline_ms > 0) {
    auto [lo, hi] = deadlines_.equal_range(state.deadline_ms);
    for (auto d = lo; d != hi; ++d) {
      if (d->second == &c) {
        deadlines_.erase(d);
        break;
      }
    }
  }
  blocked_.erase(it);
  c.Clear(kClientBlocked);
}

void BlockingRegistry::SignalKey(int db, std::string_view key) {
  if (blocked_.empty()) return;
  KeyRef ref{db, std::string(key)};
  if (waiting_.count(ref) == 0) return;
  if (std::find_if(ready_.begin(), ready_.end(), [&](const KeyRef& r) {
        return r.db == ref.db && r.key == ref.key;
      }) != ready_.end()) {
    return;
  }
  ready_.push_back(std::move(ref));
}

void BlockingRegistry::HandleReadyKeys() {
  if (rerunning_ != nullptr) return;  // a served command made keys ready: the loop below takes them
  while (!ready_.empty()) {
    std::vector<KeyRef> ready;
    ready.swap(ready_);
    for (const KeyRef& ref : ready) ServeKey(ref);
  }
}

void BlockingRegistry::ServeKey(const KeyRef& ref) {
  storage::Database& db = server_->keyspace().db(ref.db);
  storage::Value* now = db.Peek(ref.key);
  if (now == nullptr || now->type() != storage::ValueType::kStream) EndDeletedWaits(ref);
  auto it = waiting_.find(ref);
  if (it == waiting_.end()) return;
  // Snapshot the queue: serving removes clients from it.
  std::vector<Client*> queue(it->second.begin(), it->second.end());
  for (Client* c : queue) {
    storage::Value* v = db.Peek(ref.key);
    if (v == nullptr) return;  // emptied: the others keep waiting
    auto state_it = blocked_.find(c);
    if (state_it == blocked_.end()) continue;        // served through another key meanwhile
    if (v->type() != state_it->second.type) return;  // Redis 7.0: another type wakes nobody
    BlockedState state = state_it->second;           // the re-run may unblock (and free the entry)
    rerunning_ = c;
    rerun_blocked_ = false;
    server_->RerunBlockedCommand(*c, state, ref.key);
    rerunning_ = nullptr;
    if (rerun_blocked_) {
      // A stream waiter reads after its own id: those behind it may still be served.
      if (state.type == storage::ValueType::kStream) continue;
      return;  // it could not be served: nor can those behind it
    }
    Unblock(*c);
    server_->ClientUnblocked(*c);
  }
}

void BlockingRegistry::EndDeletedWaits(const KeyRef& ref) {
  auto it = waiting_.find(ref);
  if (it == waiting_.end()) return;
  std::vector<Client*> queue(it->second.begin(), it->second.end());
  for (Client* c : queue) {
    auto state_it = blocked_.find(c);
    if (state_it == blocked_.end() || !state_it->second.end_if_deleted) continue;
    Unblock(*c);
    c->reply().Error("-UNBLOCKED the stream key no longer exists");
    server_->ClientUnblocked(*c);
  }
}

void BlockingRegistry::HandleTimeouts(int64_t now_ms) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    Client* c = deadlines_.begin()->second;
    ReplyTimeout(*c);
  }
}

void BlockingRegistry::ReplyTimeout(Client& c) {
  Unblock(c);
  c.reply().NullArray();
  server_->ClientUnblocked(c);
}

bool BlockingRegistry::UnblockByRequest(Client& c, bool error) {
  if (!IsBlocked(c)) return false;
  if (error) {
    Unblock(c);
    c.reply().Error("-UNBLOCKED client unblocked via CLIENT UNBLOCK");
    server_->ClientUnblocked(c);
  } else {
    ReplyTimeout(c);
  }
  return true;
}

}  // namespace docket::server
