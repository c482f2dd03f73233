// SetObject: a set value with Redis 7.0's two visible encodings: "intset" (a sorted vector of
// int64, used while every member is a canonical integer and there are at most
// kMaxIntsetEntries of them; members come out in ascending order) and "hashtable" (a CompactSet:
// one allocation per member). A set never converts back from hashtable.
// Depends on std and storage/{compact_table,value,number}.h.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "storage/compact_table.h"
#include "storage/number.h"
#include "storage/value.h"

namespace docket::storage {

class SetObject : public TypedObject {
 public:
  // Redis's set-max-intset-entries default (the limit is passed to Add).
  static constexpr size_t kMaxIntsetEntries = 512;

  // An empty set, as an intset (Redis's createIntsetObject) or a hashtable (createSetObject).
  explicit SetObject(bool intset = true) : intset_(intset) {}
  // setTypeCreate: an intset when first_member is an integer, else a hashtable. The member is
  // not added.
  static std::unique_ptr<SetObject> ForMember(std::string_view first_member);

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override { return intset_ ? "intset" : "hashtable"; }

  bool is_intset() const { return intset_; }
  size_t size() const { return intset_ ? ints_.size() : dict_.size(); }
  bool empty() const { return size() == 0; }

  // Adds m; false when already present. Converts to a hashtable when m is not an integer or
  // the intset would pass max_intset_entries (set-max-intset-entries).
  bool Add(std::string_view m, size_t max_intset_entries = kMaxIntsetEntries);
  // Removes m; false when absent.
  bool Remove(std::string_view m);
  bool Contains(std::string_view m);

  // Calls fn(std::string_view member) for every member: ascending for an intset, table order
  // for a hashtable. fn must not modify the set; the view lives during the call only.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    if (intset_) {
      char buf[24];
      for (int64_t v : ints_) fn(std::string_view(buf, Int64ToChars(v, buf)));
    } else {
      dict_.ForEach([&](const CompactSet::Entry& e) { fn(e.key()); });
    }
  }
  std::vector<std::string> Members();

  // A random member. REQUIRES: !empty().
  std::string Random(std::mt19937_64& rng);
  // Removes and returns a random member. REQUIRES: !empty().
  std::string PopRandom(std::mt19937_64& rng);

  // One SSCAN step: an intset gives every member and cursor 0 (as Redis); a hashtable visits
  // buckets until `count` members or 10*count buckets. Appends to *out, returns the cursor.
  uint64_t Scan(uint64_t cursor, int64_t count, std::vector<std::string>* out);

  void ConvertToHashtable();

 private:
  bool intset_;
  std::vector<int64_t> ints_;  // sorted ascending, unique
  CompactSet dict_;
};

}  // namespace docket::storage
