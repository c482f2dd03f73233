// Dict: a hash table from binary-safe string keys to values of type V (the keyspace, expiry
// times), one heap entry per key, on IntrusiveTable (XXH3, incremental rehash, Redis's SCAN
// cursor). Depends on std and storage/hash_table.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "storage/hash_table.h"

namespace docket::storage {

template <typename V>
class Dict {
 public:
  struct Entry {
    std::string key;
    V value;
    Entry* next = nullptr;
  };

  Dict() = default;
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  Dict(Dict&& other) noexcept { Swap(other); }
  Dict& operator=(Dict&& other) noexcept {
    Clear();
    Swap(other);
    return *this;
  }
  ~Dict() { Clear(); }

  size_t size() const { return table_.size(); }
  bool empty() const { return table_.empty(); }
  size_t buckets() const { return table_.buckets(); }
  bool rehashing() const { return table_.rehashing(); }

  Entry* Find(std::string_view key) { return table_.Find(key); }

  // Returns the entry for key, creating it (value default-constructed) when absent; the bool
  // says whether it was created.
  std::pair<Entry*, bool> Insert(std::string_view key) {
    if (Entry* e = Find(key)) return {e, false};
    auto* e = new Entry{std::string(key), V{}, nullptr};
    table_.Link(e, HashKey(key));
    return {e, true};
  }

  // Unlinks key's entry and hands it to the caller (nullptr when absent).
  std::unique_ptr<Entry> Detach(std::string_view key) {
    return std::unique_ptr<Entry>(table_.Unlink(key));
  }

  bool Erase(std::string_view key) { return Detach(key) != nullptr; }

  void Clear() {
    table_.Clear([](Entry* e) { delete e; });
  }

  void Swap(Dict& other) noexcept { table_.Swap(other.table_); }

  // Calls fn(Entry&) for the entries of the buckets the cursor names and returns the next cursor
  // (0 when the iteration is complete). Every entry present for the whole iteration is visited
  // at least once, across grows, shrinks and rehashes (Redis's dictScan).
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    return table_.Scan(cursor, fn);
  }

  // A random entry (nullptr when empty): a random non-empty bucket, then a random chain element.
  template <typename Rng>
  Entry* Random(Rng& rng) {
    return table_.Random(rng);
  }

  // Calls fn(Entry&) for every entry (const Entry& on a const Dict). fn must not insert or erase.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    table_.ForEach(fn);
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    table_.ForEach(fn);
  }

  // Moves up to n buckets to the new table (visiting at most 10*n empty ones). Returns true
  // while rehashing remains to be done.
  bool Rehash(size_t n) { return table_.Rehash(n); }

  // Starts shrinking when fewer than 10% of the buckets are used (Redis's HASHTABLE_MIN_FILL);
  // called from the periodic cron, not from commands.
  void ShrinkIfNeeded() { table_.ShrinkIfNeeded(); }

  size_t MemoryUsage() const { return table_.BucketBytes() + size() * sizeof(Entry); }

 private:
  struct Traits {
    static Entry*& Next(Entry* e) { return e->next; }
    static std::string_view Key(const Entry* e) { return e->key; }
  };

  IntrusiveTable<Entry, Traits> table_;
};

}  // namespace docket::storage
