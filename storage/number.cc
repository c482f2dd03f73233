// Ports of Redis 7.0's number conversions (util.c, t_stream.c's string2ull). Float parsing and
// printing go through the C library exactly as Redis calls it, so results match bit for bit.
#include "storage/number.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace docket::storage {
namespace {

// Redis 7.0 d2string prints integral doubles strictly inside this range with ll2string.
constexpr double kMinIntegralDouble = -4503599627370495.0;  // -(2^52 - 1)
constexpr double kMaxIntegralDouble = 4503599627370496.0;   // 2^52

// isspace() in the C locale.
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// printf into a std::string of whatever size the output needs.
template <typename T>
std::string Format(const char* format, T value) {
  int len = std::snprintf(nullptr, 0, format, value);
  std::string out(static_cast<size_t>(len), '\0');
  std::snprintf(out.data(), out.size() + 1, format, value);
  return out;
}

// ld2string's LD_STR_HUMAN post-processing of "%.17Lf" output.
std::string TrimHuman(std::string s) {
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

}  // namespace

bool StringToInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > kMaxInt64Chars) return false;
  if (s.size() == 1 && s[0] == '0') {
    if (out != nullptr) *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == s.size()) return false;
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > std::numeric_limits<uint64_t>::max() / 10) return false;
    v *= 10;
    if (v > std::numeric_limits<uint64_t>::max() - digit) return false;
    v += digit;
  }
  constexpr uint64_t kMaxPositive = std::numeric_limits<int64_t>::max();
  if (v > (negative ? kMaxPositive + 1 : kMaxPositive)) return false;
  if (out != nullptr) *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

bool StringToUint64(std::string_view s, uint64_t* out) {
  const std::string c_string(s.substr(0, s.find('\0')));
  int64_t signed_value;
  if (StringToInt64(c_string, &signed_value)) {
    if (signed_value < 0) return false;
    if (out != nullptr) *out = static_cast<uint64_t>(signed_value);
    return true;
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(c_string.c_str(), &end, 10);
  if (errno == EINVAL || errno == ERANGE || c_string.empty() || *end != '\0') return false;
  if (out != nullptr) *out = value;
  return true;
}

int Int64ToChars(int64_t v, char* buf) {
  char digits[kMaxInt64Chars];
  // Negating as unsigned keeps INT64_MIN well defined.
  uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  int len = 0;
  if (v < 0) buf[len++] = '-';
  while (n > 0) buf[len++] = digits[--n];
  buf[len] = '\0';
  return len;
}

std::string Int64ToString(int64_t v) {
  char buf[kMaxInt64Chars + 1];
  return std::string(buf, static_cast<size_t>(Int64ToChars(v, buf)));
}

bool StringToLongDouble(std::string_view s, long double* out) {
  if (s.empty() || s.size() >= kMaxLongDoubleChars) return false;
  const std::string buf(s);
  errno = 0;
  char* end = nullptr;
  const long double value = std::strtold(buf.c_str(), &end);
  if (IsSpace(buf[0]) || static_cast<size_t>(end - buf.c_str()) != buf.size() ||
      (errno == ERANGE && (std::isinf(value) || value == 0)) || errno == EINVAL ||
      std::isnan(value)) {
    return false;
  }
  if (out != nullptr) *out = value;
  return true;
}

std::string LongDoubleToString(long double v, LongDoubleMode mode) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (mode == LongDoubleMode::kAuto) return Format("%.17Lg", v);
  return TrimHuman(Format("%.17Lf", v));
}

bool StringToDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  const std::string buf(s);
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(buf.c_str(), &end);
  if (IsSpace(buf[0]) || static_cast<size_t>(end - buf.c_str()) != buf.size() ||
      (errno == ERANGE && (std::isinf(value) || value == 0)) || std::isnan(value)) {
    return false;
  }
  if (out != nullptr) *out = value;
  return true;
}

std::string DoubleToString(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  if (v > kMinIntegralDouble && v < kMaxIntegralDouble &&
      v == static_cast<double>(static_cast<int64_t>(v))) {
    return Int64ToString(static_cast<int64_t>(v));
  }
  return Format("%.17g", v);
}

}  // namespace docket::storage
