// The keyspace: numbered databases, each a Dict of keys plus a Dict of expiry times, with lazy
// expiry on access and Redis's sampling active-expire cycle. Depends on std and storage/ only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace docket::storage {

class Keyspace;

// Called just before an expired key is deleted (lazily or by the active cycle), so the owner can
// propagate a DEL, send the `expired` event and count it.
using ExpireHook = std::function<void(int db, std::string_view key)>;
// Called when Set or Add creates a key (Redis's dbAdd: the `new` keyspace event).
using NewKeyHook = std::function<void(int db, std::string_view key)>;

class Database {
 public:
  using Entry = Dict<Value>::Entry;

  Database(Keyspace* owner, int index) : owner_(owner), index_(index) {}

  int index() const { return index_; }
  size_t size() const { return keys_.size(); }
  size_t expires_size() const { return expires_.size(); }

  // The live value of key, or nullptr. An expired key is deleted first (lazy expiry). Touches
  // the access clock.
  Value* Lookup(std::string_view key);
  // As Lookup, without touching the access clock (OBJECT, TYPE-free peeks, SCAN filtering).
  Value* Peek(std::string_view key);
  bool Exists(std::string_view key) { return Peek(key) != nullptr; }

  // Stores value under key. keep_ttl false clears any expiry (SET without KEEPTTL).
  Value& Set(std::string_view key, Value value, bool keep_ttl = false);
  // Adds key, which must be absent (REQUIRES: !Exists(key)).
  Value& Add(std::string_view key, Value value);
  bool Delete(std::string_view key);
  // Removes key and returns its value (nullptr when absent); its expiry is dropped.
  std::unique_ptr<Entry> Take(std::string_view key);

  // Absolute expiry in unix ms, or -1 when the key has none. REQUIRES: the key exists.
  int64_t GetExpire(std::string_view key);
  void SetExpire(std::string_view key, int64_t when_ms);
  bool Persist(std::string_view key);
  // True when key exists but its time has passed (it is still stored until deleted).
  bool IsExpired(std::string_view key);

  // One SCAN step over the keys (expired keys are skipped and deleted).
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    std::vector<std::string> expired;
    uint64_t next = keys_.Scan(cursor, [&](Entry& e) {
      if (IsExpired(e.key)) {
        expired.push_back(e.key);
      } else {
        fn(e);
      }
    });
    ExpireScanned(expired);
    return next;
  }
  template <typename Fn>
  void ForEach(Fn&& fn) {
    keys_.ForEach(fn);
  }

  // A random live key, or empty optional-like false.
  bool RandomKey(std::string* key);

  void Clear();
  void Swap(Database& other);  // exchanges contents (SWAPDB); indexes stay

  // One bounded pass of active expiry over sampled keys with a TTL. Returns the number of keys
  // expired; *stale_percent gets the share of expired keys among those sampled.
  size_t ActiveExpireSample(size_t samples, int* stale_percent);

  // Housekeeping from the cron: shrink sparse tables and rehash for up to ~1 ms.
  void Resize();
  bool RehashFor(int64_t budget_us);

  Dict<Value>& keys() { return keys_; }

 private:
  void ExpireKey(std::string_view key);
  // Deletes keys a SCAN step found expired (unless expiry is paused).
  void ExpireScanned(const std::vector<std::string>& keys);

  Keyspace* owner_;
  int index_;
  Dict<Value> keys_;
  Dict<int64_t> expires_;
};

class Keyspace {
 public:
  explicit Keyspace(int databases);

  int count() const { return static_cast<int>(dbs_.size()); }
  Database& db(int i) { return *dbs_[i]; }

  // The command clock: Redis takes one time per command so a command (or transaction) sees a
  // single instant. The server sets it before each command.
  int64_t now_ms() const { return now_ms_; }
  void set_now_ms(int64_t ms) { now_ms_ = ms; }
  uint32_t access_clock() const { return static_cast<uint32_t>(now_ms_ / 1000); }

  // While true, expired keys are reported absent but not deleted (used while loading data).
  bool expire_paused() const { return expire_paused_; }
  void set_expire_paused(bool paused) { expire_paused_ = paused; }

  void set_expire_hook(ExpireHook hook) { expire_hook_ = std::move(hook); }
  const ExpireHook& expire_hook() const { return expire_hook_; }
  void set_new_key_hook(NewKeyHook hook) { new_key_hook_ = std::move(hook); }
  const NewKeyHook& new_key_hook() const { return new_key_hook_; }

  std::mt19937_64& rng() { return rng_; }
  uint64_t expired_keys() const { return expired_keys_; }
  void count_expired() { expired_keys_++; }
  void ResetStats() { expired_keys_ = 0; }

  void Swap(int a, int b);
  void FlushAll();

 private:
  std::vector<std::unique_ptr<Database>> dbs_;
  int64_t now_ms_ = 0;
  bool expire_paused_ = false;
  ExpireHook expire_hook_;
  NewKeyHook new_key_hook_;
  std::mt19937_64 rng_;
  uint64_t expired_keys_ = 0;
};

}  // namespace docket::storage
