// Consumer groups (t_stream.c): XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER /
// HELP, XACK, XPENDING (summary and extended form), XINFO GROUPS / CONSUMERS, with Redis 7.0's
// replies, errors, keyspace events and propagation; plus the helpers the other group files
// share (cmd_stream_group.h). XREADGROUP and XCLAIM / XAUTOCLAIM have their own files.
// Depends on server/, storage/stream.h.
#include "server/cmd_stream_group.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/cmd_server.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server::stream {

namespace errors = protocol::errors;

// --- shared helpers ---------------------------------------------------------------------------

void GroupPropagation::XClaim(std::string_view key, std::string_view group, std::string_view id,
                              const StreamNack& nack, const StreamGroup& g) {
  cmds_.push_back({"XCLAIM", std::string(key), std::string(group), nack.consumer->name, "0",
                   std::string(id), "TIME", storage::Int64ToString(nack.delivery_time_ms),
                   "RETRYCOUNT", std::to_string(nack.delivery_count), "FORCE", "JUSTID", "LASTID",
                   g.last_id.ToString()});
}

void GroupPropagation::SetId(std::string_view key, std::string_view group, const StreamGroup& g) {
  cmds_.push_back({"XGROUP", "SETID", std::string(key), std::string(group), g.last_id.ToString(),
                   "ENTRIESREAD", storage::Int64ToString(g.entries_read)});
}

void GroupPropagation::CreateConsumer(std::string_view key, std::string_view group,
                                      std::string_view consumer) {
  cmds_.push_back(
      {"XGROUP", "CREATECONSUMER", std::string(key), std::string(group), std::string(consumer)});
}

void GroupPropagation::Flush(CommandContext& ctx) {
  if (cmds_.empty()) return;
  ctx.Dirty(static_cast<int64_t>(cmds_.size()));
  ctx.RewriteArgv(std::move(cmds_[0]));
  for (size_t i = 1; i < cmds_.size(); i++) ctx.AlsoPropagate(std::move(cmds_[i]));
  cmds_.clear();
}

StreamConsumer* CreateConsumer(CommandContext& ctx, StreamGroup& g, std::string_view key,
                               std::string_view name) {
  StreamConsumer* c = g.CreateConsumer(name, ctx.now_ms());
  if (c != nullptr) ctx.Notify('t', "xgroup-createconsumer", key);
  return c;
}

StreamConsumer* LookupOrCreateConsumer(CommandContext& ctx, StreamGroup& g, std::string_view key,
                                       std::string_view name, bool* created) {
  StreamConsumer* c = g.FindConsumer(name);
  *created = c == nullptr;
  if (c == nullptr) return CreateConsumer(ctx, g, key, name);
  c->seen_time_ms = ctx.now_ms();
  return c;
}

StreamNack& Deliver(StreamGroup& g, StreamConsumer& c, StreamID id, int64_t now_ms) {
  auto [it, added] = g.pel.try_emplace(id);
  if (added) {
    it->second = std::make_unique<StreamNack>();
  } else {
    it->second->consumer->pel.erase(id);
  }
  StreamNack& nack = *it->second;
  nack.consumer = &c;
  nack.delivery_time_ms = now_ms;
  nack.delivery_count = 1;
  c.pel[id] = &nack;
  return nack;
}

void MoveNack(StreamNack& nack, StreamID id, StreamConsumer& c) {
  if (nack.consumer == &c) return;
  if (nack.consumer != nullptr) nack.consumer->pel.erase(id);
  c.pel[id] = &nack;
  nack.consumer = &c;
}

bool RemoveNack(StreamGroup& g, StreamID id) {
  auto it = g.pel.find(id);
  if (it == g.pel.end()) return false;
  if (it->second->consumer != nullptr) it->second->consumer->pel.erase(id);
  g.pel.erase(it);
  return true;
}

bool ReplyEntryById(protocol::ReplyWriter& reply, const StreamObject& s, StreamID id) {
  storage::StreamIterator it(s, id, id);
  if (!it.Next()) return false;
  ReplyEntry(reply, it.id(), it.field_values());
  return true;
}

std::string NoKeyOrGroupError(std::string_view key, std::string_view group) {
  return "-NOGROUP No such key '" + std::string(CString(key)) + "' or consumer group '" +
         std::string(CString(group)) + "'";
}

std::string NoGroupForKeyError(std::string_view key, std::string_view group) {
  return "-NOGROUP No such consumer group '" + std::string(CString(group)) + "' for key name '" +
         std::string(CString(key)) + "'";
}

namespace {

// --- XGROUP -----------------------------------------------------------------------------------

// What xgroupCommand settles before it dispatches on the subcommand.
struct XGroupArgs {
  bool mkstream = false;
  int64_t entries_read = storage::kInvalidEntriesRead;
  StreamObject* s = nullptr;
  StreamGroup* g = nullptr;
};

// The options after the id: MKSTREAM (CREATE only) and ENTRIESREAD. False after an error.
bool ParseXGroupOptions(CommandContext& ctx, bool create, XGroupArgs* a) {
  for (size_t i = 5; i < ctx.argc();) {
    if (create && OptionIs(ctx.arg(i), "mkstream")) {
      a->mkstream = true;
      i++;
    } else if (OptionIs(ctx.arg(i), "entriesread") && i + 1 < ctx.argc()) {
      if (!storage::StringToInt64(ctx.arg(i + 1), &a->entries_read)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      if (a->entries_read < 0 && a->entries_read != storage::kInvalidEntriesRead) {
        ctx.reply.Error("value for ENTRIESREAD must be positive or -1");
        return false;
      }
      i += 2;
    } else {
      ReplySubcommandSyntaxError(ctx);
      return false;
    }
  }
  return true;
}

// The common prelude: options, the key (which must exist unless MKSTREAM) and, for the
// subcommands that need it, the group. False after an error.
bool XGroupPrelude(CommandContext& ctx, bool needs_group, XGroupArgs* a) {
  bool create = ctx.spec.name == "xgroup|create";
  if ((create || ctx.spec.name == "xgroup|setid") && !ParseXGroupOptions(ctx, create, a)) {
    return false;
  }
  bool wrong;
  a->s = LookupWrite(ctx, ctx.arg(2), &wrong);
  if (wrong) return false;
  if (a->mkstream) return true;
  if (a->s == nullptr) {
    ctx.reply.Error(
        "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
        "use the MKSTREAM option to create an empty stream automatically.");
    return false;
  }
  a->g = a->s->FindGroup(ctx.arg(3));
  if (a->g == nullptr && needs_group) {
    ctx.reply.Error(NoGroupForKeyError(ctx.arg(2), ctx.arg(3)));
    return false;
  }
  return true;
}

// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]
void CmdXGroupCreate(CommandContext& ctx) {
  XGroupArgs a;
  if (!XGroupPrelude(ctx, false, &a)) return;
  if (ctx.argc() > 8) return ReplySubcommandSyntaxError(ctx);
  StreamID id;
  if (CString(ctx.arg(4)) == "$") {
    if (a.s != nullptr) id = a.s->last_id();
  } else if (!ParseId(ctx, ctx.arg(4), 0, &id, true)) {
    return;
  }
  std::string_view key = ctx.arg(2);
  if (a.s == nullptr) {  // MKSTREAM: the command can no longer fail
    a.s = &Create(ctx, key);
    ctx.KeyModified(key);
  }
  if (a.s->CreateGroup(ctx.arg(3), id, a.entries_read) == nullptr) {
    return ctx.reply.Error("-BUSYGROUP Consumer Group name already exists");
  }
  ctx.reply.Ok();
  ctx.Dirty();
  ctx.Notify('t', "xgroup-create", key);
}

// XGROUP SETID key group id|$ [ENTRIESREAD entries-read]
void CmdXGroupSetId(CommandContext& ctx) {
  XGroupArgs a;
  if (!XGroupPrelude(ctx, true, &a)) return;
  if (ctx.argc() != 5 && ctx.argc() != 7) return ReplySubcommandSyntaxError(ctx);
  StreamID id;
  if (CString(ctx.arg(4)) == "$") {
    id = a.s->last_id();
  } else if (!ParseId(ctx, ctx.arg(4), 0, &id)) {
    return;
  }
  a.g->last_id = id;
  a.g->entries_read = a.entries_read;
  ctx.reply.Ok();
  ctx.Dirty();
  ctx.Notify('t', "xgroup-setid", ctx.arg(2));
}

// XGROUP DESTROY key group
void CmdXGroupDestroy(CommandContext& ctx) {
  XGroupArgs a;
  if (!XGroupPrelude(ctx, false, &a)) return;
  if (a.g == nullptr) return ctx.reply.Integer(0);
  std::string_view key = ctx.arg(2);
  a.s->DestroyGroup(ctx.arg(3));
  ctx.reply.Integer(1);
  ctx.Dirty();
  ctx.Notify('t', "xgroup-destroy", key);
  // Clients blocked in XREADGROUP on this group get -NOGROUP; WATCH is not touched (as Redis).
  ctx.server.blocking().SignalKey(ctx.db.index(), key);
}

// XGROUP CREATECONSUMER key group consumer
void CmdXGroupCreateConsumer(CommandContext& ctx) {
  XGroupArgs a;
  if (!XGroupPrelude(ctx, true, &a)) return;
  bool created = CreateConsumer(ctx, *a.g, ctx.arg(2), ctx.arg(4)) != nullptr;
  if (created) ctx.Dirty();
  ctx.reply.Integer(created ? 1 : 0);
}

// XGROUP DELCONSUMER key group consumer
void CmdXGroupDelConsumer(CommandContext& ctx) {
  XGroupArgs a;
  if (!XGroupPrelude(ctx, true, &a)) return;
  StreamConsumer* c = a.g->FindConsumer(ctx.arg(4));
  if (c == nullptr) return ctx.reply.Integer(0);
  auto pending = static_cast<int64_t>(a.g->DeleteConsumer(c));
  ctx.reply.Integer(pending);
  ctx.Dirty();
  ctx.Notify('t', "xgroup-delconsumer", ctx.arg(2));
}

// XGROUP HELP
void CmdXGroupHelp(CommandContext& ctx) {
  ReplyHelp(
      ctx, {"CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:", "    * MKSTREAM",
            "      Create the empty stream if it does not exist.", "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>", "    Remove the specified consumer.",
            "DESTROY <key> <groupname>", "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter."});
}

// --- XACK -------------------------------------------------------------------------------------

// XACK key group id [id ...]
void CmdXAck(CommandContext& ctx) {
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(1), &wrong);
  if (wrong) return;
  StreamGroup* g = s == nullptr ? nullptr : s->FindGroup(ctx.arg(2));
  if (g == nullptr) return ctx.reply.Integer(0);  // nothing to acknowledge, ids unchecked
  std::vector<StreamID> ids(ctx.argc() - 3);
  for (size_t j = 3; j < ctx.argc(); j++) {
    if (!ParseId(ctx, ctx.arg(j), 0, &ids[j - 3], true)) return;
  }
  int64_t acked = 0;
  for (StreamID id : ids) acked += RemoveNack(*g, id) ? 1 : 0;
  if (acked > 0) ctx.Dirty(acked);
  ctx.reply.Integer(acked);
}

// --- XPENDING ---------------------------------------------------------------------------------

struct XPendingArgs {
  bool summary = true;
  int64_t min_idle = 0;
  int64_t count = 0;
  StreamID start, end;
  std::string_view consumer;
  bool has_consumer = false;
};

// [IDLE min-idle] start end count [consumer], checked before the key. False after an error.
bool ParseXPendingArgs(CommandContext& ctx, XPendingArgs* a) {
  size_t argc = ctx.argc();
  if (argc != 3 && (argc < 6 || argc > 9)) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  if (argc == 3) return true;
  a->summary = false;
  size_t at = 3;
  if (OptionIs(ctx.arg(3), "idle")) {
    if (!storage::StringToInt64(ctx.arg(4), &a->min_idle)) {
      ctx.reply.Error(errors::kNotInteger);
      return false;
    }
    if (argc < 8) {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    at += 2;
  }
  if (!storage::StringToInt64(ctx.arg(at + 2), &a->count)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  a->count = std::max<int64_t>(a->count, 0);
  if (!ParseRangeStart(ctx, ctx.arg(at), &a->start)) return false;
  if (!ParseRangeEnd(ctx, ctx.arg(at + 1), &a->end)) return false;
  a->has_consumer = at + 3 < argc;
  if (a->has_consumer) a->consumer = ctx.arg(at + 3);
  return true;
}

// XPENDING key group: [count, first id, last id, [[consumer, count as a bulk], ...]].
void ReplyPendingSummary(CommandContext& ctx, const StreamGroup& g) {
  protocol::ReplyWriter& r = ctx.reply;
  r.ArrayHeader(4);
  r.Integer(static_cast<int64_t>(g.pel.size()));
  if (g.pel.empty()) {
    r.NullBulk();
    r.NullBulk();
    return r.NullArray();
  }
  ReplyId(r, g.pel.begin()->first);
  ReplyId(r, g.pel.rbegin()->first);
  size_t owners = std::count_if(g.consumers.begin(), g.consumers.end(),
                                [](const auto& c) { return !c.second->pel.empty(); });
  r.ArrayHeader(owners);
  for (const auto& [name, c] : g.consumers) {
    if (c->pel.empty()) continue;
    r.ArrayHeader(2);
    r.Bulk(name);
    r.Bulk(std::to_string(c->pel.size()));
  }
}

// The extended form over a PEL (the group's or one consumer's): [id, owner, idle, deliveries].
template <typename Pel>
void ReplyPendingRange(CommandContext& ctx, const Pel& pel, const XPendingArgs& a) {
  int64_t now = ctx.now_ms();
  std::vector<std::pair<StreamID, const StreamNack*>> rows;
  int64_t left = a.count;
  for (auto it = pel.lower_bound(a.start); left > 0 && it != pel.end() && it->first <= a.end;
       ++it) {
    const StreamNack& nack = *it->second;
    if (a.min_idle != 0 && now - nack.delivery_time_ms < a.min_idle) continue;
    rows.emplace_back(it->first, &nack);
    left--;
  }
  ctx.reply.ArrayHeader(rows.size());
  for (const auto& [id, nack] : rows) {
    ctx.reply.ArrayHeader(4);
    ReplyId(ctx.reply, id);
    ctx.reply.Bulk(nack->consumer->name);
    ctx.reply.Integer(std::max<int64_t>(now - nack->delivery_time_ms, 0));
    ctx.reply.Integer(static_cast<int64_t>(nack->delivery_count));
  }
}

// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
void CmdXPending(CommandContext& ctx) {
  XPendingArgs a;
  if (!ParseXPendingArgs(ctx, &a)) return;
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(1), &wrong);
  if (wrong) return;
  StreamGroup* g = s == nullptr ? nullptr : s->FindGroup(ctx.arg(2));
  if (g == nullptr) return ctx.reply.Error(NoKeyOrGroupError(ctx.arg(1), ctx.arg(2)));
  if (a.summary) return ReplyPendingSummary(ctx, *g);
  if (!a.has_consumer) return ReplyPendingRange(ctx, g->pel, a);
  const StreamConsumer* c = g->FindConsumer(a.consumer);
  if (c == nullptr) return ctx.reply.ArrayHeader(0);
  ReplyPendingRange(ctx, c->pel, a);
}

}  // namespace

// --- XINFO GROUPS / CONSUMERS -----------------------------------------------------------------

// XINFO GROUPS key
void CmdXInfoGroups(CommandContext& ctx) {
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(2), &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  protocol::ReplyWriter& r = ctx.reply;
  r.ArrayHeader(s->groups().size());
  for (const auto& [name, g] : s->groups()) {
    r.MapHeader(6);
    r.Bulk("name");
    r.Bulk(name);
    r.Bulk("consumers");
    r.Integer(static_cast<int64_t>(g->consumers.size()));
    r.Bulk("pending");
    r.Integer(static_cast<int64_t>(g->pel.size()));
    r.Bulk("last-delivered-id");
    ReplyId(r, g->last_id);
    r.Bulk("entries-read");
    g->entries_read != storage::kInvalidEntriesRead ? r.Integer(g->entries_read) : r.NullBulk();
    r.Bulk("lag");
    ReplyLag(r, *s, *g);
  }
}

// XINFO CONSUMERS key group
void CmdXInfoConsumers(CommandContext& ctx) {
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(2), &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  const StreamGroup* g = s->FindGroup(ctx.arg(3));
  if (g == nullptr) return ctx.reply.Error(NoGroupForKeyError(ctx.arg(2), ctx.arg(3)));
  protocol::ReplyWriter& r = ctx.reply;
  int64_t now = ctx.now_ms();
  r.ArrayHeader(g->consumers.size());
  for (const auto& [name, c] : g->consumers) {
    r.MapHeader(3);
    r.Bulk("name");
    r.Bulk(name);
    r.Bulk("pending");
    r.Integer(static_cast<int64_t>(c->pel.size()));
    r.Bulk("idle");
    r.Integer(std::max<int64_t>(now - c->seen_time_ms, 0));
  }
}

void RegisterStreamGroupCommands(CommandTable& table) {
  table.Register("xgroup|create", CmdXGroupCreate);
  table.Register("xgroup|setid", CmdXGroupSetId);
  table.Register("xgroup|destroy", CmdXGroupDestroy);
  table.Register("xgroup|createconsumer", CmdXGroupCreateConsumer);
  table.Register("xgroup|delconsumer", CmdXGroupDelConsumer);
  table.Register("xgroup|help", CmdXGroupHelp);
  table.Register("xack", CmdXAck);
  table.Register("xpending", CmdXPending);
  table.Register("xinfo|groups", CmdXInfoGroups);
  table.Register("xinfo|consumers", CmdXInfoConsumers);
  RegisterStreamGroupReadCommands(table);
  RegisterStreamGroupClaimCommands(table);
}

}  // namespace docket::server::stream
