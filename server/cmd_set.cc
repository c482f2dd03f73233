// The set family (t_set.c): SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER,
// SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN, with
// Redis 7.0's replies (RESP3 sets where Redis uses addReplySetLen), events and propagation. An
// emptied set is always deleted. Depends on server/, storage/set.h.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/command.h"
#include "server/scan_args.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/number.h"
#include "storage/set.h"

namespace docket::server {

namespace {

namespace errors = protocol::errors;
using storage::SetObject;
using storage::Value;
using storage::ValueType;

constexpr std::string_view kMustBePositive = "value is out of range, must be positive";

SetObject& AsSet(Value* v) { return v->As<SetObject>(); }

// set-max-intset-entries, read at every add as Redis does.
size_t IntsetLimit(CommandContext& ctx) {
  return static_cast<size_t>(ctx.server.config().set_max_intset_entries);
}

Value NewSetValue(std::unique_ptr<SetObject> set) {
  return Value::Object(ValueType::kSet, std::move(set));
}

void ReplyMembers(CommandContext& ctx, SetObject& set) {
  ctx.reply.SetHeader(set.size());
  set.ForEach([&](std::string_view m) { ctx.reply.Bulk(m); });
}

// SADD key member [member ...]
void CmdSAdd(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr) v = &ctx.db.Add(key, NewSetValue(SetObject::ForMember(ctx.arg(2))));
  SetObject& set = AsSet(v);
  size_t limit = IntsetLimit(ctx);
  int64_t added = 0;
  for (size_t i = 2; i < ctx.argc(); i++) added += set.Add(ctx.arg(i), limit) ? 1 : 0;
  if (added > 0) {
    ctx.KeyModified(key);
    ctx.Notify('s', "sadd", key);
    ctx.Dirty(added);
  }
  ctx.reply.Integer(added);
}

// SREM key member [member ...]
void CmdSRem(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kSet, &wrong);
  if (v == nullptr) {
    if (!wrong) ctx.reply.Integer(0);
    return;
  }
  SetObject& set = AsSet(v);
  int64_t deleted = 0;
  for (size_t i = 2; i < ctx.argc() && !set.empty(); i++) deleted += set.Remove(ctx.arg(i)) ? 1 : 0;
  if (deleted > 0) {
    ctx.KeyModified(key);
    ctx.Notify('s', "srem", key);
    if (set.empty()) ctx.DeleteEmptied(key);
    ctx.Dirty(deleted);
  }
  ctx.reply.Integer(deleted);
}

// SMEMBERS key
void CmdSMembers(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.SetHeader(0);
  ReplyMembers(ctx, AsSet(v));
}

// SISMEMBER key member
void CmdSIsMember(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  ctx.reply.Integer(v != nullptr && AsSet(v).Contains(ctx.arg(2)) ? 1 : 0);
}

// SMISMEMBER key member [member ...]
void CmdSMIsMember(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  ctx.reply.ArrayHeader(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); i++) {
    ctx.reply.Integer(v != nullptr && AsSet(v).Contains(ctx.arg(i)) ? 1 : 0);
  }
}

// SCARD key
void CmdSCard(CommandContext& ctx) {
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  ctx.reply.Integer(v == nullptr ? 0 : static_cast<int64_t>(AsSet(v).size()));
}

// SPOP key count, cases 2 and 3 of spopWithCountCommand: the popped members are replied and
// propagated one SREM each. REQUIRES: 0 < count < set size.
void PopSome(CommandContext& ctx, std::string_view key, SetObject& set, size_t count) {
  std::vector<std::string> popped;
  size_t remaining = set.size() - count;
  auto& rng = ctx.keyspace().rng();
  if (remaining * 5 > count) {
    while (popped.size() < count) popped.push_back(set.PopRandom(rng));
  } else {
    // Few members stay: move those to a new set (which may be an intset again, as in Redis).
    std::unique_ptr<SetObject> kept;
    for (; remaining > 0; remaining--) {
      std::string m = set.PopRandom(rng);
      if (kept == nullptr) kept = SetObject::ForMember(m);
      kept->Add(m, IntsetLimit(ctx));
    }
    popped = set.Members();
    ctx.db.Set(key, NewSetValue(std::move(kept)), /*keep_ttl=*/true);
  }
  ctx.reply.SetHeader(popped.size());
  for (const std::string& m : popped) ctx.reply.Bulk(m);
  ctx.RewriteArgv({"SREM", std::string(key), popped[0]});
  for (size_t i = 1; i < popped.size(); i++) {
    ctx.AlsoPropagate({"SREM", std::string(key), popped[i]});
  }
}

// SPOP key count
void SPopWithCount(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  int64_t count;
  if (!storage::StringToInt64(ctx.arg(2), &count) || count < 0) {
    return ctx.reply.Error(kMustBePositive);
  }
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr || count == 0) return ctx.reply.SetHeader(0);
  SetObject& set = AsSet(v);
  ctx.Notify('s', "spop", key);
  ctx.Dirty(count + 1);
  if (static_cast<uint64_t>(count) >= set.size()) {
    SetObject copy;  // sunionDiffGenericCommand's result set
    set.ForEach([&](std::string_view m) { copy.Add(m, IntsetLimit(ctx)); });
    ReplyMembers(ctx, copy);
    ctx.db.Delete(key);
    ctx.Notify('g', "del", key);
    ctx.RewriteArgv({"DEL", std::string(key)});
  } else {
    PopSome(ctx, key, set, static_cast<size_t>(count));
  }
  ctx.KeyModified(key);
}

// SPOP key [count]
void CmdSPop(CommandContext& ctx) {
  if (ctx.argc() == 3) return SPopWithCount(ctx);
  if (ctx.argc() > 3) return ctx.reply.Error(errors::kSyntax);
  std::string_view key = ctx.arg(1);
  bool wrong = false;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.NullBulk();
  SetObject& set = AsSet(v);
  std::string m = set.PopRandom(ctx.keyspace().rng());
  ctx.Notify('s', "spop", key);
  ctx.RewriteArgv({"SREM", std::string(key), m});
  ctx.reply.Bulk(m);
  if (set.empty()) ctx.DeleteEmptied(key);
  ctx.KeyModified(key);
  ctx.Dirty();
}

// SRANDMEMBER key count
void SRandMemberWithCount(CommandContext& ctx) {
  int64_t l;
  if (!ctx.ParseInt64(ctx.arg(2), &l)) return;
  if (l == INT64_MIN) {
    return ctx.reply.Error(
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807");
  }
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr || l == 0) return ctx.reply.ArrayHeader(0);
  SetObject& set = AsSet(v);
  auto& rng = ctx.keyspace().rng();
  uint64_t count = l < 0 ? static_cast<uint64_t>(-l) : static_cast<uint64_t>(l);
  if (l < 0) {
    ctx.reply.ArrayHeader(count);
    while (count-- > 0) ctx.reply.Bulk(set.Random(rng));
    return;
  }
  if (count >= set.size()) {
    SetObject copy;
    set.ForEach([&](std::string_view m) { copy.Add(m, IntsetLimit(ctx)); });
    ctx.reply.ArrayHeader(copy.size());
    copy.ForEach([&](std::string_view m) { ctx.reply.Bulk(m); });
    return;
  }
  SetObject picked(false);
  if (count * 3 > set.size()) {
    set.ForEach([&](std::string_view m) { picked.Add(m); });
    while (picked.size() > count) picked.PopRandom(rng);
  } else {
    while (picked.size() < count) picked.Add(set.Random(rng));
  }
  ctx.reply.ArrayHeader(picked.size());
  picked.ForEach([&](std::string_view m) { ctx.reply.Bulk(m); });
}

// SRANDMEMBER key [count]
void CmdSRandMember(CommandContext& ctx) {
  if (ctx.argc() == 3) return SRandMemberWithCount(ctx);
  if (ctx.argc() > 3) return ctx.reply.Error(errors::kSyntax);
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.NullBulk();
  ctx.reply.Bulk(AsSet(v).Random(ctx.keyspace().rng()));
}

// SMOVE source destination member
void CmdSMove(CommandContext& ctx) {
  std::string_view src = ctx.arg(1), dst = ctx.arg(2), m = ctx.arg(3);
  Value* sv = ctx.LookupWrite(src);
  Value* dv = ctx.LookupWrite(dst);
  if (sv == nullptr) return ctx.reply.Integer(0);
  if (sv->type() != ValueType::kSet || (dv != nullptr && dv->type() != ValueType::kSet)) {
    return ctx.reply.Error(errors::kWrongType);
  }
  if (src == dst) return ctx.reply.Integer(AsSet(sv).Contains(m) ? 1 : 0);
  if (!AsSet(sv).Remove(m)) return ctx.reply.Integer(0);
  ctx.Notify('s', "srem", src);
  if (AsSet(sv).empty()) ctx.DeleteEmptied(src);
  if (dv == nullptr) dv = &ctx.db.Add(dst, NewSetValue(SetObject::ForMember(m)));
  ctx.KeyModified(src);
  ctx.KeyModified(dst);
  ctx.Dirty();
  if (AsSet(dv).Add(m, IntsetLimit(ctx))) {
    ctx.Dirty();
    ctx.Notify('s', "sadd", dst);
  }
  ctx.reply.Integer(1);
}

// Looks up the set keys of a multi-key command (lookupKeyWrite when storing, else
// lookupKeyRead); a missing key is nullptr. Replies WRONGTYPE and returns false when any key
// holds another type.
bool LookupSets(CommandContext& ctx, size_t first, size_t n, bool write,
                std::vector<SetObject*>* sets) {
  for (size_t i = first; i < first + n; i++) {
    Value* v = write ? ctx.LookupWrite(ctx.arg(i)) : ctx.LookupRead(ctx.arg(i));
    if (v != nullptr && v->type() != ValueType::kSet) {
      ctx.reply.Error(errors::kWrongType);
      return false;
    }
    sets->push_back(v == nullptr ? nullptr : &AsSet(v));
  }
  return true;
}

// The intersection, walking the smallest set; stops after `limit` members (0: no limit).
// REQUIRES: no set is nullptr.
SetObject Intersect(std::vector<SetObject*> sets, size_t limit, size_t intset_limit) {
  std::stable_sort(sets.begin(), sets.end(),
                   [](SetObject* a, SetObject* b) { return a->size() < b->size(); });
  SetObject result;
  std::vector<std::string> members = sets[0]->Members();
  for (const std::string& m : members) {
    bool all = true;
    for (size_t j = 1; j < sets.size() && all; j++) {
      if (sets[j] != sets[0]) all = sets[j]->Contains(m);
    }
    if (!all) continue;
    result.Add(m, intset_limit);
    if (limit != 0 && result.size() >= limit) break;
  }
  return result;
}

enum class SetOp { kUnion, kDiff };

SetObject UnionOrDiff(const std::vector<SetObject*>& sets, SetOp op, size_t intset_limit) {
  SetObject result;
  if (op == SetOp::kUnion) {
    for (SetObject* s : sets) {
      if (s != nullptr) s->ForEach([&](std::string_view m) { result.Add(m, intset_limit); });
    }
    return result;
  }
  if (sets[0] == nullptr) return result;
  sets[0]->ForEach([&](std::string_view m) {
    for (size_t j = 1; j < sets.size(); j++) {
      if (sets[j] == sets[0] || (sets[j] != nullptr && sets[j]->Contains(m))) return;
    }
    result.Add(m, intset_limit);
  });
  return result;
}

// The *STORE tail: stores result at dst (replacing any value and its TTL) or deletes dst when
// the result is empty, with Redis's events, and replies the cardinality.
void StoreResult(CommandContext& ctx, std::string_view dst, SetObject result,
                 std::string_view event) {
  size_t n = result.size();
  if (n > 0) {
    ctx.db.Set(dst, NewSetValue(std::make_unique<SetObject>(std::move(result))));
    ctx.reply.Integer(static_cast<int64_t>(n));
    ctx.Notify('s', event, dst);
    ctx.KeyModified(dst);
    ctx.Dirty();
    return;
  }
  ctx.reply.Integer(0);
  if (ctx.db.Delete(dst)) {
    ctx.Dirty();
    ctx.KeyModified(dst);
    ctx.Notify('g', "del", dst);
  }
}

// SINTER key [key ...] / SINTERSTORE destination key [key ...]
void SInterGeneric(CommandContext& ctx, size_t first, std::string_view dst, bool store) {
  std::vector<SetObject*> sets;
  if (!LookupSets(ctx, first, ctx.argc() - first, store, &sets)) return;
  bool any_missing = std::find(sets.begin(), sets.end(), nullptr) != sets.end();
  if (!store) {
    if (any_missing) return ctx.reply.SetHeader(0);
    SetObject result = Intersect(sets, 0, IntsetLimit(ctx));
    return ReplyMembers(ctx, result);
  }
  SetObject result = any_missing ? SetObject() : Intersect(sets, 0, IntsetLimit(ctx));
  StoreResult(ctx, dst, std::move(result), "sinterstore");
}

void CmdSInter(CommandContext& ctx) { SInterGeneric(ctx, 1, {}, false); }
// SINTERSTORE destination key [key ...]
void CmdSInterStore(CommandContext& ctx) { SInterGeneric(ctx, 2, ctx.arg(1), true); }

// SINTERCARD numkeys key [key ...] [LIMIT limit]
void CmdSInterCard(CommandContext& ctx) {
  int64_t numkeys;
  if (!storage::StringToInt64(ctx.arg(1), &numkeys) || numkeys < 1) {
    return ctx.reply.Error("numkeys should be greater than 0");
  }
  if (static_cast<uint64_t>(numkeys) > ctx.argc() - 2) {
    return ctx.reply.Error("Number of keys can't be greater than number of args");
  }
  int64_t limit = 0;
  for (size_t i = 2 + static_cast<size_t>(numkeys); i < ctx.argc(); i += 2) {
    if (!OptionIs(ctx.arg(i), "limit") || i + 1 >= ctx.argc()) {
      return ctx.reply.Error(errors::kSyntax);
    }
    if (!storage::StringToInt64(ctx.arg(i + 1), &limit) || limit < 0) {
      return ctx.reply.Error("LIMIT can't be negative");
    }
  }
  std::vector<SetObject*> sets;
  if (!LookupSets(ctx, 2, static_cast<size_t>(numkeys), false, &sets)) return;
  if (std::find(sets.begin(), sets.end(), nullptr) != sets.end()) return ctx.reply.Integer(0);
  SetObject result = Intersect(sets, static_cast<size_t>(limit), IntsetLimit(ctx));
  ctx.reply.Integer(static_cast<int64_t>(result.size()));
}

// SUNION / SDIFF key [key ...] and their STORE forms.
void SUnionDiffGeneric(CommandContext& ctx, SetOp op, bool store) {
  size_t first = store ? 2 : 1;
  std::vector<SetObject*> sets;
  if (!LookupSets(ctx, first, ctx.argc() - first, store, &sets)) return;
  SetObject result = UnionOrDiff(sets, op, IntsetLimit(ctx));
  if (!store) return ReplyMembers(ctx, result);
  StoreResult(ctx, ctx.arg(1), std::move(result),
              op == SetOp::kUnion ? "sunionstore" : "sdiffstore");
}

// SUNION key [key ...]
void CmdSUnion(CommandContext& ctx) { SUnionDiffGeneric(ctx, SetOp::kUnion, false); }
// SUNIONSTORE destination key [key ...]
void CmdSUnionStore(CommandContext& ctx) { SUnionDiffGeneric(ctx, SetOp::kUnion, true); }
// SDIFF key [key ...]
void CmdSDiff(CommandContext& ctx) { SUnionDiffGeneric(ctx, SetOp::kDiff, false); }
// SDIFFSTORE destination key [key ...]
void CmdSDiffStore(CommandContext& ctx) { SUnionDiffGeneric(ctx, SetOp::kDiff, true); }

// SSCAN key cursor [MATCH pattern] [COUNT count]
void CmdSScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.arg(2), &cursor)) return ctx.reply.Error("invalid cursor");
  bool wrong = false;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kSet, &wrong);
  if (wrong) return;
  if (v == nullptr) return ReplyScanHeader(ctx, 0, 0);
  ScanOptions opt;
  if (!ParseScanOptions(ctx, 3, false, &opt)) return;
  std::vector<std::string> found;
  cursor = AsSet(v).Scan(cursor, opt.count, &found);
  if (opt.use_pattern) {
    std::erase_if(found, [&](const std::string& m) { return !storage::GlobMatch(opt.pattern, m); });
  }
  ReplyScanHeader(ctx, cursor, found.size());
  for (const std::string& m : found) ctx.reply.Bulk(m);
}

}  // namespace

void RegisterSetCommands(CommandTable& table) {
  table.Register("sadd", CmdSAdd);
  table.Register("srem", CmdSRem);
  table.Register("smembers", CmdSMembers);
  table.Register("sismember", CmdSIsMember);
  table.Register("smismember", CmdSMIsMember);
  table.Register("scard", CmdSCard);
  table.Register("spop", CmdSPop);
  table.Register("srandmember", CmdSRandMember);
  table.Register("smove", CmdSMove);
  table.Register("sinter", CmdSInter);
  table.Register("sintercard", CmdSInterCard);
  table.Register("sinterstore", CmdSInterStore);
  table.Register("sunion", CmdSUnion);
  table.Register("sunionstore", CmdSUnionStore);
  table.Register("sdiff", CmdSDiff);
  table.Register("sdiffstore", CmdSDiffStore);
  table.Register("sscan", CmdSScan);
}

}  // namespace docket::server
