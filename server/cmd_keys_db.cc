// Key commands that name a second key or another database, and whole-database commands: RENAME,
// RENAMENX, COPY, MOVE, DBSIZE, SWAPDB, FLUSHDB, FLUSHALL, with Redis 7.0's replies, errors,
// keyspace events and propagation. Depends on server/ and storage/.
#include <climits>
#include <string>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/client.h"
#include "server/command.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// getIntFromObjectOrReply: a 64-bit integer that fits in an int. `error` replaces both of
// Redis's default texts (not an integer / out of the int range) when given.
bool ParseInt(CommandContext& ctx, std::string_view arg, int* out, std::string_view error = {}) {
  int64_t v;
  if (!storage::StringToInt64(arg, &v)) {
    ctx.reply.Error(error.empty() ? errors::kNotInteger : error);
    return false;
  }
  if (v < INT_MIN || v > INT_MAX) {
    ctx.reply.Error(error.empty()
                        ? "value is out of range, value must between -2147483648 and 2147483647"
                        : error);
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

// Moves key's value (and TTL) from src to `to` in dst. REQUIRES: key exists in src and `to`
// does not exist in dst.
void MoveValue(storage::Database& src, std::string_view key, storage::Database& dst,
               std::string_view to) {
  int64_t expire = src.GetExpire(key);
  auto entry = src.Take(key);
  dst.Add(to, std::move(entry->value));
  if (expire != -1) dst.SetExpire(to, expire);
}

// RENAME / RENAMENX (renameGenericCommand): a missing source is an error even when both names
// are the same; an existing destination is replaced (RENAME) or left alone (RENAMENX).
void RenameGeneric(CommandContext& ctx, bool nx) {
  std::string_view src = ctx.arg(1), dst = ctx.arg(2);
  if (ctx.LookupWrite(src) == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  if (src == dst) return nx ? ctx.reply.Integer(0) : ctx.reply.Ok();
  if (ctx.LookupWrite(dst) != nullptr) {
    if (nx) return ctx.reply.Integer(0);
    ctx.db.Delete(dst);
  }
  MoveValue(ctx.db, src, ctx.db, dst);
  ctx.KeyModified(src);
  ctx.KeyModified(dst);
  ctx.Notify('g', "rename_from", src);
  ctx.Notify('g', "rename_to", dst);
  ctx.Dirty();
  nx ? ctx.reply.Integer(1) : ctx.reply.Ok();
}

// RENAME key newkey
void CmdRename(CommandContext& ctx) { RenameGeneric(ctx, false); }

// RENAMENX key newkey
void CmdRenamenx(CommandContext& ctx) { RenameGeneric(ctx, true); }

// Parses a database index for MOVE / COPY DB; replies and returns nullptr when invalid.
storage::Database* TargetDb(CommandContext& ctx, std::string_view arg) {
  int index;
  if (!ParseInt(ctx, arg, &index)) return nullptr;
  if (index < 0 || index >= ctx.keyspace().count()) {
    ctx.reply.Error(errors::kDbIndexOutOfRange);
    return nullptr;
  }
  return &ctx.keyspace().db(index);
}

// MOVE key db
void CmdMove(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  storage::Database* dst = TargetDb(ctx, ctx.arg(2));
  if (dst == nullptr) return;
  if (dst == &ctx.db) return ctx.reply.Error(errors::kSameObject);
  if (ctx.LookupWrite(key) == nullptr) return ctx.reply.Integer(0);
  if (dst->Lookup(key) != nullptr) return ctx.reply.Integer(0);
  MoveValue(ctx.db, key, *dst, key);
  ctx.KeyModified(key);
  ctx.KeyModified(*dst, key);
  ctx.Notify('g', "move_from", key);
  ctx.Notify('g', "move_to", key, dst->index());
  ctx.Dirty();
  ctx.reply.Integer(1);
}

// COPY source destination [DB destination-db] [REPLACE]
void CmdCopy(CommandContext& ctx) {
  storage::Database* dst = &ctx.db;
  bool replace = false;
  for (size_t j = 3; j < ctx.argc(); j++) {
    if (OptionIs(ctx.arg(j), "replace")) {
      replace = true;
    } else if (OptionIs(ctx.arg(j), "db") && j + 1 < ctx.argc()) {
      if ((dst = TargetDb(ctx, ctx.arg(++j))) == nullptr) return;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  std::string_view key = ctx.arg(1), newkey = ctx.arg(2);
  if (dst == &ctx.db && key == newkey) return ctx.reply.Error(errors::kSameObject);
  storage::Value* v = ctx.LookupRead(key);
  if (v == nullptr) return ctx.reply.Integer(0);
  int64_t expire = ctx.db.GetExpire(key);
  bool exists = dst->Lookup(newkey) != nullptr;
  if (exists && !replace) return ctx.reply.Integer(0);
  storage::Value copy = v->Clone();
  if (exists) dst->Delete(newkey);
  dst->Add(newkey, std::move(copy));
  if (expire != -1) dst->SetExpire(newkey, expire);
  ctx.KeyModified(*dst, newkey);
  ctx.Notify('g', "copy_to", newkey, dst->index());
  ctx.Dirty();
  ctx.reply.Integer(1);
}

// DBSIZE (logically expired keys not yet deleted still count, as in Redis)
void CmdDbsize(CommandContext& ctx) { ctx.reply.Integer(static_cast<int64_t>(ctx.db.size())); }

// Clients blocked on a key of keys_of, in database index, look again after a flush or swap.
// (WATCH has its own rules for these: WatchRegistry::TouchAllInDb, before the change.)
void SignalAllKeys(CommandContext& ctx, storage::Database& keys_of, int index) {
  keys_of.ForEach(
      [&](storage::Database::Entry& e) { ctx.server.blocking().SignalKey(index, e.key); });
}

// Empties database index and signals its keys; returns how many keys it held.
int64_t FlushDb(CommandContext& ctx, int index) {
  ctx.server.watches().TouchAllInDb(ctx.keyspace().db(index), nullptr);
  storage::Database old(&ctx.keyspace(), index);
  old.Swap(ctx.keyspace().db(index));
  SignalAllKeys(ctx, old, index);
  return static_cast<int64_t>(old.size());
}

// The optional [ASYNC | SYNC] of FLUSHDB / FLUSHALL. Docket always frees synchronously.
bool ParseFlushFlags(CommandContext& ctx) {
  if (ctx.argc() == 1) return true;
  if (ctx.argc() == 2 && (OptionIs(ctx.arg(1), "sync") || OptionIs(ctx.arg(1), "async"))) {
    return true;
  }
  ctx.reply.Error(errors::kSyntax);
  return false;
}

// FLUSHDB [ASYNC | SYNC]
void CmdFlushdb(CommandContext& ctx) {
  if (!ParseFlushFlags(ctx)) return;
  int64_t removed = FlushDb(ctx, ctx.db.index());
  // Redis forces propagation even of an empty flush; a dirty count of at least one does that.
  ctx.Dirty(removed > 0 ? removed : 1);
  ctx.reply.Ok();
}

// FLUSHALL [ASYNC | SYNC]
void CmdFlushall(CommandContext& ctx) {
  if (!ParseFlushFlags(ctx)) return;
  int64_t removed = 0;
  for (int i = 0; i < ctx.keyspace().count(); i++) removed += FlushDb(ctx, i);
  ctx.Dirty(removed + 1);
  ctx.reply.Ok();
}

// SWAPDB index1 index2
void CmdSwapdb(CommandContext& ctx) {
  int a, b;
  if (!ParseInt(ctx, ctx.arg(1), &a, "invalid first DB index")) return;
  if (!ParseInt(ctx, ctx.arg(2), &b, "invalid second DB index")) return;
  int n = ctx.keyspace().count();
  if (a < 0 || a >= n || b < 0 || b >= n) return ctx.reply.Error(errors::kDbIndexOutOfRange);
  if (a != b) {
    ctx.server.watches().TouchAllInDb(ctx.keyspace().db(a), &ctx.keyspace().db(b));
    ctx.server.watches().TouchAllInDb(ctx.keyspace().db(b), &ctx.keyspace().db(a));
    ctx.keyspace().Swap(a, b);
    // A key of either database may now exist, be gone or hold another value in both.
    for (int from : {a, b}) {
      SignalAllKeys(ctx, ctx.keyspace().db(from), a);
      SignalAllKeys(ctx, ctx.keyspace().db(from), b);
    }
  }
  ctx.Dirty();
  ctx.reply.Ok();
}

}  // namespace

void RegisterKeyDbCommands(CommandTable& table) {
  table.Register("rename", CmdRename);
  table.Register("renamenx", CmdRenamenx);
  table.Register("move", CmdMove);
  table.Register("copy", CmdCopy);
  table.Register("dbsize", CmdDbsize);
  table.Register("flushdb", CmdFlushdb);
  table.Register("flushall", CmdFlushall);
  table.Register("swapdb", CmdSwapdb);
}

}  // namespace docket::server
