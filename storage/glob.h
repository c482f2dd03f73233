// Glob-style pattern matching with Redis 7.0's exact semantics (stringmatchlen in util.c), as used
// by KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE and PUBSUB CHANNELS. Depends on std only.
#pragma once

#include <string_view>

namespace docket::storage {

// True if `str` matches `pattern`. Binary safe. Supports `*`, `?`, `[abc]`, `[^abc]`, `[a-z]`
// (reversed ranges too) and `\` escapes; malformed patterns (unterminated `[`, trailing `\`)
// behave as in Redis. With nocase, ASCII letters compare case-insensitively. Like Redis, gives
// up (no match) past 1000 nested `*` and stops retrying `*` once the rest of the pattern failed
// at every later position, so the time is polynomial in the sizes, never exponential.
// As in Redis, "*" does not match "" (KEYS and SCAN special-case a lone "*" themselves).
bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase = false);

}  // namespace docket::storage
