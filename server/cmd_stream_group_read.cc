// XREADGROUP (t_stream.c xreadCommand with GROUP, blocked.c serveClientsBlockedOnStreamKey):
// new entries (`>`) move the group's last id and entries-read and enter the PEL (unless NOACK),
// history ids re-read the consumer's own PEL. A blocked reader is woken by the blocking registry
// and its command run again for the woken stream alone (at most COUNT, or 1000, entries); a
// destroyed group ends the wait with -NOGROUP, a deleted stream with -UNBLOCKED. What a read
// changed is propagated as Redis does: XCLAIM per delivered entry, XGROUP SETID after a NOACK
// read, XGROUP CREATECONSUMER for a consumer a NOACK read created. Depends on server/.
#include <algorithm>
#include <climits>
#include <string>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/cmd_stream_group.h"
#include "server/scripting.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server::stream {

namespace {

namespace errors = protocol::errors;

constexpr size_t kBlockedDefaultCount = 1000;  // XREAD_BLOCKED_DEFAULT_COUNT

struct ReadGroupArgs {
  int64_t deadline_ms = -1;  // -1: no BLOCK; 0: forever
  int64_t count = 0;
  bool noack = false;
  bool has_group = false;
  std::string_view group, consumer;
  size_t streams_arg = 0;  // index of the first key
  size_t streams = 0;
};

// One option before STREAMS at argv[*i]; false after replying an error.
bool ParseOption(CommandContext& ctx, size_t* i, ReadGroupArgs* a) {
  size_t more = ctx.argc() - *i - 1;
  std::string_view o = ctx.arg(*i);
  if (more > 0 && OptionIs(o, "block")) {
    if (&ctx.client == &ctx.server.scripting().script_client()) {
      // Redis names the command as the script spelled it (argv[0]).
      ctx.reply.Error(std::string(ctx.arg(0)) +
                      " command is not allowed with BLOCK option from scripts");
      return false;
    }
    return ParseMsTimeout(ctx, ctx.arg(++*i), &a->deadline_ms);
  }
  if (more > 0 && OptionIs(o, "count")) {
    if (!storage::StringToInt64(ctx.arg(++*i), &a->count)) {
      ctx.reply.Error(errors::kNotInteger);
      return false;
    }
    a->count = std::max<int64_t>(a->count, 0);
  } else if (more >= 2 && OptionIs(o, "group")) {
    a->has_group = true;
    a->group = ctx.arg(*i + 1);
    a->consumer = ctx.arg(*i + 2);
    *i += 2;
  } else if (OptionIs(o, "noack")) {
    a->noack = true;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

// The options and the STREAMS list; false after replying an error.
bool ParseReadGroupArgs(CommandContext& ctx, ReadGroupArgs* a) {
  for (size_t i = 1; i < ctx.argc(); i++) {
    if (i + 1 < ctx.argc() && OptionIs(ctx.arg(i), "streams")) {
      a->streams_arg = i + 1;
      a->streams = ctx.argc() - a->streams_arg;
      if (a->streams % 2 != 0) {
        ctx.reply.Error(
            "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
            "specified.");
        return false;
      }
      a->streams /= 2;
      break;
    }
    if (!ParseOption(ctx, &i, a)) return false;
  }
  if (a->streams_arg == 0) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  if (!a->has_group) {
    ctx.reply.Error("Missing GROUP option for XREADGROUP");
    return false;
  }
  return true;
}

// Each stream's group and the id after which it is read (`>` as the maximum id, as Redis keeps
// it); false after replying an error.
bool ResolveGroups(CommandContext& ctx, const ReadGroupArgs& a, std::vector<StreamGroup*>* groups,
                   std::vector<StreamID>* ids) {
  for (size_t k = 0; k < a.streams; k++) {
    std::string_view key = ctx.arg(a.streams_arg + k);
    bool wrong;
    StreamObject* s = LookupRead(ctx, key, &wrong);
    if (wrong) return false;
    (*groups)[k] = s == nullptr ? nullptr : s->FindGroup(a.group);
    if ((*groups)[k] == nullptr) {
      ctx.reply.Error("-NOGROUP No such key '" + std::string(CString(key)) +
                      "' or consumer group '" + std::string(CString(a.group)) +
                      "' in XREADGROUP with GROUP option");
      return false;
    }
    std::string_view arg = CString(ctx.arg(a.streams_arg + a.streams + k));
    if (arg == "$") {
      ctx.reply.Error(
          "The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
          "of this consumer by specifying a proper ID, or use the > ID to get new messages. The "
          "$ ID would just return an empty result set.");
      return false;
    }
    if (arg == ">") {
      (*ids)[k] = StreamID::Max();
    } else if (!ParseId(ctx, ctx.arg(a.streams_arg + a.streams + k), 0, &(*ids)[k], true)) {
      return false;
    }
  }
  return true;
}

// What serving one stream needs: the group, the reader and where propagation goes.
struct GroupRead {
  std::string_view key;
  std::string_view group_name;
  StreamObject* s;
  StreamGroup* g;
  StreamConsumer* c;
  bool noack;
  GroupPropagation* prop;
};

// The array length goes before entries already written from mark.
void InsertArrayHeader(CommandContext& ctx, size_t mark, size_t n) {
  std::string header;
  protocol::ReplyWriter(&header, ctx.reply.resp()).ArrayHeader(n);
  ctx.reply.buffer()->insert(mark, header);
}

// The group's read counter as streamReplyWithRange keeps it when its last id moves to id.
void AdvanceGroup(const StreamObject& s, StreamGroup& g, StreamID id) {
  if (g.entries_read != storage::kInvalidEntriesRead && !s.RangeHasTombstones(id)) {
    g.entries_read++;
  } else if (s.entries_added() > 0) {
    g.entries_read = s.EstimateDistanceFromFirstEverEntry(id);
  }
  g.last_id = id;
}

// streamReplyWithRange with a group: the entries after `after`, at most count (0 = all).
void ReplyNewEntries(CommandContext& ctx, const GroupRead& r, StreamID after, size_t count) {
  size_t mark = ctx.reply.buffer()->size();
  size_t n = 0;
  bool moved = false;
  StreamID start = after;
  start.Incr();
  for (storage::StreamIterator it(*r.s, start, StreamID::Max()); it.Next();) {
    StreamID id = it.id();
    if (id > r.g->last_id) {
      AdvanceGroup(*r.s, *r.g, id);
      moved = true;
    }
    ReplyEntry(ctx.reply, id, it.field_values());
    if (!r.noack) {
      StreamNack& nack = Deliver(*r.g, *r.c, id, ctx.now_ms());
      r.prop->XClaim(r.key, r.group_name, id.ToString(), nack, *r.g);
    }
    if (++n == count) break;
  }
  // Without NOACK the XCLAIMs carry the last id (LASTID); Redis 7.0 sends SETID only here.
  if (moved && r.noack) r.prop->SetId(r.key, r.group_name, *r.g);
  InsertArrayHeader(ctx, mark, n);
}

// streamReplyWithRangeFromConsumerPEL: the consumer's pending entries after `after`, each
// counted as delivered again; an entry deleted meanwhile is [id, nil]. Not propagated (Redis).
void ReplyHistory(CommandContext& ctx, const GroupRead& r, StreamID after, size_t count) {
  size_t mark = ctx.reply.buffer()->size();
  size_t n = 0;
  StreamID start = after;
  start.Incr();
  for (auto it = r.c->pel.lower_bound(start); it != r.c->pel.end() && (count == 0 || n < count);
       ++it, ++n) {
    if (ReplyEntryById(ctx.reply, *r.s, it->first)) {
      it->second->delivery_time_ms = ctx.now_ms();
      it->second->delivery_count++;
    } else {
      ctx.reply.ArrayHeader(2);
      ReplyId(ctx.reply, it->first);
      ctx.reply.NullArray();
    }
  }
  InsertArrayHeader(ctx, mark, n);
}

// Stream k of the command, served at once when it can be: history ids always, `>` when an entry
// past the group's last id exists.
bool ServeAtOnce(CommandContext& ctx, const ReadGroupArgs& a, size_t k, StreamGroup& g, StreamID id,
                 GroupPropagation* prop) {
  std::string_view key = ctx.arg(a.streams_arg + k);
  bool wrong;
  StreamObject* s = LookupRead(ctx, key, &wrong);
  if (s == nullptr) return false;
  bool history = id != StreamID::Max();
  bool serve = history;
  StreamID top;
  if (!history && s->length() > 0 && s->LastEntryId(&top) && top > g.last_id) {
    serve = true;
    id = g.last_id;
  }
  if (!serve) return false;  // nor is the reader looked up or created
  bool created;
  StreamConsumer* c = LookupOrCreateConsumer(ctx, g, key, a.consumer, &created);
  if (created && a.noack) prop->CreateConsumer(key, a.group, a.consumer);
  if (ctx.reply.resp() == 2) ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(key);
  GroupRead r{key, a.group, s, &g, c, a.noack, prop};
  auto n = static_cast<size_t>(a.count);
  history ? ReplyHistory(ctx, r, id, n) : ReplyNewEntries(ctx, r, id, n);
  return true;
}

void BlockOnStreams(CommandContext& ctx, const ReadGroupArgs& a) {
  ctx.Block(ctx.argv.subspan(a.streams_arg, a.streams), a.deadline_ms, storage::ValueType::kStream,
            true);
}

// serveClientsBlockedOnStreamKey for a reader woken by a change of ctx.ready_key: served when
// the stream's last id moved past the group's, else it waits on in its place.
void ServeWoken(CommandContext& ctx, const ReadGroupArgs& a) {
  std::string_view key = ctx.ready_key;
  storage::Value* v = ctx.db.Peek(key);
  if (v == nullptr || v->type() != storage::ValueType::kStream) return BlockOnStreams(ctx, a);
  auto& s = v->As<StreamObject>();
  StreamGroup* g = s.FindGroup(a.group);
  if (g == nullptr) {
    return ctx.reply.Error(
        "-NOGROUP the consumer group this client was blocked on no longer exists");
  }
  if (s.last_id() <= g->last_id) return BlockOnStreams(ctx, a);
  GroupPropagation prop;
  bool created;
  StreamConsumer* c = LookupOrCreateConsumer(ctx, *g, key, a.consumer, &created);
  if (created && a.noack) prop.CreateConsumer(key, a.group, a.consumer);
  if (ctx.reply.resp() == 2) {
    ctx.reply.ArrayHeader(1);
    ctx.reply.ArrayHeader(2);
  } else {
    ctx.reply.MapHeader(1);
  }
  ctx.reply.Bulk(key);
  GroupRead r{key, a.group, &s, g, c, a.noack, &prop};
  ReplyNewEntries(ctx, r, g->last_id, a.count > 0 ? a.count : kBlockedDefaultCount);
  prop.Flush(ctx);
}

// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK]
//     STREAMS key [key ...] id [id ...]
void CmdXReadGroup(CommandContext& ctx) {
  ReadGroupArgs a;
  if (!ParseReadGroupArgs(ctx, &a)) return;
  if (ctx.reprocessing) return ServeWoken(ctx, a);
  std::vector<StreamGroup*> groups(a.streams);
  std::vector<StreamID> ids(a.streams);
  if (!ResolveGroups(ctx, a, &groups, &ids)) return;
  GroupPropagation prop;
  size_t mark = ctx.reply.buffer()->size();
  size_t served = 0;
  for (size_t k = 0; k < a.streams; k++) {
    served += ServeAtOnce(ctx, a, k, *groups[k], ids[k], &prop) ? 1 : 0;
  }
  prop.Flush(ctx);
  if (served > 0) {
    std::string header;
    protocol::ReplyWriter w(&header, ctx.reply.resp());
    ctx.reply.resp() == 2 ? w.ArrayHeader(served) : w.MapHeader(served);
    ctx.reply.buffer()->insert(mark, header);
    return;
  }
  if (a.deadline_ms == -1 || !ctx.CanBlock()) return ctx.reply.NullArray();
  BlockOnStreams(ctx, a);
}

}  // namespace

void RegisterStreamGroupReadCommands(CommandTable& table) {
  table.Register("xreadgroup", CmdXReadGroup);
}

}  // namespace docket::server::stream
