// Value helpers: type names, encodings and copies.
#include "storage/value.h"

#include <cerrno>
#include <cstdlib>

namespace docket::storage {
namespace {

// Redis stores a string as an integer when it is one (string2l) of at most 20 characters.
bool LooksLikeLong(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  if (s[i] == '0') return s.size() == 1;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  if (s.size() < 19) return true;
  // Close to the limits: let the conversion decide.
  errno = 0;
  std::string copy(s);
  char* end = nullptr;
  (void)std::strtoll(copy.c_str(), &end, 10);
  return errno == 0;
}

}  // namespace

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZSet:
      return "zset";
    case ValueType::kHash:
      return "hash";
    case ValueType::kStream:
      return "stream";
  }
  return "none";
}

Value Value::Clone() const {
  Value v;
  v.type_ = type_;
  v.raw_ = raw_;
  v.plain_ = plain_;
  v.access_time_ = access_time_;
  v.str_ = str_;
  if (obj_) v.obj_ = obj_->Clone();
  return v;
}

std::string_view Value::EncodingName() const {
  if (type_ != ValueType::kString) return obj_->EncodingName();
  if (raw_) return "raw";
  if (!plain_ && LooksLikeLong(str_)) return "int";
  return str_.size() <= 44 ? "embstr" : "raw";
}

size_t Value::MemoryUsage() const {
  size_t n = sizeof(Value);
  if (str_.capacity() > 15) n += str_.capacity() + 1;
  if (obj_) n += obj_->MemoryUsage();
  return n;
}

}  // namespace docket::storage
