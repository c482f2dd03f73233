// Value: what a key holds. Strings live inline; the other types (list, hash, set, zset, stream)
// are TypedObject subclasses owned through a pointer, added by their own files.
// Depends on std only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace docket::storage {

// Redis's OBJ_* numbering, so TYPE and encodings map one to one.
enum class ValueType : uint8_t {
  kString = 0,
  kList = 1,
  kSet = 2,
  kZSet = 3,
  kHash = 4,
  kStream = 6
};

std::string_view TypeName(ValueType type);  // "string", "list", ... as TYPE replies

// Base of the non-string value types.
class TypedObject {
 public:
  virtual ~TypedObject() = default;
  virtual std::unique_ptr<TypedObject> Clone() const = 0;
  virtual size_t MemoryUsage() const = 0;
  virtual std::string_view EncodingName() const = 0;  // OBJECT ENCODING
};

class Value {
 public:
  Value() = default;
  static Value String(std::string_view s) {
    Value v;
    v.type_ = ValueType::kString;
    v.str_.assign(s);
    return v;
  }
  // A string Redis builds with createStringObject instead of tryObjectEncoding (INCRBYFLOAT's
  // result): OBJECT ENCODING says "embstr" or "raw" by length, never "int".
  static Value PlainString(std::string_view s) {
    Value v = String(s);
    v.plain_ = true;
    return v;
  }
  static Value Object(ValueType type, std::unique_ptr<TypedObject> obj) {
    Value v;
    v.type_ = type;
    v.obj_ = std::move(obj);
    return v;
  }

  Value(Value&&) noexcept = default;
  Value& operator=(Value&&) noexcept = default;
  Value Clone() const;

  ValueType type() const { return type_; }
  bool is_string() const { return type_ == ValueType::kString; }

  // REQUIRES: is_string().
  const std::string& str() const { return str_; }
  std::string& mutable_str() {
    raw_ = true;  // modified in place (APPEND, SETRANGE): Redis reports "raw" from then on
    return str_;
  }

  // REQUIRES: the type's object; T is the matching TypedObject subclass.
  template <typename T>
  T& As() const {
    return static_cast<T&>(*obj_);
  }

  // OBJECT ENCODING: "int", "embstr", "raw" for strings (as Redis chooses), the object's own
  // name for other types.
  std::string_view EncodingName() const;
  size_t MemoryUsage() const;

  // Access clock for OBJECT IDLETIME (seconds, from the keyspace's clock).
  uint32_t access_time() const { return access_time_; }
  void set_access_time(uint32_t t) { access_time_ = t; }

 private:
  ValueType type_ = ValueType::kString;
  bool raw_ = false;
  bool plain_ = false;  // never "int" (PlainString)
  uint32_t access_time_ = 0;
  std::string str_;
  std::unique_ptr<TypedObject> obj_;
};

}  // namespace docket::storage
