// HashObject: a hash value (field -> value). Small hashes keep their pairs in insertion order in
// one vector, as Redis's listpack encoding does (HGETALL, HKEYS and HSCAN then list them in the
// same order Redis does); past the listpack limits the pairs move to a Dict, for good, as Redis
// never converts back. Depends on std and storage/dict.h, storage/value.h.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace docket::storage {

// Redis's hash-max-listpack-entries and hash-max-listpack-value.
struct HashLimits {
  size_t max_listpack_entries = 512;
  size_t max_listpack_value = 64;
};

class HashObject : public TypedObject {
 public:
  // A field and its value; both pointers stay valid until the hash is next modified.
  using Pair = std::pair<const std::string*, const std::string*>;

  explicit HashObject(HashLimits limits = {}) : limits_(limits) {}
  HashObject(const HashObject&) = delete;
  HashObject& operator=(const HashObject&) = delete;

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override {
    return listpack_ ? "listpack" : "hashtable";
  }

  size_t size() const { return listpack_ ? pairs_.size() : dict_.size(); }
  bool empty() const { return size() == 0; }
  bool is_listpack() const { return listpack_; }
  // The limits the next writes check (CONFIG SET applies to existing hashes, as in Redis).
  void set_limits(HashLimits limits) { limits_ = limits; }

  // The value of field, or nullptr. Valid until the hash is next modified.
  const std::string* Get(std::string_view field);
  bool Contains(std::string_view field) { return Get(field) != nullptr; }
  // Sets field to value; true when the field was created, false when it was overwritten.
  // Converts to a hashtable when either is longer than max_listpack_value or the hash grows
  // past max_listpack_entries.
  bool Set(std::string_view field, std::string_view value);
  // Removes field; false when it was absent.
  bool Delete(std::string_view field);

  // hashTypeTryConversion: converts to a hashtable when any of args (fields and values about to
  // be written by HSET) is longer than max_listpack_value.
  void TryConversion(std::span<const std::string_view> args);
  // Moves the pairs to the Dict (no-op when already a hashtable).
  void ConvertToHashtable();

  // Calls fn(field, value) for every pair: insertion order while a listpack, table order after.
  // fn must not modify the hash.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    if (listpack_) {
      for (auto& [f, v] : pairs_) fn(f, v);
    } else {
      dict_.ForEach([&](Dict<std::string>::Entry& e) { fn(e.key, e.value); });
    }
  }

  // One HSCAN step over a hashtable: calls fn(field, value) for the pairs of the buckets the
  // cursor names and returns the next cursor (0 when done). REQUIRES: !is_listpack().
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    return dict_.Scan(cursor, [&](Dict<std::string>::Entry& e) { fn(e.key, e.value); });
  }

  // One pair chosen at random. REQUIRES: !empty().
  Pair Random(std::mt19937_64& rng);
  // count distinct pairs chosen at random. REQUIRES: count < size(). A listpack gives them in
  // its own order (as Redis's lpRandomPairsUnique); a hashtable in no particular order.
  std::vector<Pair> RandomDistinct(std::mt19937_64& rng, size_t count);

 private:
  bool TooLong(std::string_view s) const { return s.size() > limits_.max_listpack_value; }
  std::vector<std::pair<std::string, std::string>>::iterator FindPair(std::string_view field);

  HashLimits limits_;
  bool listpack_ = true;
  std::vector<std::pair<std::string, std::string>> pairs_;  // while listpack_
  Dict<std::string> dict_;                                  // once converted
};

}  // namespace docket::storage
