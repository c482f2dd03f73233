// The keyspace: lookups with lazy expiry, TTL bookkeeping and the active-expire sampling.
#include "storage/keyspace.h"

#include <chrono>

namespace docket::storage {
namespace {

uint64_t g_hash_seed = 0x9e3779b97f4a7c15ULL;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint64_t HashSeed() { return g_hash_seed; }
void SetHashSeed(uint64_t seed) { g_hash_seed = seed; }

bool Database::IsExpired(std::string_view key) {
  if (expires_.empty()) return false;
  auto* e = expires_.Find(key);
  return e != nullptr && e->value <= owner_->now_ms();
}

void Database::ExpireKey(std::string_view key) {
  if (owner_->expire_hook()) owner_->expire_hook()(index_, key);
  owner_->count_expired();
  keys_.Erase(key);
  expires_.Erase(key);
}

void Database::ExpireScanned(const std::vector<std::string>& keys) {
  if (owner_->expire_paused()) return;
  for (const std::string& k : keys) ExpireKey(k);
}

Value* Database::Peek(std::string_view key) {
  Entry* e = keys_.Find(key);
  if (e == nullptr) return nullptr;
  if (IsExpired(key)) {
    if (owner_->expire_paused()) return nullptr;
    std::string copy(key);  // key may point into the entry being deleted
    ExpireKey(copy);
    return nullptr;
  }
  return &e->value;
}

Value* Database::Lookup(std::string_view key) {
  Value* v = Peek(key);
  if (v != nullptr) v->set_access_time(owner_->access_clock());
  return v;
}

Value& Database::Set(std::string_view key, Value value, bool keep_ttl) {
  auto [e, created] = keys_.Insert(key);
  e->value = std::move(value);
  e->value.set_access_time(owner_->access_clock());
  if (!created && !keep_ttl && !expires_.empty()) expires_.Erase(key);
  if (created && owner_->new_key_hook()) owner_->new_key_hook()(index_, key);
  return e->value;
}

Value& Database::Add(std::string_view key, Value value) {
  auto [e, created] = keys_.Insert(key);
  e->value = std::move(value);
  e->value.set_access_time(owner_->access_clock());
  if (created && owner_->new_key_hook()) owner_->new_key_hook()(index_, key);
  return e->value;
}

bool Database::Delete(std::string_view key) {
  if (!keys_.Erase(key)) return false;
  if (!expires_.empty()) expires_.Erase(key);
  return true;
}

std::unique_ptr<Database::Entry> Database::Take(std::string_view key) {
  auto e = keys_.Detach(key);
  if (e != nullptr && !expires_.empty()) expires_.Erase(key);
  return e;
}

int64_t Database::GetExpire(std::string_view key) {
  if (expires_.empty()) return -1;
  auto* e = expires_.Find(key);
  return e == nullptr ? -1 : e->value;
}

void Database::SetExpire(std::string_view key, int64_t when_ms) {
  expires_.Insert(key).first->value = when_ms;
}

bool Database::Persist(std::string_view key) { return !expires_.empty() && expires_.Erase(key); }

bool Database::RandomKey(std::string* key) {
  // As dbRandomKey: expired picks are deleted until a live key turns up or none is left. While
  // expiry is paused nothing is deleted, so after 100 expired picks the last one is returned.
  int tries = 0;
  while (!keys_.empty()) {
    Entry* e = keys_.Random(owner_->rng());
    if (!IsExpired(e->key) || (owner_->expire_paused() && ++tries == 100)) {
      *key = e->key;
      return true;
    }
    if (owner_->expire_paused()) continue;
    std::string copy = e->key;
    ExpireKey(copy);
  }
  return false;
}

void Database::Clear() {
  keys_.Clear();
  expires_.Clear();
}

void Database::Swap(Database& other) {
  keys_.Swap(other.keys_);
  expires_.Swap(other.expires_);
}

size_t Database::ActiveExpireSample(size_t samples, int* stale_percent) {
  *stale_percent = 0;
  if (expires_.empty() || owner_->expire_paused()) return 0;
  size_t sampled = 0, expired = 0;
  std::vector<std::string> due;
  for (size_t i = 0; i < samples && i < expires_.size() * 2; i++) {
    auto* e = expires_.Random(owner_->rng());
    sampled++;
    if (e->value <= owner_->now_ms()) due.push_back(e->key);
  }
  for (const std::string& k : due) {
    if (expires_.Find(k) == nullptr) continue;  // sampled twice
    ExpireKey(k);
    expired++;
  }
  *stale_percent = sampled == 0 ? 0 : static_cast<int>(expired * 100 / sampled);
  return expired;
}

void Database::Resize() {
  keys_.ShrinkIfNeeded();
  expires_.ShrinkIfNeeded();
}

bool Database::RehashFor(int64_t budget_us) {
  int64_t start = NowMicros();
  bool more = keys_.rehashing() || expires_.rehashing();
  while (more) {
    more = false;
    if (keys_.rehashing()) more |= keys_.Rehash(100);
    if (expires_.rehashing()) more |= expires_.Rehash(100);
    if (NowMicros() - start > budget_us) break;
  }
  return more;
}

Keyspace::Keyspace(int databases) : rng_(std::random_device{}()) {
  for (int i = 0; i < databases; i++) dbs_.push_back(std::make_unique<Database>(this, i));
}

void Keyspace::Swap(int a, int b) { dbs_[a]->Swap(*dbs_[b]); }

void Keyspace::FlushAll() {
  for (auto& db : dbs_) db->Clear();
}

}  // namespace docket::storage
