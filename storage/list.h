// ListObject: a list value stored compactly as a doubly linked chain of packed nodes (Redis's
// quicklist idea): each node holds up to ~8 KB of length-prefixed elements in one allocation, so
// a million small elements cost a few bytes of overhead each. Indexing walks nodes, never
// elements one by one across the list. Depends on std and storage/value.h (list.cc also uses
// storage/number.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/value.h"

namespace docket::storage {

class ListObject : public TypedObject {
 public:
  ListObject();
  ~ListObject() override;
  ListObject(const ListObject&) = delete;
  ListObject& operator=(const ListObject&) = delete;

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override { return "quicklist"; }  // Redis 7.0's name

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void PushFront(std::string_view v);
  void PushBack(std::string_view v);
  // REQUIRES: !empty().
  std::string PopFront();
  std::string PopBack();

  // Element at index (negative counts from the tail, -1 is the last). False when out of range.
  bool Get(int64_t index, std::string* out) const;
  // Replaces the element at index. False when out of range.
  bool Set(int64_t index, std::string_view v);

  // Calls fn(element) for the elements at positions [start, stop] (0-based, inclusive,
  // REQUIRES 0 <= start <= stop < size()), front to back. The view is valid only during the call.
  void Range(size_t start, size_t stop, const std::function<void(std::string_view)>& fn) const;
  // Calls fn(index, element) walking from the head (forward) or tail (backward) until fn returns
  // false. Indexes are 0-based positions from the head in both directions.
  void Walk(bool forward, const std::function<bool(size_t, std::string_view)>& fn) const;

  // LINSERT: inserts v before or after the first element equal to pivot. Returns false when the
  // pivot is not found.
  bool Insert(std::string_view pivot, std::string_view v, bool before);
  // LREM: removes elements equal to v; count > 0 from the head, < 0 from the tail, 0 all.
  // Returns how many were removed.
  size_t Remove(std::string_view v, int64_t count);
  // LTRIM: keeps positions [start, stop] (0-based inclusive, already clamped by the caller; an
  // empty range is start > stop) and drops the rest.
  void Trim(int64_t start, int64_t stop);

  // Removes every element.
  void Clear();

  // For tests and memory reports: how many nodes the chain has, and a full check of its
  // invariants (links, counts, byte sizes, node bounds, nodes about half full at least on
  // average). CheckInvariants returns false at the first broken one and describes it in
  // *problem when given. O(size()).
  size_t node_count() const { return nodes_; }
  bool CheckInvariants(std::string* problem = nullptr) const;

 private:
  struct Node;
  struct Encoded;
  struct OffsetIndex;

  Node* NodeAt(size_t index, size_t* index_in_node) const;
  Node* NewNode(uint32_t cap, uint32_t begin, Node* before);
  void Unlink(Node* n);  // and frees it
  Node* Relayout(Node* n, uint32_t new_cap, uint32_t new_begin);
  Node* ReserveBack(Node* n, uint32_t bytes, bool exact);
  Node* ReserveFront(Node* n, uint32_t bytes, bool exact);
  Node* MaybeShrink(Node* n);
  Node* Split(Node* n, uint32_t pos);
  Node* MergeWithNext(Node* a);
  bool FitsWithNext(const Node* a) const;
  void Tidy(Node* n);
  uint32_t PosOf(const Node* n, size_t i) const;
  Node* AppendTo(Node* n, const Encoded& e, bool exact);
  Node* PrependTo(Node* n, const Encoded& e, bool exact);
  Node* InsertInNode(Node* n, uint32_t pos, const Encoded& e);
  void InsertAt(Node* n, uint32_t pos, const Encoded& e);
  size_t RemoveInNode(Node* n, const Encoded& e, size_t limit, bool from_back);
  void DeleteFront(size_t k);
  void DeleteBack(size_t k);
  const std::vector<uint16_t>& TailOffsets();
  void InvalidateIndex();

  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  size_t size_ = 0;
  size_t nodes_ = 0;
  // Element offsets of one node (the tail, for PopBack), built on demand; see list.cc.
  std::unique_ptr<OffsetIndex> index_;
};

}  // namespace docket::storage
