// IntrusiveTable: the chained hash table under Dict, CompactTable and the zset member index.
// Binary-safe string keys hashed with XXH3; grows and shrinks by incremental rehashing (two
// tables, one bucket moved per operation, as Redis's dict.c); Redis's reverse-binary SCAN cursor.
// It links nodes the caller allocates and never frees them. Depends on std and xxHash.
#pragma once

#include <xxhash.h>

#include <cstdint>
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

// Traits gives the node's chain link and key:
//   static Node*& Next(Node* n);
//   static std::string_view Key(const Node* n);
// The table owns its buckets only: whoever links a node frees it after unlinking it (or through
// Clear's callback). Destroying a non-empty table leaves its nodes alone.
template <typename Node, typename Traits>
class IntrusiveTable {
 public:
  IntrusiveTable() = default;
  IntrusiveTable(const IntrusiveTable&) = delete;
  IntrusiveTable& operator=(const IntrusiveTable&) = delete;

  size_t size() const { return used_[0] + used_[1]; }
  bool empty() const { return size() == 0; }
  size_t buckets() const { return table_[0].size() + table_[1].size(); }
  bool rehashing() const { return rehash_index_ >= 0; }

  // The node whose key is key (h must be HashKey(key)), or nullptr. Moves one rehash bucket.
  Node* Find(std::string_view key, uint64_t h) {
    if (size() == 0) return nullptr;
    MaybeRehashStep();
    for (int t = 0; t <= 1; t++) {
      if (table_[t].empty()) break;
      for (Node* n = Bucket(t, h); n != nullptr; n = Traits::Next(n)) {
        if (Traits::Key(n) == key) return n;
      }
      if (!rehashing()) break;
    }
    return nullptr;
  }
  Node* Find(std::string_view key) { return size() == 0 ? nullptr : Find(key, HashKey(key)); }

  // Links n at the head of its chain (growing the table first when it is full).
  // REQUIRES: no node with n's key is linked; h == HashKey(Traits::Key(n)).
  void Link(Node* n, uint64_t h) {
    ExpandIfNeeded();
    int t = rehashing() ? 1 : 0;
    Node*& head = Bucket(t, h);
    Traits::Next(n) = head;
    head = n;
    used_[t]++;
  }

  // Unlinks the node whose key is key and returns it (nullptr when absent).
  Node* Unlink(std::string_view key) {
    if (size() == 0) return nullptr;
    MaybeRehashStep();
    uint64_t h = HashKey(key);
    for (int t = 0; t <= 1; t++) {
      if (table_[t].empty()) break;
      for (Node** link = &Bucket(t, h); *link != nullptr; link = &Traits::Next(*link)) {
        if (Traits::Key(*link) == key) {
          Node* n = *link;
          *link = Traits::Next(n);
          Traits::Next(n) = nullptr;
          used_[t]--;
          return n;
        }
      }
      if (!rehashing()) break;
    }
    return nullptr;
  }

  // Puts fresh where old is linked. REQUIRES: old is linked; fresh has old's key.
  void Replace(Node* old, Node* fresh) {
    uint64_t h = HashKey(Traits::Key(old));
    for (int t = 0; t <= 1; t++) {
      if (table_[t].empty()) break;
      for (Node** link = &Bucket(t, h); *link != nullptr; link = &Traits::Next(*link)) {
        if (*link == old) {
          Traits::Next(fresh) = Traits::Next(old);
          *link = fresh;
          Traits::Next(old) = nullptr;
          return;
        }
      }
    }
  }

  // Unlinks every node, calling release(Node*) on each, and frees the buckets.
  template <typename Fn>
  void Clear(Fn&& release) {
    for (int t = 0; t <= 1; t++) {
      for (Node* n : table_[t]) {
        while (n != nullptr) {
          Node* next = Traits::Next(n);
          release(n);
          n = next;
        }
      }
      table_[t].clear();
      table_[t].shrink_to_fit();
      used_[t] = 0;
    }
    rehash_index_ = -1;
  }

  void Swap(IntrusiveTable& other) noexcept {
    for (int t = 0; t <= 1; t++) {
      table_[t].swap(other.table_[t]);
      std::swap(used_[t], other.used_[t]);
    }
    std::swap(rehash_index_, other.rehash_index_);
  }

  // Calls fn(Node&) for the nodes of the buckets the cursor names and returns the next cursor
  // (0 when the iteration is complete). Every node linked for the whole iteration is visited
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

  // A random node (nullptr when empty): a random non-empty bucket, then a random chain element.
  template <typename Rng>
  Node* Random(Rng& rng) {
    if (size() == 0) return nullptr;
    MaybeRehashStep();
    Node* head = nullptr;
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
    for (Node* n = head; n != nullptr; n = Traits::Next(n)) len++;
    size_t pick = rng() % len;
    while (pick-- > 0) head = Traits::Next(head);
    return head;
  }

  // Calls fn(Node&) for every node. fn must not link or unlink; lookups in the same table are
  // fine (rehashing pauses meanwhile, as under Redis's safe iterators).
  template <typename Fn>
  void ForEach(Fn&& fn) {
    IterationGuard guard(this);
    for (int t = 0; t <= 1; t++) {
      for (Node* n : table_[t]) {
        for (; n != nullptr; n = Traits::Next(n)) fn(*n);
      }
    }
  }
  // As above, read-only: fn gets const Node&.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    IterationGuard guard(this);
    for (int t = 0; t <= 1; t++) {
      for (Node* n : table_[t]) {
        for (; n != nullptr; n = Traits::Next(n)) fn(static_cast<const Node&>(*n));
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
      MoveBucket(rehash_index_++);
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

  // Starts shrinking when fewer than 10% of the buckets are used (Redis's HASHTABLE_MIN_FILL).
  void ShrinkIfNeeded() {
    if (rehashing() || table_[0].size() <= kInitialSize) return;
    if (used_[0] * 100 / table_[0].size() < 10) Resize(used_[0]);
  }

  // Bytes of the bucket arrays (the nodes are the owner's to count).
  size_t BucketBytes() const { return buckets() * sizeof(Node*); }

 private:
  static constexpr size_t kInitialSize = 4;

  Node*& Bucket(int t, uint64_t h) { return table_[t][h & (table_[t].size() - 1)]; }

  void RehashStep() { Rehash(1); }
  // Lookups move one rehash bucket, except while a ForEach runs over this table.
  void MaybeRehashStep() {
    if (rehashing() && iterators_ == 0) RehashStep();
  }
  struct IterationGuard {
    explicit IterationGuard(const IntrusiveTable* t) : table(t) { table->iterators_++; }
    ~IterationGuard() { table->iterators_--; }
    const IntrusiveTable* table;
  };

  void MoveBucket(size_t index) {
    Node* n = table_[0][index];
    while (n != nullptr) {
      Node* next = Traits::Next(n);
      Node*& head = Bucket(1, HashKey(Traits::Key(n)));
      Traits::Next(n) = head;
      head = n;
      used_[0]--;
      used_[1]++;
      n = next;
    }
    table_[0][index] = nullptr;
  }

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
  static void VisitBucket(Node* n, Fn& fn) {
    while (n != nullptr) {
      Node* next = Traits::Next(n);  // fn may not unlink, but reading next first costs nothing
      fn(*n);
      n = next;
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

  std::vector<Node*> table_[2];
  size_t used_[2] = {0, 0};
  int64_t rehash_index_ = -1;
  mutable int iterators_ = 0;  // ForEach calls running
};

}  // namespace docket::storage
