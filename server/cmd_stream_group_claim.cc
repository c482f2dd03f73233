// XCLAIM and XAUTOCLAIM (t_stream.c): hand pending entries to another consumer, with Redis
// 7.0's rules for min-idle-time, delivery times and counters, FORCE, JUSTID and LASTID, and
// entries deleted from the stream dropped from the PEL (XAUTOCLAIM lists them). Each change is
// propagated as the idempotent XCLAIM ... FORCE JUSTID LASTID Redis writes, the command itself
// never. Depends on server/, storage/stream.h.
#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/cmd_stream_group.h"
#include "storage/number.h"

namespace docket::server::stream {

namespace {

namespace errors = protocol::errors;

// A difference computed as Redis's long long arithmetic wraps on x86-64.
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

bool ParseInt64(CommandContext& ctx, std::string_view arg, int64_t* out, std::string_view err) {
  if (storage::StringToInt64(arg, out)) return true;
  ctx.reply.Error(err);
  return false;
}

struct XClaimArgs {
  int64_t min_idle = 0;
  int64_t retry_count = -1;  // -1: RETRYCOUNT not given
  int64_t delivery = -1;     // -1: neither IDLE nor TIME given
  bool force = false;
  bool justid = false;
  StreamID last_id;
  size_t ids_end = 5;  // the ids are argv[5, ids_end)
};

// One option after the ids at argv[*j]; false after replying an error.
bool ParseXClaimOption(CommandContext& ctx, size_t* j, int64_t now, XClaimArgs* a) {
  bool more = *j + 1 < ctx.argc();
  std::string_view opt = ctx.arg(*j);
  if (OptionIs(opt, "force")) {
    a->force = true;
  } else if (OptionIs(opt, "justid")) {
    a->justid = true;
  } else if (more && OptionIs(opt, "idle")) {
    int64_t idle;
    if (!ParseInt64(ctx, ctx.arg(++*j), &idle, "Invalid IDLE option argument for XCLAIM")) {
      return false;
    }
    a->delivery = WrapSub(now, idle);
  } else if (more && OptionIs(opt, "time")) {
    return ParseInt64(ctx, ctx.arg(++*j), &a->delivery, "Invalid TIME option argument for XCLAIM");
  } else if (more && OptionIs(opt, "retrycount")) {
    return ParseInt64(ctx, ctx.arg(++*j), &a->retry_count,
                      "Invalid RETRYCOUNT option argument for XCLAIM");
  } else if (more && OptionIs(opt, "lastid")) {
    return ParseId(ctx, ctx.arg(++*j), 0, &a->last_id, true);
  } else {
    ctx.reply.Error("Unrecognized XCLAIM option '" + std::string(CString(opt)) + "'");
    return false;
  }
  return true;
}

// min-idle-time, the ids (up to the first argument that is not one) and the options.
bool ParseXClaimArgs(CommandContext& ctx, int64_t now, XClaimArgs* a) {
  if (!ParseInt64(ctx, ctx.arg(4), &a->min_idle, "Invalid min-idle-time argument for XCLAIM")) {
    return false;
  }
  a->min_idle = std::max<int64_t>(a->min_idle, 0);
  StreamID id;
  while (a->ids_end < ctx.argc() && ParseIdNoReply(ctx.arg(a->ids_end), 0, &id, true, nullptr)) {
    a->ids_end++;
  }
  for (size_t j = a->ids_end; j < ctx.argc(); j++) {
    if (!ParseXClaimOption(ctx, &j, now, a)) return false;
  }
  // A bogus time (negative, or in the future) is taken as now rather than refused.
  if (a->delivery < 0 || a->delivery > now) a->delivery = now;
  return true;
}

// The state one claim changes and reports.
struct Claim {
  std::string_view key;
  std::string_view group_name;
  StreamObject* s;
  StreamGroup* g;
  std::string_view consumer_name;
  StreamConsumer* consumer = nullptr;  // looked up or created at the first claimed entry
  GroupPropagation prop;
};

// The reader of claimed entries (streamLookupConsumer with refresh, else created).
StreamConsumer& Claimer(CommandContext& ctx, Claim& cl) {
  bool created;
  if (cl.consumer == nullptr) {
    cl.consumer = LookupOrCreateConsumer(ctx, *cl.g, cl.key, cl.consumer_name, &created);
  }
  return *cl.consumer;
}

// Claims argv[j] (already validated) when it can; replies the entry (or id) and returns true.
bool ClaimOne(CommandContext& ctx, const XClaimArgs& a, size_t j, int64_t now, Claim& cl) {
  StreamID id;
  ParseIdNoReply(ctx.arg(j), 0, &id, true, nullptr);
  auto it = cl.g->pel.find(id);
  StreamNack* nack = it == cl.g->pel.end() ? nullptr : it->second.get();
  if (!cl.s->EntryExists(id)) {  // gone from the stream: gone from the PEL too
    if (nack != nullptr) {
      cl.prop.XClaim(cl.key, cl.group_name, ctx.arg(j), *nack, *cl.g);
      RemoveNack(*cl.g, id);
    }
    return false;
  }
  if (nack == nullptr && a.force) {
    auto& made = cl.g->pel[id];
    made = std::make_unique<StreamNack>(StreamNack{now, 1, nullptr});
    nack = made.get();
  }
  if (nack == nullptr) return false;
  if (nack->consumer != nullptr && a.min_idle != 0 &&
      WrapSub(now, nack->delivery_time_ms) < a.min_idle) {
    return false;
  }
  MoveNack(*nack, id, Claimer(ctx, cl));
  nack->delivery_time_ms = a.delivery;
  if (a.retry_count >= 0) {
    nack->delivery_count = static_cast<uint64_t>(a.retry_count);
  } else if (!a.justid) {
    nack->delivery_count++;
  }
  a.justid ? ReplyId(ctx.reply, id) : static_cast<void>(ReplyEntryById(ctx.reply, *cl.s, id));
  cl.prop.XClaim(cl.key, cl.group_name, ctx.arg(j), *nack, *cl.g);
  return true;
}

// The stream and group of an XCLAIM / XAUTOCLAIM; nullptr after replying the error.
StreamGroup* LookupGroup(CommandContext& ctx, StreamObject** s) {
  bool wrong;
  *s = LookupRead(ctx, ctx.arg(1), &wrong);
  if (wrong) return nullptr;
  StreamGroup* g = *s == nullptr ? nullptr : (*s)->FindGroup(ctx.arg(2));
  if (g == nullptr) ctx.reply.Error(NoKeyOrGroupError(ctx.arg(1), ctx.arg(2)));
  return g;
}

// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
//     [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
void CmdXClaim(CommandContext& ctx) {
  StreamObject* s;
  StreamGroup* g = LookupGroup(ctx, &s);
  if (g == nullptr) return;
  int64_t now = ctx.now_ms();
  XClaimArgs a;
  if (!ParseXClaimArgs(ctx, now, &a)) return;
  Claim cl{ctx.arg(1), ctx.arg(2), s, g, ctx.arg(3), nullptr, {}};
  bool moved = a.last_id > g->last_id;
  if (moved) g->last_id = a.last_id;
  size_t mark = ctx.reply.buffer()->size();
  size_t n = 0;
  for (size_t j = 5; j < a.ids_end; j++) n += ClaimOne(ctx, a, j, now, cl) ? 1 : 0;
  std::string header;
  protocol::ReplyWriter(&header, ctx.reply.resp()).ArrayHeader(n);
  ctx.reply.buffer()->insert(mark, header);
  // An XCLAIM propagated carries the last id; alone, the moved last id goes out as SETID.
  if (moved && cl.prop.empty()) cl.prop.SetId(cl.key, cl.group_name, *g);
  cl.prop.Flush(ctx);
}

struct XAutoClaimArgs {
  int64_t min_idle = 0;
  StreamID start;
  long count = 100;
  bool justid = false;
};

// Everything but the key and group, checked first as Redis does. False after an error.
bool ParseXAutoClaimArgs(CommandContext& ctx, XAutoClaimArgs* a) {
  if (!ParseInt64(ctx, ctx.arg(4), &a->min_idle, "Invalid min-idle-time argument for XAUTOCLAIM")) {
    return false;
  }
  a->min_idle = std::max<int64_t>(a->min_idle, 0);
  if (!ParseRangeStart(ctx, ctx.arg(5), &a->start)) return false;
  constexpr int64_t kMaxCount = LONG_MAX / 16;  // LONG_MAX / max(sizeof(streamID), attempts)
  for (size_t j = 6; j < ctx.argc(); j++) {
    if (OptionIs(ctx.arg(j), "count") && j + 1 < ctx.argc()) {
      int64_t count;
      if (!storage::StringToInt64(ctx.arg(++j), &count) || count < 1 || count > kMaxCount) {
        ctx.reply.Error("COUNT must be > 0");
        return false;
      }
      a->count = count;
    } else if (OptionIs(ctx.arg(j), "justid")) {
      a->justid = true;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// What one XAUTOCLAIM walk produced: the claimed entries (or ids) already encoded, their
// number, the deleted ids it dropped, and the cursor for the next call.
struct AutoClaimResult {
  std::string claimed;
  size_t n = 0;
  std::vector<StreamID> deleted;
  StreamID next;
};

// Walks the group PEL from a.start: at most COUNT entries claimed or dropped, ten looks per COUNT.
void AutoClaimWalk(CommandContext& ctx, const XAutoClaimArgs& a, Claim& cl, AutoClaimResult* r) {
  int64_t now = ctx.now_ms();
  protocol::ReplyWriter w(&r->claimed, ctx.reply.resp());
  long count = a.count;
  long attempts = count * 10;
  auto pos = cl.g->pel.lower_bound(a.start);
  while (attempts-- > 0 && count > 0 && pos != cl.g->pel.end()) {
    auto cur = pos++;
    StreamID id = cur->first;
    StreamNack& nack = *cur->second;
    if (!cl.s->EntryExists(id)) {
      cl.prop.XClaim(cl.key, cl.group_name, id.ToString(), nack, *cl.g);
      RemoveNack(*cl.g, id);
      r->deleted.push_back(id);
      count--;
      continue;
    }
    if (a.min_idle != 0 && WrapSub(now, nack.delivery_time_ms) < a.min_idle) continue;
    MoveNack(nack, id, Claimer(ctx, cl));
    nack.delivery_time_ms = now;
    if (!a.justid) nack.delivery_count++;
    a.justid ? ReplyId(w, id) : static_cast<void>(ReplyEntryById(w, *cl.s, id));
    r->n++;
    count--;
    cl.prop.XClaim(cl.key, cl.group_name, id.ToString(), nack, *cl.g);
  }
  r->next = pos == cl.g->pel.end() ? StreamID::Min() : pos->first;
}

// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
void CmdXAutoClaim(CommandContext& ctx) {
  XAutoClaimArgs a;
  if (!ParseXAutoClaimArgs(ctx, &a)) return;
  StreamObject* s;
  StreamGroup* g = LookupGroup(ctx, &s);
  if (g == nullptr) return;
  // Redis allocates COUNT stream ids up front (ztrymalloc): beyond the 128 TiB of a process's
  // address space that always fails, whatever the machine.
  if (a.count >= (int64_t{1} << 47) / 16) {
    return ctx.reply.Error(
        "Insufficient memory, failed allocating transient memory, COUNT too high.");
  }
  Claim cl{ctx.arg(1), ctx.arg(2), s, g, ctx.arg(3), nullptr, {}};
  AutoClaimResult r;
  AutoClaimWalk(ctx, a, cl, &r);
  ctx.reply.ArrayHeader(3);
  ReplyId(ctx.reply, r.next);
  ctx.reply.ArrayHeader(r.n);
  ctx.reply.Raw(r.claimed);
  ctx.reply.ArrayHeader(r.deleted.size());
  for (StreamID id : r.deleted) ReplyId(ctx.reply, id);
  cl.prop.Flush(ctx);
}

}  // namespace

void RegisterStreamGroupClaimCommands(CommandTable& table) {
  table.Register("xclaim", CmdXClaim);
  table.Register("xautoclaim", CmdXAutoClaim);
}

}  // namespace docket::server::stream
