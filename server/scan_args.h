// The arguments of SCAN, SSCAN, HSCAN and ZSCAN, parsed as Redis 7.0's scanGenericCommand does.
// Depends on server/command.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "server/command.h"

namespace docket::server {

// parseScanCursorOrReply's rule: strtoul over the argument as a C string, no leading space.
// False means "invalid cursor".
bool ParseScanCursor(std::string_view arg, uint64_t* cursor);

struct ScanOptions {
  int64_t count = 10;
  std::string_view pattern;
  bool use_pattern = false;  // a MATCH other than "*"
  bool has_type = false;     // TYPE, SCAN only
  std::string_view type;
};

// Parses [MATCH pattern] [COUNT count] (and [TYPE type] when allow_type, as only SCAN takes it)
// from argv[first] on. Replies Redis's error and returns false on bad input.
bool ParseScanOptions(CommandContext& ctx, size_t first, bool allow_type, ScanOptions* opt);

// The head of every SCAN-family reply: [next cursor (a bulk, as addReplyBulkLongLong), an array
// of items]; the caller then writes the items. A missing key is (0, 0).
void ReplyScanHeader(CommandContext& ctx, uint64_t cursor, size_t items);

}  // namespace docket::server
