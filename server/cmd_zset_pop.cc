// Sorted-set pops and sampling (t_zset.c): ZPOPMIN, ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP
// (through the blocking framework, woken by zset keys), ZRANDMEMBER and ZSCAN, with Redis 7.0's
// reply shapes (flat or nested pairs by RESP version) and propagation (blocking and ZMPOP pops
// as ZPOPMIN / ZPOPMAX). Depends on server/cmd_zset.h, server/blocking.h, server/cmd_list.h.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/blocking.h"
#include "server/cmd_list.h"
#include "server/cmd_zset.h"
#include "server/command.h"
#include "server/scan_args.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/number.h"

namespace docket::server {

namespace {

using namespace zset;  // NOLINT
using list_family::RangeOrReply;

constexpr std::string_view kMustBePositive = "value is out of range, must be positive";

enum class PopShape { kFlat, kNested, kBare };  // [m, s, ...] / [[m, s], ...] / no header

// genericZpopCommand on an existing zset: pops up to count (-1: one) from the min or max end,
// replies in `shape`, emits events, deletes the emptied key. The zset must not be used after.
void PopGeneric(CommandContext& ctx, std::string_view key, ZSetObject& z, bool max, int64_t count,
                PopShape shape) {
  int64_t n = count == -1 ? 1 : count;
  if (n > static_cast<int64_t>(z.size())) n = static_cast<int64_t>(z.size());
  bool nested = shape == PopShape::kNested;
  if (shape != PopShape::kBare) ctx.reply.ArrayHeader(nested ? n : 2 * n);
  for (int64_t i = 0; i < n; i++) {
    Node* x = max ? z.Last() : z.First();
    if (nested) ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(x->member());
    ctx.reply.Double(x->score);
    std::string member(x->member());
    z.Remove(member);
  }
  if (n > 0) {
    ctx.Notify('z', max ? "zpopmax" : "zpopmin", key);
    if (z.empty()) ctx.DeleteEmptied(key);
    ctx.KeyModified(key);
    ctx.Dirty(n);
  }
}

// ZPOPMIN key [count] / ZPOPMAX key [count]
void ZPop(CommandContext& ctx, bool max) {
  if (ctx.argc() > 3) return ctx.reply.Error(errors::kSyntax);
  int64_t count = -1;
  if (ctx.argc() == 3 && !RangeOrReply(ctx, ctx.arg(2), 0, INT64_MAX, kMustBePositive, &count)) {
    return;
  }
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr || count == 0) return ctx.reply.ArrayHeader(0);
  bool nested = ctx.client.resp() > 2 && count != -1;
  PopGeneric(ctx, ctx.arg(1), AsZSet(v), max, count, nested ? PopShape::kNested : PopShape::kFlat);
}
// ZPOPMIN key [count]
void CmdZPopMin(CommandContext& ctx) { ZPop(ctx, false); }
// ZPOPMAX key [count]
void CmdZPopMax(CommandContext& ctx) { ZPop(ctx, true); }

struct ZMpopArgs {
  std::span<const std::string_view> keys;
  bool max = false;
  int64_t count = 1;
};

// zmpopGenericCommand's parsing: numkeys, keys, MIN|MAX, then at most one COUNT.
bool ParseZMpop(CommandContext& ctx, size_t numkeys_idx, ZMpopArgs* out) {
  int64_t numkeys;
  if (!RangeOrReply(ctx, ctx.arg(numkeys_idx), 1, INT64_MAX, "numkeys should be greater than 0",
                    &numkeys)) {
    return false;
  }
  int64_t room = static_cast<int64_t>(ctx.argc()) - static_cast<int64_t>(numkeys_idx) - 2;
  if (numkeys > room) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  size_t where_idx = numkeys_idx + static_cast<size_t>(numkeys) + 1;
  if (OptionIs(ctx.arg(where_idx), "max")) {
    out->max = true;
  } else if (!OptionIs(ctx.arg(where_idx), "min")) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  bool has_count = false;
  for (size_t j = where_idx + 1; j < ctx.argc(); j++) {
    if (has_count || j + 1 >= ctx.argc() || !OptionIs(ctx.arg(j), "count")) {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    has_count = true;
    if (!RangeOrReply(ctx, ctx.arg(++j), 1, INT64_MAX, "count should be greater than 0",
                      &out->count)) {
      return false;
    }
  }
  out->keys = ctx.argv.subspan(numkeys_idx + 1, static_cast<size_t>(numkeys));
  return true;
}

// Pops for ZMPOP / BZMPOP and propagates as ZPOPMIN|ZPOPMAX key count.
void MpopFrom(CommandContext& ctx, std::string_view key, ZSetObject& z, const ZMpopArgs& a) {
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(key);
  PopGeneric(ctx, key, z, a.max, a.count, PopShape::kNested);
  ctx.RewriteArgv({a.max ? "ZPOPMAX" : "ZPOPMIN", std::string(key), std::to_string(a.count)});
}

// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
void CmdZMPop(CommandContext& ctx) {
  ZMpopArgs a;
  if (!ParseZMpop(ctx, 1, &a)) return;
  for (std::string_view key : a.keys) {
    bool wrong = false;
    Value* v = ctx.LookupWriteOfType(key, ValueType::kZSet, &wrong);
    if (wrong) return;
    if (v != nullptr) return MpopFrom(ctx, key, AsZSet(v), a);
  }
  ctx.reply.NullArray();
}

// blockingGenericZpopCommand: serves from the first non-empty zset, or blocks.
void BlockingZPop(CommandContext& ctx, std::span<const std::string_view> keys, size_t timeout_idx,
                  const ZMpopArgs* mpop, bool max) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.arg(timeout_idx), &deadline_ms)) return;
  for (std::string_view key : keys) {
    if (!ctx.ready_key.empty() && key != ctx.ready_key) continue;
    Value* v = ctx.LookupWrite(key);
    if (v == nullptr) continue;
    if (v->type() != ValueType::kZSet) {
      if (ctx.reprocessing) continue;
      return ctx.reply.Error(errors::kWrongType);
    }
    if (AsZSet(v).empty()) continue;
    if (mpop != nullptr) return MpopFrom(ctx, key, AsZSet(v), *mpop);
    ctx.reply.ArrayHeader(3);
    ctx.reply.Bulk(key);
    PopGeneric(ctx, key, AsZSet(v), max, -1, PopShape::kBare);
    ctx.RewriteArgv({max ? "ZPOPMAX" : "ZPOPMIN", std::string(key)});
    return;
  }
  if (ctx.reprocessing || ctx.CanBlock()) return ctx.Block(keys, deadline_ms, ValueType::kZSet);
  ctx.reply.NullArray();
}

// BZPOPMIN key [key ...] timeout
void CmdBZPopMin(CommandContext& ctx) {
  BlockingZPop(ctx, ctx.argv.subspan(1, ctx.argc() - 2), ctx.argc() - 1, nullptr, false);
}
// BZPOPMAX key [key ...] timeout
void CmdBZPopMax(CommandContext& ctx) {
  BlockingZPop(ctx, ctx.argv.subspan(1, ctx.argc() - 2), ctx.argc() - 1, nullptr, true);
}
// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
void CmdBZMPop(CommandContext& ctx) {
  ZMpopArgs a;
  if (!ParseZMpop(ctx, 2, &a)) return;
  BlockingZPop(ctx, a.keys, 1, &a, a.max);
}

void ReplyRandom(CommandContext& ctx, const std::vector<Node*>& nodes, bool withscores) {
  ReplyEntries(ctx, nodes, withscores);
}

// zrandmemberWithCountCommand: distinct members for count > 0, repeats allowed for count < 0.
void RandWithCount(CommandContext& ctx, int64_t l, bool withscores) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr || l == 0) return ctx.reply.ArrayHeader(0);
  ZSetObject& z = AsZSet(v);
  auto& rng = ctx.keyspace().rng();
  std::vector<Node*> nodes;
  uint64_t count = l < 0 ? static_cast<uint64_t>(-l) : static_cast<uint64_t>(l);
  if (l < 0) {  // streamed: the count may be huge (the client's output limit applies)
    bool nested = withscores && ctx.client.resp() > 2;
    ctx.reply.ArrayHeader(withscores && !nested ? count * 2 : count);
    for (uint64_t i = 0; i < count; i++) {
      Node* x = z.Random(rng);
      if (nested) ctx.reply.ArrayHeader(2);
      ctx.reply.Bulk(x->member());
      if (withscores) ctx.reply.Double(x->score);
    }
    return;
  }
  if (count >= z.size()) {  // the whole zset, from the highest (as Redis 7.0 replies)
    for (Node* x = z.Last(); x != nullptr; x = x->prev()) nodes.push_back(x);
  } else {
    for (Node* x = z.First(); x != nullptr; x = x->next()) nodes.push_back(x);
    for (uint64_t i = 0; i < count; i++) {
      std::swap(nodes[i], nodes[i + rng() % (nodes.size() - i)]);
    }
    nodes.resize(count);
  }
  ReplyRandom(ctx, nodes, withscores);
}

// ZRANDMEMBER key [count [WITHSCORES]]
void CmdZRandMember(CommandContext& ctx) {
  if (ctx.argc() >= 3) {
    int64_t l;
    if (!storage::StringToInt64(ctx.arg(2), &l)) return ctx.reply.Error(errors::kNotInteger);
    if (l == INT64_MIN) {
      return ctx.reply.Error(
          "value is out of range, value must between -9223372036854775807 and "
          "9223372036854775807");
    }
    if (ctx.argc() > 4 || (ctx.argc() == 4 && !OptionIs(ctx.arg(3), "withscores"))) {
      return ctx.reply.Error(errors::kSyntax);
    }
    bool withscores = ctx.argc() == 4;
    if (withscores && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) {
      return ctx.reply.Error("value is out of range");
    }
    return RandWithCount(ctx, l, withscores);
  }
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.NullBulk();
  ctx.reply.Bulk(AsZSet(v).Random(ctx.keyspace().rng())->member());
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]
void CmdZScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.arg(2), &cursor)) return ctx.reply.Error("invalid cursor");
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ReplyScanHeader(ctx, 0, 0);
  ScanOptions opt;
  if (!ParseScanOptions(ctx, 3, false, &opt)) return;
  std::vector<std::pair<std::string, double>> found;
  cursor = AsZSet(v).Scan(cursor, opt.count, &found);
  if (opt.use_pattern) {
    std::erase_if(found, [&](const auto& e) { return !storage::GlobMatch(opt.pattern, e.first); });
  }
  ReplyScanHeader(ctx, cursor, found.size() * 2);
  for (auto& [m, s] : found) {
    ctx.reply.Bulk(m);
    ctx.reply.Bulk(storage::DoubleToString(s));
  }
}

}  // namespace

void RegisterZSetPopCommands(CommandTable& table) {
  table.Register("zpopmin", CmdZPopMin);
  table.Register("zpopmax", CmdZPopMax);
  table.Register("zmpop", CmdZMPop);
  table.Register("bzpopmin", CmdBZPopMin);
  table.Register("bzpopmax", CmdBZPopMax);
  table.Register("bzmpop", CmdBZMPop);
  table.Register("zrandmember", CmdZRandMember);
  table.Register("zscan", CmdZScan);
}

}  // namespace docket::server
