// HashObject: the listpack-like vector of pairs, its one-way conversion to a Dict, and random
// sampling for HRANDFIELD. Depends on std and storage/hash.h.
#include "storage/hash.h"

#include <algorithm>
#include <unordered_set>

namespace docket::storage {

namespace {

size_t StringHeap(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace

std::unique_ptr<TypedObject> HashObject::Clone() const {
  auto copy = std::make_unique<HashObject>(limits_);
  copy->listpack_ = listpack_;
  copy->pairs_ = pairs_;
  // Dict's ForEach is not const, but reading entries does not change the table.
  const_cast<Dict<std::string>&>(dict_).ForEach([&](Dict<std::string>::Entry& e) {
    copy->dict_.Insert(e.key).first->value = e.value;
  });
  return copy;
}

size_t HashObject::MemoryUsage() const {
  size_t total = sizeof(*this) + pairs_.capacity() * sizeof(pairs_[0]);
  for (auto& [f, v] : pairs_) total += StringHeap(f) + StringHeap(v);
  total += dict_.MemoryUsage();
  const_cast<Dict<std::string>&>(dict_).ForEach([&](Dict<std::string>::Entry& e) {
    total += StringHeap(e.key) + StringHeap(e.value);
  });
  return total;
}

std::vector<std::pair<std::string, std::string>>::iterator HashObject::FindPair(
    std::string_view field) {
  return std::find_if(pairs_.begin(), pairs_.end(),
                      [&](const auto& p) { return p.first == field; });
}

const std::string* HashObject::Get(std::string_view field) {
  if (listpack_) {
    auto it = FindPair(field);
    return it == pairs_.end() ? nullptr : &it->second;
  }
  auto* e = dict_.Find(field);
  return e == nullptr ? nullptr : &e->value;
}

bool HashObject::Set(std::string_view field, std::string_view value) {
  if (listpack_ && (TooLong(field) || TooLong(value))) ConvertToHashtable();
  if (!listpack_) {
    auto [e, created] = dict_.Insert(field);
    e->value.assign(value);
    return created;
  }
  auto it = FindPair(field);
  bool created = it == pairs_.end();
  if (created) {
    pairs_.emplace_back(std::string(field), std::string(value));
  } else {
    it->second.assign(value);
  }
  // Checked after an overwrite too: a lowered hash-max-listpack-entries takes effect then.
  if (pairs_.size() > limits_.max_listpack_entries) ConvertToHashtable();
  return created;
}

bool HashObject::Delete(std::string_view field) {
  if (listpack_) {
    auto it = FindPair(field);
    if (it == pairs_.end()) return false;
    pairs_.erase(it);
    return true;
  }
  if (!dict_.Erase(field)) return false;
  dict_.ShrinkIfNeeded();
  return true;
}

void HashObject::TryConversion(std::span<const std::string_view> args) {
  if (!listpack_) return;
  for (std::string_view a : args) {
    if (TooLong(a)) return ConvertToHashtable();
  }
}

void HashObject::ConvertToHashtable() {
  if (!listpack_) return;
  for (auto& [f, v] : pairs_) dict_.Insert(f).first->value = std::move(v);
  pairs_.clear();
  pairs_.shrink_to_fit();
  listpack_ = false;
}

HashObject::Pair HashObject::Random(std::mt19937_64& rng) {
  if (listpack_) {
    auto& p = pairs_[rng() % pairs_.size()];
    return {&p.first, &p.second};
  }
  auto* e = dict_.Random(rng);
  return {&e->key, &e->value};
}

std::vector<HashObject::Pair> HashObject::RandomDistinct(std::mt19937_64& rng, size_t count) {
  std::vector<Pair> out;
  if (listpack_) {
    // Selection sampling keeps listpack order.
    size_t left = pairs_.size();
    for (auto& p : pairs_) {
      if (rng() % left < count - out.size()) out.push_back({&p.first, &p.second});
      left--;
      if (out.size() == count) break;
    }
    return out;
  }
  if (count * 3 > dict_.size()) {
    // Most of the hash is wanted: copy it and keep a random prefix.
    ForEach([&](const std::string& f, const std::string& v) { out.push_back({&f, &v}); });
    for (size_t i = 0; i < count; i++) {
      std::swap(out[i], out[i + rng() % (out.size() - i)]);
    }
    out.resize(count);
    return out;
  }
  std::unordered_set<const std::string*> seen;
  while (out.size() < count) {
    Pair p = Random(rng);
    if (seen.insert(p.first).second) out.push_back(p);
  }
  return out;
}

}  // namespace docket::storage
