// XREAD (t_stream.c xreadCommand without groups): entries after the given ids from one or more
// streams, blocking with BLOCK until an XADD brings new ones. A blocked client is woken by the
// blocking registry and its command run again: `$` ids are resolved before blocking (the stored
// argv carries the concrete ids), and a woken client is served from the woken stream only, at
// most COUNT (or 1000) entries, as Redis 7.0 does. Depends on server/, storage/stream.h.
#include <climits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/args.h"
#include "server/blocking.h"
#include "server/cmd_stream.h"
#include "server/scripting.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server::stream {

namespace {

namespace errors = protocol::errors;

constexpr size_t kBlockedDefaultCount = 1000;  // XREAD_BLOCKED_DEFAULT_COUNT

struct XReadArgs {
  int64_t deadline_ms = -1;  // -1: no BLOCK; 0: forever
  int64_t count = 0;
  size_t streams_arg = 0;  // index of the first key
  size_t streams = 0;
};

// The options before STREAMS; false after replying an error.
bool ParseXReadArgs(CommandContext& ctx, XReadArgs* a) {
  for (size_t i = 1; i < ctx.argc(); i++) {
    bool more = i + 1 < ctx.argc();
    std::string_view o = ctx.arg(i);
    if (more && OptionIs(o, "block")) {
      if (&ctx.client == &ctx.server.scripting().script_client()) {
        // Redis names the command as the script spelled it (argv[0]).
        ctx.reply.Error(std::string(ctx.arg(0)) +
                        " command is not allowed with BLOCK option from scripts");
        return false;
      }
      if (!ParseMsTimeout(ctx, ctx.arg(++i), &a->deadline_ms)) return false;
    } else if (more && OptionIs(o, "count")) {
      if (!storage::StringToInt64(ctx.arg(++i), &a->count)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      if (a->count < 0) a->count = 0;
    } else if (more && OptionIs(o, "streams")) {
      a->streams_arg = i + 1;
      a->streams = ctx.argc() - a->streams_arg;
      if (a->streams % 2 != 0) {
        ctx.reply.Error(
            "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
            "specified.");
        return false;
      }
      a->streams /= 2;
      return true;
    } else if (i + 2 < ctx.argc() && OptionIs(o, "group")) {
      ctx.reply.Error(
          "The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      return false;
    } else if (OptionIs(o, "noack")) {
      ctx.reply.Error(
          "The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
      return false;
    } else {
      break;
    }
  }
  ctx.reply.Error(errors::kSyntax);  // an unknown option, or no STREAMS
  return false;
}

// The id after which each stream is read; false after replying an error.
bool ResolveIds(CommandContext& ctx, const XReadArgs& a, std::vector<StreamID>* ids) {
  for (size_t k = 0; k < a.streams; k++) {
    bool wrong;
    StreamObject* s = LookupRead(ctx, ctx.arg(a.streams_arg + k), &wrong);
    if (wrong) return false;
    std::string_view arg = ctx.arg(a.streams_arg + a.streams + k);
    if (CString(arg) == "$") {
      (*ids)[k] = s == nullptr ? StreamID::Min() : s->last_id();
    } else if (CString(arg) == ">") {
      ctx.reply.Error(
          "The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
          "<consumer> option.");
      return false;
    } else if (!ParseId(ctx, arg, 0, &(*ids)[k], true)) {
      return false;
    }
  }
  return true;
}

// Replies the streams that have entries after their id; returns how many were served. A woken
// client is served from the woken key alone, whenever its last id moved past the client's.
size_t ServeStreams(CommandContext& ctx, const XReadArgs& a, const std::vector<StreamID>& ids) {
  std::string* out = ctx.reply.buffer();
  size_t mark = out->size();
  size_t served = 0;
  size_t count = static_cast<size_t>(a.count);
  if (ctx.reprocessing && count == 0) count = kBlockedDefaultCount;
  bool ready_seen = false;  // a woken client is served from the first mention of its key
  for (size_t k = 0; k < a.streams; k++) {
    std::string_view key = ctx.arg(a.streams_arg + k);
    if (ctx.reprocessing && (key != ctx.ready_key || std::exchange(ready_seen, true))) continue;
    bool wrong;
    StreamObject* s = LookupRead(ctx, key, &wrong);
    if (s == nullptr) continue;
    StreamID top = s->last_id();  // Redis 7.0 serves a woken client when last_id moved past
    if (!ctx.reprocessing && (s->length() == 0 || !s->LastEntryId(&top))) continue;
    if (top <= ids[k]) continue;
    StreamID start = ids[k];
    start.Incr();
    if (ctx.reply.resp() == 2) ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(key);
    ReplyRange(ctx.reply, *s, start, StreamID::Max(), count, false);
    served++;
  }
  if (served > 0) {
    std::string header;
    protocol::ReplyWriter w(&header, ctx.reply.resp());
    ctx.reply.resp() == 2 ? w.ArrayHeader(served) : w.MapHeader(served);
    out->insert(mark, header);
  }
  return served;
}

// Blocks on the streams, with `$` replaced by the id it stood for so that the command, run
// again when a stream changes, reads what arrived after the block.
void BlockOnStreams(CommandContext& ctx, const XReadArgs& a, const std::vector<StreamID>& ids) {
  std::vector<std::string> resolved(ctx.argv.begin(), ctx.argv.end());
  for (size_t k = 0; k < a.streams; k++) {
    std::string& arg = resolved[a.streams_arg + a.streams + k];
    if (CString(arg) == "$") arg = ids[k].ToString();
  }
  std::vector<std::string_view> views(resolved.begin(), resolved.end());
  std::span<const std::string_view> original = ctx.argv;
  ctx.argv = views;
  ctx.Block(ctx.argv.subspan(a.streams_arg, a.streams), a.deadline_ms, storage::ValueType::kStream);
  ctx.argv = original;
}

// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
void CmdXRead(CommandContext& ctx) {
  XReadArgs a;
  if (!ParseXReadArgs(ctx, &a)) return;
  std::vector<StreamID> ids(a.streams);
  if (!ResolveIds(ctx, a, &ids)) return;
  if (ServeStreams(ctx, a, ids) > 0) return;
  if (a.deadline_ms == -1 || (!ctx.reprocessing && !ctx.CanBlock())) {
    return ctx.reply.NullArray();
  }
  BlockOnStreams(ctx, a, ids);
}

}  // namespace

void RegisterStreamReadCommands(CommandTable& table) { table.Register("xread", CmdXRead); }

bool ParseMsTimeout(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms) {
  int64_t ms;
  if (!storage::StringToInt64(arg, &ms)) {
    ctx.reply.Error("timeout is not an integer or out of range");
    return false;
  }
  if (ms < 0) {
    ctx.reply.Error(errors::kTimeoutNegative);
    return false;
  }
  int64_t now = ctx.now_ms();
  *deadline_ms = ms == 0 ? 0 : ms > INT64_MAX - now ? INT64_MAX : now + ms;
  return true;
}

}  // namespace docket::server::stream
