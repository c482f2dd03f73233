// The list family (t_list.c), non-blocking half: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN,
// LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the helpers the
// blocking half (cmd_list_blocking.cc) shares. An emptied list is always deleted, as in Redis.
// Depends on server/, storage/list.h.
#include "server/cmd_list.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/cmd_string.h"
#include "server/command.h"
#include "storage/number.h"

namespace docket::server {

namespace list_family {

namespace errors = protocol::errors;
using storage::ListObject;
using storage::Value;
using storage::ValueType;

bool ParseEnd(CommandContext& ctx, std::string_view arg, End* end) {
  std::string_view s = CString(arg);
  if (EqualsIgnoreCase(s, "left")) {
    *end = End::kHead;
  } else if (EqualsIgnoreCase(s, "right")) {
    *end = End::kTail;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

bool RangeOrReply(CommandContext& ctx, std::string_view arg, int64_t min, int64_t max,
                  std::string_view msg, int64_t* out) {
  if (!storage::StringToInt64(arg, out) || *out < min || *out > max) {
    ctx.reply.Error(msg);
    return false;
  }
  return true;
}

namespace {

std::string Pop(ListObject& list, End where) {
  return where == End::kHead ? list.PopFront() : list.PopBack();
}

void Push(ListObject& list, End where, std::string_view v) {
  where == End::kHead ? list.PushFront(v) : list.PushBack(v);
}

Value NewList() { return Value::Object(ValueType::kList, std::make_unique<ListObject>()); }

}  // namespace

void ElementsRemoved(CommandContext& ctx, std::string_view key, End where, ListObject& list,
                     int64_t count) {
  ctx.Notify('l', where == End::kHead ? "lpop" : "rpop", key);
  if (list.empty()) ctx.DeleteEmptied(key);
  ctx.KeyModified(key);
  ctx.Dirty(count);
}

void PopRangeReplyWithKey(CommandContext& ctx, std::string_view key, ListObject& list, End where,
                          int64_t count) {
  int64_t n = std::min(count, static_cast<int64_t>(list.size()));
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(key);
  ctx.reply.ArrayHeader(n);
  for (int64_t i = 0; i < n; i++) ctx.reply.Bulk(Pop(list, where));
  ElementsRemoved(ctx, key, where, list, n);
  ctx.RewriteArgv(
      {where == End::kHead ? "LPOP" : "RPOP", std::string(key), storage::Int64ToString(n)});
}

bool MoveGeneric(CommandContext& ctx, End from, End to) {
  std::string_view src = ctx.arg(1), dst = ctx.arg(2);
  bool wrong;
  Value* sv = ctx.LookupWriteOfType(src, ValueType::kList, &wrong);
  if (wrong) return false;
  if (sv == nullptr || sv->As<ListObject>().empty()) {
    ctx.reply.NullBulk();
    return false;
  }
  Value* dv = ctx.LookupWriteOfType(dst, ValueType::kList, &wrong);
  if (wrong) return false;
  ListObject& source = sv->As<ListObject>();
  // With source == destination, dv is the same list: it never empties (a rotation).
  std::string value = Pop(source, from);
  if (dv == nullptr) dv = &ctx.db.Add(dst, NewList());
  ctx.KeyModified(dst);
  Push(dv->As<ListObject>(), to, value);
  ctx.Notify('l', to == End::kHead ? "lpush" : "rpush", dst);
  ctx.reply.Bulk(value);
  ElementsRemoved(ctx, src, from, source, 1);
  return true;
}

bool ParseMpopArgs(CommandContext& ctx, size_t numkeys_idx, MpopArgs* out) {
  int64_t numkeys;
  if (!RangeOrReply(ctx, ctx.arg(numkeys_idx), 1, INT64_MAX, "numkeys should be greater than 0",
                    &numkeys)) {
    return false;
  }
  int64_t room = static_cast<int64_t>(ctx.argc()) - static_cast<int64_t>(numkeys_idx) - 2;
  if (numkeys > room) {  // the LEFT|RIGHT position would be past the last argument
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  size_t where_idx = numkeys_idx + static_cast<size_t>(numkeys) + 1;
  if (!ParseEnd(ctx, ctx.arg(where_idx), &out->where)) return false;
  bool has_count = false;
  for (size_t j = where_idx + 1; j < ctx.argc(); j++) {
    bool more = j + 1 < ctx.argc();
    if (has_count || !more || !EqualsIgnoreCase(CString(ctx.arg(j)), "count")) {
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

}  // namespace list_family

namespace {

using namespace list_family;  // NOLINT: this family's own helpers (and its using-declarations)

constexpr std::string_view kMustBePositive = "value is out of range, must be positive";

// getLongFromObjectOrReply: any 64-bit integer, else "value is not an integer or out of range".
bool LongOrReply(CommandContext& ctx, std::string_view arg, int64_t* out) {
  return RangeOrReply(ctx, arg, INT64_MIN, INT64_MAX, errors::kNotInteger, out);
}

// pushGenericCommand: LPUSH/RPUSH create the list, LPUSHX/RPUSHX (xx) only push onto one.
void PushGeneric(CommandContext& ctx, End where, bool xx) {
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) {
    if (xx) return ctx.reply.Integer(0);
    v = &ctx.db.Add(key, NewList());
  }
  ListObject& list = v->As<ListObject>();
  for (size_t j = 2; j < ctx.argc(); j++) Push(list, where, ctx.arg(j));
  ctx.Dirty(static_cast<int64_t>(ctx.argc() - 2));
  ctx.reply.Integer(static_cast<int64_t>(list.size()));
  ctx.KeyModified(key);
  ctx.Notify('l', where == End::kHead ? "lpush" : "rpush", key);
}

// LPUSH key element [element ...]
void CmdLPush(CommandContext& ctx) { PushGeneric(ctx, End::kHead, false); }
// RPUSH key element [element ...]
void CmdRPush(CommandContext& ctx) { PushGeneric(ctx, End::kTail, false); }
// LPUSHX key element [element ...]
void CmdLPushX(CommandContext& ctx) { PushGeneric(ctx, End::kHead, true); }
// RPUSHX key element [element ...]
void CmdRPushX(CommandContext& ctx) { PushGeneric(ctx, End::kTail, true); }

// popGenericCommand: one element as a bulk, or with a count an array of up to count elements.
void PopGeneric(CommandContext& ctx, End where) {
  if (ctx.argc() > 3) return ctx.WrongArity();
  bool has_count = ctx.argc() == 3;
  int64_t count = 0;
  if (has_count && !RangeOrReply(ctx, ctx.arg(2), 0, INT64_MAX, kMustBePositive, &count)) return;
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return has_count ? ctx.reply.NullArray() : ctx.reply.NullBulk();
  if (has_count && count == 0) return ctx.reply.ArrayHeader(0);
  ListObject& list = v->As<ListObject>();
  if (!has_count) {
    ctx.reply.Bulk(Pop(list, where));
    return ElementsRemoved(ctx, key, where, list, 1);
  }
  int64_t n = std::min(count, static_cast<int64_t>(list.size()));
  ctx.reply.ArrayHeader(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) ctx.reply.Bulk(Pop(list, where));
  ElementsRemoved(ctx, key, where, list, n);
}

// LPOP key [count]
void CmdLPop(CommandContext& ctx) { PopGeneric(ctx, End::kHead); }
// RPOP key [count]
void CmdRPop(CommandContext& ctx) { PopGeneric(ctx, End::kTail); }

// LLEN key
void CmdLLen(CommandContext& ctx) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kList, &wrong);
  if (wrong) return;
  ctx.reply.Integer(v == nullptr ? 0 : static_cast<int64_t>(v->As<ListObject>().size()));
}

// Converts LRANGE/LTRIM's start and stop (negative from the tail) to a clamped [start, stop];
// false when the range is empty.
bool ClampRange(int64_t len, int64_t* start, int64_t* stop) {
  if (*start < 0) *start += len;
  if (*stop < 0) *stop += len;
  if (*start < 0) *start = 0;
  if (*start > *stop || *start >= len) return false;
  if (*stop >= len) *stop = len - 1;
  return true;
}

// LRANGE key start stop
void CmdLRange(CommandContext& ctx) {
  int64_t start, stop;
  if (!LongOrReply(ctx, ctx.arg(2), &start) || !LongOrReply(ctx, ctx.arg(3), &stop)) return;
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.ArrayHeader(0);
  const ListObject& list = v->As<ListObject>();
  if (!ClampRange(static_cast<int64_t>(list.size()), &start, &stop)) {
    return ctx.reply.ArrayHeader(0);
  }
  ctx.reply.ArrayHeader(static_cast<size_t>(stop - start + 1));
  list.Range(static_cast<size_t>(start), static_cast<size_t>(stop),
             [&](std::string_view e) { ctx.reply.Bulk(e); });
}

// LTRIM key start stop
void CmdLTrim(CommandContext& ctx) {
  int64_t start, stop;
  if (!LongOrReply(ctx, ctx.arg(2), &start) || !LongOrReply(ctx, ctx.arg(3), &stop)) return;
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Ok();
  ListObject& list = v->As<ListObject>();
  int64_t len = static_cast<int64_t>(list.size());
  if (ClampRange(len, &start, &stop)) {
    list.Trim(start, stop);
  } else {
    list.Trim(1, 0);  // an empty range drops everything
  }
  int64_t removed = len - static_cast<int64_t>(list.size());
  ctx.Notify('l', "ltrim", key);
  if (list.empty()) ctx.DeleteEmptied(key);
  ctx.KeyModified(key);
  ctx.Dirty(removed);
  ctx.reply.Ok();
}

// LINDEX key index
void CmdLIndex(CommandContext& ctx) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.NullBulk();
  int64_t index;
  if (!LongOrReply(ctx, ctx.arg(2), &index)) return;
  std::string out;
  if (!v->As<ListObject>().Get(index, &out)) return ctx.reply.NullBulk();
  ctx.reply.Bulk(out);
}

// LSET key index element
void CmdLSet(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  Value* v = ctx.LookupWrite(key);
  if (v == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  if (v->type() != ValueType::kList) return ctx.reply.Error(errors::kWrongType);
  int64_t index;
  if (!LongOrReply(ctx, ctx.arg(2), &index)) return;
  if (!v->As<ListObject>().Set(index, ctx.arg(3))) {
    return ctx.reply.Error("index out of range");
  }
  ctx.reply.Ok();
  ctx.KeyModified(key);
  ctx.Notify('l', "lset", key);
  ctx.Dirty();
}

// LINSERT key BEFORE|AFTER pivot element
void CmdLInsert(CommandContext& ctx) {
  std::string_view where = CString(ctx.arg(2)), key = ctx.arg(1);
  bool before = EqualsIgnoreCase(where, "before");
  if (!before && !EqualsIgnoreCase(where, "after")) return ctx.reply.Error(errors::kSyntax);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ListObject& list = v->As<ListObject>();
  if (!list.Insert(ctx.arg(3), ctx.arg(4), before)) return ctx.reply.Integer(-1);
  ctx.KeyModified(key);
  ctx.Notify('l', "linsert", key);
  ctx.Dirty();
  ctx.reply.Integer(static_cast<int64_t>(list.size()));
}

// LREM key count element
void CmdLRem(CommandContext& ctx) {
  int64_t count;
  if (!LongOrReply(ctx, ctx.arg(2), &count)) return;
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  ListObject& list = v->As<ListObject>();
  // Redis negates LONG_MIN into itself and then never reaches the count: it removes them all.
  size_t removed = list.Remove(ctx.arg(3), count == INT64_MIN ? 0 : count);
  if (removed > 0) {
    ctx.KeyModified(key);
    ctx.Notify('l', "lrem", key);
    ctx.Dirty(static_cast<int64_t>(removed));
  }
  if (list.empty()) ctx.DeleteEmptied(key);
  ctx.reply.Integer(static_cast<int64_t>(removed));
}

struct LposArgs {
  int64_t rank = 1;
  int64_t count = -1;  // -1: no COUNT option
  int64_t maxlen = 0;  // 0: scan everything
};

bool ParseLposArgs(CommandContext& ctx, LposArgs* out) {
  for (size_t j = 3; j < ctx.argc(); j++) {
    std::string_view opt = CString(ctx.arg(j));
    bool more = j + 1 < ctx.argc();
    if (more && EqualsIgnoreCase(opt, "rank")) {
      if (!LongOrReply(ctx, ctx.arg(++j), &out->rank)) return false;
      if (out->rank == 0) {
        ctx.reply.Error(
            "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or "
            "use negative to start from the end of the list");
        return false;
      }
    } else if (more && EqualsIgnoreCase(opt, "count")) {
      if (!RangeOrReply(ctx, ctx.arg(++j), 0, INT64_MAX, "COUNT can't be negative", &out->count)) {
        return false;
      }
    } else if (more && EqualsIgnoreCase(opt, "maxlen")) {
      if (!RangeOrReply(ctx, ctx.arg(++j), 0, INT64_MAX, "MAXLEN can't be negative",
                        &out->maxlen)) {
        return false;
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
void CmdLPos(CommandContext& ctx) {
  LposArgs args;
  if (!ParseLposArgs(ctx, &args)) return;
  bool forward = args.rank > 0;
  // Redis 7.0 negates RANK LONG_MIN into itself: every match from the tail then passes the rank
  // test, and the COUNT test (matches - rank + 1 wraps negative) never ends the scan.
  bool rank_min = args.rank == INT64_MIN;
  int64_t rank = forward ? args.rank : (rank_min ? 1 : -args.rank);
  int64_t count = rank_min ? 0 : args.count;
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kList, &wrong);
  if (wrong) return;
  bool with_count = args.count != -1;
  if (v == nullptr) return with_count ? ctx.reply.ArrayHeader(0) : ctx.reply.NullBulk();
  std::string_view ele = ctx.arg(2);
  std::vector<int64_t> found;
  int64_t scanned = 0, matches = 0;
  v->As<ListObject>().Walk(forward, [&](size_t index, std::string_view e) {
    if (args.maxlen != 0 && scanned >= args.maxlen) return false;
    scanned++;
    if (e != ele || ++matches < rank) return true;
    found.push_back(static_cast<int64_t>(index));
    if (!with_count) return false;
    return count == 0 || matches - rank + 1 < count;
  });
  if (with_count) {
    ctx.reply.ArrayHeader(found.size());
    for (int64_t index : found) ctx.reply.Integer(index);
  } else if (found.empty()) {
    ctx.reply.NullBulk();
  } else {
    ctx.reply.Integer(found[0]);
  }
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
void CmdLMove(CommandContext& ctx) {
  End from, to;
  if (!ParseEnd(ctx, ctx.arg(3), &from) || !ParseEnd(ctx, ctx.arg(4), &to)) return;
  MoveGeneric(ctx, from, to);
}

// RPOPLPUSH source destination
void CmdRPopLPush(CommandContext& ctx) { MoveGeneric(ctx, End::kTail, End::kHead); }

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
void CmdLMPop(CommandContext& ctx) {
  MpopArgs args;
  if (!ParseMpopArgs(ctx, 1, &args)) return;
  for (std::string_view key : args.keys) {
    bool wrong;
    Value* v = ctx.LookupWriteOfType(key, ValueType::kList, &wrong);
    if (wrong) return;
    if (v == nullptr || v->As<ListObject>().empty()) continue;
    return PopRangeReplyWithKey(ctx, key, v->As<ListObject>(), args.where, args.count);
  }
  ctx.reply.NullArray();
}

}  // namespace

void RegisterListCommands(CommandTable& table) {
  table.Register("lpush", CmdLPush);
  table.Register("rpush", CmdRPush);
  table.Register("lpushx", CmdLPushX);
  table.Register("rpushx", CmdRPushX);
  table.Register("lpop", CmdLPop);
  table.Register("rpop", CmdRPop);
  table.Register("llen", CmdLLen);
  table.Register("lrange", CmdLRange);
  table.Register("ltrim", CmdLTrim);
  table.Register("lindex", CmdLIndex);
  table.Register("lset", CmdLSet);
  table.Register("linsert", CmdLInsert);
  table.Register("lrem", CmdLRem);
  table.Register("lpos", CmdLPos);
  table.Register("lmove", CmdLMove);
  table.Register("rpoplpush", CmdRPopLPush);
  table.Register("lmpop", CmdLMPop);
  list_family::RegisterBlockingListCommands(table);
}

}  // namespace docket::server
