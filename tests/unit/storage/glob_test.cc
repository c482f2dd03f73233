// Tests for storage/glob: Redis 7.0.15 stringmatchlen semantics. Every expected value in the
// table was produced by redis-server 7.0.15 (PSUBSCRIBE pattern + PUBLISH channel for the
// case-sensitive rows, CONFIG GET pattern for the nocase rows).
#include "storage/glob.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace docket::storage {
namespace {

using namespace std::literals;

struct GlobCase {
  std::string_view pattern;
  std::string_view str;
  bool nocase;
  bool match;
};

constexpr GlobCase kCases[] = {
    {""sv, ""sv, false, true},
    {""sv, "a"sv, false, false},
    {"a"sv, ""sv, false, false},
    {"*"sv, ""sv, false, false},
    {"**"sv, ""sv, false, false},
    {"*"sv, "abc"sv, false, true},
    {"a*"sv, "a"sv, false, true},
    {"a*"sv, "abc"sv, false, true},
    {"*c"sv, "abc"sv, false, true},
    {"*b*"sv, "abc"sv, false, true},
    {"a*c"sv, "ac"sv, false, true},
    {"a*c"sv, "abd"sv, false, false},
    {"a**c"sv, "abbc"sv, false, true},
    {"?"sv, ""sv, false, false},
    {"?"sv, "a"sv, false, true},
    {"??"sv, "a"sv, false, false},
    {"a?c"sv, "abc"sv, false, true},
    {"a?c"sv, "ac"sv, false, false},
    {"*?"sv, ""sv, false, false},
    {"?*"sv, "x"sv, false, true},
    {"a*?"sv, "a"sv, false, false},
    {"hello"sv, "hello"sv, false, true},
    {"hello"sv, "hell"sv, false, false},
    {"hell"sv, "hello"sv, false, false},
    {"h*o"sv, "hello"sv, false, true},
    {"[abc]"sv, "b"sv, false, true},
    {"[abc]"sv, "d"sv, false, false},
    {"[^abc]"sv, "d"sv, false, true},
    {"[^abc]"sv, "a"sv, false, false},
    {"[^abc]"sv, ""sv, false, false},
    {"[a-c]x"sv, "bx"sv, false, true},
    {"[c-a]"sv, "b"sv, false, true},
    {"[a-c]"sv, "d"sv, false, false},
    {"[^a-c]"sv, "d"sv, false, true},
    {"[^a-c]"sv, "b"sv, false, false},
    {"[a-a]"sv, "a"sv, false, true},
    {"[0-9][0-9]"sv, "42"sv, false, true},
    {"[]"sv, "]"sv, false, false},
    {"[]]"sv, "]"sv, false, false},
    {"[]a]"sv, "a"sv, false, false},
    {"[a-]"sv, "-"sv, false, false},
    {"[a-]"sv, "_"sv, false, true},
    {"[-a]"sv, "-"sv, false, true},
    {"[\\]]"sv, "]"sv, false, true},
    {"[\\-]"sv, "-"sv, false, true},
    {"[a\\-z]"sv, "-"sv, false, true},
    {"[a\\-z]"sv, "b"sv, false, false},
    {"[\\^]"sv, "^"sv, false, true},
    {"[^\\]]"sv, "]"sv, false, false},
    {"[\\"sv, "\\"sv, false, true},
    {"[a\\"sv, "\\"sv, false, true},
    {"[abc"sv, "a"sv, false, true},
    {"[abc"sv, "ab"sv, false, false},
    {"[abc"sv, "d"sv, false, false},
    {"["sv, "a"sv, false, false},
    {"["sv, "["sv, false, false},
    {"["sv, ""sv, false, false},
    {"[^"sv, "a"sv, false, true},
    {"[^"sv, ""sv, false, false},
    {"[^"sv, "ab"sv, false, false},
    {"[a"sv, "a"sv, false, true},
    {"[a-"sv, "a"sv, false, true},
    {"[a-"sv, "-"sv, false, true},
    {"[a-"sv, "b"sv, false, false},
    {"x["sv, "x"sv, false, false},
    {"[*]"sv, "*"sv, false, true},
    {"[*]"sv, "a"sv, false, false},
    {"[?]"sv, "?"sv, false, true},
    {"[[]"sv, "["sv, false, true},
    {"\\*"sv, "*"sv, false, true},
    {"\\*"sv, "a"sv, false, false},
    {"\\?"sv, "?"sv, false, true},
    {"\\?"sv, "a"sv, false, false},
    {"\\[a]"sv, "[a]"sv, false, true},
    {"\\[a]"sv, "a"sv, false, false},
    {"a\\"sv, "a\\"sv, false, true},
    {"a\\"sv, "a"sv, false, false},
    {"\\"sv, "\\"sv, false, true},
    {"\\"sv, ""sv, false, false},
    {"\\\\"sv, "\\"sv, false, true},
    {"\\a"sv, "a"sv, false, true},
    {"*\\"sv, "ab\\"sv, false, true},
    {"a\\*b"sv, "a*b"sv, false, true},
    {"a\\*b"sv, "axb"sv, false, false},
    {"a\0b"sv, "a\0b"sv, false, true},
    {"a\0b"sv, "a\0c"sv, false, false},
    {"a?b"sv, "a\0b"sv, false, true},
    {"*\0*"sv, "x\0y"sv, false, true},
    {"[\0]"sv, "\0"sv, false, true},
    {"a"sv, "a\0"sv, false, false},
    {"a*"sv, "a\0"sv, false, true},
    {"[\x80-\xff]"sv, "\x90"sv, false, true},
    {"[\x80-\xff]"sv, "a"sv, false, false},
    {"[a-\xff]"sv, "b"sv, false, false},
    {"[a-\xff]"sv, "A"sv, false, true},
    {"[a-\xff]"sv, "\x90"sv, false, false},
    {"[\xff-a]"sv, "\xff"sv, false, true},
    {"\xc3\xa9*"sv, "\xc3\xa9t\xc3\xa9"sv, false, true},
    {"HELLO"sv, "hello"sv, false, false},
    {"[A-Z]"sv, "q"sv, false, false},
    {"MAXMEM?RY"sv, "maxmemory"sv, true, true},
    {"[M]axmemory"sv, "maxmemory"sv, true, true},
    {"[\\M]axmemory"sv, "maxmemory"sv, true, false},
    {"[\\m]AXMEMORY"sv, "maxmemory"sv, true, true},
    {"[\x80-z]axmemory"sv, "maxmemory"sv, true, false},
    {"[\xff-z]axmemory"sv, "maxmemory"sv, true, true},
    {"[K-N]AXMEMORY"sv, "maxmemory"sv, true, true},
    {"[n-k]AXMEMORY"sv, "maxmemory"sv, true, true},
    {"[^M]axmemory"sv, "maxmemory"sv, true, false},
    {"MaxMemory*"sv, "maxmemory"sv, true, true},
    {"*-POLICY"sv, "maxmemory-policy"sv, true, true},
};

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; i++) out += s;
  return out;
}

TEST_CASE("GlobMatch agrees with redis-server 7.0.15") {
  for (const GlobCase& c : kCases) {
    CAPTURE(c.pattern);
    CAPTURE(c.str);
    CAPTURE(c.nocase);
    CHECK(GlobMatch(c.pattern, c.str, c.nocase) == c.match);
  }
}

TEST_CASE("GlobMatch nocase folds ASCII letters only") {
  CHECK(GlobMatch("HELLO", "hello", true));
  CHECK(GlobMatch("h?LL*", "HeLlo", true));
  CHECK(GlobMatch("[A-Z]", "q", true));
  CHECK(GlobMatch("[a-z]", "Q", true));
  CHECK_FALSE(GlobMatch("[\\A]", "a", true));  // an escaped class member stays case-sensitive
  CHECK(GlobMatch("\\A", "a", true));          // an escaped literal outside a class folds
  CHECK_FALSE(GlobMatch("\xc3\xa9", "\xc3\x89", true));
  // glibc tolower() turns signed bytes 0x80..0xfe into 128..254, so this range becomes [254-122]
  // under nocase and matches nothing (Redis does the same, checked with CONFIG GET).
  CHECK(GlobMatch("[\x80-z]", "m"));
  CHECK_FALSE(GlobMatch("[\x80-z]", "m", true));
  CHECK(GlobMatch("[\xff-z]", "m", true));
}

TEST_CASE("GlobMatch stays fast on patterns that backtrack exponentially when naive") {
  const std::string as = Repeat("a", 5000);
  CHECK_FALSE(GlobMatch("a*a*a*a*a*a*a*a*a*a*b", as));
  CHECK(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a*", as));
  CHECK(GlobMatch("a*a*a*a*a*a*a*a*a*a*a", as));
  CHECK_FALSE(GlobMatch("*?*?*?*?*?*?*?*?*?*?x", Repeat("ab", 2500)));
  CHECK_FALSE(GlobMatch("*a*b*c*d*e*f*g*h*i*j*k", Repeat("abcdefghij", 500)));
  CHECK_FALSE(GlobMatch(Repeat("*a", 30) + "b", Repeat("a", 200)));
}

TEST_CASE("GlobMatch gives up beyond 1000 nested stars, as Redis does") {
  CHECK(GlobMatch(Repeat("*a", 1000), Repeat("a", 1000)));
  CHECK_FALSE(GlobMatch(Repeat("*a", 1001), Repeat("a", 1001)));
  CHECK_FALSE(GlobMatch(Repeat("*a", 1001), Repeat("a", 1100)));
  // Runs of stars collapse into one level.
  CHECK(GlobMatch(Repeat("**a", 1000), Repeat("a", 1000)));
}

TEST_CASE("GlobMatch on a lone star needs a non-empty string") {
  // stringmatchlen("*", "") is 0; KEYS and SCAN special-case "*" themselves.
  CHECK_FALSE(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "x"));
  CHECK(GlobMatch("", ""));
}

}  // namespace
}  // namespace docket::storage
