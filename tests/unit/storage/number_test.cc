// Tests for storage/number: Redis 7.0 string2ll, string2ull, ll2string, string2ld, ld2string,
// string2d and d2string. Expected values in the tables are replies of redis-server 7.0.15: INCRBY
// on a missing key (string2ll), XADD key 1-<s> (string2ull), INCRBYFLOAT (string2ld + ld2string),
// ZADD + ZSCORE on a skiplist-encoded zset (string2d + the double reply).
#include "storage/number.h"

#include <doctest/doctest.h>

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace docket::storage {
namespace {

using namespace std::literals;

constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kNanOrInf = "ERR increment would produce NaN or Infinity";

// What INCRBYFLOAT replies for a key holding `current` (incrbyfloatCommand in t_string.c).
std::string IncrByFloat(std::string_view current, std::string_view increment) {
  long double value;
  long double incr;
  if (!StringToLongDouble(current, &value) || !StringToLongDouble(increment, &incr)) {
    return std::string(kNotFloat);
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) return std::string(kNanOrInf);
  return LongDoubleToString(value, LongDoubleMode::kHuman);
}

// What ZSCORE replies after ZADD z <score> m, or ZADD's error.
std::string ZaddThenZscore(std::string_view score) {
  double value;
  if (!StringToDouble(score, &value)) return std::string(kNotFloat);
  return DoubleToString(value);
}

struct Int64Case {
  std::string_view in;
  bool ok;
  int64_t value;
};

constexpr Int64Case kInt64Cases[] = {
    {"0"sv, true, INT64_C(0)},
    {"1"sv, true, INT64_C(1)},
    {"-1"sv, true, INT64_C(-1)},
    {"99"sv, true, INT64_C(99)},
    {"-99"sv, true, INT64_C(-99)},
    {"9223372036854775807"sv, true, INT64_C(9223372036854775807)},
    {"-9223372036854775808"sv, true, INT64_MIN},
    {"9223372036854775808"sv, false, 0},
    {"-9223372036854775809"sv, false, 0},
    {"18446744073709551615"sv, false, 0},
    {"18446744073709551616"sv, false, 0},
    {"99999999999999999999"sv, false, 0},
    {"-0"sv, false, 0},
    {"+1"sv, false, 0},
    {"01"sv, false, 0},
    {"00"sv, false, 0},
    {"-01"sv, false, 0},
    {" 1"sv, false, 0},
    {"1 "sv, false, 0},
    {""sv, false, 0},
    {"-"sv, false, 0},
    {"--1"sv, false, 0},
    {"1-"sv, false, 0},
    {"1e3"sv, false, 0},
    {"1.0"sv, false, 0},
    {"0x10"sv, false, 0},
    {"1\0"sv, false, 0},
    {"\0001"sv, false, 0},
    {"000000000000000000001"sv, false, 0},
    {"-00000000000000000001"sv, false, 0},
    {"100000000000000000000"sv, false, 0},
    {"12345678901234567890"sv, false, 0},
    {"-1234567890123456789"sv, true, INT64_C(-1234567890123456789)},
    {"\xd9\xa1"sv, false, 0},
};

TEST_CASE("StringToInt64 matches string2ll") {
  for (const Int64Case& c : kInt64Cases) {
    CAPTURE(c.in);
    int64_t value = 12345;
    CHECK(StringToInt64(c.in, &value) == c.ok);
    if (c.ok) CHECK(value == c.value);
  }
  CHECK(StringToInt64("42", nullptr));
  CHECK(StringToInt64("-9223372036854775808", nullptr));
}

struct Uint64Case {
  std::string_view in;
  bool ok;
  uint64_t value;
};

constexpr Uint64Case kUint64Cases[] = {
    {"0"sv, true, UINT64_C(0)},
    {"1"sv, true, UINT64_C(1)},
    {"-1"sv, false, UINT64_C(0)},
    {"99"sv, true, UINT64_C(99)},
    {"-99"sv, false, UINT64_C(0)},
    {"9223372036854775807"sv, true, UINT64_C(9223372036854775807)},
    {"-9223372036854775808"sv, false, UINT64_C(0)},
    {"9223372036854775808"sv, true, UINT64_C(9223372036854775808)},
    {"-9223372036854775809"sv, true, UINT64_C(9223372036854775807)},
    {"18446744073709551615"sv, true, UINT64_C(18446744073709551615)},
    {"18446744073709551616"sv, false, UINT64_C(0)},
    {"99999999999999999999"sv, false, UINT64_C(0)},
    {"-0"sv, true, UINT64_C(0)},
    {"+1"sv, true, UINT64_C(1)},
    {"01"sv, true, UINT64_C(1)},
    {"00"sv, true, UINT64_C(0)},
    {"-01"sv, true, UINT64_C(18446744073709551615)},
    {" 1"sv, true, UINT64_C(1)},
    {"1 "sv, false, UINT64_C(0)},
    {""sv, false, UINT64_C(0)},
    {"-"sv, false, UINT64_C(0)},
    {"--1"sv, false, UINT64_C(0)},
    {"1-"sv, false, UINT64_C(0)},
    {"1e3"sv, false, UINT64_C(0)},
    {"1.0"sv, false, UINT64_C(0)},
    {"0x10"sv, false, UINT64_C(0)},
    {"1\0"sv, true, UINT64_C(1)},
    {"\0001"sv, false, UINT64_C(0)},
    {"000000000000000000001"sv, true, UINT64_C(1)},
    {"-00000000000000000001"sv, true, UINT64_C(18446744073709551615)},
    {"100000000000000000000"sv, false, UINT64_C(0)},
    {"12345678901234567890"sv, true, UINT64_C(12345678901234567890)},
    {"-1234567890123456789"sv, false, UINT64_C(0)},
    {"\xd9\xa1"sv, false, UINT64_C(0)},
    {"+5"sv, true, UINT64_C(5)},
    {" 7"sv, true, UINT64_C(7)},
    {"\t7"sv, true, UINT64_C(7)},
    {"0009"sv, true, UINT64_C(9)},
    {"1x"sv, false, UINT64_C(0)},
    {"- 1"sv, false, UINT64_C(0)},
    {"+-1"sv, false, UINT64_C(0)},
    {"-18446744073709551615"sv, true, UINT64_C(1)},
    {"-18446744073709551616"sv, false, UINT64_C(0)},
};

TEST_CASE("StringToUint64 matches string2ull (stream ID parts)") {
  for (const Uint64Case& c : kUint64Cases) {
    CAPTURE(c.in);
    uint64_t value = 12345;
    CHECK(StringToUint64(c.in, &value) == c.ok);
    if (c.ok) CHECK(value == c.value);
  }
}

TEST_CASE("Int64ToChars and Int64ToString match ll2string") {
  char buf[21];
  CHECK(Int64ToChars(0, buf) == 1);
  CHECK(std::string_view(buf) == "0");
  CHECK(Int64ToChars(std::numeric_limits<int64_t>::min(), buf) == 20);
  CHECK(std::string_view(buf) == "-9223372036854775808");
  CHECK(Int64ToChars(std::numeric_limits<int64_t>::max(), buf) == 19);
  CHECK(std::string_view(buf) == "9223372036854775807");
  CHECK(Int64ToString(-1) == "-1");
  CHECK(Int64ToString(10) == "10");
  CHECK(Int64ToString(-100200300) == "-100200300");
  for (int64_t v : {INT64_C(0), INT64_C(7), INT64_C(-7), INT64_C(1) << 40, -(INT64_C(1) << 40)}) {
    int64_t back = 0;
    REQUIRE(StringToInt64(Int64ToString(v), &back));
    CHECK(back == v);
  }
}

struct FloatReplyCase {
  std::string_view in;
  std::string_view reply;
};

constexpr FloatReplyCase kIncrByFloatCases[] = {
    {"0"sv, "0"sv},
    {"1"sv, "1"sv},
    {"-1"sv, "-1"sv},
    {"10.5"sv, "10.5"sv},
    {"0.1"sv, "0.1"sv},
    {"1.5"sv, "1.5"sv},
    {"3.0e3"sv, "3000"sv},
    {"1e3"sv, "1000"sv},
    {"1E3"sv, "1000"sv},
    {".5"sv, "0.5"sv},
    {"5."sv, "5"sv},
    {"-.5"sv, "-0.5"sv},
    {"+1"sv, "1"sv},
    {"+.5"sv, "0.5"sv},
    {"01"sv, "1"sv},
    {"-0"sv, "0"sv},
    {"-0.0"sv, "0"sv},
    {"0x10"sv, "16"sv},
    {"0X1p4"sv, "16"sv},
    {"0x1.8p1"sv, "3"sv},
    {"1e-5"sv, "0.00001"sv},
    {"-123.4500"sv, "-123.45"sv},
    {"123456789.123456789"sv, "123456789.12345678899873747"sv},
    {"1e20"sv, "100000000000000000000"sv},
    {"1e-20"sv, "0"sv},
    {"-1e-20"sv, "0"sv},
    {"1e300"sv,
     "1000000000000000000008997324079559193870523944273290747938260082321265646596"
     "1809357558491520837504971903503725086142748359035925561846729839130962605207"
     "4864628732713564184365329408425510760601678972665293237003055138294762099454"
     "0294772781889620606179267611627097410650567187386105690089424915104006144"sv},
    {"1e4933"sv, "ERR value is not a valid float"sv},
    {"1e-4940"sv, "0"sv},
    {"1e-5000"sv, "ERR value is not a valid float"sv},
    {"inf"sv, "ERR increment would produce NaN or Infinity"sv},
    {"-inf"sv, "ERR increment would produce NaN or Infinity"sv},
    {"+inf"sv, "ERR increment would produce NaN or Infinity"sv},
    {"Inf"sv, "ERR increment would produce NaN or Infinity"sv},
    {"INFINITY"sv, "ERR increment would produce NaN or Infinity"sv},
    {"infin"sv, "ERR value is not a valid float"sv},
    {"nan"sv, "ERR value is not a valid float"sv},
    {"-nan"sv, "ERR value is not a valid float"sv},
    {"NaN"sv, "ERR value is not a valid float"sv},
    {"nan(1)"sv, "ERR value is not a valid float"sv},
    {""sv, "ERR value is not a valid float"sv},
    {" 1"sv, "ERR value is not a valid float"sv},
    {"\t1"sv, "ERR value is not a valid float"sv},
    {"1 "sv, "ERR value is not a valid float"sv},
    {"1\n"sv, "ERR value is not a valid float"sv},
    {"."sv, "ERR value is not a valid float"sv},
    {"e3"sv, "ERR value is not a valid float"sv},
    {"1e"sv, "ERR value is not a valid float"sv},
    {"1e+"sv, "ERR value is not a valid float"sv},
    {"0x"sv, "ERR value is not a valid float"sv},
    {"1\0"sv, "ERR value is not a valid float"sv},
    {"1,5"sv, "ERR value is not a valid float"sv},
    {"1_0"sv, "ERR value is not a valid float"sv},
    {"--1"sv, "ERR value is not a valid float"sv},
    {"1.5x"sv, "ERR value is not a valid float"sv},
};

TEST_CASE("StringToLongDouble + LongDoubleToString(kHuman) match INCRBYFLOAT") {
  for (const FloatReplyCase& c : kIncrByFloatCases) {
    CAPTURE(c.in);
    CHECK(IncrByFloat("0", c.in) == c.reply);
  }
}

struct IncrPairCase {
  std::string_view current;
  std::string_view increment;
  std::string_view reply;
};

constexpr IncrPairCase kIncrPairCases[] = {
    {"10.5"sv, "0.1"sv, "10.6"sv},
    {"5.0e3"sv, "2.0e2"sv, "5200"sv},
    {"0.1"sv, "0.2"sv, "0.3"sv},
    {"1"sv, "1e-17"sv, "1.00000000000000001"sv},
    {"1.1"sv, "2.2"sv, "3.3"sv},
    {"3"sv, "-3"sv, "0"sv},
    {"-0.0"sv, "-0.0"sv, "0"sv},
    {"-1e-20"sv, "0"sv, "0"sv},
    {"10"sv, "-10.5"sv, "-0.5"sv},
    {"1e308"sv, "1e308"sv,
     "1999999999999999999933717593116912913211201996948311344155940959898434697376"
     "7612374420025384377707864089349445010802644630426949918792116719484162886039"
     "2837535918200039206381557326219209014213335878306791577877829121087126122536"
     "7298032372604341731785068897632475826017115146362848490209054565100926878571"
     "56096"sv},
    {"1e4932"sv, "1e4932"sv, "ERR increment would produce NaN or Infinity"sv},
    {"inf"sv, "1"sv, "ERR increment would produce NaN or Infinity"sv},
    {"1"sv, "inf"sv, "ERR increment would produce NaN or Infinity"sv},
    {"9007199254740993"sv, "1"sv, "9007199254740994"sv},
    {"0.3"sv, "-0.1"sv, "0.2"sv},
    {"17179869184"sv, "0.5"sv, "17179869184.5"sv},
};

TEST_CASE("INCRBYFLOAT sums print as Redis prints them") {
  for (const IncrPairCase& c : kIncrPairCases) {
    CAPTURE(c.current);
    CAPTURE(c.increment);
    CHECK(IncrByFloat(c.current, c.increment) == c.reply);
  }
}

TEST_CASE("LongDoubleToString(kHuman) on huge values prints every digit") {
  // Lengths, heads and tails of redis-server's INCRBYFLOAT replies.
  struct Huge {
    std::string_view in;
    size_t len;
    std::string_view head;
    std::string_view tail;
  };
  const Huge kHuge[] = {
      {"1e4000", 4000, "999999999999999999996546387309", "272729951206648276349901340672"},
      {"1e4932", 4933, "100000000000000000000601894938", "163141086538418113791886622720"},
      {"-1e4932", 4934, "-10000000000000000000060189493", "163141086538418113791886622720"},
      {"1.18973149535723176502e4932", 4933, "118973149535723176502126385303",
       "444156604419552086811989770240"},
  };
  for (const Huge& h : kHuge) {
    CAPTURE(h.in);
    const std::string out = IncrByFloat("0", h.in);
    CHECK(out.size() == h.len);
    CHECK(out.substr(0, h.head.size()) == h.head);
    CHECK(out.substr(out.size() - h.tail.size()) == h.tail);
  }
}

TEST_CASE("StringToLongDouble rejects strings of MAX_LONG_DOUBLE_CHARS bytes or more") {
  // redis-server: INCRBYFLOAT with 5118 zeros then "1" replies 1; one more zero is not a float,
  // whether the long string is the increment or the stored value.
  const std::string longest = std::string(kMaxLongDoubleChars - 2, '0') + "1";
  const std::string too_long = "0" + longest;
  CHECK(IncrByFloat("0", longest) == "1");
  CHECK(IncrByFloat("0", too_long) == kNotFloat);
  CHECK(IncrByFloat(too_long, "1") == kNotFloat);
}

TEST_CASE("LongDoubleToString(kAuto) is %.17Lg with explicit infinities") {
  CHECK(LongDoubleToString(0.1L, LongDoubleMode::kAuto) == "0.1");
  CHECK(LongDoubleToString(static_cast<long double>(0.1), LongDoubleMode::kAuto) ==
        "0.10000000000000001");
  CHECK(LongDoubleToString(1e-5L, LongDoubleMode::kAuto) == "1e-05");
  CHECK(LongDoubleToString(3.0L, LongDoubleMode::kAuto) == "3");
  CHECK(LongDoubleToString(1e20L, LongDoubleMode::kAuto) == "1e+20");
  CHECK(LongDoubleToString(-0.0L, LongDoubleMode::kAuto) == "-0");
  const long double inf = std::numeric_limits<long double>::infinity();
  CHECK(LongDoubleToString(inf, LongDoubleMode::kAuto) == "inf");
  CHECK(LongDoubleToString(-inf, LongDoubleMode::kAuto) == "-inf");
  CHECK(LongDoubleToString(inf, LongDoubleMode::kHuman) == "inf");
  CHECK(LongDoubleToString(-inf, LongDoubleMode::kHuman) == "-inf");
  CHECK(LongDoubleToString(-0.0L, LongDoubleMode::kHuman) == "0");
  CHECK(LongDoubleToString(100.0L, LongDoubleMode::kHuman) == "100");
}

constexpr FloatReplyCase kZscoreCases[] = {
    {"0"sv, "0"sv},
    {"1"sv, "1"sv},
    {"-1"sv, "-1"sv},
    {"1.5"sv, "1.5"sv},
    {"0.1"sv, "0.10000000000000001"sv},
    {"3.0"sv, "3"sv},
    {"-0"sv, "-0"sv},
    {"-0.0"sv, "-0"sv},
    {"1e20"sv, "1e+20"sv},
    {"-1e20"sv, "-1e+20"sv},
    {"1e17"sv, "1e+17"sv},
    {"1e16"sv, "10000000000000000"sv},
    {"0x10"sv, "16"sv},
    {"0X1p-2"sv, "0.25"sv},
    {"inf"sv, "inf"sv},
    {"-inf"sv, "-inf"sv},
    {"+inf"sv, "inf"sv},
    {"Infinity"sv, "inf"sv},
    {"+infinity"sv, "inf"sv},
    {"nan"sv, "ERR value is not a valid float"sv},
    {"-nan"sv, "ERR value is not a valid float"sv},
    {"1e308"sv, "1e+308"sv},
    {"1e309"sv, "ERR value is not a valid float"sv},
    {"-1e309"sv, "ERR value is not a valid float"sv},
    {"1e-320"sv, "9.9998886718268301e-321"sv},
    {"1e-400"sv, "ERR value is not a valid float"sv},
    {"4.9e-324"sv, "4.9406564584124654e-324"sv},
    {"2.5e-5"sv, "2.5000000000000001e-05"sv},
    {"0.30000000000000004"sv, "0.30000000000000004"sv},
    {"4503599627370495"sv, "4503599627370495"sv},
    {"4503599627370496"sv, "4503599627370496"sv},
    {"-4503599627370495"sv, "-4503599627370495"sv},
    {"-4503599627370496"sv, "-4503599627370496"sv},
    {"9007199254740993"sv, "9007199254740992"sv},
    {"123456789012345678"sv, "1.2345678901234568e+17"sv},
    {".5"sv, "0.5"sv},
    {"5."sv, "5"sv},
    {"+1"sv, "1"sv},
    {"01"sv, "1"sv},
    {"1e3"sv, "1000"sv},
    {""sv, "ERR value is not a valid float"sv},
    {" 1"sv, "ERR value is not a valid float"sv},
    {"1 "sv, "ERR value is not a valid float"sv},
    {"\t1"sv, "ERR value is not a valid float"sv},
    {"1\0"sv, "ERR value is not a valid float"sv},
    {"1.5x"sv, "ERR value is not a valid float"sv},
    {"e3"sv, "ERR value is not a valid float"sv},
    {"."sv, "ERR value is not a valid float"sv},
};

TEST_CASE("StringToDouble + DoubleToString match ZADD + ZSCORE") {
  for (const FloatReplyCase& c : kZscoreCases) {
    CAPTURE(c.in);
    CHECK(ZaddThenZscore(c.in) == c.reply);
  }
}

TEST_CASE("ZINCRBY 0.1 five times prints as Redis does") {
  // redis-server: 0.10000000000000001, 0.20000000000000001, 0.30000000000000004,
  // 0.40000000000000002, 0.5
  const std::string_view kReplies[] = {"0.10000000000000001", "0.20000000000000001",
                                       "0.30000000000000004", "0.40000000000000002", "0.5"};
  double score = 0;
  for (std::string_view reply : kReplies) {
    double incr;
    REQUIRE(StringToDouble("0.1", &incr));
    score += incr;
    CHECK(DoubleToString(score) == reply);
  }
}

TEST_CASE("DoubleToString special values and the integer fast path") {
  CHECK(DoubleToString(std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(DoubleToString(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(DoubleToString(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(DoubleToString(0.0) == "0");
  CHECK(DoubleToString(-0.0) == "-0");
  CHECK(DoubleToString(4503599627370495.0) == "4503599627370495");
  CHECK(DoubleToString(-4503599627370495.0) == "-4503599627370495");
  CHECK(DoubleToString(9007199254740992.0) == "9007199254740992");
  CHECK(DoubleToString(1e17) == "1e+17");
  CHECK(DoubleToString(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(DoubleToString(-2.5) == "-2.5");
}

TEST_CASE("StringToDouble accepts a null out pointer") {
  CHECK(StringToDouble("1.5", nullptr));
  CHECK_FALSE(StringToDouble("x", nullptr));
  CHECK(StringToLongDouble("1.5", nullptr));
}

}  // namespace
}  // namespace docket::storage
