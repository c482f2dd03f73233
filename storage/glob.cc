// Port of Redis 7.0.15's stringmatchlen_impl (util.c), byte for byte in behaviour, including the
// reads of the NUL terminator that Redis relies on at the end of an sds pattern.
#include "storage/glob.h"

#include <cstddef>
#include <utility>

namespace docket::storage {
namespace {

// Deeper than this many nested '*', Redis answers "no match" (protection against abuse).
constexpr int kMaxNesting = 1000;

// glibc's tolower() in the C locale, as Redis calls it on (signed) chars: ASCII letters fold,
// bytes 0x80..0xfe (negative ints) come back as their unsigned value, 0xff (-1, EOF) stays -1.
// Only ranges under nocase can tell the difference, e.g. [\x80-z] then matches nothing.
int Lower(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
  if (c < -1) return c + 256;
  return c;
}

// Redis compares bytes as plain `char`, signed on x86-64: a range like [a-\xff] is [\xff-a].
int AsInt(char c) { return static_cast<signed char>(c); }

class Matcher {
 public:
  Matcher(std::string_view pattern, std::string_view str, bool nocase)
      : pattern_(pattern), str_(str), nocase_(nocase) {}

  bool Match(size_t p, size_t s, int nesting);

 private:
  // The pattern byte at i, or the '\0' terminator an sds has just past its end.
  char PatternAt(size_t i) const { return i < pattern_.size() ? pattern_[i] : '\0'; }
  size_t PatternLeft(size_t p) const { return pattern_.size() - p; }
  bool SameChar(char a, char b) const {
    return nocase_ ? Lower(AsInt(a)) == Lower(AsInt(b)) : a == b;
  }
  bool MatchStar(size_t p, size_t s, int nesting);
  bool MatchClass(size_t* p, char c) const;
  bool InRange(char from, char to, char c) const;

  std::string_view pattern_;
  std::string_view str_;
  bool nocase_;
  // Set once the rest of the pattern after some '*' failed at every later position: then no
  // longer match of an earlier '*' can succeed either (the CVE-2022-36021 fix).
  bool skip_longer_matches_ = false;
};

bool Matcher::Match(size_t p, size_t s, int nesting) {
  if (nesting > kMaxNesting) return false;
  while (p < pattern_.size() && s < str_.size()) {
    switch (pattern_[p]) {
      case '*':
        return MatchStar(p, s, nesting);
      case '?':
        break;
      case '[':
        if (!MatchClass(&p, str_[s])) return false;
        break;
      case '\\':
        if (PatternLeft(p) >= 2) p++;
        [[fallthrough]];
      default:
        if (!SameChar(pattern_[p], str_[s])) return false;
        break;
    }
    s++;
    p++;
    if (s == str_.size()) {
      while (PatternAt(p) == '*') p++;
      break;
    }
  }
  return p == pattern_.size() && s == str_.size();
}

// p is at a '*' and s < str_.size().
bool Matcher::MatchStar(size_t p, size_t s, int nesting) {
  while (PatternAt(p + 1) == '*') p++;
  if (PatternLeft(p) == 1) return true;
  for (; s < str_.size(); s++) {
    if (Match(p + 1, s, nesting + 1)) return true;
    if (skip_longer_matches_) return false;
  }
  skip_longer_matches_ = true;
  return false;
}

// *p is at a '['; leaves *p on the closing ']' (or the last pattern byte if unterminated).
bool Matcher::MatchClass(size_t* p, char c) const {
  size_t i = *p + 1;
  const bool negate = PatternAt(i) == '^';
  if (negate) i++;
  bool match = false;
  while (true) {
    if (PatternAt(i) == '\\' && PatternLeft(i) >= 2) {
      i++;
      if (pattern_[i] == c) match = true;  // an escaped byte ignores nocase, as in Redis
    } else if (PatternAt(i) == ']') {
      break;
    } else if (PatternLeft(i) == 0) {
      i--;
      break;
    } else if (PatternLeft(i) >= 3 && pattern_[i + 1] == '-') {
      if (InRange(pattern_[i], pattern_[i + 2], c)) match = true;
      i += 2;
    } else if (SameChar(pattern_[i], c)) {
      match = true;
    }
    i++;
  }
  *p = i;
  return negate ? !match : match;
}

bool Matcher::InRange(char from, char to, char c) const {
  int start = AsInt(from);
  int end = AsInt(to);
  int value = AsInt(c);
  if (start > end) std::swap(start, end);
  if (nocase_) {
    start = Lower(start);
    end = Lower(end);
    value = Lower(value);
  }
  return value >= start && value <= end;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase) {
  Matcher matcher(pattern, str, nocase);
  return matcher.Match(0, 0, 0);
}

}  // namespace docket::storage
