// The sorted-set family (t_zset.c): ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT,
// ZLEXCOUNT, ZRANGE and its BYSCORE/BYLEX/REV forms, ZRANGESTORE, ZRANK, ZREVRANK, ZREMRANGEBY*,
// ZPOPMIN, ZPOPMAX, with Redis 7.0's replies, errors, events and propagation. An emptied zset is
// always deleted. Depends on server/, storage/zset.h.
#include "server/cmd_zset.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/command.h"
#include "server/config.h"
#include "server/server.h"
#include "storage/number.h"
#include "storage/zset.h"

namespace docket::server {

namespace zset {

storage::ZSetLimits Limits(CommandContext& ctx) {
  const Config& c = ctx.server.config();
  return {static_cast<size_t>(c.zset_max_listpack_entries),
          static_cast<size_t>(c.zset_max_listpack_value)};
}

// zsetTypeCreate: a skiplist from the start when the hints pass the listpack limits.
Value& CreateZSet(CommandContext& ctx, std::string_view key, size_t size_hint, size_t len_hint) {
  auto z = std::make_unique<ZSetObject>();
  storage::ZSetLimits limits = Limits(ctx);
  if (size_hint > limits.max_listpack_entries || len_hint > limits.max_listpack_value) {
    z->ConvertToSkiplist();
  }
  return ctx.db.Add(key, Value::Object(ValueType::kZSet, std::move(z)));
}

void CheckConvert(CommandContext& ctx, ZSetObject& z) {
  storage::ZSetLimits limits = Limits(ctx);
  z.CheckConvert(limits.max_listpack_entries, limits.max_listpack_value);
}

// strtod over the C string, the whole of it (zslParseRange's rules: "" and "(" parse as 0).
static bool ParseStrtod(std::string_view arg, double* out) {
  std::string s(CString(arg));
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return *end == '\0' && !std::isnan(*out);
}

// zslParseRange.
bool ParseScoreRange(std::string_view min, std::string_view max, ZScoreRange* r) {
  r->minex = !min.empty() && min[0] == '(';
  r->maxex = !max.empty() && max[0] == '(';
  return ParseStrtod(min.substr(r->minex ? 1 : 0), &r->min) &&
         ParseStrtod(max.substr(r->maxex ? 1 : 0), &r->max);
}

// zslParseLexRangeItem: 0 error, 1 value, 2 "+", 3 "-".
static int ParseLexItem(std::string_view item, std::string* dest, bool* ex) {
  if (item.empty()) return 0;
  switch (item[0]) {
    case '+':
      return item.size() == 1 ? 2 : 0;
    case '-':
      return item.size() == 1 ? 3 : 0;
    case '(':
    case '[':
      *ex = item[0] == '(';
      dest->assign(item.substr(1));
      return 1;
    default:
      return 0;
  }
}

bool ParseLexRange(std::string_view min, std::string_view max, ZLexRange* r) {
  int a = ParseLexItem(min, &r->min, &r->minex);
  int b = ParseLexItem(max, &r->max, &r->maxex);
  if (a == 0 || b == 0) return false;
  r->min_inf = a == 3;
  r->min_pinf = a == 2;
  r->max_inf = b == 2;
  r->max_ninf = b == 3;
  return true;
}

// A member and score of a result, replied flat (RESP2) or as a pair (RESP3) with scores.
void ReplyEntries(CommandContext& ctx, const std::vector<Node*>& nodes, bool withscores) {
  bool nested = withscores && ctx.client.resp() > 2;
  ctx.reply.ArrayHeader(withscores && !nested ? nodes.size() * 2 : nodes.size());
  for (Node* n : nodes) {
    if (nested) ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(n->member());
    if (withscores) ctx.reply.Double(n->score);
  }
}

}  // namespace zset

namespace {

using namespace zset;  // NOLINT

// ZADD's options.
struct ZAddFlags {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
};

// Option conflicts and scores, checked before anything changes; replies on error.
bool ValidateZAdd(CommandContext& ctx, size_t scoreidx, const ZAddFlags& f,
                  std::vector<double>* scores) {
  size_t elements = ctx.argc() - scoreidx;
  std::string_view error;
  if (elements % 2 != 0 || elements == 0) {
    error = errors::kSyntax;
  } else if (f.nx && f.xx) {
    error = "XX and NX options at the same time are not compatible";
  } else if ((f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt)) {
    error = "GT, LT, and/or NX options at the same time are not compatible";
  } else if (f.incr && elements > 2) {
    error = "INCR option supports a single increment-element pair";
  }
  if (!error.empty()) {
    ctx.reply.Error(error);
    return false;
  }
  scores->resize(elements / 2);
  for (size_t j = 0; j < scores->size(); j++) {
    if (!storage::StringToDouble(ctx.arg(scoreidx + j * 2), &(*scores)[j])) {
      ctx.reply.Error(errors::kNotFloat);
      return false;
    }
  }
  return true;
}

struct ZAddOutcome {
  int64_t added = 0, updated = 0, processed = 0;
  double score = 0;  // the last processed member's score (the INCR reply)
  bool nan = false;
};

// zsetAdd for each pair, in order; stops at a NaN increment.
void ApplyZAdd(CommandContext& ctx, ZSetObject& z, size_t scoreidx, const ZAddFlags& f,
               const std::vector<double>& scores, ZAddOutcome* out) {
  storage::ZSetLimits limits = Limits(ctx);
  for (size_t j = 0; j < scores.size(); j++) {
    std::string_view ele = ctx.arg(scoreidx + 1 + j * 2);
    double s = scores[j], cur = 0;
    if (z.Score(ele, &cur)) {
      if (f.nx) continue;
      if (f.incr && std::isnan(s += cur)) {
        out->nan = true;
        return;
      }
      if ((f.lt && s >= cur) || (f.gt && s <= cur)) continue;
      if (s != cur) {
        z.Set(ele, z.StoredScore(s));
        out->updated++;
      }
    } else {
      if (f.xx) continue;
      z.CheckConvertBeforeInsert(ele, limits);
      z.Set(ele, z.StoredScore(s));
      out->added++;
    }
    out->processed++;
    out->score = s;
  }
}

// zaddGenericCommand after option parsing (ZADD, ZINCRBY).
void ZAddGeneric(CommandContext& ctx, size_t scoreidx, ZAddFlags f) {
  std::string_view key = ctx.arg(1);
  std::vector<double> scores;
  if (!ValidateZAdd(ctx, scoreidx, f, &scores)) return;
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr && !f.xx) {
    v = &CreateZSet(ctx, key, 1, ctx.arg(scoreidx + 1).size());  // 7.0: the first pair decides
  }
  ZAddOutcome o;
  if (v != nullptr) ApplyZAdd(ctx, AsZSet(v), scoreidx, f, scores, &o);
  ctx.Dirty(o.added + o.updated);
  if (o.nan) {
    ctx.reply.Error(kNanResult);
  } else if (f.incr && o.processed > 0) {
    ctx.reply.Double(o.score);
  } else if (f.incr) {
    ctx.reply.NullBulk();
  } else {
    ctx.reply.Integer(f.ch ? o.added + o.updated : o.added);
  }
  if (o.added > 0 || o.updated > 0) {
    ctx.KeyModified(key);
    ctx.Notify('z', f.incr ? "zincr" : "zadd", key);
  }
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
void CmdZAdd(CommandContext& ctx) {
  ZAddFlags f;
  size_t i = 2;
  for (; i < ctx.argc(); i++) {
    std::string_view o = ctx.arg(i);
    if (OptionIs(o, "nx")) {
      f.nx = true;
    } else if (OptionIs(o, "xx")) {
      f.xx = true;
    } else if (OptionIs(o, "ch")) {
      f.ch = true;
    } else if (OptionIs(o, "incr")) {
      f.incr = true;
    } else if (OptionIs(o, "gt")) {
      f.gt = true;
    } else if (OptionIs(o, "lt")) {
      f.lt = true;
    } else {
      break;
    }
  }
  ZAddGeneric(ctx, i, f);
}

// ZINCRBY key increment member
void CmdZIncrBy(CommandContext& ctx) {
  ZAddFlags f;
  f.incr = true;
  ZAddGeneric(ctx, 2, f);
}

// ZREM key member [member ...]
void CmdZRem(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ZSetObject& z = AsZSet(v);
  int64_t deleted = 0;
  for (size_t i = 2; i < ctx.argc(); i++) {
    if (z.Remove(ctx.arg(i))) deleted++;
    if (z.empty()) break;
  }
  if (deleted > 0) {
    ctx.Notify('z', "zrem", key);
    if (z.empty()) ctx.DeleteEmptied(key);
    ctx.KeyModified(key);
    ctx.Dirty(deleted);
  }
  ctx.reply.Integer(deleted);
}

// ZSCORE key member
void CmdZScore(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  double s = 0;
  if (v == nullptr || !AsZSet(v).Score(ctx.arg(2), &s)) return ctx.reply.NullBulk();
  ctx.reply.Double(s);
}

// ZMSCORE key member [member ...]
void CmdZMScore(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  ctx.reply.ArrayHeader(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); i++) {
    double s = 0;
    if (v != nullptr && AsZSet(v).Score(ctx.arg(i), &s)) {
      ctx.reply.Double(s);
    } else {
      ctx.reply.NullBulk();
    }
  }
}

// ZCARD key
void CmdZCard(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  ctx.reply.Integer(v == nullptr ? 0 : static_cast<int64_t>(AsZSet(v).size()));
}

// ZCOUNT key min max
void CmdZCount(CommandContext& ctx) {
  ZScoreRange r;
  if (!ParseScoreRange(ctx.arg(2), ctx.arg(3), &r)) return ctx.reply.Error(kMinMaxNotFloat);
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ZSetObject& z = AsZSet(v);
  Node* first = z.FirstInRange(r);
  if (first == nullptr) return ctx.reply.Integer(0);
  Node* last = z.LastInRange(r);
  ctx.reply.Integer(static_cast<int64_t>(z.RankOf(last) - z.RankOf(first) + 1));
}

// ZLEXCOUNT key min max
void CmdZLexCount(CommandContext& ctx) {
  ZLexRange r;
  if (!ParseLexRange(ctx.arg(2), ctx.arg(3), &r)) return ctx.reply.Error(kMinMaxNotLex);
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ZSetObject& z = AsZSet(v);
  Node* first = z.FirstInLex(r);
  if (first == nullptr) return ctx.reply.Integer(0);
  // Members are in lex order only when all scores are equal; otherwise Redis's answer depends
  // on the encoding: a listpack counts on from the first member while it is <= max, a skiplist
  // subtracts ranks (and the last member in range may be missing, or before the first).
  int64_t count = 0;
  if (z.is_listpack()) {
    for (Node* x = first; x != nullptr && ZSetObject::LexLteMax(x->member(), r); x = x->next()) {
      count++;
    }
  } else {
    int64_t length = static_cast<int64_t>(z.size());
    count = length - static_cast<int64_t>(z.RankOf(first));
    if (Node* last = z.LastInLex(r)) count -= length - 1 - static_cast<int64_t>(z.RankOf(last));
  }
  ctx.reply.Integer(count);
}

// ZRANK key member / ZREVRANK key member
void RankGeneric(CommandContext& ctx, bool rev) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kZSet, &wrong);
  if (wrong) return;
  int64_t r = v == nullptr ? -1 : AsZSet(v).Rank(ctx.arg(2), rev);
  if (r < 0) return ctx.reply.NullBulk();
  ctx.reply.Integer(r);
}
// ZRANK key member
void CmdZRank(CommandContext& ctx) { RankGeneric(ctx, false); }
// ZREVRANK key member
void CmdZRevRank(CommandContext& ctx) { RankGeneric(ctx, true); }

}  // namespace

// Defined in cmd_zset_range.cc, cmd_zset_pop.cc and cmd_zset_setops.cc.
void RegisterZSetRangeCommands(CommandTable& table);
void RegisterZSetPopCommands(CommandTable& table);
void RegisterZSetSetOpCommands(CommandTable& table);

void RegisterZSetCommands(CommandTable& table) {
  table.Register("zadd", CmdZAdd);
  table.Register("zincrby", CmdZIncrBy);
  table.Register("zrem", CmdZRem);
  table.Register("zscore", CmdZScore);
  table.Register("zmscore", CmdZMScore);
  table.Register("zcard", CmdZCard);
  table.Register("zcount", CmdZCount);
  table.Register("zlexcount", CmdZLexCount);
  table.Register("zrank", CmdZRank);
  table.Register("zrevrank", CmdZRevRank);
  RegisterZSetRangeCommands(table);
  RegisterZSetPopCommands(table);
  RegisterZSetSetOpCommands(table);
}

}  // namespace docket::server
