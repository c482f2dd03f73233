// SetObject: intset / hashtable set encodings and their conversion (see set.h).
#include "storage/set.h"

#include <algorithm>
#include <climits>

namespace docket::storage {

std::unique_ptr<SetObject> SetObject::ForMember(std::string_view first_member) {
  return std::make_unique<SetObject>(StringToInt64(first_member, nullptr));
}

std::unique_ptr<TypedObject> SetObject::Clone() const {
  auto copy = std::make_unique<SetObject>(intset_);
  copy->ints_ = ints_;
  if (!intset_) {
    dict_.ForEach([&](const CompactSet::Entry& e) { copy->Add(e.key()); });
  }
  return copy;
}

size_t SetObject::MemoryUsage() const {
  if (intset_) return sizeof(*this) + ints_.capacity() * sizeof(int64_t);
  return sizeof(*this) + dict_.MemoryUsage();
}

void SetObject::ConvertToHashtable() {
  if (!intset_) return;
  intset_ = false;
  for (int64_t v : ints_) dict_.Insert(Int64ToString(v));
  ints_.clear();
  ints_.shrink_to_fit();
}

bool SetObject::Add(std::string_view m, size_t max_intset_entries) {
  if (!intset_) return dict_.Insert(m);
  int64_t v;
  if (!StringToInt64(m, &v)) {
    ConvertToHashtable();
    return dict_.Insert(m);
  }
  auto it = std::lower_bound(ints_.begin(), ints_.end(), v);
  if (it != ints_.end() && *it == v) return false;
  ints_.insert(it, v);
  if (ints_.size() > max_intset_entries) ConvertToHashtable();
  return true;
}

bool SetObject::Remove(std::string_view m) {
  if (!intset_) {
    if (!dict_.Erase(m)) return false;
    dict_.ShrinkIfNeeded();
    return true;
  }
  int64_t v;
  if (!StringToInt64(m, &v)) return false;
  auto it = std::lower_bound(ints_.begin(), ints_.end(), v);
  if (it == ints_.end() || *it != v) return false;
  ints_.erase(it);
  return true;
}

bool SetObject::Contains(std::string_view m) {
  if (!intset_) return dict_.Contains(m);
  int64_t v;
  return StringToInt64(m, &v) && std::binary_search(ints_.begin(), ints_.end(), v);
}

std::vector<std::string> SetObject::Members() {
  std::vector<std::string> out;
  out.reserve(size());
  ForEach([&](std::string_view m) { out.emplace_back(m); });
  return out;
}

std::string SetObject::Random(std::mt19937_64& rng) {
  if (intset_) return Int64ToString(ints_[rng() % ints_.size()]);
  return std::string(dict_.Random(rng)->key());
}

std::string SetObject::PopRandom(std::mt19937_64& rng) {
  if (intset_) {
    size_t i = rng() % ints_.size();
    std::string m = Int64ToString(ints_[i]);
    ints_.erase(ints_.begin() + static_cast<ptrdiff_t>(i));
    return m;
  }
  std::string m(dict_.Random(rng)->key());
  Remove(m);
  return m;
}

uint64_t SetObject::Scan(uint64_t cursor, int64_t count, std::vector<std::string>* out) {
  if (intset_) {
    ForEach([&](std::string_view m) { out->emplace_back(m); });
    return 0;
  }
  int64_t max_iterations = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
  size_t start = out->size();
  do {
    cursor = dict_.Scan(cursor, [&](const CompactSet::Entry& e) { out->emplace_back(e.key()); });
  } while (cursor != 0 && max_iterations-- > 0 &&
           out->size() - start < static_cast<uint64_t>(count));
  return cursor;
}

}  // namespace docket::storage
