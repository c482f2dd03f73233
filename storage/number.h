// Number <-> string conversions with Redis 7.0's exact rules (util.c: string2ll, string2ull,
// ll2string, string2ld, ld2string, string2d, d2string). Depends on std only. Parsing of floats
// goes through the C library in the "C" numeric locale, as Redis does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace docket::storage {

// Longest string StringToInt64 accepts (LONG_STR_SIZE - 1 in Redis).
inline constexpr size_t kMaxInt64Chars = 20;
// Strings of this many bytes or more are never parsed as long doubles (MAX_LONG_DOUBLE_CHARS).
inline constexpr size_t kMaxLongDoubleChars = 5 * 1024;

// string2ll: optional '-' then digits, no '+', no spaces, no leading zeros ("0" alone is fine,
// "-0" is not), at most 20 bytes, no overflow. On success sets *out (if non-null).
bool StringToInt64(std::string_view s, int64_t* out);

// string2ull (stream ID parts): string2ll's rules, negatives rejected; failing those, strtoull's:
// leading spaces, '+' and leading zeros pass, and "-01" wraps to 2^64-1, as in Redis. Reads up to
// the first NUL (Redis passes a C string). Rejects "", trailing bytes and overflow.
bool StringToUint64(std::string_view s, uint64_t* out);

// ll2string: writes v in decimal plus a NUL to buf (at least 21 bytes); returns the length.
int Int64ToChars(int64_t v, char* buf);
std::string Int64ToString(int64_t v);

// string2ld (INCRBYFLOAT, HINCRBYFLOAT): strtold over the whole string; rejects "", strings of
// kMaxLongDoubleChars bytes or more, a leading space, trailing bytes, NaN, and overflow or
// underflow to zero. Accepts "inf", hex floats ("0x10") and exponents. Sets *out on success.
bool StringToLongDouble(std::string_view s, long double* out);

// ld2string modes: kAuto is "%.17Lg"; kHuman is "%.17Lf" with trailing zeros (and a trailing
// '.') removed, and "-0" written as "0" (the INCRBYFLOAT reply).
enum class LongDoubleMode { kAuto, kHuman };

// ld2string: infinities as "inf" / "-inf" in both modes, else the mode's format.
std::string LongDoubleToString(long double v, LongDoubleMode mode);

// string2d (ZADD scores and other getDoubleFromObject callers): strtod over the whole string;
// rejects "", a leading space, trailing bytes, NaN, and overflow or underflow to zero. Accepts
// "inf", "-inf", "+inf", "infinity", hex floats and exponents. Sets *out on success.
bool StringToDouble(std::string_view s, double* out);

// d2string: "nan", "inf", "-inf", "0", "-0"; an integral value with |v| < 2^52 in plain
// decimal; otherwise "%.17g" (for finite values this equals Redis 7.0's RESP double reply).
std::string DoubleToString(double v);

}  // namespace docket::storage
