// Sorted-set ranges (t_zset.c's zrangeGenericCommand and friends): ZRANGE [BYSCORE|BYLEX] [REV]
// [LIMIT] [WITHSCORES], ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREVRANGE, ZRANGEBYLEX,
// ZREVRANGEBYLEX, ZREMRANGEBYSCORE / RANK / LEX. Score and lex ranges seek the skiplist, and
// LIMIT offsets jump by rank, so both are logarithmic. Depends on server/cmd_zset.h.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/cmd_zset.h"
#include "server/command.h"

namespace docket::server {

namespace {

using namespace zset;  // NOLINT

enum class RangeType { kAuto, kRank, kScore, kLex };

struct RangeRequest {
  RangeType type = RangeType::kAuto;
  bool rev = false;
  bool withscores = false;
  int64_t offset = 0, limit = -1;
  int64_t start = 0, end = 0;
  ZScoreRange score;
  ZLexRange lex;
};

// Ranks [start, end] (Redis's negative indexes) in the requested direction.
void CollectByRank(ZSetObject& z, const RangeRequest& q, std::vector<Node*>* out) {
  int64_t llen = static_cast<int64_t>(z.size());
  int64_t start = q.start < 0 ? llen + q.start : q.start;
  int64_t end = q.end < 0 ? llen + q.end : q.end;
  if (start < 0) start = 0;
  if (start > end || start >= llen) return;
  if (end >= llen) end = llen - 1;
  int64_t n = end - start + 1;
  Node* x = z.AtRank(q.rev ? llen - 1 - start : start);
  for (; x != nullptr && n-- > 0; x = q.rev ? x->prev() : x->next()) out->push_back(x);
}

// Score or lex range with LIMIT: seeks the first node, then jumps `offset` ranks.
template <typename InRangeFirst, typename InRangeLast, typename Lte, typename Gte>
void CollectByRange(ZSetObject& z, const RangeRequest& q, InRangeFirst first, InRangeLast last,
                    Lte lte_max, Gte gte_min, std::vector<Node*>* out) {
  if (q.offset < 0) return;
  Node* x = q.rev ? last() : first();
  if (x == nullptr) return;
  if (q.offset > 0) {
    uint64_t r = z.RankOf(x);
    if (q.rev) {
      if (static_cast<uint64_t>(q.offset) > r) return;
      x = z.AtRank(r - q.offset);
    } else {
      x = z.AtRank(r + q.offset);
    }
  }
  int64_t limit = q.limit;
  for (; x != nullptr && limit-- != 0; x = q.rev ? x->prev() : x->next()) {
    if (q.rev ? !gte_min(x) : !lte_max(x)) break;
    out->push_back(x);
  }
}

void Collect(ZSetObject& z, const RangeRequest& q, std::vector<Node*>* out) {
  if (q.type == RangeType::kRank) return CollectByRank(z, q, out);
  if (q.type == RangeType::kScore) {
    return CollectByRange(
        z, q, [&] { return z.FirstInRange(q.score); }, [&] { return z.LastInRange(q.score); },
        [&](Node* n) { return ZSetObject::ValueLteMax(n->score, q.score); },
        [&](Node* n) { return ZSetObject::ValueGteMin(n->score, q.score); }, out);
  }
  CollectByRange(
      z, q, [&] { return z.FirstInLex(q.lex); }, [&] { return z.LastInLex(q.lex); },
      [&](Node* n) { return ZSetObject::LexLteMax(n->member(), q.lex); },
      [&](Node* n) { return ZSetObject::LexGteMin(n->member(), q.lex); }, out);
}

// Parses the options after <src> <min> <max> and the range itself; replies on error.
bool ParseRange(CommandContext& ctx, size_t argc_start, RangeRequest* q, bool flags_ok,
                bool store) {
  for (size_t j = argc_start + 3; j < ctx.argc(); j++) {
    size_t left = ctx.argc() - j - 1;
    std::string_view o = ctx.arg(j);
    if (!store && OptionIs(o, "withscores")) {
      q->withscores = true;
    } else if (OptionIs(o, "limit") && left >= 2) {
      if (!ctx.ParseInt64(ctx.arg(j + 1), &q->offset) ||
          !ctx.ParseInt64(ctx.arg(j + 2), &q->limit)) {
        return false;
      }
      j += 2;
    } else if (flags_ok && OptionIs(o, "rev")) {
      q->rev = true;
    } else if (flags_ok && OptionIs(o, "bylex")) {
      q->type = RangeType::kLex;
    } else if (flags_ok && OptionIs(o, "byscore")) {
      q->type = RangeType::kScore;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  if (q->type == RangeType::kAuto) q->type = RangeType::kRank;
  bool has_limit = q->limit != -1;
  if (has_limit && q->type == RangeType::kRank) {
    ctx.reply.Error(
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return false;
  }
  if (q->withscores && q->type == RangeType::kLex) {
    ctx.reply.Error("syntax error, WITHSCORES not supported in combination with BYLEX");
    return false;
  }
  std::string_view min = ctx.arg(argc_start + 1), max = ctx.arg(argc_start + 2);
  if (q->rev && q->type != RangeType::kRank) std::swap(min, max);
  if (q->type == RangeType::kRank) {
    return ctx.ParseInt64(min, &q->start) && ctx.ParseInt64(max, &q->end);
  }
  if (q->type == RangeType::kScore) {
    if (ParseScoreRange(min, max, &q->score)) return true;
    ctx.reply.Error(kMinMaxNotFloat);
    return false;
  }
  if (ParseLexRange(min, max, &q->lex)) return true;
  ctx.reply.Error(kMinMaxNotLex);
  return false;
}

// zrangeGenericCommand. argc_start is the index of the source key.
void RangeGeneric(CommandContext& ctx, size_t argc_start, bool store, RangeType type, bool rev,
                  bool flags_ok) {
  RangeRequest q;
  q.type = type;
  q.rev = rev;
  if (!ParseRange(ctx, argc_start, &q, flags_ok, store)) return;
  if (store) q.withscores = true;
  std::string_view key = ctx.arg(argc_start);
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(key, ValueType::kZSet, &wrong);
  if (wrong) return;
  std::vector<Node*> nodes;
  if (v != nullptr) Collect(AsZSet(v), q, &nodes);
  if (!store) return ReplyEntries(ctx, nodes, q.withscores);
  std::string_view dst = ctx.arg(1);
  if (nodes.empty()) {
    ctx.reply.Integer(0);
    if (ctx.db.Delete(dst)) {
      ctx.KeyModified(dst);
      ctx.Notify('g', "del", dst);
      ctx.Dirty();
    }
    return;
  }
  auto z = std::make_unique<ZSetObject>();
  for (Node* n : nodes) z->Set(n->member(), n->score);
  CheckConvert(ctx, *z);
  ctx.db.Set(dst, Value::Object(ValueType::kZSet, std::move(z)));
  ctx.KeyModified(dst);
  ctx.reply.Integer(static_cast<int64_t>(nodes.size()));
  ctx.Notify('z', "zrangestore", dst);
  ctx.Dirty();
}

// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
void CmdZRange(CommandContext& ctx) { RangeGeneric(ctx, 1, false, RangeType::kAuto, false, true); }
// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
void CmdZRangeStore(CommandContext& ctx) {
  RangeGeneric(ctx, 2, true, RangeType::kAuto, false, true);
}
// ZREVRANGE key start stop [WITHSCORES]
void CmdZRevRange(CommandContext& ctx) {
  RangeGeneric(ctx, 1, false, RangeType::kRank, true, false);
}
// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
void CmdZRangeByScore(CommandContext& ctx) {
  RangeGeneric(ctx, 1, false, RangeType::kScore, false, false);
}
// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
void CmdZRevRangeByScore(CommandContext& ctx) {
  RangeGeneric(ctx, 1, false, RangeType::kScore, true, false);
}
// ZRANGEBYLEX key min max [LIMIT offset count]
void CmdZRangeByLex(CommandContext& ctx) {
  RangeGeneric(ctx, 1, false, RangeType::kLex, false, false);
}
// ZREVRANGEBYLEX key max min [LIMIT offset count]
void CmdZRevRangeByLex(CommandContext& ctx) {
  RangeGeneric(ctx, 1, false, RangeType::kLex, true, false);
}

// zremrangeGenericCommand.
void RemRangeGeneric(CommandContext& ctx, RangeType type) {
  RangeRequest q;
  q.type = type;
  if (type == RangeType::kRank) {
    if (!ctx.ParseInt64(ctx.arg(2), &q.start) || !ctx.ParseInt64(ctx.arg(3), &q.end)) return;
  } else if (type == RangeType::kScore) {
    if (!ParseScoreRange(ctx.arg(2), ctx.arg(3), &q.score)) {
      return ctx.reply.Error(kMinMaxNotFloat);
    }
  } else if (!ParseLexRange(ctx.arg(2), ctx.arg(3), &q.lex)) {
    return ctx.reply.Error(kMinMaxNotLex);
  }
  std::string_view key = ctx.arg(1);
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ZSetObject& z = AsZSet(v);
  std::vector<Node*> nodes;
  Collect(z, q, &nodes);
  std::vector<std::string> members;
  for (Node* n : nodes) members.emplace_back(n->member());
  for (auto& m : members) z.Remove(m);
  if (!members.empty()) {
    const char* event = type == RangeType::kRank    ? "zremrangebyrank"
                        : type == RangeType::kScore ? "zremrangebyscore"
                                                    : "zremrangebylex";
    ctx.KeyModified(key);
    ctx.Notify('z', event, key);
    if (z.empty()) ctx.DeleteEmptied(key);
  }
  ctx.Dirty(static_cast<int64_t>(members.size()));
  ctx.reply.Integer(static_cast<int64_t>(members.size()));
}

// ZREMRANGEBYRANK key start stop
void CmdZRemRangeByRank(CommandContext& ctx) { RemRangeGeneric(ctx, RangeType::kRank); }
// ZREMRANGEBYSCORE key min max
void CmdZRemRangeByScore(CommandContext& ctx) { RemRangeGeneric(ctx, RangeType::kScore); }
// ZREMRANGEBYLEX key min max
void CmdZRemRangeByLex(CommandContext& ctx) { RemRangeGeneric(ctx, RangeType::kLex); }

}  // namespace

void RegisterZSetRangeCommands(CommandTable& table) {
  table.Register("zrange", CmdZRange);
  table.Register("zrangestore", CmdZRangeStore);
  table.Register("zrevrange", CmdZRevRange);
  table.Register("zrangebyscore", CmdZRangeByScore);
  table.Register("zrevrangebyscore", CmdZRevRangeByScore);
  table.Register("zrangebylex", CmdZRangeByLex);
  table.Register("zrevrangebylex", CmdZRevRangeByLex);
  table.Register("zremrangebyrank", CmdZRemRangeByRank);
  table.Register("zremrangebyscore", CmdZRemRangeByScore);
  table.Register("zremrangebylex", CmdZRemRangeByLex);
}

}  // namespace docket::server
