// ListObject: a chain of nodes, each one allocation holding a header and a byte area where the
// elements sit packed, [begin, begin + used) of cap bytes (a small byte deque, so pops and pushes
// at either end of a node rarely move bytes). Element encoding, node growth, splits and merges.
// Depends on std and storage/number.h.
#include "storage/list.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "storage/number.h"

namespace docket::storage {

// Elements are encoded like a listpack without back-lengths: a header byte
//   0xxxxxxx                  string of 0..127 bytes follows
//   10xxxxxx yyyyyyyy         string of 128..16383 bytes (x high, y low bits) follows
//   0xC0 + 4 bytes LE         string of any other length follows
//   0xC1..0xC5 + 1/2/3/4/8    a canonical decimal integer (as string2ll accepts), little endian
// Each string has exactly one encoding, so equal elements have equal bytes (LREM and LINSERT
// compare bytes). Walking back inside a node walks it forward; PopBack keeps the tail node's
// element offsets (OffsetIndex) so draining from the tail stays O(1).
namespace {

constexpr uint8_t kStr14 = 0x80;
constexpr uint8_t kStr32 = 0xC0;
constexpr uint8_t kInt8 = 0xC1;
constexpr uint32_t kIntBytes[] = {1, 2, 3, 4, 8};

// Node sizing for glibc malloc, which hands out 16*k-byte chunks for requests of 16*k - 8
// bytes: a full node is one 8 KB chunk (Redis's list-max-listpack-size -2).
constexpr uint32_t kNodeHeader = 32;  // sizeof(ListObject::Node), checked in the constructor
constexpr uint32_t kChunkOverhead = 8;
constexpr uint32_t kNodeBytes = 8192;
constexpr uint32_t kMaxData = kNodeBytes - kChunkOverhead - kNodeHeader;
constexpr uint32_t kMinCap = 24;
// Largest element we encode: its node's byte counts are 32-bit.
constexpr size_t kMaxElement = std::numeric_limits<uint32_t>::max() - kNodeBytes;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "list: %s\n", what);
  std::abort();
}

void* Reallocate(void* p, size_t bytes) {
  void* q = std::realloc(p, bytes);
  if (q == nullptr) Die("out of memory");
  return q;
}

// Smallest data capacity >= n whose node fills a malloc chunk exactly.
uint32_t RoundCap(uint64_t n) {
  uint64_t total = (kNodeHeader + n + kChunkOverhead + 15) & ~uint64_t{15};
  return static_cast<uint32_t>(total - kNodeHeader - kChunkOverhead);
}

uint32_t InitialCap(uint32_t bytes) { return RoundCap(std::max(bytes, kMinCap)); }

// Capacity for a node of cap bytes that must hold need bytes: 1.5x growth up to a full node,
// or just enough (merges, splits and big elements).
uint32_t GrowCap(uint32_t cap, uint64_t need, bool exact) {
  if (exact || need > kMaxData) return RoundCap(need);
  uint64_t c = std::max<uint64_t>(need, cap + cap / 2);
  return RoundCap(std::min<uint64_t>(c, kMaxData));
}

uint32_t LoadLE(const uint8_t* p, uint32_t bytes, uint64_t* out) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < bytes; i++) v |= uint64_t{p[i]} << (8 * i);
  *out = v;
  return bytes;
}

void StoreLE(uint8_t* p, uint64_t v, uint32_t bytes) {
  for (uint32_t i = 0; i < bytes; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Bytes of the element at p, header included.
uint32_t ElementSize(const uint8_t* p) {
  uint8_t h = p[0];
  if (h < kStr14) return 1u + h;
  if (h < kStr32) return 2u + ((uint32_t{h} & 0x3F) << 8 | p[1]);
  if (h == kStr32) {
    uint64_t len;
    LoadLE(p + 1, 4, &len);
    return 5u + static_cast<uint32_t>(len);
  }
  return 1u + kIntBytes[h - kInt8];
}

// The element at p as a string (integers are written to scratch, >= 21 bytes); sets *size to
// its encoded size.
std::string_view Decode(const uint8_t* p, char* scratch, uint32_t* size) {
  uint8_t h = p[0];
  const char* s = reinterpret_cast<const char*>(p);
  if (h < kStr14) {
    *size = 1u + h;
    return {s + 1, h};
  }
  if (h < kStr32) {
    uint32_t len = (uint32_t{h} & 0x3F) << 8 | p[1];
    *size = 2 + len;
    return {s + 2, len};
  }
  uint64_t v;
  if (h == kStr32) {
    LoadLE(p + 1, 4, &v);
    *size = 5 + static_cast<uint32_t>(v);
    return {s + 5, static_cast<size_t>(v)};
  }
  uint32_t bytes = kIntBytes[h - kInt8];
  *size = 1 + LoadLE(p + 1, bytes, &v);
  int shift = 64 - 8 * static_cast<int>(bytes);
  int64_t iv = static_cast<int64_t>(v << shift) >> shift;
  return {scratch, static_cast<size_t>(Int64ToChars(iv, scratch))};
}

// Element offsets (from the node's data area) of the elements of n.
template <typename NodeT>
void CollectOffsets(const NodeT* n, std::vector<uint32_t>* out) {
  out->clear();
  for (uint32_t pos = 0; pos < n->used; pos += ElementSize(n->first() + pos)) {
    out->push_back(n->begin + pos);
  }
}

}  // namespace

struct ListObject::Node {
  Node* prev;
  Node* next;
  uint32_t count;  // elements
  uint32_t cap;    // bytes of the data area after this header
  uint32_t begin;  // where the first element starts in the data area
  uint32_t used;   // bytes of elements from begin
  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(this + 1); }
  uint8_t* first() { return data() + begin; }
  const uint8_t* first() const { return data() + begin; }
  uint8_t* end() { return first() + used; }
};

struct ListObject::Encoded {
  uint8_t head[9];
  uint32_t head_len = 0;
  std::string_view payload;  // empty for integers

  explicit Encoded(std::string_view v) {
    int64_t iv;
    if (!v.empty() && v.size() <= kMaxInt64Chars && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) &&
        StringToInt64(v, &iv)) {
      uint32_t i = 0;
      while (i < 4) {
        int64_t lim = int64_t{1} << (8 * kIntBytes[i] - 1);
        if (iv >= -lim && iv < lim) break;
        i++;
      }
      head[0] = static_cast<uint8_t>(kInt8 + i);
      StoreLE(head + 1, static_cast<uint64_t>(iv), kIntBytes[i]);
      head_len = 1 + kIntBytes[i];
      return;
    }
    if (v.size() > kMaxElement) Die("element too large");
    payload = v;
    if (v.size() < kStr14) {
      head[0] = static_cast<uint8_t>(v.size());
      head_len = 1;
    } else if (v.size() < (1u << 14)) {
      head[0] = static_cast<uint8_t>(kStr14 | (v.size() >> 8));
      head[1] = static_cast<uint8_t>(v.size());
      head_len = 2;
    } else {
      head[0] = kStr32;
      StoreLE(head + 1, v.size(), 4);
      head_len = 5;
    }
  }

  uint32_t size() const { return head_len + static_cast<uint32_t>(payload.size()); }

  void WriteTo(uint8_t* dst) const {
    std::memcpy(dst, head, head_len);
    if (!payload.empty()) std::memcpy(dst + head_len, payload.data(), payload.size());
  }

  // Whether the element at p is this one. The first byte fixes the header's length, so nothing
  // past the element at p is read.
  bool Matches(const uint8_t* p) const {
    if (p[0] != head[0] || std::memcmp(p + 1, head + 1, head_len - 1) != 0) return false;
    return payload.empty() || std::memcmp(p + head_len, payload.data(), payload.size()) == 0;
  }
};

// Offsets (in the data area) of every element of one node, kept in step by the pushes and pops
// that touch that node and dropped by every other change.
struct ListObject::OffsetIndex {
  const Node* node = nullptr;
  std::vector<uint16_t> offsets;  // a multi-element node is never over 64 KB
};

ListObject::ListObject() { static_assert(sizeof(Node) == kNodeHeader); }

ListObject::~ListObject() { Clear(); }

void ListObject::Clear() {
  for (Node* n = head_; n != nullptr;) {
    Node* next = n->next;
    std::free(n);
    n = next;
  }
  head_ = tail_ = nullptr;
  size_ = nodes_ = 0;
  InvalidateIndex();
}

std::unique_ptr<TypedObject> ListObject::Clone() const {
  auto copy = std::make_unique<ListObject>();
  for (const Node* n = head_; n != nullptr; n = n->next) {
    Node* m = copy->NewNode(RoundCap(n->used), 0, nullptr);
    std::memcpy(m->data(), n->first(), n->used);
    m->used = n->used;
    m->count = n->count;
  }
  copy->size_ = size_;
  return copy;
}

size_t ListObject::MemoryUsage() const {
  size_t bytes = sizeof(*this);
  for (const Node* n = head_; n != nullptr; n = n->next) bytes += kNodeHeader + n->cap;
  if (index_) bytes += sizeof(OffsetIndex) + index_->offsets.capacity() * sizeof(uint16_t);
  return bytes;
}

// ---- nodes

ListObject::Node* ListObject::NewNode(uint32_t cap, uint32_t begin, Node* before) {
  auto* n = static_cast<Node*>(Reallocate(nullptr, size_t{kNodeHeader} + cap));
  n->count = 0;
  n->cap = cap;
  n->begin = begin;
  n->used = 0;
  n->next = before;
  n->prev = before != nullptr ? before->prev : tail_;
  (n->prev != nullptr ? n->prev->next : head_) = n;
  (before != nullptr ? before->prev : tail_) = n;
  nodes_++;
  return n;
}

void ListObject::Unlink(Node* n) {
  (n->prev != nullptr ? n->prev->next : head_) = n->next;
  (n->next != nullptr ? n->next->prev : tail_) = n->prev;
  if (index_ && index_->node == n) InvalidateIndex();
  nodes_--;
  std::free(n);
}

// Moves n's bytes to new_begin within a data area of new_cap bytes, reallocating when the
// capacity changes; fixes the links and the offset index. Returns the node's new address.
ListObject::Node* ListObject::Relayout(Node* n, uint32_t new_cap, uint32_t new_begin) {
  bool indexed = index_ && index_->node == n;
  uint32_t old_begin = n->begin;
  Node* m = n;
  if (new_cap > n->cap) {
    m = static_cast<Node*>(Reallocate(n, size_t{kNodeHeader} + new_cap));
    std::memmove(m->data() + new_begin, m->data() + old_begin, m->used);
  } else {
    std::memmove(n->data() + new_begin, n->data() + old_begin, n->used);
    if (new_cap < n->cap) m = static_cast<Node*>(Reallocate(n, size_t{kNodeHeader} + new_cap));
  }
  m->cap = new_cap;
  m->begin = new_begin;
  if (m != n) {
    (m->prev != nullptr ? m->prev->next : head_) = m;
    (m->next != nullptr ? m->next->prev : tail_) = m;
  }
  if (indexed) {
    index_->node = m;
    if (new_begin != old_begin) {
      for (uint16_t& off : index_->offsets)
        off = static_cast<uint16_t>(off - old_begin + new_begin);
    }
  }
  return m;
}

// Makes room for bytes more after n's last element.
ListObject::Node* ListObject::ReserveBack(Node* n, uint32_t bytes, bool exact) {
  if (uint64_t{n->begin} + n->used + bytes <= n->cap) return n;
  uint64_t need = uint64_t{n->used} + bytes;
  return Relayout(n, need > n->cap ? GrowCap(n->cap, need, exact) : n->cap, 0);
}

// Makes room for bytes more before n's first element (free space goes to the front).
ListObject::Node* ListObject::ReserveFront(Node* n, uint32_t bytes, bool exact) {
  if (n->begin >= bytes) return n;
  uint64_t need = uint64_t{n->used} + bytes;
  uint32_t cap = need > n->cap ? GrowCap(n->cap, need, exact) : n->cap;
  return Relayout(n, cap, cap - n->used);
}

// Gives memory back once more than half of a node is free space (so pops and pushes at the same
// end never realloc back and forth).
ListObject::Node* ListObject::MaybeShrink(Node* n) {
  uint32_t free_bytes = n->cap - n->used;
  if (free_bytes <= n->cap / 2 || free_bytes < 64) return n;
  uint32_t cap = RoundCap(std::max(n->used + n->used / 4, kMinCap));
  return cap < n->cap ? Relayout(n, cap, 0) : n;
}

// Moves the elements from byte pos (an element boundary, 0 < pos < used) into a new node after
// n; returns the new node.
ListObject::Node* ListObject::Split(Node* n, uint32_t pos) {
  uint32_t left = 0;
  for (uint32_t p = 0; p < pos; p += ElementSize(n->first() + p)) left++;
  uint32_t bytes = n->used - pos;
  Node* right = NewNode(RoundCap(bytes), 0, n->next);
  std::memcpy(right->data(), n->first() + pos, bytes);
  right->used = bytes;
  right->count = n->count - left;
  n->used = pos;
  n->count = left;
  if (index_ && index_->node == n) InvalidateIndex();
  return right;
}

bool ListObject::FitsWithNext(const Node* a) const {
  return a != nullptr && a->next != nullptr && uint64_t{a->used} + a->next->used <= kMaxData;
}

// Joins a and a->next (REQUIRES FitsWithNext(a)), copying the smaller into the larger; returns
// the node left.
ListObject::Node* ListObject::MergeWithNext(Node* a) {
  Node* b = a->next;
  if (a->used >= b->used) {
    a = ReserveBack(a, b->used, true);
    b = a->next;
    std::memcpy(a->end(), b->first(), b->used);
    a->used += b->used;
    a->count += b->count;
    Unlink(b);
    return a;
  }
  b = ReserveFront(b, a->used, true);
  a = b->prev;
  b->begin -= a->used;
  std::memcpy(b->first(), a->first(), a->used);
  b->used += a->used;
  b->count += a->count;
  Unlink(a);
  return b;
}

// After n lost or changed elements: merge it with a neighbour it fits with, give back space.
void ListObject::Tidy(Node* n) {
  if (FitsWithNext(n->prev)) n = MergeWithNext(n->prev);
  if (FitsWithNext(n)) n = MergeWithNext(n);
  MaybeShrink(n);
}

// Byte position (from begin) of element i of n; i == count gives used.
uint32_t ListObject::PosOf(const Node* n, size_t i) const {
  if (i == n->count) return n->used;
  if (index_ && index_->node == n) return index_->offsets[i] - n->begin;
  uint32_t pos = 0;
  for (; i > 0; i--) pos += ElementSize(n->first() + pos);
  return pos;
}

ListObject::Node* ListObject::NodeAt(size_t index, size_t* index_in_node) const {
  Node* n;
  if (index < size_ / 2) {
    n = head_;
    while (index >= n->count) {
      index -= n->count;
      n = n->next;
    }
  } else {
    size_t from_tail = size_ - 1 - index;
    n = tail_;
    while (from_tail >= n->count) {
      from_tail -= n->count;
      n = n->prev;
    }
    index = n->count - 1 - from_tail;
  }
  *index_in_node = index;
  return n;
}

void ListObject::InvalidateIndex() {
  if (!index_) return;
  index_->node = nullptr;
  // A node of many empty strings can leave a large index behind; don't keep it around.
  if (index_->offsets.capacity() > 1024) std::vector<uint16_t>().swap(index_->offsets);
}

const std::vector<uint16_t>& ListObject::TailOffsets() {
  if (!index_) index_ = std::make_unique<OffsetIndex>();
  if (index_->node != tail_) {
    auto& offs = index_->offsets;
    offs.clear();
    for (uint32_t pos = 0; pos < tail_->used; pos += ElementSize(tail_->first() + pos)) {
      offs.push_back(static_cast<uint16_t>(tail_->begin + pos));
    }
    index_->node = tail_;
  }
  return index_->offsets;
}

// ---- pushes and pops

ListObject::Node* ListObject::AppendTo(Node* n, const Encoded& e, bool exact) {
  n = ReserveBack(n, e.size(), exact);
  uint32_t off = n->begin + n->used;
  e.WriteTo(n->data() + off);
  n->used += e.size();
  n->count++;
  size_++;
  if (index_ && index_->node == n) index_->offsets.push_back(static_cast<uint16_t>(off));
  return n;
}

ListObject::Node* ListObject::PrependTo(Node* n, const Encoded& e, bool exact) {
  n = ReserveFront(n, e.size(), exact);
  n->begin -= e.size();
  n->used += e.size();
  e.WriteTo(n->first());
  n->count++;
  size_++;
  if (index_ && index_->node == n) {
    index_->offsets.insert(index_->offsets.begin(), static_cast<uint16_t>(n->begin));
  }
  return n;
}

void ListObject::PushBack(std::string_view v) {
  Encoded e(v);
  Node* t = tail_;
  if (t == nullptr || uint64_t{t->used} + e.size() > kMaxData) {
    t = NewNode(InitialCap(e.size()), 0, nullptr);
  }
  AppendTo(t, e, false);
}

void ListObject::PushFront(std::string_view v) {
  Encoded e(v);
  Node* h = head_;
  if (h == nullptr || uint64_t{h->used} + e.size() > kMaxData) {
    uint32_t cap = InitialCap(e.size());
    h = NewNode(cap, cap, head_);
  }
  PrependTo(h, e, false);
}

std::string ListObject::PopFront() {
  Node* h = head_;
  char scratch[24];
  uint32_t sz;
  std::string out(Decode(h->first(), scratch, &sz));
  size_--;
  if (h->count == 1) {
    Unlink(h);
    return out;
  }
  h->begin += sz;
  h->used -= sz;
  h->count--;
  if (index_ && index_->node == h) index_->offsets.erase(index_->offsets.begin());
  MaybeShrink(h);
  return out;
}

std::string ListObject::PopBack() {
  Node* t = tail_;
  char scratch[24];
  uint32_t sz;
  size_--;
  if (t->count == 1) {
    std::string out(Decode(t->first(), scratch, &sz));
    Unlink(t);
    return out;
  }
  uint32_t off = TailOffsets().back();
  std::string out(Decode(t->data() + off, scratch, &sz));
  t->used = off - t->begin;
  t->count--;
  index_->offsets.pop_back();
  MaybeShrink(t);
  return out;
}

// ---- reads

bool ListObject::Get(int64_t index, std::string* out) const {
  if (index < 0) index += static_cast<int64_t>(size_);
  if (index < 0 || static_cast<uint64_t>(index) >= size_) return false;
  size_t i;
  const Node* n = NodeAt(static_cast<size_t>(index), &i);
  char scratch[24];
  uint32_t sz;
  out->assign(Decode(n->first() + PosOf(n, i), scratch, &sz));
  return true;
}

void ListObject::Range(size_t start, size_t stop,
                       const std::function<void(std::string_view)>& fn) const {
  size_t i;
  const Node* n = NodeAt(start, &i);
  uint32_t pos = PosOf(n, i);
  size_t left = stop - start + 1;
  char scratch[24];
  while (left > 0) {
    uint32_t sz;
    fn(Decode(n->first() + pos, scratch, &sz));
    left--;
    pos += sz;
    if (pos == n->used && left > 0) {
      n = n->next;
      pos = 0;
    }
  }
}

void ListObject::Walk(bool forward, const std::function<bool(size_t, std::string_view)>& fn) const {
  char scratch[24];
  uint32_t sz;
  if (forward) {
    size_t index = 0;
    for (const Node* n = head_; n != nullptr; n = n->next) {
      for (uint32_t pos = 0; pos < n->used; pos += sz) {
        if (!fn(index++, Decode(n->first() + pos, scratch, &sz))) return;
      }
    }
    return;
  }
  size_t index = size_;
  std::vector<uint32_t> offsets;
  for (const Node* n = tail_; n != nullptr; n = n->prev) {
    CollectOffsets(n, &offsets);
    for (size_t k = offsets.size(); k > 0; k--) {
      if (!fn(--index, Decode(n->data() + offsets[k - 1], scratch, &sz))) return;
    }
  }
}

// ---- changes in the middle

// Inserts e at byte pos of n, which has room for it (used + size <= kMaxData). Returns n's
// address afterwards.
ListObject::Node* ListObject::InsertInNode(Node* n, uint32_t pos, const Encoded& e) {
  uint32_t sz = e.size();
  if (uint64_t{n->begin} + n->used + sz > n->cap && n->begin >= sz) {
    // Room only at the front: shift the leading elements down.
    n->begin -= sz;
    std::memmove(n->first(), n->first() + sz, pos);
  } else {
    n = ReserveBack(n, sz, false);
    std::memmove(n->first() + pos + sz, n->first() + pos, n->used - pos);
  }
  e.WriteTo(n->first() + pos);
  n->used += sz;
  n->count++;
  size_++;
  return n;
}

// Inserts e before the element at byte pos of n (pos == used: after the last one), splitting n
// when it is full (then each half may join its outer neighbour).
void ListObject::InsertAt(Node* n, uint32_t pos, const Encoded& e) {
  uint32_t sz = e.size();
  if (uint64_t{n->used} + sz <= kMaxData) {
    InsertInNode(n, pos, e);
    return;
  }
  Node* left = n;
  Node* right = n->next;
  bool split = pos > 0 && pos < n->used;
  if (pos == 0) {
    left = n->prev;
    right = n;
  } else if (split) {
    right = Split(n, pos);
  }
  if (left != nullptr && uint64_t{left->used} + sz <= kMaxData) {
    left = AppendTo(left, e, false);
  } else if (right != nullptr && uint64_t{right->used} + sz <= kMaxData) {
    right = PrependTo(right, e, false);
  } else {
    AppendTo(NewNode(InitialCap(sz), 0, right), e, true);
  }
  if (split) {
    if (FitsWithNext(right)) MergeWithNext(right);
    if (FitsWithNext(left->prev)) MergeWithNext(left->prev);
  }
}

bool ListObject::Set(int64_t index, std::string_view v) {
  if (index < 0) index += static_cast<int64_t>(size_);
  if (index < 0 || static_cast<uint64_t>(index) >= size_) return false;
  InvalidateIndex();
  size_t i;
  Node* n = NodeAt(static_cast<size_t>(index), &i);
  uint32_t pos = PosOf(n, i);
  uint32_t old_size = ElementSize(n->first() + pos);
  Encoded e(v);
  // Take the old element out, then insert the new one where it was.
  std::memmove(n->first() + pos, n->first() + pos + old_size, n->used - pos - old_size);
  n->used -= old_size;
  n->count--;
  size_--;
  if (n->count == 0) {
    Tidy(AppendTo(n, e, true));  // a node of its own (a big element, say)
  } else if (uint64_t{n->used} + e.size() <= kMaxData) {
    Tidy(InsertInNode(n, pos, e));
  } else {
    InsertAt(n, pos, e);
  }
  return true;
}

bool ListObject::Insert(std::string_view pivot, std::string_view v, bool before) {
  Encoded p(pivot);
  for (Node* n = head_; n != nullptr; n = n->next) {
    for (uint32_t pos = 0; pos < n->used;) {
      uint32_t sz = ElementSize(n->first() + pos);
      if (p.Matches(n->first() + pos)) {
        InvalidateIndex();
        InsertAt(n, before ? pos : pos + sz, Encoded(v));
        return true;
      }
      pos += sz;
    }
  }
  return false;
}

// Removes up to limit elements equal to e from n: the first ones, or the last ones when
// from_back. Returns how many went. n keeps its address.
size_t ListObject::RemoveInNode(Node* n, const Encoded& e, size_t limit, bool from_back) {
  uint8_t* base = n->first();
  size_t skip = 0;  // matches to keep before removing (from the back: all but the last limit)
  if (from_back) {
    size_t matches = 0;
    for (uint32_t pos = 0; pos < n->used; pos += ElementSize(base + pos)) {
      matches += e.Matches(base + pos);
    }
    skip = matches > limit ? matches - limit : 0;
  }
  size_t removed = 0;
  uint32_t write = 0;      // bytes kept so far, compacted at the front
  uint32_t run_start = 0;  // start of the kept bytes not yet moved down
  uint32_t pos = 0;
  while (pos < n->used && removed < limit) {
    uint32_t sz = ElementSize(base + pos);
    if (e.Matches(base + pos)) {
      if (skip > 0) {
        skip--;
      } else {
        std::memmove(base + write, base + run_start, pos - run_start);
        write += pos - run_start;
        run_start = pos + sz;
        removed++;
      }
    }
    pos += sz;
  }
  std::memmove(base + write, base + run_start, n->used - run_start);
  write += n->used - run_start;
  n->used = write;
  n->count -= static_cast<uint32_t>(removed);
  size_ -= removed;
  return removed;
}

size_t ListObject::Remove(std::string_view v, int64_t count) {
  InvalidateIndex();
  Encoded e(v);
  size_t limit = count == 0  ? size_
                 : count > 0 ? static_cast<size_t>(count)
                             : static_cast<size_t>(-(count + 1)) + 1;  // INT64_MIN too
  bool from_back = count < 0;
  size_t removed = 0;
  Node* n = from_back ? tail_ : head_;
  while (n != nullptr && removed < limit) {
    Node* following = from_back ? n->prev : n->next;
    size_t r = RemoveInNode(n, e, limit - removed, from_back);
    removed += r;
    if (n->count == 0) {
      Unlink(n);
    } else {
      // Merge only with the side already visited, so every node is looked at once.
      if (from_back ? FitsWithNext(n) : FitsWithNext(n->prev)) {
        n = MergeWithNext(from_back ? n : n->prev);
      }
      if (r > 0) MaybeShrink(n);
    }
    n = following;
  }
  // The first node not visited and its visited neighbour.
  if (n != nullptr && removed > 0) {
    Node* a = from_back ? n : n->prev;
    if (FitsWithNext(a)) MaybeShrink(MergeWithNext(a));
  }
  return removed;
}

// ---- trims

void ListObject::DeleteFront(size_t k) {
  while (k > 0) {
    Node* h = head_;
    if (h->count <= k) {
      k -= h->count;
      size_ -= h->count;
      Unlink(h);
      continue;
    }
    uint32_t pos = PosOf(h, k);
    h->begin += pos;
    h->used -= pos;
    h->count -= static_cast<uint32_t>(k);
    size_ -= k;
    MaybeShrink(h);
    return;
  }
}

void ListObject::DeleteBack(size_t k) {
  while (k > 0) {
    Node* t = tail_;
    if (t->count <= k) {
      k -= t->count;
      size_ -= t->count;
      Unlink(t);
      continue;
    }
    t->used = PosOf(t, t->count - k);
    t->count -= static_cast<uint32_t>(k);
    size_ -= k;
    MaybeShrink(t);
    return;
  }
}

void ListObject::Trim(int64_t start, int64_t stop) {
  InvalidateIndex();
  int64_t size = static_cast<int64_t>(size_);
  start = std::max<int64_t>(start, 0);
  stop = std::min<int64_t>(stop, size - 1);
  if (start > stop) {
    Clear();
    return;
  }
  DeleteBack(static_cast<size_t>(size - 1 - stop));
  DeleteFront(static_cast<size_t>(start));
}

// ---- checks

bool ListObject::CheckInvariants(std::string* problem) const {
  auto fail = [&](const std::string& what) {
    if (problem != nullptr) *problem = what;
    return false;
  };
  size_t elements = 0, nodes = 0;
  uint64_t bytes = 0;
  const Node* prev = nullptr;
  for (const Node* n = head_; n != nullptr; prev = n, n = n->next) {
    std::string at = "node " + std::to_string(nodes) + ": ";
    nodes++;
    if (n->prev != prev) return fail(at + "bad prev link");
    if (n->count == 0) return fail(at + "empty");
    if (uint64_t{n->begin} + n->used > n->cap) return fail(at + "bytes past capacity");
    if (n->count > 1 && n->used > kMaxData) return fail(at + "too big for several elements");
    uint32_t count = 0, pos = 0;
    for (; pos < n->used; pos += ElementSize(n->first() + pos)) count++;
    if (pos != n->used || count != n->count) return fail(at + "count or size mismatch");
    elements += count;
    bytes += n->used;
  }
  if (prev != tail_) return fail("bad tail");
  if (elements != size_ || nodes != nodes_) return fail("size or node count mismatch");
  // Only inner nodes that fit together can make nodes; there can't be many of them.
  if (nodes_ > 2 * bytes / kMaxData + 3) {
    return fail(std::to_string(nodes_) + " nodes for " + std::to_string(bytes) + " bytes");
  }
  if (index_ && index_->node != nullptr) {
    const Node* n = head_;
    while (n != nullptr && n != index_->node) n = n->next;
    if (n == nullptr) return fail("offset index of a node not in the list");
    std::vector<uint32_t> offsets;
    CollectOffsets(n, &offsets);
    if (!std::equal(offsets.begin(), offsets.end(), index_->offsets.begin(),
                    index_->offsets.end())) {
      return fail("stale offset index");
    }
  }
  return true;
}

}  // namespace docket::storage
