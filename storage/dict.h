// Dict: a chained hash table keyed by binary-safe strings, hashed with XXH3, that grows and shrinks
// by incremental rehashing (two tables, one bucket moved per operation, as Redis's dict.c) and
// offers Redis's reverse-binary SCAN cursor. Depends on std and xxHash.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace docket::storage {

// The process-wide hash seed, randomised at start-up (SetHashSeed) so clients cannot aim keys at
// one bucket.
uint64_t HashSeed();
void SetHashSeed(uint64_t seed);
inline uint64_t HashKey(std::string_view key) {
  return XXH3_64bits_withSeed(key.data(), key.size(), HashSeed());
}

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

  size_t size() const { return used_[0] + used_[1]; }
  bool empty() const { return size() == 0; }
  size_t buckets() const { return table_[0].size() + table_[1].size(); }
  bool rehashing() const { return rehash_index_ >= 0; }

  Entry* Find(std::string_view key) {
    if (size() == 0) return nullptr;
    if (rehashing()) RehashStep();
    uint64_t h = HashKey(key);
    for (int t = 0; t <= 1; t++) {
      if (table_[t].empty()) break;
      for (Entry* e = table_[t][h & (table_[t].size() - 1)]; e != nullptr; e = e->next) {
        if (e->key == key) return e;
      }
      if (!rehashing()) break;
    }
    return nullptr;
  }

  // Returns the entry for key, creating it (value default-constructed) when absent; the bool
  // says whether it was created.
  std::pair<Entry*, bool> Insert(std::string_view key) {
    if (Entry* e = Find(key)) return {e, false};
    ExpandIfNeeded();
    int t = rehashing() ? 1 : 0;
    auto* e = new Entry{std::string(key), V{}, nullptr};
    Entry*& head = table_[t][HashKey(key) & (table_[t].size() - 1)];
    e->next = head;
    head = e;
    used_[t]++;
    return {e, true};
  }

  // Unlinks key's entry and hands it to the caller (nullptr when absent).
  std::unique_ptr<Entry> Detach(std::string_view key) {
    if (size() == 0) return nullptr;
    if (rehashing()) RehashStep();
    uint64_t h = HashKey(key);
    for (int t = 0; t <= 1; t++) {
      if (table_[t].empty()) break;
      Entry** link = &table_[t][h & (table_[t].size() - 1)];
      for (; *link != nullptr; link = &(*link)->next) {
        if ((*link)->key == key) {
          Entry* e = *link;
          *link = e->next;
          e->next = nullptr;
          used_[t]--;
          return std::unique_ptr<Entry>(e);
        }
      }
      if (!rehashing()) break;
    }
    return nullptr;
  }

  bool Erase(std::string_view key) { return Detach(key) != nullptr; }

  void Clear() {
    for (int t = 0; t <= 1; t++) {
      for (Entry* head : table_[t]) {
        while (head != nullptr) {
          Entry* next = head->next;
          delete head;
          head = next;
        }
      }
      table_[t].clear();
      table_[t].shrink_to_fit();
      used_[t] = 0;
    }
    rehash_index_ = -1;
  }

  void Swap(Dict& other) noexcept {
    for (int t = 0; t <= 1; t++) {
      table_[t].swap(other.table_[t]);
      std::swap(used_[t], other.used_[t]);
    }
    std::swap(rehash_index_, other.rehash_index_);
  }

  // Calls fn(Entry&) for the entries of the buckets the cursor names and returns the next cursor
  // (0 when the iteration is complete). Every entry present for the whole iteration is visited
  // at least once, across grows, shrinks and rehashes (Redis's dictScan).
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    if (size() == 0) return 0;
    if (!rehashing()) {
      uint64_t m0 = table_[0].size() - 1;
      VisitBucket(table_[0][cursor & m0], fn);
      return NextCursor(cursor, m0);
    }
    int small = table_[0].size() <= table_[1].size() ? 0 : 1;
    auto& t0 = table_[small];
    auto& t1 = table_[1 - small];
    uint64_t m0 = t0.size() - 1, m1 = t1.size() - 1;
    VisitBucket(t0[cursor & m0], fn);
    // Then every bucket of the larger table that expands the small table's bucket.
    do {
      VisitBucket(t1[cursor & m1], fn);
      cursor = NextCursor(cursor, m1);
    } while (cursor & (m0 ^ m1));
    return cursor;
  }

  // A random entry (nullptr when empty): a random non-empty bucket, then a random chain element.
  template <typename Rng>
  Entry* Random(Rng& rng) {
    if (size() == 0) return nullptr;
    if (rehashing()) RehashStep();
    Entry* head = nullptr;
    while (head == nullptr) {
      if (rehashing()) {
        // Buckets below rehash_index_ in table 0 are empty.
        size_t span = table_[0].size() + table_[1].size() - rehash_index_;
        size_t i = rehash_index_ + rng() % span;
        head = i >= table_[0].size() ? table_[1][i - table_[0].size()] : table_[0][i];
      } else {
        head = table_[0][rng() & (table_[0].size() - 1)];
      }
    }
    size_t len = 0;
    for (Entry* e = head; e != nullptr; e = e->next) len++;
    size_t pick = rng() % len;
    while (pick-- > 0) head = head->next;
    return head;
  }

  // Calls fn(Entry&) for every entry. fn must not insert or erase.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (int t = 0; t <= 1; t++) {
      for (Entry* e : table_[t]) {
        for (; e != nullptr; e = e->next) fn(*e);
      }
    }
  }
  // As above, read-only: fn gets const Entry&.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (int t = 0; t <= 1; t++) {
      for (const Entry* e : table_[t]) {
        for (; e != nullptr; e = e->next) fn(*e);
      }
    }
  }

  // Moves up to n buckets to the new table (visiting at most 10*n empty ones). Returns true
  // while rehashing remains to be done.
  bool Rehash(size_t n) {
    if (!rehashing()) return false;  // table_[0][-1] below otherwise
    size_t empty_visits = n * 10;
    while (n-- > 0 && used_[0] != 0) {
      while (table_[0][rehash_index_] == nullptr) {
        rehash_index_++;
        if (--empty_visits == 0) return true;
      }
      Entry* e = table_[0][rehash_index_];
      while (e != nullptr) {
        Entry* next = e->next;
        Entry*& head = table_[1][HashKey(e->key) & (table_[1].size() - 1)];
        e->next = head;
        head = e;
        used_[0]--;
        used_[1]++;
        e = next;
      }
      table_[0][rehash_index_++] = nullptr;
    }
    if (used_[0] == 0) {
      table_[0].swap(table_[1]);
      table_[1].clear();
      table_[1].shrink_to_fit();
      used_[0] = used_[1];
      used_[1] = 0;
      rehash_index_ = -1;
      return false;
    }
    return true;
  }

  // Starts shrinking when fewer than 10% of the buckets are used (Redis's HASHTABLE_MIN_FILL);
  // called from the periodic cron, not from commands.
  void ShrinkIfNeeded() {
    if (rehashing() || table_[0].size() <= kInitialSize) return;
    if (used_[0] * 100 / table_[0].size() < 10) Resize(used_[0]);
  }

  size_t MemoryUsage() const { return buckets() * sizeof(Entry*) + size() * sizeof(Entry); }

 private:
  static constexpr size_t kInitialSize = 4;

  void RehashStep() { Rehash(1); }

  void ExpandIfNeeded() {
    if (rehashing()) return;
    if (table_[0].empty()) {
      table_[0].assign(kInitialSize, nullptr);
    } else if (used_[0] >= table_[0].size()) {
      Resize(used_[0] + 1);
    }
  }

  void Resize(size_t wanted) {
    size_t n = kInitialSize;
    while (n < wanted) n *= 2;
    if (n == table_[0].size()) return;
    table_[1].assign(n, nullptr);
    rehash_index_ = 0;
  }

  template <typename Fn>
  static void VisitBucket(Entry* e, Fn& fn) {
    while (e != nullptr) {
      Entry* next = e->next;  // fn may not erase, but reading next first costs nothing
      fn(*e);
      e = next;
    }
  }

  // Increments the cursor's bits that are under mask, most significant first.
  static uint64_t NextCursor(uint64_t v, uint64_t mask) {
    v |= ~mask;
    v = ReverseBits(v);
    v++;
    return ReverseBits(v);
  }

  static uint64_t ReverseBits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
  }

  std::vector<Entry*> table_[2];
  size_t used_[2] = {0, 0};
  int64_t rehash_index_ = -1;
};

}  // namespace docket::storage
