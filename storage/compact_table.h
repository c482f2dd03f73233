// CompactTable: the big-set and big-hash encodings. CompactSet holds strings, CompactMap string
// pairs; each entry is one allocation: the chain link, the lengths as varints (one byte each
// below 128), then the key bytes and (CompactMap) the value bytes. Chaining, rehash, SCAN and
// Random are IntrusiveTable's. Depends on std and storage/hash_table.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "storage/hash_table.h"

namespace docket::storage {

template <bool kWithValue>
class CompactTable {
 public:
  class Entry {
   public:
    std::string_view key() const {
      size_t klen, vlen;
      const char* p = Bytes(&klen, &vlen);
      return {p, klen};
    }
    // REQUIRES: kWithValue.
    std::string_view value() const {
      size_t klen, vlen;
      const char* p = Bytes(&klen, &vlen);
      return {p + klen, vlen};
    }

   private:
    friend class CompactTable;
    // The key bytes; *klen and *vlen get the lengths (vlen 0 in a set).
    const char* Bytes(size_t* klen, size_t* vlen) const {
      const char* p = data_ + DecodeLength(data_, klen);
      *vlen = 0;
      if constexpr (kWithValue) p += DecodeLength(p, vlen);
      return p;
    }

    Entry* next_;
    char data_[];  // varint key length, [varint value length], key, [value]
  };

  CompactTable() = default;
  CompactTable(const CompactTable&) = delete;
  CompactTable& operator=(const CompactTable&) = delete;
  CompactTable(CompactTable&& other) noexcept { Swap(other); }
  CompactTable& operator=(CompactTable&& other) noexcept {
    Clear();
    Swap(other);
    return *this;
  }
  ~CompactTable() { Clear(); }

  void Swap(CompactTable& other) noexcept {
    table_.Swap(other.table_);
    std::swap(entry_bytes_, other.entry_bytes_);
  }

  size_t size() const { return table_.size(); }
  bool empty() const { return table_.empty(); }
  size_t buckets() const { return table_.buckets(); }
  bool rehashing() const { return table_.rehashing(); }

  const Entry* Find(std::string_view key) { return table_.Find(key); }
  bool Contains(std::string_view key) { return Find(key) != nullptr; }

  // Adds key (a set member); false when it was already there.
  bool Insert(std::string_view key) {
    static_assert(!kWithValue, "CompactMap entries take a value: use Set");
    uint64_t h = HashKey(key);
    if (table_.Find(key, h) != nullptr) return false;
    table_.Link(NewEntry(key, {}), h);
    return true;
  }

  // Sets key to value; true when the key was created. Views from this table die when an entry
  // is overwritten with a value of another length (the entry is reallocated).
  bool Set(std::string_view key, std::string_view value) {
    static_assert(kWithValue, "CompactSet has no values: use Insert");
    uint64_t h = HashKey(key);
    Entry* e = table_.Find(key, h);
    if (e == nullptr) {
      table_.Link(NewEntry(key, value), h);
      return true;
    }
    size_t klen, vlen;
    char* p = const_cast<char*>(e->Bytes(&klen, &vlen));
    if (vlen == value.size()) {
      if (vlen != 0) std::memmove(p + klen, value.data(), vlen);
      return false;
    }
    Entry* fresh = NewEntry(key, value);
    table_.Replace(e, fresh);
    FreeEntry(e);
    return false;
  }

  // Removes key; false when it was absent.
  bool Erase(std::string_view key) {
    Entry* e = table_.Unlink(key);
    if (e == nullptr) return false;
    FreeEntry(e);
    return true;
  }

  void Clear() {
    table_.Clear([](Entry* e) { ::operator delete(e); });
    entry_bytes_ = 0;
  }

  // Dict's contracts: fn(const Entry&) for the cursor's buckets (the SCAN guarantee); a random
  // entry (nullptr when empty); every entry; incremental rehash and shrinking.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    return table_.Scan(cursor, [&](Entry& e) { fn(static_cast<const Entry&>(e)); });
  }
  template <typename Rng>
  const Entry* Random(Rng& rng) {
    return table_.Random(rng);
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    table_.ForEach(fn);
  }
  bool Rehash(size_t n) { return table_.Rehash(n); }
  void ShrinkIfNeeded() { table_.ShrinkIfNeeded(); }

  // Requested bytes: buckets plus entries (the allocator's rounding is not counted).
  size_t MemoryUsage() const { return table_.BucketBytes() + entry_bytes_; }

 private:
  struct Traits {
    static Entry*& Next(Entry* e) { return e->next_; }
    static std::string_view Key(const Entry* e) { return e->key(); }
  };

  static size_t LengthBytes(size_t n) {
    size_t bytes = 1;
    for (; n >= 0x80; n >>= 7) bytes++;
    return bytes;
  }
  // LEB128: 7 bits a byte, low bits first. Returns the bytes written / read.
  static size_t EncodeLength(char* p, size_t n) {
    size_t i = 0;
    for (; n >= 0x80; n >>= 7) p[i++] = static_cast<char>((n & 0x7f) | 0x80);
    p[i++] = static_cast<char>(n);
    return i;
  }
  static size_t DecodeLength(const char* p, size_t* n) {
    if (static_cast<unsigned char>(p[0]) < 0x80) {
      *n = static_cast<unsigned char>(p[0]);
      return 1;
    }
    size_t value = 0, i = 0;
    for (int shift = 0;; shift += 7) {
      auto b = static_cast<unsigned char>(p[i++]);
      value |= static_cast<size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    *n = value;
    return i;
  }

  static size_t EntryBytes(size_t klen, size_t vlen) {
    size_t n = offsetof(Entry, data_) + LengthBytes(klen) + klen;
    if constexpr (kWithValue) n += LengthBytes(vlen) + vlen;
    return n;
  }

  Entry* NewEntry(std::string_view key, std::string_view value) {
    size_t bytes = EntryBytes(key.size(), value.size());
    auto* e = new (::operator new(bytes)) Entry;
    e->next_ = nullptr;
    char* p = e->data_ + EncodeLength(e->data_, key.size());
    if constexpr (kWithValue) p += EncodeLength(p, value.size());
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
    entry_bytes_ += bytes;
    return e;
  }

  void FreeEntry(Entry* e) {
    size_t klen, vlen;
    e->Bytes(&klen, &vlen);
    entry_bytes_ -= EntryBytes(klen, vlen);
    ::operator delete(e);
  }

  IntrusiveTable<Entry, Traits> table_;
  size_t entry_bytes_ = 0;
};

using CompactSet = CompactTable<false>;
using CompactMap = CompactTable<true>;

}  // namespace docket::storage
