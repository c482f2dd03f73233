// Generic key commands on the selected database: DEL, UNLINK, EXISTS, TYPE, TOUCH, the EXPIRE
// family and TTL readers, PERSIST, KEYS, SCAN, RANDOMKEY and OBJECT, with Redis 7.0's replies,
// errors, keyspace events and propagation. RENAME, COPY, MOVE and whole-database commands are in
// cmd_keys_db.cc. Depends on server/ and storage/.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "server/args.h"
#include "server/client.h"
#include "server/command.h"
#include "server/scan_args.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/number.h"

namespace docket::server {

void RegisterKeyDbCommands(CommandTable& table);  // cmd_keys_db.cc

namespace {

namespace errors = protocol::errors;

// Redis formats some option names with %s: the text ends at the first NUL byte.
std::string CString(std::string_view s) { return std::string(s.substr(0, s.find('\0'))); }

// lookupKeyReadWithFlags(LOOKUP_NOTOUCH): lazy expiry, hit/miss stats and the keymiss event,
// but the access clock is left alone (EXISTS, TYPE, TTL; OBJECT also skips the event).
storage::Value* PeekRead(CommandContext& ctx, std::string_view key, bool notify_miss = true) {
  storage::Value* v = ctx.db.Peek(key);
  if (v != nullptr) {
    ctx.server.stats().keyspace_hits++;
  } else {
    ctx.server.stats().keyspace_misses++;
    if (notify_miss) ctx.Notify('m', "keymiss", key);
  }
  return v;
}

// DEL / UNLINK: an expired key is expired first (and so not counted), as delGenericCommand.
void DelGeneric(CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t j = 1; j < ctx.argc(); j++) {
    std::string_view key = ctx.arg(j);
    ctx.db.Peek(key);
    if (!ctx.db.Delete(key)) continue;
    ctx.KeyModified(key);
    ctx.Notify('g', "del", key);
    ctx.Dirty();
    deleted++;
  }
  ctx.reply.Integer(deleted);
}

// DEL key [key ...]
void CmdDel(CommandContext& ctx) { DelGeneric(ctx); }

// UNLINK key [key ...]
void CmdUnlink(CommandContext& ctx) { DelGeneric(ctx); }

// EXISTS key [key ...]
void CmdExists(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t j = 1; j < ctx.argc(); j++) {
    if (PeekRead(ctx, ctx.arg(j)) != nullptr) count++;
  }
  ctx.reply.Integer(count);
}

// TYPE key
void CmdType(CommandContext& ctx) {
  storage::Value* v = PeekRead(ctx, ctx.arg(1));
  ctx.reply.Simple(v == nullptr ? "none" : storage::TypeName(v->type()));
}

// TOUCH key [key ...]
void CmdTouch(CommandContext& ctx) {
  int64_t touched = 0;
  for (size_t j = 1; j < ctx.argc(); j++) {
    if (ctx.LookupRead(ctx.arg(j)) != nullptr) touched++;
  }
  ctx.reply.Integer(touched);
}

enum ExpireFlag { kExpireNx = 1, kExpireXx = 2, kExpireGt = 4, kExpireLt = 8 };

// The [NX | XX | GT | LT] options from argv[3] on (parseExtendedExpireArgumentsOrReply).
bool ParseExpireFlags(CommandContext& ctx, int* flags) {
  for (size_t j = 3; j < ctx.argc(); j++) {
    std::string_view opt = ctx.arg(j);
    if (OptionIs(opt, "nx")) {
      *flags |= kExpireNx;
    } else if (OptionIs(opt, "xx")) {
      *flags |= kExpireXx;
    } else if (OptionIs(opt, "gt")) {
      *flags |= kExpireGt;
    } else if (OptionIs(opt, "lt")) {
      *flags |= kExpireLt;
    } else {
      ctx.reply.Error("Unsupported option " + CString(opt));
      return false;
    }
  }
  if ((*flags & kExpireNx) && (*flags & (kExpireXx | kExpireGt | kExpireLt))) {
    ctx.reply.Error("NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if ((*flags & kExpireGt) && (*flags & kExpireLt)) {
    ctx.reply.Error("GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

// Whether the options let `when` replace `current` (-1: no TTL, which GT treats as infinite).
bool ExpireFlagsAllow(int flags, int64_t current, int64_t when) {
  if ((flags & kExpireNx) && current != -1) return false;
  if ((flags & kExpireXx) && current == -1) return false;
  if ((flags & kExpireGt) && (current == -1 || when <= current)) return false;
  if ((flags & kExpireLt) && current != -1 && when >= current) return false;
  return true;
}

void ReplyInvalidExpire(CommandContext& ctx) {
  ctx.reply.Error("invalid expire time in '" + ctx.spec.fullname + "' command");
}

// Parses argv[2] into an absolute unix time in ms (basetime 0 for the *AT forms); replies and
// returns false on a bad number or an overflow.
bool ParseExpireTime(CommandContext& ctx, int64_t basetime, bool seconds, int64_t* when) {
  if (!storage::StringToInt64(ctx.arg(2), when)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  if (seconds) {
    if (*when > LLONG_MAX / 1000 || *when < LLONG_MIN / 1000) {
      ReplyInvalidExpire(ctx);
      return false;
    }
    *when *= 1000;
  }
  if (*when > LLONG_MAX - basetime) {
    ReplyInvalidExpire(ctx);
    return false;
  }
  *when += basetime;
  return true;
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (expireGenericCommand). A time already past deletes the
// key and propagates DEL; otherwise the command propagates as PEXPIREAT with the absolute time.
void ExpireGeneric(CommandContext& ctx, int64_t basetime, bool seconds) {
  int flags = 0;
  int64_t when;
  if (!ParseExpireFlags(ctx, &flags) || !ParseExpireTime(ctx, basetime, seconds, &when)) return;
  std::string_view key = ctx.arg(1);
  if (ctx.LookupWrite(key) == nullptr) return ctx.reply.Integer(0);
  if (flags != 0 && !ExpireFlagsAllow(flags, ctx.db.GetExpire(key), when)) {
    return ctx.reply.Integer(0);
  }
  ctx.Dirty();
  ctx.KeyModified(key);
  if (when <= ctx.now_ms() && !ctx.keyspace().expire_paused()) {
    ctx.db.Delete(key);
    ctx.RewriteArgv({"DEL", std::string(key)});
    ctx.Notify('g', "del", key);
    return ctx.reply.Integer(1);
  }
  ctx.db.SetExpire(key, when);
  if (basetime != 0 || seconds) {
    std::vector<std::string> argv(ctx.argv.begin(), ctx.argv.end());
    argv[0] = "PEXPIREAT";
    argv[2] = storage::Int64ToString(when);
    ctx.RewriteArgv(std::move(argv));
  }
  ctx.Notify('g', "expire", key);
  ctx.reply.Integer(1);
}

// EXPIRE key seconds [NX | XX | GT | LT]
void CmdExpire(CommandContext& ctx) { ExpireGeneric(ctx, ctx.now_ms(), true); }

// PEXPIRE key milliseconds [NX | XX | GT | LT]
void CmdPexpire(CommandContext& ctx) { ExpireGeneric(ctx, ctx.now_ms(), false); }

// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
void CmdExpireat(CommandContext& ctx) { ExpireGeneric(ctx, 0, true); }

// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
void CmdPexpireat(CommandContext& ctx) { ExpireGeneric(ctx, 0, false); }

// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without a TTL.
void TtlGeneric(CommandContext& ctx, bool in_ms, bool absolute) {
  std::string_view key = ctx.arg(1);
  if (PeekRead(ctx, key) == nullptr) return ctx.reply.Integer(-2);
  int64_t expire = ctx.db.GetExpire(key);
  if (expire == -1) return ctx.reply.Integer(-1);
  int64_t ttl = absolute ? expire : expire - ctx.now_ms();
  if (ttl < 0) ttl = 0;
  if (in_ms) return ctx.reply.Integer(ttl);
  // Rounded to the nearest second; unsigned so a time near LLONG_MAX rounds as Redis's does.
  ctx.reply.Integer(static_cast<int64_t>((static_cast<uint64_t>(ttl) + 500) / 1000));
}

// TTL key
void CmdTtl(CommandContext& ctx) { TtlGeneric(ctx, false, false); }

// PTTL key
void CmdPttl(CommandContext& ctx) { TtlGeneric(ctx, true, false); }

// EXPIRETIME key
void CmdExpiretime(CommandContext& ctx) { TtlGeneric(ctx, false, true); }

// PEXPIRETIME key
void CmdPexpiretime(CommandContext& ctx) { TtlGeneric(ctx, true, true); }

// PERSIST key
void CmdPersist(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  if (ctx.LookupWrite(key) == nullptr || !ctx.db.Persist(key)) return ctx.reply.Integer(0);
  ctx.KeyModified(key);
  ctx.Notify('g', "persist", key);
  ctx.Dirty();
  ctx.reply.Integer(1);
}

// KEYS pattern
void CmdKeys(CommandContext& ctx) {
  std::string_view pattern = ctx.arg(1);
  bool all_keys = pattern == "*";  // stringmatch("*", "") is false, yet KEYS * lists ""
  std::vector<const std::string*> found;
  ctx.db.ForEach([&](storage::Database::Entry& e) {
    if (all_keys || storage::GlobMatch(pattern, e.key)) found.push_back(&e.key);
  });
  // Logically expired keys are skipped, not deleted (keyIsExpired).
  std::erase_if(found, [&](const std::string* k) { return ctx.db.IsExpired(*k); });
  ctx.reply.ArrayHeader(found.size());
  for (const std::string* k : found) ctx.reply.Bulk(*k);
}

// The filter step of scanGenericCommand, in its order: pattern, type, then expiry.
bool ScanKeeps(CommandContext& ctx, const ScanOptions& opt, const std::string& key) {
  if (opt.use_pattern && !storage::GlobMatch(opt.pattern, key)) return false;
  if (opt.has_type) {
    storage::Value* v = PeekRead(ctx, key);
    std::string_view type = v == nullptr ? "none" : storage::TypeName(v->type());
    if (!OptionIs(opt.type, type)) return false;
  }
  if (ctx.db.IsExpired(key)) {
    ctx.db.Peek(key);  // deletes it (unless expiry is paused)
    return false;
  }
  return true;
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
void CmdScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.arg(1), &cursor)) return ctx.reply.Error("invalid cursor");
  ScanOptions opt;
  if (!ParseScanOptions(ctx, 2, true, &opt)) return;
  std::vector<std::string> keys;
  // At most 10*COUNT buckets, so a sparse table cannot stall the server.
  int64_t max_iterations = opt.count > LLONG_MAX / 10 ? LLONG_MAX : opt.count * 10;
  do {
    cursor =
        ctx.db.keys().Scan(cursor, [&](storage::Database::Entry& e) { keys.push_back(e.key); });
  } while (cursor != 0 && max_iterations-- > 0 && keys.size() < static_cast<uint64_t>(opt.count));
  std::erase_if(keys, [&](const std::string& k) { return !ScanKeeps(ctx, opt, k); });
  ReplyScanHeader(ctx, cursor, keys.size());
  for (const std::string& k : keys) ctx.reply.Bulk(k);
}

// RANDOMKEY
void CmdRandomkey(CommandContext& ctx) {
  std::string key;
  if (!ctx.db.RandomKey(&key)) return ctx.reply.NullBulk();
  ctx.reply.Bulk(key);
}

// The policy groups Redis keeps in maxmemory_policy's flag bits.
bool LfuPolicy(CommandContext& ctx) {
  return ctx.server.config().maxmemory_policy.find("lfu") != std::string::npos;
}
bool LruPolicy(CommandContext& ctx) {
  return ctx.server.config().maxmemory_policy.find("lru") != std::string::npos;
}

constexpr int64_t kSharedRefcount = INT_MAX;  // OBJ_SHARED_REFCOUNT
constexpr int64_t kSharedIntegers = 10000;    // OBJ_SHARED_INTEGERS

// OBJECT REFCOUNT: Redis shares the integers 0..9999 a string command stores, unless maxmemory
// with an LRU/LFU policy needs a private access clock per object.
int64_t RefCount(CommandContext& ctx, const storage::Value& v) {
  if (!v.is_string() || v.EncodingName() != "int") return 1;
  if (ctx.server.config().maxmemory != 0 && (LfuPolicy(ctx) || LruPolicy(ctx))) return 1;
  int64_t n;
  bool shared = storage::StringToInt64(v.str(), &n) && n >= 0 && n < kSharedIntegers;
  return shared ? kSharedRefcount : 1;
}

// objectCommandLookupOrReply: a null reply when the key is missing.
storage::Value* ObjectLookup(CommandContext& ctx) {
  storage::Value* v = PeekRead(ctx, ctx.arg(2), /*notify_miss=*/false);
  if (v == nullptr) ctx.reply.NullBulk();
  return v;
}

// OBJECT ENCODING key
void CmdObjectEncoding(CommandContext& ctx) {
  if (storage::Value* v = ObjectLookup(ctx)) ctx.reply.Bulk(v->EncodingName());
}

// OBJECT REFCOUNT key
void CmdObjectRefcount(CommandContext& ctx) {
  if (storage::Value* v = ObjectLookup(ctx)) ctx.reply.Integer(RefCount(ctx, *v));
}

// OBJECT IDLETIME key
void CmdObjectIdletime(CommandContext& ctx) {
  storage::Value* v = ObjectLookup(ctx);
  if (v == nullptr) return;
  if (LfuPolicy(ctx)) {
    return ctx.reply.Error(
        "An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.");
  }
  uint32_t now = ctx.keyspace().access_clock();
  ctx.reply.Integer(now >= v->access_time() ? now - v->access_time() : 0);
}

// OBJECT FREQ key
void CmdObjectFreq(CommandContext& ctx) {
  storage::Value* v = ObjectLookup(ctx);
  if (v == nullptr) return;
  if (!LfuPolicy(ctx)) {
    return ctx.reply.Error(
        "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
        "when switching between policies at runtime LRU and LFU data will take some time to "
        "adjust.");
  }
  // Docket keeps no LFU counters: report a key as never accessed since the switch.
  ctx.reply.Integer(0);
}

// addReplyHelp: the command's usage line, the lines given, then HELP.
void ReplyHelp(CommandContext& ctx, std::span<const std::string_view> lines) {
  std::string name(ctx.arg(0));
  for (char& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  ctx.reply.ArrayHeader(lines.size() + 3);
  ctx.reply.Simple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  for (std::string_view line : lines) ctx.reply.Simple(line);
  ctx.reply.Simple("HELP");
  ctx.reply.Simple("    Prints this help.");
}

constexpr std::string_view kObjectHelp[] = {
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
};

// OBJECT HELP
void CmdObjectHelp(CommandContext& ctx) { ReplyHelp(ctx, kObjectHelp); }

}  // namespace

void RegisterKeyCommands(CommandTable& table) {
  table.Register("del", CmdDel);
  table.Register("unlink", CmdUnlink);
  table.Register("exists", CmdExists);
  table.Register("type", CmdType);
  table.Register("touch", CmdTouch);
  table.Register("expire", CmdExpire);
  table.Register("pexpire", CmdPexpire);
  table.Register("expireat", CmdExpireat);
  table.Register("pexpireat", CmdPexpireat);
  table.Register("ttl", CmdTtl);
  table.Register("pttl", CmdPttl);
  table.Register("expiretime", CmdExpiretime);
  table.Register("pexpiretime", CmdPexpiretime);
  table.Register("persist", CmdPersist);
  table.Register("keys", CmdKeys);
  table.Register("scan", CmdScan);
  table.Register("randomkey", CmdRandomkey);
  table.Register("object|encoding", CmdObjectEncoding);
  table.Register("object|refcount", CmdObjectRefcount);
  table.Register("object|idletime", CmdObjectIdletime);
  table.Register("object|freq", CmdObjectFreq);
  table.Register("object|help", CmdObjectHelp);
  RegisterKeyDbCommands(table);
}

}  // namespace docket::server
