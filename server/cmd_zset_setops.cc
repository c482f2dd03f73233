// Sorted-set algebra (t_zset.c's zunionInterDiffGenericCommand): ZUNION, ZINTER, ZDIFF, their
// STORE forms, and ZINTERCARD, with WEIGHTS, AGGREGATE SUM|MIN|MAX and WITHSCORES. Plain sets are
// accepted as inputs with every score 1, as in Redis. Depends on server/cmd_zset.h, storage/set.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/args.h"
#include "server/cmd_zset.h"
#include "server/command.h"
#include "storage/number.h"
#include "storage/set.h"

namespace docket::server {

namespace {

using namespace zset;  // NOLINT
using storage::SetObject;

enum class Op { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

// One input: a zset, a set (scores 1), or a missing key (empty).
struct Source {
  ZSetObject* z = nullptr;
  SetObject* s = nullptr;
  double weight = 1;
  size_t size() const { return z != nullptr ? z->size() : s != nullptr ? s->size() : 0; }
  bool Find(std::string_view m, double* score) const {
    if (z != nullptr) return z->Score(m, score);
    *score = 1;
    return s != nullptr && s->Contains(m);
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (z != nullptr) {
      for (Node* x = z->First(); x != nullptr; x = x->next()) fn(x->member(), x->score);
    } else if (s != nullptr) {
      s->ForEach([&](std::string_view m) { fn(m, 1.0); });
    }
  }
};

void AggregateInto(double* target, double val, Aggregate agg) {
  if (agg == Aggregate::kSum) {
    *target += val;
    if (std::isnan(*target)) *target = 0;
  } else if (agg == Aggregate::kMin) {
    *target = val < *target ? val : *target;
  } else {
    *target = val > *target ? val : *target;
  }
}

double Weighted(const Source& src, double score) {
  double v = src.weight * score;
  return std::isnan(v) ? 0 : v;
}

// The result, member -> score.
using Result = std::unordered_map<std::string, double>;

void Compute(Op op, std::vector<Source>& srcs, Aggregate agg, int64_t limit, Result* out,
             int64_t* card) {
  // Union and intersection take the inputs smallest first (Redis's qsort by cardinality, which
  // glibc runs as a stable merge sort); the order shows in sums that overflow to inf or meet NaN.
  std::vector<Source*> order;
  for (Source& s : srcs) order.push_back(&s);
  if (op != Op::kDiff) {
    std::stable_sort(order.begin(), order.end(),
                     [](Source* a, Source* b) { return a->size() < b->size(); });
  }
  if (op == Op::kUnion) {
    for (const Source* src : order) {
      src->ForEach([&](std::string_view m, double s) {
        double v = Weighted(*src, s);
        auto [it, added] = out->try_emplace(std::string(m), v);
        if (!added) AggregateInto(&it->second, v, agg);
      });
    }
    return;
  }
  if (op == Op::kDiff) {
    srcs[0].ForEach([&](std::string_view m, double s) {
      double unused;
      for (size_t i = 1; i < srcs.size(); i++) {
        if (srcs[i].Find(m, &unused)) return;
      }
      (*out)[std::string(m)] = s;
    });
    return;
  }
  if (order[0]->size() == 0) return;
  order[0]->ForEach([&](std::string_view m, double s) {
    if (limit > 0 && *card >= limit) return;
    double score = Weighted(*order[0], s), other;
    for (size_t i = 1; i < order.size(); i++) {
      if (!order[i]->Find(m, &other)) return;
      AggregateInto(&score, other * order[i]->weight, agg);
    }
    ++*card;
    if (out != nullptr) (*out)[std::string(m)] = score;
  });
}

struct SetOpRequest {
  size_t dst_idx = 0;  // 0: no destination
  Op op = Op::kUnion;
  bool card_only = false;
  std::vector<Source> srcs;
  Aggregate agg = Aggregate::kSum;
  bool withscores = false;
  int64_t limit = 0;
};

// numkeys and the input keys (lookupKeyWrite with a destination, as Redis). Sets *next to the
// first option's index.
bool ParseSources(CommandContext& ctx, SetOpRequest* q, size_t* next) {
  size_t numkeys_idx = q->dst_idx + 1;
  int64_t setnum;
  if (!ctx.ParseInt64(ctx.arg(numkeys_idx), &setnum)) return false;
  if (setnum < 1) {
    ctx.reply.Error("at least 1 input key is needed for '" + ctx.spec.fullname + "' command");
    return false;
  }
  if (setnum > static_cast<int64_t>(ctx.argc() - numkeys_idx - 1)) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  q->srcs.resize(setnum);
  size_t j = numkeys_idx + 1;
  for (int64_t i = 0; i < setnum; i++, j++) {
    Value* v = q->dst_idx != 0 ? ctx.LookupWrite(ctx.arg(j)) : ctx.LookupRead(ctx.arg(j));
    if (v == nullptr) continue;
    if (v->type() == ValueType::kZSet) {
      q->srcs[i].z = &AsZSet(v);
    } else if (v->type() == ValueType::kSet) {
      q->srcs[i].s = &v->As<SetObject>();
    } else {
      ctx.reply.Error(errors::kWrongType);
      return false;
    }
  }
  *next = j;
  return true;
}

bool ParseAggregate(std::string_view a, Aggregate* agg) {
  if (OptionIs(a, "sum")) {
    *agg = Aggregate::kSum;
  } else if (OptionIs(a, "min")) {
    *agg = Aggregate::kMin;
  } else if (OptionIs(a, "max")) {
    *agg = Aggregate::kMax;
  } else {
    return false;
  }
  return true;
}

// WEIGHTS, AGGREGATE, WITHSCORES, LIMIT, each where the command allows it.
bool ParseSetOpOptions(CommandContext& ctx, size_t j, SetOpRequest* q) {
  bool algebra = q->op != Op::kDiff && !q->card_only;
  while (j < ctx.argc()) {
    size_t remaining = ctx.argc() - j;
    std::string_view o = ctx.arg(j);
    if (algebra && remaining >= q->srcs.size() + 1 && OptionIs(o, "weights")) {
      j++;
      for (size_t i = 0; i < q->srcs.size(); i++, j++) {
        if (!storage::StringToDouble(ctx.arg(j), &q->srcs[i].weight)) {
          ctx.reply.Error("weight value is not a float");
          return false;
        }
      }
    } else if (algebra && remaining >= 2 && OptionIs(o, "aggregate")) {
      if (!ParseAggregate(ctx.arg(j + 1), &q->agg)) break;
      j += 2;
    } else if (q->dst_idx == 0 && !q->card_only && OptionIs(o, "withscores")) {
      q->withscores = true;
      j++;
    } else if (q->card_only && remaining >= 2 && OptionIs(o, "limit")) {
      if (!storage::StringToInt64(ctx.arg(j + 1), &q->limit) || q->limit < 0) {
        ctx.reply.Error("LIMIT can't be negative");
        return false;
      }
      j += 2;
    } else {
      break;
    }
  }
  if (j == ctx.argc()) return true;
  ctx.reply.Error(errors::kSyntax);
  return false;
}

// The STORE forms' ending: the result (re-encoded as listpack when small) replaces dst, or an
// empty result deletes dst.
void StoreResult(CommandContext& ctx, const SetOpRequest& q, ZSetObject& result) {
  std::string_view dst = ctx.arg(q.dst_idx);
  if (result.empty()) {
    ctx.reply.Integer(0);
    if (ctx.db.Delete(dst)) {
      ctx.KeyModified(dst);
      ctx.Notify('g', "del", dst);
      ctx.Dirty();
    }
    return;
  }
  auto fresh = std::make_unique<ZSetObject>();  // zsetConvertToListpackIfNeeded
  for (Node* x = result.First(); x != nullptr; x = x->next()) fresh->Set(x->member(), x->score);
  CheckConvert(ctx, *fresh);
  int64_t n = static_cast<int64_t>(fresh->size());
  ctx.db.Set(dst, Value::Object(ValueType::kZSet, std::move(fresh)));
  ctx.KeyModified(dst);
  ctx.reply.Integer(n);
  const char* event = q.op == Op::kUnion   ? "zunionstore"
                      : q.op == Op::kInter ? "zinterstore"
                                           : "zdiffstore";
  ctx.Notify('z', event, dst);
  ctx.Dirty();
}

// zunionInterDiffGenericCommand. dst_idx is 0 without a destination; numkeys follows it.
void SetOpGeneric(CommandContext& ctx, size_t dst_idx, Op op, bool card_only) {
  SetOpRequest q;
  q.dst_idx = dst_idx;
  q.op = op;
  q.card_only = card_only;
  size_t next;
  if (!ParseSources(ctx, &q, &next) || !ParseSetOpOptions(ctx, next, &q)) return;
  Result result;
  int64_t card = 0;
  Compute(op, q.srcs, q.agg, q.limit, card_only ? nullptr : &result, &card);
  if (card_only) return ctx.reply.Integer(card);
  ZSetObject z;
  z.ConvertToSkiplist();
  for (auto& [m, s] : result) z.Set(m, s);
  if (dst_idx != 0) return StoreResult(ctx, q, z);
  std::vector<Node*> nodes;
  for (Node* x = z.First(); x != nullptr; x = x->next()) nodes.push_back(x);
  ReplyEntries(ctx, nodes, q.withscores);
}

// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
void CmdZUnion(CommandContext& ctx) { SetOpGeneric(ctx, 0, Op::kUnion, false); }
// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
void CmdZInter(CommandContext& ctx) { SetOpGeneric(ctx, 0, Op::kInter, false); }
// ZDIFF numkeys key [key ...] [WITHSCORES]
void CmdZDiff(CommandContext& ctx) { SetOpGeneric(ctx, 0, Op::kDiff, false); }
// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
void CmdZUnionStore(CommandContext& ctx) { SetOpGeneric(ctx, 1, Op::kUnion, false); }
// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
void CmdZInterStore(CommandContext& ctx) { SetOpGeneric(ctx, 1, Op::kInter, false); }
// ZDIFFSTORE destination numkeys key [key ...]
void CmdZDiffStore(CommandContext& ctx) { SetOpGeneric(ctx, 1, Op::kDiff, false); }
// ZINTERCARD numkeys key [key ...] [LIMIT limit]
void CmdZInterCard(CommandContext& ctx) { SetOpGeneric(ctx, 0, Op::kInter, true); }

}  // namespace

void RegisterZSetSetOpCommands(CommandTable& table) {
  table.Register("zunion", CmdZUnion);
  table.Register("zinter", CmdZInter);
  table.Register("zdiff", CmdZDiff);
  table.Register("zunionstore", CmdZUnionStore);
  table.Register("zinterstore", CmdZInterStore);
  table.Register("zdiffstore", CmdZDiffStore);
  table.Register("zintercard", CmdZInterCard);
}

}  // namespace docket::server
