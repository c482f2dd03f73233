// ZSetObject: the skiplist (zslInsert, zslDelete, zslGetRank, zslFirstInRange, ... from Redis's
// t_zset.c, zslUpdateScore's in-place update included) and its member index.
// Depends on storage/zset.h.
#include "storage/zset.h"

#include <cmath>
#include <cstring>
#include <new>

namespace docket::storage {

namespace {
// (score, member) ordering of the skiplist.
bool Less(double s1, std::string_view m1, double s2, std::string_view m2) {
  return s1 < s2 || (s1 == s2 && m1 < m2);
}
}  // namespace

ZSetObject::ZSetObject() { header_ = NewNode(kMaxLevel, 0, ""); }

ZSetObject::~ZSetObject() {
  Node* x = header_;
  while (x != nullptr) {
    Node* next = x->level[0].forward;
    FreeNode(x);
    x = next;
  }
}

ZSetObject::Node* ZSetObject::NewNode(int level, double score, std::string_view member) {
  void* mem = ::operator new(NodeBytes(level, member.size()));
  auto* n = new (mem) Node;
  n->score = score;
  n->backward = nullptr;
  n->index_next = nullptr;
  n->member_size = member.size();
  n->nlevel = level;
  for (int i = 0; i < level; i++) new (&n->level[i]) Level();
  if (!member.empty()) std::memcpy(n->level + level, member.data(), member.size());
  return n;
}

void ZSetObject::FreeNode(Node* n) { ::operator delete(static_cast<void*>(n)); }

std::unique_ptr<TypedObject> ZSetObject::Clone() const {
  auto copy = std::make_unique<ZSetObject>();
  for (Node* x = First(); x != nullptr; x = x->next()) copy->Set(x->member(), x->score);
  copy->listpack_ = listpack_;
  return copy;
}

size_t ZSetObject::MemoryUsage() const {
  size_t total = sizeof(*this) + index_.BucketBytes() + NodeBytes(kMaxLevel, 0);
  for (Node* x = First(); x != nullptr; x = x->next()) {
    total += NodeBytes(x->nlevel, x->member_size);
  }
  return total;
}

int ZSetObject::RandomLevel() {
  int level = 1;
  auto next = [this] {
    level_rng_ ^= level_rng_ << 13;
    level_rng_ ^= level_rng_ >> 7;
    level_rng_ ^= level_rng_ << 17;
    return level_rng_;
  };
  while ((next() & 0xFFFF) < (0.25 * 0xFFFF) && level < kMaxLevel) level++;
  return level;
}

ZSetObject::Node* ZSetObject::Insert(double score, std::string_view member) {
  Node* x = NewNode(RandomLevel(), score, member);
  InsertNode(x);
  return x;
}

void ZSetObject::InsertNode(Node* x) {
  Node* update[kMaxLevel];
  uint64_t rank[kMaxLevel];
  double score = x->score;
  std::string_view member = x->member();
  Node* n = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    rank[i] = i == level_ - 1 ? 0 : rank[i + 1];
    while (n->level[i].forward != nullptr &&
           Less(n->level[i].forward->score, n->level[i].forward->member(), score, member)) {
      rank[i] += n->level[i].span;
      n = n->level[i].forward;
    }
    update[i] = n;
  }
  int level = x->nlevel;
  if (level > level_) {
    for (int i = level_; i < level; i++) {
      rank[i] = 0;
      update[i] = header_;
      update[i]->level[i].span = length_;
    }
    level_ = level;
  }
  for (int i = 0; i < level; i++) {
    x->level[i].forward = update[i]->level[i].forward;
    update[i]->level[i].forward = x;
    x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
    update[i]->level[i].span = (rank[0] - rank[i]) + 1;
  }
  for (int i = level; i < level_; i++) update[i]->level[i].span++;
  x->backward = update[0] == header_ ? nullptr : update[0];
  if (x->level[0].forward != nullptr) {
    x->level[0].forward->backward = x;
  } else {
    tail_ = x;
  }
  length_++;
}

void ZSetObject::DeleteNode(Node* x, Node** update) {
  for (int i = 0; i < level_; i++) {
    if (update[i]->level[i].forward == x) {
      update[i]->level[i].span += x->level[i].span - 1;
      update[i]->level[i].forward = x->level[i].forward;
    } else {
      update[i]->level[i].span -= 1;
    }
  }
  if (x->level[0].forward != nullptr) {
    x->level[0].forward->backward = x->backward;
  } else {
    tail_ = x->backward;
  }
  while (level_ > 1 && header_->level[level_ - 1].forward == nullptr) level_--;
  length_--;
}

void ZSetObject::FindUpdate(const Node* x, Node** update) const {
  Node* n = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (n->level[i].forward != nullptr &&
           Less(n->level[i].forward->score, n->level[i].forward->member(), x->score, x->member())) {
      n = n->level[i].forward;
    }
    update[i] = n;
  }
}

bool ZSetObject::Score(std::string_view member, double* score) {
  Node* x = index_.Find(member);
  if (x == nullptr) return false;
  *score = x->score;
  return true;
}

bool ZSetObject::Set(std::string_view member, double score) {
  uint64_t h = HashKey(member);
  Node* x = index_.Find(member, h);
  if (x == nullptr) {
    index_.Link(Insert(score, member), h);
    return true;
  }
  if (x->score != score) UpdateScore(x, score);
  return false;
}

void ZSetObject::UpdateScore(Node* x, double score) {
  // zslUpdateScore: when the neighbours still bracket the new score, the node stays put.
  if ((x->backward == nullptr || x->backward->score < score) &&
      (x->level[0].forward == nullptr || x->level[0].forward->score > score)) {
    x->score = score;
    return;
  }
  Node* update[kMaxLevel];
  FindUpdate(x, update);
  DeleteNode(x, update);
  x->score = score;
  InsertNode(x);  // the same node, so the member index needs no change
}

bool ZSetObject::Remove(std::string_view member) {
  Node* target = index_.Unlink(member);
  if (target == nullptr) return false;
  Node* update[kMaxLevel];
  FindUpdate(target, update);
  DeleteNode(target, update);
  FreeNode(target);
  return true;
}

uint64_t ZSetObject::RankOf(const Node* node) const {
  uint64_t rank = 0;
  Node* x = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (x->level[i].forward != nullptr &&
           !Less(node->score, node->member(), x->level[i].forward->score,
                 x->level[i].forward->member())) {
      rank += x->level[i].span;
      x = x->level[i].forward;
    }
    if (x == node) return rank - 1;
  }
  return rank - 1;
}

int64_t ZSetObject::Rank(std::string_view member, bool rev) {
  Node* x = index_.Find(member);
  if (x == nullptr) return -1;
  uint64_t r = RankOf(x);
  return rev ? static_cast<int64_t>(length_ - 1 - r) : static_cast<int64_t>(r);
}

ZSetObject::Node* ZSetObject::AtRank(uint64_t rank) const {
  if (rank >= length_) return nullptr;
  uint64_t target = rank + 1, traversed = 0;
  Node* x = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (x->level[i].forward != nullptr && traversed + x->level[i].span <= target) {
      traversed += x->level[i].span;
      x = x->level[i].forward;
    }
    if (traversed == target) return x;
  }
  return nullptr;
}

bool ZSetObject::ScoreRangeEmpty(const ZScoreRange& r) {
  return r.min > r.max || (r.min == r.max && (r.minex || r.maxex));
}

ZSetObject::Node* ZSetObject::FirstInRange(const ZScoreRange& r) const {
  if (ScoreRangeEmpty(r) || tail_ == nullptr || !ValueGteMin(tail_->score, r)) return nullptr;
  Node* first = First();
  if (!ValueLteMax(first->score, r)) return nullptr;
  Node* x = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (x->level[i].forward != nullptr && !ValueGteMin(x->level[i].forward->score, r)) {
      x = x->level[i].forward;
    }
  }
  x = x->level[0].forward;
  return x != nullptr && ValueLteMax(x->score, r) ? x : nullptr;
}

ZSetObject::Node* ZSetObject::LastInRange(const ZScoreRange& r) const {
  if (ScoreRangeEmpty(r) || tail_ == nullptr || !ValueGteMin(tail_->score, r)) return nullptr;
  if (!ValueLteMax(First()->score, r)) return nullptr;
  Node* x = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (x->level[i].forward != nullptr && ValueLteMax(x->level[i].forward->score, r)) {
      x = x->level[i].forward;
    }
  }
  return x != header_ && ValueGteMin(x->score, r) ? x : nullptr;
}

bool ZSetObject::LexGteMin(std::string_view m, const ZLexRange& r) {
  if (r.min_inf) return true;
  if (r.min_pinf) return false;
  return r.minex ? m > r.min : m >= r.min;
}

bool ZSetObject::LexLteMax(std::string_view m, const ZLexRange& r) {
  if (r.max_inf) return true;
  if (r.max_ninf) return false;
  return r.maxex ? m < r.max : m <= r.max;
}

bool ZSetObject::LexRangeEmpty(const ZLexRange& r) {
  if (r.min_pinf || r.max_ninf) return true;
  if (r.min_inf || r.max_inf) return false;
  return r.min > r.max || (r.min == r.max && (r.minex || r.maxex));
}

ZSetObject::Node* ZSetObject::FirstInLex(const ZLexRange& r) const {
  if (LexRangeEmpty(r) || tail_ == nullptr || !LexGteMin(tail_->member(), r)) return nullptr;
  if (!LexLteMax(First()->member(), r)) return nullptr;
  Node* x = nullptr;
  if (listpack_) {
    // zzlFirstInLexRange scans. With mixed scores the members are not in lex order, and the
    // skiplist descent could stop at another node.
    for (x = First(); x != nullptr && !LexGteMin(x->member(), r);) x = x->next();
  } else {
    x = header_;
    for (int i = level_ - 1; i >= 0; i--) {
      while (x->level[i].forward != nullptr && !LexGteMin(x->level[i].forward->member(), r)) {
        x = x->level[i].forward;
      }
    }
    x = x->level[0].forward;
  }
  return x != nullptr && LexLteMax(x->member(), r) ? x : nullptr;
}

ZSetObject::Node* ZSetObject::LastInLex(const ZLexRange& r) const {
  if (LexRangeEmpty(r) || tail_ == nullptr || !LexGteMin(tail_->member(), r)) return nullptr;
  if (!LexLteMax(First()->member(), r)) return nullptr;
  if (listpack_) {  // zzlLastInLexRange scans back from the tail
    Node* x = tail_;
    while (x != nullptr && !LexLteMax(x->member(), r)) x = x->prev();
    return x != nullptr && LexGteMin(x->member(), r) ? x : nullptr;
  }
  Node* x = header_;
  for (int i = level_ - 1; i >= 0; i--) {
    while (x->level[i].forward != nullptr && LexLteMax(x->level[i].forward->member(), r)) {
      x = x->level[i].forward;
    }
  }
  return x != header_ && LexGteMin(x->member(), r) ? x : nullptr;
}

ZSetObject::Node* ZSetObject::Random(std::mt19937_64& rng) { return index_.Random(rng); }

uint64_t ZSetObject::Scan(uint64_t cursor, int64_t count,
                          std::vector<std::pair<std::string, double>>* out) {
  if (listpack_) {
    for (Node* x = First(); x != nullptr; x = x->next()) out->emplace_back(x->member(), x->score);
    return 0;
  }
  int steps = 0;
  do {
    cursor = index_.Scan(cursor, [&](Node& x) { out->emplace_back(x.member(), x.score); });
  } while (cursor != 0 && ++steps < count * 10 && static_cast<int64_t>(out->size()) < count);
  return cursor;
}

void ZSetObject::CheckConvert(size_t max_entries, size_t max_value) {
  if (!listpack_) return;
  if (length_ > max_entries) {
    listpack_ = false;
    return;
  }
  for (Node* x = First(); x != nullptr; x = x->next()) {
    if (x->member_size > max_value) {
      listpack_ = false;
      return;
    }
  }
  for (Node* x = First(); x != nullptr; x = x->next()) x->score = StoredScore(x->score);
}

}  // namespace docket::storage
