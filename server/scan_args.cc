// SCAN-family argument parsing (db.c scanGenericCommand / parseScanCursorOrReply in Redis 7.0).
#include "server/scan_args.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "protocol/errors.h"
#include "server/args.h"
#include "storage/number.h"

namespace docket::server {

bool ParseScanCursor(std::string_view arg, uint64_t* cursor) {
  std::string s(CString(arg));
  if (!s.empty() && isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  *cursor = strtoul(s.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}

bool ParseScanOptions(CommandContext& ctx, size_t first, bool allow_type, ScanOptions* opt) {
  for (size_t i = first; i < ctx.argc(); i += 2) {
    std::string_view name = ctx.arg(i);
    bool has_value = ctx.argc() - i >= 2;
    if (OptionIs(name, "count") && has_value) {
      if (!storage::StringToInt64(ctx.arg(i + 1), &opt->count)) {
        ctx.reply.Error(protocol::errors::kNotInteger);
        return false;
      }
      if (opt->count < 1) {
        ctx.reply.Error(protocol::errors::kSyntax);
        return false;
      }
    } else if (OptionIs(name, "match") && has_value) {
      opt->pattern = ctx.arg(i + 1);
      opt->use_pattern = opt->pattern != "*";
    } else if (allow_type && OptionIs(name, "type") && has_value) {
      opt->type = ctx.arg(i + 1);
      opt->has_type = true;
    } else {
      ctx.reply.Error(protocol::errors::kSyntax);
      return false;
    }
  }
  return true;
}

void ReplyScanHeader(CommandContext& ctx, uint64_t cursor, size_t items) {
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(static_cast<int64_t>(cursor)));
  ctx.reply.ArrayHeader(items);
}

}  // namespace docket::server
