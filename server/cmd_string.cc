// The string family (t_string.c): GET, SET and its variants (SETNX, SETEX, PSETEX, GETSET, GETDEL,
// GETEX), MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE and the counters (INCR,
// DECR, INCRBY, DECRBY, INCRBYFLOAT). LCS lives in cmd_string_lcs.cc. Depends on server/, storage/.
#include "server/cmd_string.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/command.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {

namespace {

namespace errors = protocol::errors;
using storage::Value;
using storage::ValueType;

// addReplyErrorExpireTime: names the command as Redis's fullname ("set", "setex", "getex").
std::string InvalidExpireError(const CommandContext& ctx) {
  return "invalid expire time in '" + ctx.spec.fullname + "' command";
}

// checkStringLength: the result of growing a string of size by append bytes must fit in
// proto-max-bulk-len (and not overflow); replies the error otherwise.
bool CheckStringLength(CommandContext& ctx, int64_t size, int64_t append) {
  int64_t total;
  bool overflow = __builtin_add_overflow(size, append, &total);
  if (overflow || total > ctx.server.config().proto_max_bulk_len) {
    ctx.reply.Error(errors::kStringTooLong);
    return false;
  }
  return true;
}

// Redis's OBJ_* option flags (SET and GETEX share one parser).
enum StringOption : uint32_t {
  kOptNx = 1 << 0,
  kOptXx = 1 << 1,
  kOptEx = 1 << 2,
  kOptPx = 1 << 3,
  kOptKeepTtl = 1 << 4,
  kOptGet = 1 << 5,
  kOptExAt = 1 << 6,
  kOptPxAt = 1 << 7,
  kOptPersist = 1 << 8,
};

constexpr uint32_t kAnyExpire = kOptEx | kOptPx | kOptExAt | kOptPxAt;

struct OptionRule {
  std::string_view name;
  uint32_t flag;
  uint32_t conflicts;  // flags that, already given, make this option a syntax error
  bool for_set, for_get;
  bool takes_value;
};

// parseExtendedStringArgumentsOrReply's rules, one row per option. A repeated option is fine
// (the last value wins); only the listed combinations are rejected.
constexpr OptionRule kOptionRules[] = {
    {"nx", kOptNx, kOptXx, true, false, false},
    {"xx", kOptXx, kOptNx, true, false, false},
    {"get", kOptGet, 0, true, false, false},
    {"keepttl", kOptKeepTtl, kOptPersist | kAnyExpire, true, false, false},
    {"persist", kOptPersist, kOptKeepTtl | kAnyExpire, false, true, false},
    {"ex", kOptEx, kOptKeepTtl | kOptPersist | (kAnyExpire & ~kOptEx), true, true, true},
    {"px", kOptPx, kOptKeepTtl | kOptPersist | (kAnyExpire & ~kOptPx), true, true, true},
    {"exat", kOptExAt, kOptKeepTtl | kOptPersist | (kAnyExpire & ~kOptExAt), true, true, true},
    {"pxat", kOptPxAt, kOptKeepTtl | kOptPersist | (kAnyExpire & ~kOptPxAt), true, true, true},
};

struct ExtendedArgs {
  uint32_t flags = 0;
  std::optional<std::string_view> expire;  // the EX/PX/EXAT/PXAT argument, as given

  bool Has(uint32_t f) const { return (flags & f) != 0; }
  bool millis() const { return Has(kOptPx | kOptPxAt); }
};

enum class ArgsFor { kGet, kSet };

// Parses SET's options from argv[3] or GETEX's from argv[2]; replies "syntax error" and returns
// false on an unknown option, a forbidden combination or a missing value.
bool ParseExtendedArgs(CommandContext& ctx, ArgsFor kind, ExtendedArgs* out) {
  for (size_t j = kind == ArgsFor::kGet ? 2 : 3; j < ctx.argc(); j++) {
    std::string_view opt = CString(ctx.arg(j));
    bool has_next = j + 1 < ctx.argc();
    const OptionRule* match = nullptr;
    for (const OptionRule& rule : kOptionRules) {
      if (EqualsIgnoreCase(opt, rule.name)) match = &rule;
    }
    bool allowed = match != nullptr && (kind == ArgsFor::kSet ? match->for_set : match->for_get) &&
                   (out->flags & match->conflicts) == 0 && (!match->takes_value || has_next);
    if (!allowed) {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    out->flags |= match->flag;
    if (match->takes_value) out->expire = ctx.arg(++j);
  }
  return true;
}

// getExpireMillisecondsOrReply: the absolute expiry in unix ms, or an error reply.
bool ExpireMsOrReply(CommandContext& ctx, std::string_view arg, const ExtendedArgs& args,
                     int64_t* ms) {
  if (!storage::StringToInt64(arg, ms)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  bool seconds = !args.millis();
  bool relative = args.Has(kOptEx | kOptPx);
  bool bad = *ms <= 0 || (seconds && *ms > INT64_MAX / 1000);
  if (!bad && seconds) *ms *= 1000;
  if (!bad && relative) bad = __builtin_add_overflow(*ms, ctx.now_ms(), ms);
  if (bad) {
    ctx.reply.Error(InvalidExpireError(ctx));
    return false;
  }
  return true;
}

// getGenericCommand: replies the value (or null). False, after WRONGTYPE, for another type.
bool ReplyGet(CommandContext& ctx, std::string_view key) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(key, ValueType::kString, &wrong);
  if (wrong) return false;
  if (v == nullptr) {
    ctx.reply.NullBulk();
  } else {
    ctx.reply.Bulk(v->str());
  }
  return true;
}

// SET ... GET propagates without its GET arguments (it is a plain SET to a replica).
std::vector<std::string> ArgvWithoutGet(CommandContext& ctx) {
  std::vector<std::string> out;
  for (size_t j = 0; j < ctx.argc(); j++) {
    if (j >= 3 && EqualsIgnoreCase(CString(ctx.arg(j)), "get")) continue;
    out.emplace_back(ctx.arg(j));
  }
  return out;
}

enum class SetReply { kOk, kInteger };  // SET/SETEX: +OK or null; SETNX: :1 or :0

// setGenericCommand: SET, SETNX, SETEX and PSETEX. An expiry propagates as SET key value PXAT ms.
void SetGeneric(CommandContext& ctx, const ExtendedArgs& args, std::string_view key,
                std::string_view val, SetReply reply) {
  int64_t ms = 0;
  if (args.expire && !ExpireMsOrReply(ctx, *args.expire, args, &ms)) return;
  if (args.Has(kOptGet) && !ReplyGet(ctx, key)) return;
  bool found = ctx.LookupWrite(key) != nullptr;
  if ((args.Has(kOptNx) && found) || (args.Has(kOptXx) && !found)) {
    if (args.Has(kOptGet)) return;
    return reply == SetReply::kInteger ? ctx.reply.Integer(0) : ctx.reply.NullBulk();
  }
  ctx.db.Set(key, Value::String(val), args.Has(kOptKeepTtl));
  ctx.KeyModified(key);
  ctx.Dirty();
  ctx.Notify('$', "set", key);
  if (args.expire) {
    ctx.db.SetExpire(key, ms);
    ctx.RewriteArgv(
        {"SET", std::string(key), std::string(val), "PXAT", storage::Int64ToString(ms)});
    ctx.Notify('g', "expire", key);
  } else if (args.Has(kOptGet)) {
    ctx.RewriteArgv(ArgvWithoutGet(ctx));
  }
  if (args.Has(kOptGet)) return;
  reply == SetReply::kInteger ? ctx.reply.Integer(1) : ctx.reply.Ok();
}

// GET key
void CmdGet(CommandContext& ctx) { ReplyGet(ctx, ctx.arg(1)); }

// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
//     PXAT unix-time-milliseconds | KEEPTTL]
void CmdSet(CommandContext& ctx) {
  ExtendedArgs args;
  if (!ParseExtendedArgs(ctx, ArgsFor::kSet, &args)) return;
  SetGeneric(ctx, args, ctx.arg(1), ctx.arg(2), SetReply::kOk);
}

// SETNX key value
void CmdSetNx(CommandContext& ctx) {
  SetGeneric(ctx, ExtendedArgs{kOptNx, std::nullopt}, ctx.arg(1), ctx.arg(2), SetReply::kInteger);
}

// SETEX key seconds value
void CmdSetEx(CommandContext& ctx) {
  SetGeneric(ctx, ExtendedArgs{kOptEx, ctx.arg(2)}, ctx.arg(1), ctx.arg(3), SetReply::kOk);
}

// PSETEX key milliseconds value
void CmdPSetEx(CommandContext& ctx) {
  SetGeneric(ctx, ExtendedArgs{kOptPx, ctx.arg(2)}, ctx.arg(1), ctx.arg(3), SetReply::kOk);
}

// GETSET key value
void CmdGetSet(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  if (!ReplyGet(ctx, key)) return;
  ctx.db.Set(key, Value::String(ctx.arg(2)));
  ctx.KeyModified(key);
  ctx.Notify('$', "set", key);
  ctx.Dirty();
  ctx.RewriteArgv({"SET", std::string(key), std::string(ctx.arg(2))});
}

// Deletes key for GETDEL and GETEX with a past EXAT/PXAT; propagates DEL.
void DeleteAndPropagate(CommandContext& ctx, std::string_view key) {
  ctx.db.Delete(key);
  ctx.RewriteArgv({"DEL", std::string(key)});
  ctx.KeyModified(key);
  ctx.Notify('g', "del", key);
  ctx.Dirty();
}

// GETDEL key
void CmdGetDel(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  if (!ReplyGet(ctx, key)) return;
  if (ctx.db.Peek(key) != nullptr) DeleteAndPropagate(ctx, key);
}

// Applies GETEX's option after the reply: never propagated as is, but as PEXPIREAT, DEL or
// PERSIST (or not at all).
void ApplyGetExOption(CommandContext& ctx, const ExtendedArgs& args, int64_t ms) {
  std::string_view key = ctx.arg(1);
  bool absolute = args.Has(kOptExAt | kOptPxAt);
  if (absolute && ms <= ctx.now_ms() && !ctx.keyspace().expire_paused()) {
    DeleteAndPropagate(ctx, key);
  } else if (args.expire) {
    ctx.db.SetExpire(key, ms);
    ctx.RewriteArgv({"PEXPIREAT", std::string(key), storage::Int64ToString(ms)});
    ctx.KeyModified(key);
    ctx.Notify('g', "expire", key);
    ctx.Dirty();
  } else if (args.Has(kOptPersist) && ctx.db.Persist(key)) {
    ctx.KeyModified(key);
    ctx.RewriteArgv({"PERSIST", std::string(key)});
    ctx.Notify('g', "persist", key);
    ctx.Dirty();
  }
}

// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
//     PXAT unix-time-milliseconds | PERSIST]
void CmdGetEx(CommandContext& ctx) {
  ExtendedArgs args;
  if (!ParseExtendedArgs(ctx, ArgsFor::kGet, &args)) return;
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kString, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.NullBulk();
  int64_t ms = 0;
  if (args.expire && !ExpireMsOrReply(ctx, *args.expire, args, &ms)) return;
  ctx.reply.Bulk(v->str());
  ApplyGetExOption(ctx, args, ms);
}

// MGET key [key ...]
void CmdMGet(CommandContext& ctx) {
  ctx.reply.ArrayHeader(ctx.argc() - 1);
  for (size_t j = 1; j < ctx.argc(); j++) {
    Value* v = ctx.LookupRead(ctx.arg(j));
    if (v == nullptr || !v->is_string()) {
      ctx.reply.NullBulk();
    } else {
      ctx.reply.Bulk(v->str());
    }
  }
}

// msetGenericCommand: MSETNX sets nothing when any key exists.
void MSetGeneric(CommandContext& ctx, bool nx) {
  if (ctx.argc() % 2 == 0) return ctx.WrongArity();
  if (nx) {
    for (size_t j = 1; j < ctx.argc(); j += 2) {
      if (ctx.LookupWrite(ctx.arg(j)) != nullptr) return ctx.reply.Integer(0);
    }
  }
  for (size_t j = 1; j < ctx.argc(); j += 2) {
    ctx.db.Set(ctx.arg(j), Value::String(ctx.arg(j + 1)));
    ctx.KeyModified(ctx.arg(j));
    ctx.Notify('$', "set", ctx.arg(j));
  }
  ctx.Dirty(static_cast<int64_t>(ctx.argc() - 1) / 2);
  nx ? ctx.reply.Integer(1) : ctx.reply.Ok();
}

// MSET key value [key value ...]
void CmdMSet(CommandContext& ctx) { MSetGeneric(ctx, false); }

// MSETNX key value [key value ...]
void CmdMSetNx(CommandContext& ctx) { MSetGeneric(ctx, true); }

// APPEND key value
void CmdAppend(CommandContext& ctx) {
  std::string_view key = ctx.arg(1), tail = ctx.arg(2);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kString, &wrong);
  if (wrong) return;
  size_t total;
  if (v == nullptr) {
    ctx.db.Set(key, Value::String(tail));
    total = tail.size();
  } else {
    if (!CheckStringLength(ctx, v->str().size(), tail.size())) return;
    std::string& s = v->mutable_str();
    s.append(tail);
    total = s.size();
  }
  ctx.KeyModified(key);
  ctx.Notify('$', "append", key);
  ctx.Dirty();
  ctx.reply.Integer(static_cast<int64_t>(total));
}

// STRLEN key
void CmdStrlen(CommandContext& ctx) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kString, &wrong);
  if (wrong) return;
  ctx.reply.Integer(v == nullptr ? 0 : static_cast<int64_t>(v->str().size()));
}

// GETRANGE key start end (and SUBSTR, its old name)
void CmdGetRange(CommandContext& ctx) {
  int64_t start, end;
  if (!storage::StringToInt64(ctx.arg(2), &start) || !storage::StringToInt64(ctx.arg(3), &end)) {
    return ctx.reply.Error(errors::kNotInteger);
  }
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kString, &wrong);
  if (wrong) return;
  if (v == nullptr || (start < 0 && end < 0 && start > end)) return ctx.reply.Bulk("");
  const std::string& s = v->str();
  int64_t len = static_cast<int64_t>(s.size());
  if (start < 0) start = std::max<int64_t>(len + start, 0);
  if (end < 0) end = std::max<int64_t>(len + end, 0);
  if (end >= len) end = len - 1;
  if (len == 0 || start > end) return ctx.reply.Bulk("");
  ctx.reply.Bulk(std::string_view(s).substr(start, end - start + 1));
}

// SETRANGE key offset value
void CmdSetRange(CommandContext& ctx) {
  std::string_view key = ctx.arg(1), patch = ctx.arg(3);
  int64_t offset;
  if (!storage::StringToInt64(ctx.arg(2), &offset)) return ctx.reply.Error(errors::kNotInteger);
  if (offset < 0) return ctx.reply.Error(errors::kOffsetOutOfRange);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kString, &wrong);
  if (wrong) return;
  if (patch.empty()) {  // nothing to write: the current length, and no key is created
    return ctx.reply.Integer(v == nullptr ? 0 : static_cast<int64_t>(v->str().size()));
  }
  if (!CheckStringLength(ctx, offset, static_cast<int64_t>(patch.size()))) return;
  if (v == nullptr) v = &ctx.db.Set(key, Value::String(""));
  std::string& s = v->mutable_str();  // raw from now on, as Redis's unshared copy
  size_t needed = static_cast<size_t>(offset) + patch.size();
  if (s.size() < needed) s.resize(needed, '\0');
  s.replace(static_cast<size_t>(offset), patch.size(), patch);
  ctx.KeyModified(key);
  ctx.Notify('$', "setrange", key);
  ctx.Dirty();
  ctx.reply.Integer(static_cast<int64_t>(s.size()));
}

// Replaces a string's contents with a freshly encoded value (as Redis's new object for INCR and
// INCRBYFLOAT), keeping its TTL and access clock.
void ReplaceString(Value* v, Value fresh) {
  uint32_t access = v->access_time();
  *v = std::move(fresh);
  v->set_access_time(access);
}

// incrDecrCommand: the key's integer plus incr, stored back with its TTL kept.
void IncrDecr(CommandContext& ctx, int64_t incr) {
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kString, &wrong);
  if (wrong) return;
  int64_t value = 0;
  if (v != nullptr && !storage::StringToInt64(v->str(), &value)) {
    return ctx.reply.Error(errors::kNotInteger);
  }
  if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
      (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
    return ctx.reply.Error(errors::kOverflow);
  }
  value += incr;
  char buf[24];
  std::string_view text(buf, storage::Int64ToChars(value, buf));
  if (v != nullptr) {
    ReplaceString(v, Value::String(text));
  } else {
    ctx.db.Set(key, Value::String(text));
  }
  ctx.KeyModified(key);
  ctx.Notify('$', "incrby", key);
  ctx.Dirty();
  ctx.reply.Integer(value);
}

// INCR key
void CmdIncr(CommandContext& ctx) { IncrDecr(ctx, 1); }

// DECR key
void CmdDecr(CommandContext& ctx) { IncrDecr(ctx, -1); }

// INCRBY key increment
void CmdIncrBy(CommandContext& ctx) {
  int64_t incr;
  if (!storage::StringToInt64(ctx.arg(2), &incr)) return ctx.reply.Error(errors::kNotInteger);
  IncrDecr(ctx, incr);
}

// DECRBY key decrement
void CmdDecrBy(CommandContext& ctx) {
  int64_t decr;
  if (!storage::StringToInt64(ctx.arg(2), &decr)) return ctx.reply.Error(errors::kNotInteger);
  if (decr == INT64_MIN) return ctx.reply.Error("decrement would overflow");
  IncrDecr(ctx, -decr);
}

// INCRBYFLOAT key increment. Propagated as SET key <result> KEEPTTL, so replicas and the AOF
// never redo the float arithmetic.
void CmdIncrByFloat(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kString, &wrong);
  if (wrong) return;
  long double value = 0, incr;
  if ((v != nullptr && !storage::StringToLongDouble(v->str(), &value)) ||
      !storage::StringToLongDouble(ctx.arg(2), &incr)) {
    return ctx.reply.Error(errors::kNotFloat);
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) {
    return ctx.reply.Error("increment would produce NaN or Infinity");
  }
  std::string text = storage::LongDoubleToString(value, storage::LongDoubleMode::kHuman);
  if (v != nullptr) {
    ReplaceString(v, Value::PlainString(text));
  } else {
    ctx.db.Set(key, Value::PlainString(text));
  }
  ctx.KeyModified(key);
  ctx.Notify('$', "incrbyfloat", key);
  ctx.Dirty();
  ctx.reply.Bulk(text);
  ctx.RewriteArgv({"SET", std::string(key), text, "KEEPTTL"});
}

}  // namespace

void RegisterStringCommands(CommandTable& table) {
  table.Register("get", CmdGet);
  table.Register("set", CmdSet);
  table.Register("setnx", CmdSetNx);
  table.Register("setex", CmdSetEx);
  table.Register("psetex", CmdPSetEx);
  table.Register("getset", CmdGetSet);
  table.Register("getdel", CmdGetDel);
  table.Register("getex", CmdGetEx);
  table.Register("mget", CmdMGet);
  table.Register("mset", CmdMSet);
  table.Register("msetnx", CmdMSetNx);
  table.Register("append", CmdAppend);
  table.Register("strlen", CmdStrlen);
  table.Register("getrange", CmdGetRange);
  table.Register("substr", CmdGetRange);
  table.Register("setrange", CmdSetRange);
  table.Register("incr", CmdIncr);
  table.Register("decr", CmdDecr);
  table.Register("incrby", CmdIncrBy);
  table.Register("decrby", CmdDecrBy);
  table.Register("incrbyfloat", CmdIncrByFloat);
  table.Register("lcs", string_family::CmdLcs);
}

}  // namespace docket::server
