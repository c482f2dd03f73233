// XINFO STREAM [FULL [COUNT n]] and XINFO HELP (t_stream.c xinfoCommand), including FULL's
// groups, PELs and consumers; XINFO GROUPS / CONSUMERS are the consumer-group file's. The
// radix-tree-nodes figure is what Redis's rax would hold for the same node keys.
// Depends on server/, storage/stream.h.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "server/args.h"
#include "server/cmd_server.h"
#include "server/cmd_stream.h"
#include "storage/number.h"

namespace docket::server::stream {

namespace {

namespace errors = protocol::errors;
using RaxKey = std::array<uint8_t, 16>;

RaxKey EncodeKey(StreamID id) {
  RaxKey k;
  for (int i = 0; i < 8; i++) {
    k[i] = static_cast<uint8_t>(id.ms >> (56 - 8 * i));
    k[8 + i] = static_cast<uint8_t>(id.seq >> (56 - 8 * i));
  }
  return k;
}

// Nodes of a compressed radix tree (rax) holding the sorted keys [lo, hi) below depth d: a
// compressed node for a shared run of bytes, a branching node where they diverge, a leaf where
// a key ends.
size_t RaxNodes(const std::vector<RaxKey>& keys, size_t lo, size_t hi, size_t d) {
  if (d == 16) return 1;
  if (hi - lo == 1) return 2;
  size_t p = 0;
  while (keys[lo][d + p] == keys[hi - 1][d + p]) p++;
  if (p > 0) return 1 + RaxNodes(keys, lo, hi, d + p);
  size_t total = 1;
  for (size_t i = lo; i < hi;) {
    size_t j = i + 1;
    while (j < hi && keys[j][d] == keys[i][d]) j++;
    total += RaxNodes(keys, i, j, d + 1);
    i = j;
  }
  return total;
}

size_t RaxNodeCount(const StreamObject& s) {
  if (s.nodes().empty()) return 1;  // the empty root
  std::vector<RaxKey> keys;
  keys.reserve(s.nodes().size());
  for (const auto& [id, node] : s.nodes()) keys.push_back(EncodeKey(id));
  return RaxNodes(keys, 0, keys.size(), 0);
}

// The first (or last) entry, or a null.
void ReplyEdgeEntry(protocol::ReplyWriter& reply, const StreamObject& s, bool last) {
  storage::StreamIterator it(s, StreamID::Min(), StreamID::Max(), last);
  if (!it.Next()) return reply.NullBulk();
  ReplyEntry(reply, it.id(), it.field_values());
}

// "unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
bool ParseStreamOptions(CommandContext& ctx, bool* full, int64_t* count) {
  size_t optc = ctx.argc() - 3;
  if (optc == 0) return true;
  *full = true;
  if ((optc != 1 && optc != 3) || !OptionIs(ctx.arg(3), "full") ||
      (optc == 3 && !OptionIs(ctx.arg(4), "count"))) {
    ReplySubcommandSyntaxError(ctx);
    return false;
  }
  if (optc == 3) {
    if (!storage::StringToInt64(ctx.arg(5), count)) {
      ctx.reply.Error(errors::kNotInteger);
      return false;
    }
    if (*count < 0) *count = 10;
  }
  return true;
}

// XINFO STREAM key [FULL [COUNT count]]
void CmdXInfoStream(CommandContext& ctx) {
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(2), &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  bool full = false;
  int64_t count = 10;
  if (!ParseStreamOptions(ctx, &full, &count)) return;
  protocol::ReplyWriter& r = ctx.reply;
  r.MapHeader(full ? 9 : 10);
  r.Bulk("length");
  r.Integer(static_cast<int64_t>(s->length()));
  r.Bulk("radix-tree-keys");
  r.Integer(static_cast<int64_t>(s->node_count()));
  r.Bulk("radix-tree-nodes");
  r.Integer(static_cast<int64_t>(RaxNodeCount(*s)));
  r.Bulk("last-generated-id");
  ReplyId(r, s->last_id());
  r.Bulk("max-deleted-entry-id");
  ReplyId(r, s->max_deleted_entry_id());
  r.Bulk("entries-added");
  r.Integer(static_cast<int64_t>(s->entries_added()));
  r.Bulk("recorded-first-entry-id");
  ReplyId(r, s->first_id());
  if (!full) {
    r.Bulk("groups");
    r.Integer(static_cast<int64_t>(s->groups().size()));
    r.Bulk("first-entry");
    ReplyEdgeEntry(r, *s, false);
    r.Bulk("last-entry");
    ReplyEdgeEntry(r, *s, true);
    return;
  }
  r.Bulk("entries");
  ReplyRange(r, *s, StreamID::Min(), StreamID::Max(), static_cast<size_t>(count), false);
  r.Bulk("groups");
  ReplyFullGroups(ctx, *s, static_cast<size_t>(count));
}

// XINFO HELP
void CmdXInfoHelp(CommandContext& ctx) {
  ReplyHelp(ctx, {"CONSUMERS <key> <groupname>", "    Show consumers of <groupname>.",
                  "GROUPS <key>", "    Show the stream consumer groups.",
                  "STREAM <key> [FULL [COUNT <count>]", "    Show information about the stream."});
}

void ReplyConsumerFull(protocol::ReplyWriter& r, const StreamConsumer& c, size_t count) {
  r.MapHeader(4);
  r.Bulk("name");
  r.Bulk(c.name);
  r.Bulk("seen-time");
  r.Integer(c.seen_time_ms);
  r.Bulk("pel-count");
  r.Integer(static_cast<int64_t>(c.pel.size()));
  r.Bulk("pending");
  size_t n = count == 0 ? c.pel.size() : std::min(count, c.pel.size());
  r.ArrayHeader(n);
  for (auto it = c.pel.begin(); n > 0; ++it, --n) {
    r.ArrayHeader(3);
    ReplyId(r, it->first);
    r.Integer(it->second->delivery_time_ms);
    r.Integer(static_cast<int64_t>(it->second->delivery_count));
  }
}

void ReplyGroupFull(protocol::ReplyWriter& r, const StreamObject& s, std::string_view name,
                    const StreamGroup& g, size_t count) {
  r.MapHeader(7);
  r.Bulk("name");
  r.Bulk(name);
  r.Bulk("last-delivered-id");
  ReplyId(r, g.last_id);
  r.Bulk("entries-read");
  g.entries_read != storage::kInvalidEntriesRead ? r.Integer(g.entries_read) : r.NullBulk();
  r.Bulk("lag");
  ReplyLag(r, s, g);
  r.Bulk("pel-count");
  r.Integer(static_cast<int64_t>(g.pel.size()));
  r.Bulk("pending");
  size_t n = count == 0 ? g.pel.size() : std::min(count, g.pel.size());
  r.ArrayHeader(n);
  for (auto it = g.pel.begin(); n > 0; ++it, --n) {
    r.ArrayHeader(4);
    ReplyId(r, it->first);
    r.Bulk(it->second->consumer->name);
    r.Integer(it->second->delivery_time_ms);
    r.Integer(static_cast<int64_t>(it->second->delivery_count));
  }
  r.Bulk("consumers");
  r.ArrayHeader(g.consumers.size());
  for (const auto& [cname, consumer] : g.consumers) ReplyConsumerFull(r, *consumer, count);
}

}  // namespace

void ReplyLag(protocol::ReplyWriter& reply, const StreamObject& s, const StreamGroup& g) {
  auto added = static_cast<int64_t>(s.entries_added());
  if (added == 0) return reply.Integer(0);
  if (g.entries_read != storage::kInvalidEntriesRead && !s.RangeHasTombstones(g.last_id)) {
    return reply.Integer(added - g.entries_read);
  }
  int64_t read = s.EstimateDistanceFromFirstEverEntry(g.last_id);
  if (read == storage::kInvalidEntriesRead) return reply.NullBulk();
  reply.Integer(added - read);
}

void ReplyFullGroups(CommandContext& ctx, const StreamObject& s, size_t count) {
  ctx.reply.ArrayHeader(s.groups().size());
  for (const auto& [name, group] : s.groups()) ReplyGroupFull(ctx.reply, s, name, *group, count);
}

void RegisterStreamInfoCommands(CommandTable& table) {
  table.Register("xinfo|stream", CmdXInfoStream);
  table.Register("xinfo|help", CmdXInfoHelp);
}

}  // namespace docket::server::stream
