// HashObject: a hash value (field -> value). Small hashes are packed into one byte string of
// length-prefixed field/value pairs in insertion order, as Redis's listpack encoding (so HGETALL,
// HKEYS and HSCAN list them in the order Redis does, at a few bytes of overhead per pair); past
// the listpack limits the pairs move to a CompactMap (one allocation per pair), for good, as
// Redis never converts back. Depends on std and storage/compact_table.h, storage/value.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/compact_table.h"
#include "storage/value.h"

namespace docket::storage {

// Redis's hash-max-listpack-entries and hash-max-listpack-value (Redis 7.0 defaults).
struct HashLimits {
  size_t max_listpack_entries = 512;
  size_t max_listpack_value = 64;
};

class HashObject : public TypedObject {
 public:
  // A field and its value; both views stay valid until the hash is next modified.
  using Pair = std::pair<std::string_view, std::string_view>;

  explicit HashObject(HashLimits limits = {}) : limits_(limits) {}
  HashObject(const HashObject&) = delete;
  HashObject& operator=(const HashObject&) = delete;

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override { return dict_ ? "hashtable" : "listpack"; }

  size_t size() const { return dict_ ? dict_->size() : count_; }
  bool empty() const { return size() == 0; }
  bool is_listpack() const { return dict_ == nullptr; }
  // The limits the next writes check (CONFIG SET applies to existing hashes, as in Redis).
  void set_limits(HashLimits limits) { limits_ = limits; }

  // The value of field, or nullopt. The view is valid until the hash is next modified.
  std::optional<std::string_view> Get(std::string_view field);
  bool Contains(std::string_view field) { return Get(field).has_value(); }
  // Sets field to value; true when the field was created, false when it was overwritten.
  // Converts to a hashtable when either is longer than max_listpack_value or the hash has more
  // than max_listpack_entries fields afterwards.
  bool Set(std::string_view field, std::string_view value);
  // Removes field; false when it was absent.
  bool Delete(std::string_view field);

  // hashTypeTryConversion: converts to a hashtable when any of args (fields and values about to
  // be written by HSET) is longer than max_listpack_value.
  void TryConversion(std::span<const std::string_view> args);
  // Moves the pairs to the CompactMap (no-op when already a hashtable).
  void ConvertToHashtable();

  // Calls fn(field, value) for every pair: insertion order while a listpack, table order after.
  // fn must not modify the hash.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (dict_) {
      dict_->ForEach([&](const CompactMap::Entry& e) { fn(e.key(), e.value()); });
      return;
    }
    for (size_t pos = 0; pos < packed_.size();) {
      std::string_view f = Read(&pos);
      std::string_view v = Read(&pos);
      fn(f, v);
    }
  }

  // One HSCAN step over a hashtable: calls fn(field, value) for the pairs of the buckets the
  // cursor names and returns the next cursor (0 when done). REQUIRES: !is_listpack().
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    return dict_->Scan(cursor, [&](const CompactMap::Entry& e) { fn(e.key(), e.value()); });
  }

  // One pair chosen at random. REQUIRES: !empty().
  Pair Random(std::mt19937_64& rng);
  // count distinct pairs chosen at random. REQUIRES: count < size(). A listpack gives them in
  // its own order (as Redis's lpRandomPairsUnique); a hashtable in no particular order.
  std::vector<Pair> RandomDistinct(std::mt19937_64& rng, size_t count);

 private:
  bool TooLong(std::string_view s) const { return s.size() > limits_.max_listpack_value; }
  // The packed layout: per string a varint length (7 bits a byte, low bits first) then bytes.
  static void Append(std::string* out, std::string_view s);
  std::string_view Read(size_t* pos) const;
  // Offset of field's entry in packed_ (npos when absent); *value_pos gets its value's offset.
  size_t Find(std::string_view field, size_t* value_pos) const;

  HashLimits limits_;
  uint32_t count_ = 0;                // pairs in packed_
  std::string packed_;                // while a listpack
  std::unique_ptr<CompactMap> dict_;  // once a hashtable
};

}  // namespace docket::storage
