// Incremental RESP request parser. Mirrors processMultibulkBuffer / processInlineBuffer of Redis 7
// (networking.c), including which bytes it checks and which it skips.
#include "protocol/request_parser.h"

#include <climits>
#include <cstring>

namespace docket::protocol {
namespace {

// string2ll's rules: optional '-', digits, no leading zeros, no spaces, no '+'.
bool ParseLongLong(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == s.size()) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t digit = s[i] - '0';
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// isspace() in the C locale, which sdssplitargs uses to skip blanks and to check after quotes.
bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

// What ends an unquoted token in sdssplitargs (note: not \v or \f).
bool EndsToken(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Redis finds line ends with strchr() on the query buffer, so a NUL byte before the delimiter
// hides it: the line stays incomplete until the size limit turns it into a protocol error.
size_t FindLineEnd(std::string_view s, char delimiter) {
  // Protocol lines are a few bytes ("*3", "$5"): one pass over the bytes beats two library scans.
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == delimiter) return i;
    if (s[i] == '\0') return std::string_view::npos;
  }
  return std::string_view::npos;
}

// One double-quoted token starting after the opening quote. Returns false when unbalanced.
bool ReadDoubleQuoted(std::string_view line, size_t* i, std::string* token) {
  while (true) {
    if (*i >= line.size()) return false;
    char c = line[*i];
    if (c == '\\' && *i + 3 < line.size() && line[*i + 1] == 'x' && HexDigit(line[*i + 2]) >= 0 &&
        HexDigit(line[*i + 3]) >= 0) {
      token->push_back(static_cast<char>(HexDigit(line[*i + 2]) * 16 + HexDigit(line[*i + 3])));
      *i += 4;
    } else if (c == '\\' && *i + 1 < line.size()) {
      char e = line[*i + 1];
      switch (e) {
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'b':
          c = '\b';
          break;
        case 'a':
          c = '\a';
          break;
        default:
          c = e;
          break;
      }
      token->push_back(c);
      *i += 2;
    } else if (c == '"') {
      // The closing quote must be followed by a space or nothing.
      if (*i + 1 < line.size() && !IsSpace(line[*i + 1])) return false;
      *i += 1;
      return true;
    } else {
      token->push_back(c);
      *i += 1;
    }
  }
}

bool ReadSingleQuoted(std::string_view line, size_t* i, std::string* token) {
  while (true) {
    if (*i >= line.size()) return false;
    char c = line[*i];
    if (c == '\\' && *i + 1 < line.size() && line[*i + 1] == '\'') {
      token->push_back('\'');
      *i += 2;
    } else if (c == '\'') {
      if (*i + 1 < line.size() && !IsSpace(line[*i + 1])) return false;
      *i += 1;
      return true;
    } else {
      token->push_back(c);
      *i += 1;
    }
  }
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  line = line.substr(0, line.find('\0'));  // a C string to sdssplitargs: a NUL ends the line
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) i++;
    if (i >= line.size()) return true;
    std::string token;
    bool ok = true;
    // An unquoted token runs to the next blank; a quote inside it opens a quoted part that ends
    // the token.
    while (ok && i < line.size() && !EndsToken(line[i])) {
      char c = line[i++];
      if (c == '"') {
        ok = ReadDoubleQuoted(line, &i, &token);
        break;
      } else if (c == '\'') {
        ok = ReadSingleQuoted(line, &i, &token);
        break;
      } else {
        token.push_back(c);
      }
    }
    if (!ok) {
      out->clear();
      return false;
    }
    out->push_back(std::move(token));
  }
}

ParseStatus RequestParser::Fail(std::string text) {
  error_ = std::move(text);
  Reset();
  return ParseStatus::kError;
}

void RequestParser::Reset() {
  multibulk_left_ = 0;
  bulk_len_ = -1;
  cursor_ = 0;
  args_.clear();
}

size_t RequestParser::BytesWanted() const {
  if (multibulk_left_ == 0 || bulk_len_ < 0) return 0;
  return cursor_ + static_cast<size_t>(bulk_len_) + 2;
}

ParseStatus RequestParser::Parse(std::string_view buf, size_t* pos, const ParserLimits& limits,
                                 std::vector<std::string_view>* argv) {
  argv->clear();
  if (*pos >= buf.size()) return ParseStatus::kIncomplete;
  if (multibulk_left_ == 0 && buf[*pos] != '*') return ParseInline(buf, pos, limits, argv);
  return ParseMultibulk(buf, pos, limits, argv);
}

ParseStatus RequestParser::ParseInline(std::string_view buf, size_t* pos,
                                       const ParserLimits& limits,
                                       std::vector<std::string_view>* argv) {
  std::string_view rest = buf.substr(*pos);
  size_t newline = FindLineEnd(rest, '\n');
  if (newline == std::string_view::npos) {
    if (rest.size() > limits.max_inline_len) return Fail("Protocol error: too big inline request");
    return ParseStatus::kIncomplete;
  }
  size_t line_len = newline;
  if (line_len > 0 && rest[line_len - 1] == '\r') line_len--;
  if (!SplitInlineArgs(rest.substr(0, line_len), &inline_args_)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  *pos += newline + 1;
  for (const std::string& a : inline_args_) argv->emplace_back(a);
  return ParseStatus::kCommand;
}

ParseStatus RequestParser::ParseMultibulk(std::string_view buf, size_t* pos,
                                          const ParserLimits& limits,
                                          std::vector<std::string_view>* argv) {
  std::string_view cmd = buf.substr(*pos);
  if (multibulk_left_ == 0) {
    size_t cr = FindLineEnd(cmd, '\r');
    if (cr == std::string_view::npos) {
      if (cmd.size() > limits.max_inline_len) {
        return Fail("Protocol error: too big mbulk count string");
      }
      return ParseStatus::kIncomplete;
    }
    if (cr + 2 > cmd.size()) return ParseStatus::kIncomplete;
    int64_t count;
    if (!ParseLongLong(cmd.substr(1, cr - 1), &count) || count > limits.max_multibulk_len) {
      return Fail("Protocol error: invalid multibulk length");
    }
    if (count > 10 && !limits.authenticated) {
      return Fail("Protocol error: unauthenticated multibulk length");
    }
    if (count <= 0) {  // `*0` and `*-1` are empty commands, skipped
      *pos += cr + 2;
      return ParseStatus::kCommand;
    }
    multibulk_left_ = count;
    cursor_ = cr + 2;
    bulk_len_ = -1;
    args_.clear();
    args_.reserve(static_cast<size_t>(count < 1024 ? count : 1024));
  }
  while (multibulk_left_ > 0) {
    if (bulk_len_ < 0) {
      std::string_view rest = cmd.substr(cursor_);
      size_t cr = FindLineEnd(rest, '\r');
      if (cr == std::string_view::npos) {
        if (rest.size() > limits.max_inline_len) {
          return Fail("Protocol error: too big bulk count string");
        }
        return ParseStatus::kIncomplete;
      }
      if (cr + 2 > rest.size()) return ParseStatus::kIncomplete;
      if (rest[0] != '$') {
        return Fail(std::string("Protocol error: expected '$', got '") + rest[0] + "'");
      }
      int64_t len;
      if (!ParseLongLong(rest.substr(1, cr - 1), &len) || len < 0 || len > limits.max_bulk_len) {
        return Fail("Protocol error: invalid bulk length");
      }
      if (len > 16384 && !limits.authenticated) {
        return Fail("Protocol error: unauthenticated bulk length");
      }
      cursor_ += cr + 2;
      bulk_len_ = len;
    }
    // Like Redis, the two bytes after the bulk are skipped, not checked.
    if (cmd.size() - cursor_ < static_cast<size_t>(bulk_len_) + 2) return ParseStatus::kIncomplete;
    args_.emplace_back(cursor_, static_cast<size_t>(bulk_len_));
    cursor_ += static_cast<size_t>(bulk_len_) + 2;
    bulk_len_ = -1;
    multibulk_left_--;
  }
  argv->reserve(args_.size());
  for (auto [offset, len] : args_) argv->emplace_back(cmd.data() + offset, len);
  *pos += cursor_;
  Reset();
  return ParseStatus::kCommand;
}

}  // namespace docket::protocol
