// HashObject: the packed listpack-like byte string, its one-way conversion to a CompactMap, and
// random sampling for HRANDFIELD. Depends on std and storage/hash.h.
#include "storage/hash.h"

#include <unordered_set>

namespace docket::storage {

namespace {

size_t StringHeap(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace

void HashObject::Append(std::string* out, std::string_view s) {
  size_t n = s.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(s);
}

std::string_view HashObject::Read(size_t* pos) const {
  size_t n = 0;
  for (int shift = 0;; shift += 7) {
    auto b = static_cast<unsigned char>(packed_[(*pos)++]);
    n |= static_cast<size_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  std::string_view s(packed_.data() + *pos, n);
  *pos += n;
  return s;
}

size_t HashObject::Find(std::string_view field, size_t* value_pos) const {
  for (size_t pos = 0; pos < packed_.size();) {
    size_t start = pos;
    std::string_view f = Read(&pos);
    size_t vpos = pos;
    Read(&pos);
    if (f == field) {
      *value_pos = vpos;
      return start;
    }
  }
  return std::string::npos;
}

std::unique_ptr<TypedObject> HashObject::Clone() const {
  auto copy = std::make_unique<HashObject>(limits_);
  copy->count_ = count_;
  copy->packed_ = packed_;
  if (dict_) {
    copy->dict_ = std::make_unique<CompactMap>();
    dict_->ForEach([&](const CompactMap::Entry& e) { copy->dict_->Set(e.key(), e.value()); });
  }
  return copy;
}

size_t HashObject::MemoryUsage() const {
  size_t total = sizeof(*this) + StringHeap(packed_);
  if (dict_) total += sizeof(*dict_) + dict_->MemoryUsage();
  return total;
}

std::optional<std::string_view> HashObject::Get(std::string_view field) {
  if (dict_) {
    auto* e = dict_->Find(field);
    if (e == nullptr) return std::nullopt;
    return e->value();
  }
  size_t vpos;
  if (Find(field, &vpos) == std::string::npos) return std::nullopt;
  return Read(&vpos);
}

bool HashObject::Set(std::string_view field, std::string_view value) {
  if (!dict_ && (TooLong(field) || TooLong(value))) ConvertToHashtable();
  if (dict_) return dict_->Set(field, value);
  size_t vpos;
  bool created = Find(field, &vpos) == std::string::npos;
  if (created) {
    Append(&packed_, field);
    Append(&packed_, value);
    count_++;
  } else {
    size_t end = vpos;
    Read(&end);
    std::string encoded;
    Append(&encoded, value);
    packed_.replace(vpos, end - vpos, encoded);
  }
  // Checked after an overwrite too: a lowered hash-max-listpack-entries takes effect then.
  if (count_ > limits_.max_listpack_entries) ConvertToHashtable();
  return created;
}

bool HashObject::Delete(std::string_view field) {
  if (dict_) {
    if (!dict_->Erase(field)) return false;
    dict_->ShrinkIfNeeded();
    return true;
  }
  size_t vpos;
  size_t start = Find(field, &vpos);
  if (start == std::string::npos) return false;
  Read(&vpos);
  packed_.erase(start, vpos - start);
  count_--;
  if (packed_.capacity() > 2 * packed_.size() + 64) packed_.shrink_to_fit();
  return true;
}

void HashObject::TryConversion(std::span<const std::string_view> args) {
  if (dict_) return;
  for (std::string_view a : args) {
    if (TooLong(a)) return ConvertToHashtable();
  }
}

void HashObject::ConvertToHashtable() {
  if (dict_) return;
  auto dict = std::make_unique<CompactMap>();
  ForEach([&](std::string_view f, std::string_view v) { dict->Set(f, v); });
  dict_ = std::move(dict);
  packed_.clear();
  packed_.shrink_to_fit();
  count_ = 0;
}

HashObject::Pair HashObject::Random(std::mt19937_64& rng) {
  if (dict_) {
    auto* e = dict_->Random(rng);
    return {e->key(), e->value()};
  }
  size_t skip = rng() % count_;
  size_t pos = 0;
  for (; skip > 0; skip--) {
    Read(&pos);
    Read(&pos);
  }
  std::string_view f = Read(&pos);
  return {f, Read(&pos)};
}

std::vector<HashObject::Pair> HashObject::RandomDistinct(std::mt19937_64& rng, size_t count) {
  std::vector<Pair> out;
  if (!dict_) {
    // Selection sampling keeps listpack order.
    size_t left = count_;
    ForEach([&](std::string_view f, std::string_view v) {
      if (out.size() < count && rng() % left < count - out.size()) out.push_back({f, v});
      left--;
    });
    return out;
  }
  if (count * 3 > dict_->size()) {
    // Most of the hash is wanted: take it all and keep a random prefix.
    ForEach([&](std::string_view f, std::string_view v) { out.push_back({f, v}); });
    for (size_t i = 0; i < count; i++) {
      std::swap(out[i], out[i + rng() % (out.size() - i)]);
    }
    out.resize(count);
    return out;
  }
  std::unordered_set<const char*> seen;  // field bytes are unique per entry
  while (out.size() < count) {
    Pair p = Random(rng);
    if (seen.insert(p.first.data()).second) out.push_back(p);
  }
  return out;
}

}  // namespace docket::storage
