// LCS: the longest common subsequence of two strings, with Redis 7.0's dynamic-programming table,
// its limits (transient memory capped by proto-max-bulk-len) and its IDX match ranges, walked
// back from the strings' ends exactly as t_string.c's lcsCommand does. Depends on server/.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/cmd_string.h"
#include "server/command.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server::string_family {
namespace {

struct LcsOptions {
  bool len = false, idx = false, with_match_len = false;
  int64_t min_match_len = 0;
};

// One IDX match: the ranges in each string (inclusive) and their length.
struct LcsMatch {
  uint32_t a_start, a_end, b_start, b_end, len;
};

// Parses LCS's options from argv[3]; replies the error and returns false on a bad one.
bool ParseLcsOptions(CommandContext& ctx, LcsOptions* opts) {
  for (size_t j = 3; j < ctx.argc(); j++) {
    std::string_view opt = CString(ctx.arg(j));
    bool more = j + 1 < ctx.argc();
    if (EqualsIgnoreCase(opt, "idx")) {
      opts->idx = true;
    } else if (EqualsIgnoreCase(opt, "len")) {
      opts->len = true;
    } else if (EqualsIgnoreCase(opt, "withmatchlen")) {
      opts->with_match_len = true;
    } else if (EqualsIgnoreCase(opt, "minmatchlen") && more) {
      if (!storage::StringToInt64(ctx.arg(++j), &opts->min_match_len)) {
        ctx.reply.Error(protocol::errors::kNotInteger);
        return false;
      }
      if (opts->min_match_len < 0) opts->min_match_len = 0;
    } else {
      ctx.reply.Error(protocol::errors::kSyntax);
      return false;
    }
  }
  if (opts->len && opts->idx) {
    ctx.reply.Error("If you want both the length and indexes, please just use IDX.");
    return false;
  }
  return true;
}

// The (alen+1) x (blen+1) table of LCS lengths of every pair of prefixes.
class LcsTable {
 public:
  LcsTable(std::string_view a, std::string_view b) : a_(a), b_(b), width_(b.size() + 1) {}

  // Allocates the table, or replies Redis's error when it would exceed proto-max-bulk-len or
  // memory is short.
  bool Allocate(CommandContext& ctx) {
    uint64_t cells = (static_cast<uint64_t>(a_.size()) + 1) * width_;
    bool fits = cells <= UINT64_MAX / sizeof(uint32_t);  // else: Redis's failed allocation
    if (fits &&
        cells * sizeof(uint32_t) > static_cast<uint64_t>(ctx.server.config().proto_max_bulk_len)) {
      ctx.reply.Error("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
      return false;
    }
    if (fits) cells_.reset(new (std::nothrow) uint32_t[cells]);
    if (cells_ == nullptr) {
      ctx.reply.Error("Insufficient memory, failed allocating transient memory for LCS");
      return false;
    }
    return true;
  }

  void Fill() {
    for (size_t i = 0; i <= a_.size(); i++) {
      for (size_t j = 0; j <= b_.size(); j++) {
        if (i == 0 || j == 0) {
          At(i, j) = 0;
        } else if (a_[i - 1] == b_[j - 1]) {
          At(i, j) = At(i - 1, j - 1) + 1;
        } else {
          At(i, j) = std::max(At(i - 1, j), At(i, j - 1));
        }
      }
    }
  }

  uint32_t& At(size_t i, size_t j) { return cells_[j + i * width_]; }
  uint32_t Length() { return At(a_.size(), b_.size()); }

 private:
  std::string_view a_, b_;
  uint64_t width_;
  std::unique_ptr<uint32_t[]> cells_;
};

// Walks the table back from the ends: builds the subsequence and, with IDX, the match ranges
// (longest-first order, filtered by MINMATCHLEN), as lcsCommand's loop does.
void WalkBack(LcsTable& table, std::string_view a, std::string_view b, const LcsOptions& opts,
              std::string* result, std::vector<LcsMatch>* matches) {
  uint32_t alen = static_cast<uint32_t>(a.size());
  uint32_t idx = table.Length();
  result->assign(idx, '\0');
  uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
  uint32_t i = alen, j = static_cast<uint32_t>(b.size());
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      (*result)[idx - 1] = a[i - 1];
      if (arange_start == alen) {
        arange_start = arange_end = i - 1;
        brange_start = brange_end = j - 1;
      } else if (arange_start == i && brange_start == j) {
        arange_start--;
        brange_start--;
      } else {
        emit = true;
      }
      if (arange_start == 0 || brange_start == 0) emit = true;
      idx--, i--, j--;
    } else {
      if (table.At(i - 1, j) > table.At(i, j - 1)) {
        i--;
      } else {
        j--;
      }
      if (arange_start != alen) emit = true;
    }
    if (!emit) continue;
    uint32_t match_len = arange_end - arange_start + 1;
    if (opts.min_match_len == 0 || match_len >= opts.min_match_len) {
      matches->push_back({arange_start, arange_end, brange_start, brange_end, match_len});
    }
    arange_start = alen;
  }
}

void ReplyIdx(CommandContext& ctx, const std::vector<LcsMatch>& matches, uint32_t len,
              bool with_match_len) {
  protocol::ReplyWriter& r = ctx.reply;
  r.MapHeader(2);
  r.Bulk("matches");
  r.ArrayHeader(matches.size());
  for (const LcsMatch& m : matches) {
    r.ArrayHeader(with_match_len ? 3 : 2);
    r.ArrayHeader(2);
    r.Integer(m.a_start);
    r.Integer(m.a_end);
    r.ArrayHeader(2);
    r.Integer(m.b_start);
    r.Integer(m.b_end);
    if (with_match_len) r.Integer(m.len);
  }
  r.Bulk("len");
  r.Integer(len);
}

}  // namespace

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
void CmdLcs(CommandContext& ctx) {
  storage::Value* va = ctx.LookupRead(ctx.arg(1));
  storage::Value* vb = ctx.LookupRead(ctx.arg(2));
  if ((va != nullptr && !va->is_string()) || (vb != nullptr && !vb->is_string())) {
    return ctx.reply.Error("The specified keys must contain string values");
  }
  LcsOptions opts;
  if (!ParseLcsOptions(ctx, &opts)) return;
  std::string_view a = va != nullptr ? std::string_view(va->str()) : std::string_view();
  std::string_view b = vb != nullptr ? std::string_view(vb->str()) : std::string_view();
  if (a.size() >= UINT32_MAX - 1 || b.size() >= UINT32_MAX - 1) {
    return ctx.reply.Error("String too long for LCS");
  }
  LcsTable table(a, b);
  if (!table.Allocate(ctx)) return;
  table.Fill();
  if (opts.len) return ctx.reply.Integer(table.Length());
  std::string result;
  std::vector<LcsMatch> matches;
  WalkBack(table, a, b, opts, &result, &matches);
  if (opts.idx) return ReplyIdx(ctx, matches, table.Length(), opts.with_match_len);
  ctx.reply.Bulk(result);
}

}  // namespace docket::server::string_family
