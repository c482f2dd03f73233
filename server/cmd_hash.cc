// The hash family (t_hash.c): HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN,
// HKEYS, HVALS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD and HSCAN, with Redis 7.0's replies,
// errors, keyspace events (class 'h') and propagation. An emptied hash is deleted, as in Redis.
// Depends on server/, storage/hash.h.
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/command.h"
#include "server/config.h"
#include "server/scan_args.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/hash.h"
#include "storage/number.h"

namespace docket::server {

namespace {

namespace errors = protocol::errors;
using storage::HashObject;
using storage::Value;
using storage::ValueType;

storage::HashLimits Limits(CommandContext& ctx) {
  const Config& c = ctx.server.config();
  return {static_cast<size_t>(c.hash_max_listpack_entries),
          static_cast<size_t>(c.hash_max_listpack_value)};
}

// hashTypeLookupWriteOrCreate: the hash at key, created empty when missing; nullptr (WRONGTYPE
// replied) when key holds another type. The hash checks the configured listpack limits.
HashObject* LookupWriteOrCreate(CommandContext& ctx, std::string_view key) {
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kHash, &wrong);
  if (wrong) return nullptr;
  if (v == nullptr) {
    v = &ctx.db.Add(key, Value::Object(ValueType::kHash, std::make_unique<HashObject>()));
  }
  HashObject* hash = &v->As<HashObject>();
  hash->set_limits(Limits(ctx));
  return hash;
}

// lookupKeyReadOrReply + checkType: the hash at key, or nullptr after replying `missing` (when
// absent, through the callback) or WRONGTYPE.
template <typename MissingFn>
HashObject* LookupReadOrReply(CommandContext& ctx, std::string_view key, MissingFn&& missing) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(key, ValueType::kHash, &wrong);
  if (wrong) return nullptr;
  if (v == nullptr) {
    missing();
    return nullptr;
  }
  return &v->As<HashObject>();
}

void HashModified(CommandContext& ctx, std::string_view key, std::string_view event, int64_t n) {
  ctx.KeyModified(key);
  ctx.Notify('h', event, key);
  ctx.Dirty(n);
}

// HSET key field value [field value ...] and HMSET key field value [field value ...]
void CmdHSet(CommandContext& ctx) {
  if (ctx.argc() % 2 == 1) return ctx.WrongArity();
  std::string_view key = ctx.arg(1);
  HashObject* hash = LookupWriteOrCreate(ctx, key);
  if (hash == nullptr) return;
  hash->TryConversion(ctx.argv.subspan(2));
  int64_t created = 0;
  for (size_t i = 2; i < ctx.argc(); i += 2) created += hash->Set(ctx.arg(i), ctx.arg(i + 1));
  std::string_view name = ctx.arg(0);
  if (name.size() > 1 && (name[1] == 's' || name[1] == 'S')) {
    ctx.reply.Integer(created);
  } else {
    ctx.reply.Ok();
  }
  HashModified(ctx, key, "hset", static_cast<int64_t>(ctx.argc() - 2) / 2);
}

// HSETNX key field value
void CmdHSetNx(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  HashObject* hash = LookupWriteOrCreate(ctx, key);
  if (hash == nullptr) return;
  if (hash->Contains(ctx.arg(2))) return ctx.reply.Integer(0);
  hash->Set(ctx.arg(2), ctx.arg(3));
  ctx.reply.Integer(1);
  HashModified(ctx, key, "hset", 1);
}

// HGET key field
void CmdHGet(CommandContext& ctx) {
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.NullBulk(); });
  if (hash == nullptr) return;
  std::optional<std::string_view> v = hash->Get(ctx.arg(2));
  v ? ctx.reply.Bulk(*v) : ctx.reply.NullBulk();
}

// HMGET key field [field ...]
void CmdHMGet(CommandContext& ctx) {
  bool wrong;
  Value* v = ctx.LookupReadOfType(ctx.arg(1), ValueType::kHash, &wrong);
  if (wrong) return;
  HashObject* hash = v == nullptr ? nullptr : &v->As<HashObject>();
  ctx.reply.ArrayHeader(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); i++) {
    std::optional<std::string_view> value;
    if (hash != nullptr) value = hash->Get(ctx.arg(i));
    value ? ctx.reply.Bulk(*value) : ctx.reply.NullBulk();
  }
}

// HDEL key field [field ...]
void CmdHDel(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong;
  Value* v = ctx.LookupWriteOfType(key, ValueType::kHash, &wrong);
  if (wrong) return;
  if (v == nullptr) return ctx.reply.Integer(0);
  HashObject& hash = v->As<HashObject>();
  int64_t deleted = 0;
  bool key_removed = false;
  for (size_t i = 2; i < ctx.argc(); i++) {
    if (!hash.Delete(ctx.arg(i))) continue;
    deleted++;
    if (hash.empty()) {
      ctx.db.Delete(key);
      key_removed = true;
      break;
    }
  }
  if (deleted > 0) {
    HashModified(ctx, key, "hdel", deleted);
    if (key_removed) ctx.Notify('g', "del", key);
  }
  ctx.reply.Integer(deleted);
}

// HLEN key
void CmdHLen(CommandContext& ctx) {
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.Integer(0); });
  if (hash != nullptr) ctx.reply.Integer(static_cast<int64_t>(hash->size()));
}

// HSTRLEN key field
void CmdHStrLen(CommandContext& ctx) {
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.Integer(0); });
  if (hash == nullptr) return;
  std::optional<std::string_view> v = hash->Get(ctx.arg(2));
  ctx.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

// HEXISTS key field
void CmdHExists(CommandContext& ctx) {
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.Integer(0); });
  if (hash != nullptr) ctx.reply.Integer(hash->Contains(ctx.arg(2)) ? 1 : 0);
}

// genericHgetallCommand: HGETALL replies a map (RESP3) of fields and values, HKEYS and HVALS
// flat arrays.
void GetAllGeneric(CommandContext& ctx, bool keys, bool values) {
  bool map = keys && values;
  HashObject* hash = LookupReadOrReply(
      ctx, ctx.arg(1), [&] { map ? ctx.reply.MapHeader(0) : ctx.reply.ArrayHeader(0); });
  if (hash == nullptr) return;
  map ? ctx.reply.MapHeader(hash->size()) : ctx.reply.ArrayHeader(hash->size());
  hash->ForEach([&](std::string_view f, std::string_view v) {
    if (keys) ctx.reply.Bulk(f);
    if (values) ctx.reply.Bulk(v);
  });
}

// HGETALL key
void CmdHGetAll(CommandContext& ctx) { GetAllGeneric(ctx, true, true); }
// HKEYS key
void CmdHKeys(CommandContext& ctx) { GetAllGeneric(ctx, true, false); }
// HVALS key
void CmdHVals(CommandContext& ctx) { GetAllGeneric(ctx, false, true); }

// HINCRBY key field increment
void CmdHIncrBy(CommandContext& ctx) {
  int64_t incr;
  if (!storage::StringToInt64(ctx.arg(3), &incr)) return ctx.reply.Error(errors::kNotInteger);
  std::string_view key = ctx.arg(1);
  HashObject* hash = LookupWriteOrCreate(ctx, key);
  if (hash == nullptr) return;
  int64_t value = 0;
  std::optional<std::string_view> old = hash->Get(ctx.arg(2));
  if (old && !storage::StringToInt64(*old, &value)) {
    return ctx.reply.Error("hash value is not an integer");
  }
  if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
      (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
    return ctx.reply.Error(errors::kOverflow);
  }
  value += incr;
  hash->Set(ctx.arg(2), storage::Int64ToString(value));
  ctx.reply.Integer(value);
  HashModified(ctx, key, "hincrby", 1);
}

// HINCRBYFLOAT key field increment. Propagated as HSET key field <result>, so replicas and the
// AOF never redo the float arithmetic.
void CmdHIncrByFloat(CommandContext& ctx) {
  long double incr, value = 0;
  if (!storage::StringToLongDouble(ctx.arg(3), &incr)) return ctx.reply.Error(errors::kNotFloat);
  if (std::isnan(incr) || std::isinf(incr)) return ctx.reply.Error("value is NaN or Infinity");
  std::string_view key = ctx.arg(1);
  HashObject* hash = LookupWriteOrCreate(ctx, key);
  if (hash == nullptr) return;
  std::optional<std::string_view> old = hash->Get(ctx.arg(2));
  if (old && !storage::StringToLongDouble(*old, &value)) {
    return ctx.reply.Error("hash value is not a float");
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) {
    return ctx.reply.Error("increment would produce NaN or Infinity");
  }
  std::string text = storage::LongDoubleToString(value, storage::LongDoubleMode::kHuman);
  hash->Set(ctx.arg(2), text);
  ctx.reply.Bulk(text);
  HashModified(ctx, key, "hincrbyfloat", 1);
  ctx.RewriteArgv({"HSET", std::string(key), std::string(ctx.arg(2)), text});
}

// One HRANDFIELD pair: RESP3 nests it in a two-element array when values go with it.
void ReplyRandomPair(CommandContext& ctx, HashObject::Pair p, bool with_values) {
  if (with_values && ctx.reply.resp() > 2) ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(p.first);
  if (with_values) ctx.reply.Bulk(p.second);
}

// hrandfieldWithCountCommand. A negative count may repeat fields and gives them in random
// order; a positive one gives distinct fields, the whole hash when count >= its size.
void RandFieldWithCount(CommandContext& ctx, int64_t l, bool with_values) {
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.ArrayHeader(0); });
  if (hash == nullptr) return;
  bool unique = l >= 0;
  uint64_t count = unique ? static_cast<uint64_t>(l) : static_cast<uint64_t>(-l);
  if (count == 0) return ctx.reply.ArrayHeader(0);
  size_t per_pair = with_values && ctx.reply.resp() == 2 ? 2 : 1;
  auto& rng = ctx.keyspace().rng();
  if (!unique || count == 1) {
    ctx.reply.ArrayHeader(count * per_pair);
    while (count-- > 0) ReplyRandomPair(ctx, hash->Random(rng), with_values);
    return;
  }
  uint64_t size = hash->size();
  ctx.reply.ArrayHeader((count < size ? count : size) * per_pair);
  if (count >= size) {
    hash->ForEach([&](std::string_view f, std::string_view v) {
      ReplyRandomPair(ctx, {f, v}, with_values);
    });
    return;
  }
  for (HashObject::Pair p : hash->RandomDistinct(rng, count)) ReplyRandomPair(ctx, p, with_values);
}

// HRANDFIELD key [count [WITHVALUES]]
void CmdHRandField(CommandContext& ctx) {
  if (ctx.argc() >= 3) {
    int64_t l;
    if (!storage::StringToInt64(ctx.arg(2), &l)) return ctx.reply.Error(errors::kNotInteger);
    if (l < -LONG_MAX) {
      return ctx.reply.Error(
          "value is out of range, value must between -9223372036854775807 and "
          "9223372036854775807");
    }
    if (ctx.argc() > 4 || (ctx.argc() == 4 && !OptionIs(ctx.arg(3), "withvalues"))) {
      return ctx.reply.Error(errors::kSyntax);
    }
    bool with_values = ctx.argc() == 4;
    if (with_values && (l < -LONG_MAX / 2 || l > LONG_MAX / 2)) {
      return ctx.reply.Error("value is out of range");
    }
    return RandFieldWithCount(ctx, l, with_values);
  }
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ctx.reply.NullBulk(); });
  if (hash != nullptr) ctx.reply.Bulk(hash->Random(ctx.keyspace().rng()).first);
}

// HSCAN key cursor [MATCH pattern] [COUNT count]. A listpack hash is returned whole with cursor
// 0, as Redis does; a hashtable is walked COUNT entries (fields and values both count) at a time.
void CmdHScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.arg(2), &cursor)) return ctx.reply.Error("invalid cursor");
  HashObject* hash = LookupReadOrReply(ctx, ctx.arg(1), [&] { ReplyScanHeader(ctx, 0, 0); });
  if (hash == nullptr) return;
  ScanOptions opt;
  if (!ParseScanOptions(ctx, 3, false, &opt)) return;
  int64_t count = opt.count;
  std::string_view pattern = opt.pattern;
  bool use_pattern = opt.use_pattern;
  std::vector<std::string_view> found;  // field, value, field, value...
  auto collect = [&](std::string_view f, std::string_view v) {
    if (use_pattern && !storage::GlobMatch(pattern, f)) return;
    found.push_back(f);
    found.push_back(v);
  };
  if (hash->is_listpack()) {
    hash->ForEach(collect);
    cursor = 0;
  } else {
    // At most 10*COUNT buckets, so a sparse table cannot stall the server.
    int64_t max_iterations = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    uint64_t visited = 0;
    do {
      cursor = hash->Scan(cursor, [&](std::string_view f, std::string_view v) {
        visited += 2;
        collect(f, v);
      });
    } while (cursor != 0 && max_iterations-- > 0 && visited < static_cast<uint64_t>(count));
  }
  ReplyScanHeader(ctx, cursor, found.size());
  for (std::string_view s : found) ctx.reply.Bulk(s);
}

}  // namespace

void RegisterHashCommands(CommandTable& table) {
  table.Register("hset", CmdHSet);
  table.Register("hmset", CmdHSet);
  table.Register("hsetnx", CmdHSetNx);
  table.Register("hget", CmdHGet);
  table.Register("hmget", CmdHMGet);
  table.Register("hdel", CmdHDel);
  table.Register("hlen", CmdHLen);
  table.Register("hstrlen", CmdHStrLen);
  table.Register("hexists", CmdHExists);
  table.Register("hgetall", CmdHGetAll);
  table.Register("hkeys", CmdHKeys);
  table.Register("hvals", CmdHVals);
  table.Register("hincrby", CmdHIncrBy);
  table.Register("hincrbyfloat", CmdHIncrByFloat);
  table.Register("hrandfield", CmdHRandField);
  table.Register("hscan", CmdHScan);
}

}  // namespace docket::server
