// ZSetObject: a sorted-set value (Redis's t_zset.c): a skiplist with spans ordered by (score,
// member) for O(log n) rank and range seeks; each node holds its member bytes and is linked into a
// member hash index for O(1) score lookup. OBJECT ENCODING: "listpack" while within ZSetLimits,
// "skiplist" once past either (one way). Depends on storage/{hash_table,value}.h.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "storage/hash_table.h"
#include "storage/value.h"

namespace docket::storage {

// A score interval, min and max each inclusive or exclusive (zrangespec).
struct ZScoreRange {
  double min = 0, max = 0;
  bool minex = false, maxex = false;
};

// A lex interval (zlexrangespec): "-" and "+" are the infinities.
struct ZLexRange {
  std::string min, max;
  bool min_inf = false, max_inf = false;    // min is "-" / max is "+"
  bool min_pinf = false, max_ninf = false;  // min is "+" / max is "-" (empty ranges)
  bool minex = false, maxex = false;
};

// Redis's zset-max-listpack-entries and zset-max-listpack-value (Redis 7.0 defaults).
struct ZSetLimits {
  size_t max_listpack_entries = 128;
  size_t max_listpack_value = 64;
};

class ZSetObject : public TypedObject {
 public:
  static constexpr size_t kMaxListpackEntries = ZSetLimits{}.max_listpack_entries;
  static constexpr size_t kMaxListpackValue = ZSetLimits{}.max_listpack_value;
  static constexpr int kMaxLevel = 32;

  struct Node;
  struct Level {
    Node* forward = nullptr;
    uint64_t span = 0;
  };
  // Allocated as one block: this header, nlevel Levels, then the member bytes.
  struct Node {
    double score;
    Node* backward;
    Node* index_next;  // the member index's chain
    uint64_t member_size : 58;
    uint64_t nlevel : 6;
    Level level[];  // GCC flexible array member
    std::string_view member() const {
      return {reinterpret_cast<const char*>(level + nlevel), member_size};
    }
    Node* next() const { return level[0].forward; }
    Node* prev() const { return backward; }
  };

  ZSetObject();
  ~ZSetObject() override;
  ZSetObject(const ZSetObject&) = delete;
  ZSetObject& operator=(const ZSetObject&) = delete;

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override { return listpack_ ? "listpack" : "skiplist"; }

  size_t size() const { return length_; }
  bool empty() const { return length_ == 0; }
  bool is_listpack() const { return listpack_; }

  // The member's score; false when absent.
  bool Score(std::string_view member, double* score);
  // Adds member or changes its score. Returns true when the member was added.
  bool Set(std::string_view member, double score);
  // Removes member; false when absent.
  bool Remove(std::string_view member);
  // 0-based rank from the lowest (or, with rev, the highest) score; -1 when absent.
  int64_t Rank(std::string_view member, bool rev);

  Node* First() const { return header_->level[0].forward; }
  Node* Last() const { return tail_; }
  // The node at 0-based rank (ascending). nullptr when out of range.
  Node* AtRank(uint64_t rank) const;
  // Ascending 0-based rank of a node in this set.
  uint64_t RankOf(const Node* node) const;

  // First / last node inside the range, nullptr when none (zslNthInRange-free seeks).
  Node* FirstInRange(const ZScoreRange& r) const;
  Node* LastInRange(const ZScoreRange& r) const;
  Node* FirstInLex(const ZLexRange& r) const;
  Node* LastInLex(const ZLexRange& r) const;

  static bool ValueGteMin(double v, const ZScoreRange& r) {
    return r.minex ? v > r.min : v >= r.min;
  }
  static bool ValueLteMax(double v, const ZScoreRange& r) {
    return r.maxex ? v < r.max : v <= r.max;
  }
  static bool LexGteMin(std::string_view m, const ZLexRange& r);
  static bool LexLteMax(std::string_view m, const ZLexRange& r);
  static bool ScoreRangeEmpty(const ZScoreRange& r);
  static bool LexRangeEmpty(const ZLexRange& r);

  // A random member (with its score). REQUIRES: !empty().
  Node* Random(std::mt19937_64& rng);
  // One ZSCAN step, Redis-like: a listpack-encoded set returns everything and cursor 0.
  uint64_t Scan(uint64_t cursor, int64_t count, std::vector<std::pair<std::string, double>>* out);

  void ConvertToSkiplist() { listpack_ = false; }
  // zsetConvertToListpackIfNeeded's test for a whole set: skiplist when it has more than
  // max_entries members or any member is longer than max_value. A set that stays a listpack
  // gets its scores as the listpack stores them (StoredScore).
  void CheckConvert(size_t max_entries, size_t max_value);
  // zsetAdd's test before member is inserted: only the new member's length counts, so members
  // that a later CONFIG SET made too long do not convert the set.
  void CheckConvertBeforeInsert(std::string_view member, const ZSetLimits& limits) {
    if (length_ + 1 > limits.max_listpack_entries || member.size() > limits.max_listpack_value) {
      listpack_ = false;
    }
  }
  // The score as stored: a listpack keeps an integral score as an integer (zzlInsertAt), so
  // -0 reads back as 0 there; a skiplist keeps the double.
  double StoredScore(double score) const { return listpack_ && score == 0 ? 0.0 : score; }

 private:
  struct IndexTraits {
    static Node*& Next(Node* n) { return n->index_next; }
    static std::string_view Key(const Node* n) { return n->member(); }
  };

  int RandomLevel();
  Node* Insert(double score, std::string_view member);
  // Links x (its score and levels set) into the skiplist.
  void InsertNode(Node* x);
  // Fills update[] with the rightmost node before x at each level.
  void FindUpdate(const Node* x, Node** update) const;
  void DeleteNode(Node* x, Node** update);
  // zslUpdateScore. REQUIRES: x is in this set and score differs from x->score.
  void UpdateScore(Node* x, double score);
  static size_t NodeBytes(int level, size_t member_size) {
    return sizeof(Node) + level * sizeof(Level) + member_size;
  }
  static Node* NewNode(int level, double score, std::string_view member);
  static void FreeNode(Node* n);

  Node* header_;
  Node* tail_ = nullptr;
  uint64_t length_ = 0;
  int level_ = 1;
  bool listpack_ = true;
  IntrusiveTable<Node, IndexTraits> index_;
  uint64_t level_rng_ = 0x9E3779B97F4A7C15ULL;  // xorshift64 state for RandomLevel
};

}  // namespace docket::storage
