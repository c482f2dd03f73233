// Incremental RESP request parser: multibulk (`*N\r\n$L\r\n...`) and inline commands, with Redis
// 7's limits and protocol error texts. Depends on the C++ standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace docket::protocol {

// Limits the server passes in (from config). Defaults are Redis 7's.
struct ParserLimits {
  int64_t max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  int64_t max_multibulk_len = 2147483647;      // longest argv accepted (INT_MAX)
  size_t max_inline_len = 64 * 1024;           // PROTO_INLINE_MAX_SIZE
  bool authenticated = true;  // false: Redis's stricter limits for unauthenticated clients
};

enum class ParseStatus {
  kCommand,     // one complete command; argv filled (may be empty for `*0` or a blank line)
  kIncomplete,  // need more bytes; nothing consumed past the current command's start
  kError,       // protocol error; error() holds the reply text (without "-"), close after reply
};

// Parses commands out of a growing byte buffer. The caller owns the buffer; the parser keeps
// only offsets relative to the start of the command being parsed, so the caller may grow (and
// reallocate) the buffer between calls, but must not drop bytes at or after *pos.
class RequestParser {
 public:
  // Parses at most one command from buf starting at *pos. On kCommand, *pos moves past it and
  // argv holds views into buf (or into parser-owned storage for inline commands), valid until
  // the next call to Parse or until buf changes.
  ParseStatus Parse(std::string_view buf, size_t* pos, const ParserLimits& limits,
                    std::vector<std::string_view>* argv);

  // Protocol error text, e.g. "Protocol error: invalid bulk length". Valid after kError.
  const std::string& error() const { return error_; }

  // When the parser waits for a large bulk: how many bytes from the command start it needs
  // in total (lets the caller size its read buffer). 0 when unknown.
  size_t BytesWanted() const;

  // True while a multibulk command is partly parsed.
  bool InProgress() const { return multibulk_left_ > 0; }

 private:
  ParseStatus ParseInline(std::string_view buf, size_t* pos, const ParserLimits& limits,
                          std::vector<std::string_view>* argv);
  ParseStatus ParseMultibulk(std::string_view buf, size_t* pos, const ParserLimits& limits,
                             std::vector<std::string_view>* argv);
  ParseStatus Fail(std::string text);
  void Reset();

  // Multibulk state, relative to the command's start.
  int64_t multibulk_left_ = 0;  // arguments still to read
  int64_t bulk_len_ = -1;       // length of the bulk being read, -1 while reading its header
  size_t cursor_ = 0;           // bytes of the command consumed so far
  std::vector<std::pair<size_t, size_t>> args_;  // (offset, length) of each argument read
  std::vector<std::string> inline_args_;         // unescaped inline arguments
  std::string error_;
};

// Splits an inline command line with Redis's sdssplitargs quoting rules ("..." with \n \r \t \b
// \a \\ \" \xHH escapes, '...' with \' only; a closing quote must be followed by a space or the
// end). Returns false for unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace docket::protocol
