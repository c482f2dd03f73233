// The stream family without consumer groups (t_stream.c): XADD, XLEN, XRANGE, XREVRANGE, XDEL,
// XTRIM and XSETID, with Redis 7.0's replies, errors, keyspace events (class 't') and
// propagation (XADD with its concrete id, approximate trims as exact ones); plus the helpers the
// other stream files share (cmd_stream.h). Depends on server/, storage/stream.h.
#include "server/cmd_stream.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/aof.h"
#include "server/args.h"
#include "server/config.h"
#include "server/server.h"
#include "storage/number.h"

namespace docket::server {

namespace stream {

namespace errors = protocol::errors;
using storage::StreamTrimSpec;
using storage::Value;
using storage::ValueType;

storage::StreamLimits Limits(CommandContext& ctx) {
  const Config& c = ctx.server.config();
  return {c.stream_node_max_bytes, c.stream_node_max_entries};
}

bool ParseIdNoReply(std::string_view arg, uint64_t missing_seq, StreamID* id, bool strict,
                    bool* seq_given) {
  if (arg.size() > 127) return false;
  std::string_view s = CString(arg);  // Redis parses a copy as a C string
  if (strict && (s == "-" || s == "+")) return false;
  if (seq_given != nullptr) *seq_given = true;
  if (s == "-" || s == "+") {
    *id = s == "-" ? StreamID::Min() : StreamID::Max();
    return true;
  }
  size_t dash = s.find('-');
  uint64_t ms, seq = missing_seq;
  if (!storage::StringToUint64(s.substr(0, dash), &ms)) return false;
  if (dash != std::string_view::npos) {
    std::string_view rest = s.substr(dash + 1);
    if (seq_given != nullptr && rest == "*") {
      seq = 0;
      *seq_given = false;
    } else if (!storage::StringToUint64(rest, &seq)) {
      return false;
    }
  }
  *id = {ms, seq};
  return true;
}

bool ParseId(CommandContext& ctx, std::string_view arg, uint64_t missing_seq, StreamID* id,
             bool strict, bool* seq_given) {
  if (ParseIdNoReply(arg, missing_seq, id, strict, seq_given)) return true;
  ctx.reply.Error(kInvalidId);
  return false;
}

bool ParseIntervalId(CommandContext& ctx, std::string_view arg, uint64_t missing_seq, StreamID* id,
                     bool* exclude) {
  *exclude = arg.size() > 1 && arg[0] == '(';
  if (*exclude) return ParseId(ctx, arg.substr(1), missing_seq, id, true);
  return ParseId(ctx, arg, missing_seq, id);
}

bool ParseRangeStart(CommandContext& ctx, std::string_view arg, StreamID* id) {
  bool exclude;
  if (!ParseIntervalId(ctx, arg, 0, id, &exclude)) return false;
  if (exclude && !id->Incr()) {
    ctx.reply.Error("invalid start ID for the interval");
    return false;
  }
  return true;
}

bool ParseRangeEnd(CommandContext& ctx, std::string_view arg, StreamID* id) {
  bool exclude;
  if (!ParseIntervalId(ctx, arg, UINT64_MAX, id, &exclude)) return false;
  if (exclude && !id->Decr()) {
    ctx.reply.Error("invalid end ID for the interval");
    return false;
  }
  return true;
}

void ReplyId(protocol::ReplyWriter& reply, StreamID id) {
  char buf[StreamID::kMaxChars];
  reply.Bulk(std::string_view(buf, id.Format(buf)));
}

void ReplyEntry(protocol::ReplyWriter& reply, StreamID id,
                std::span<const std::string_view> field_values) {
  reply.ArrayHeader(2);
  ReplyId(reply, id);
  reply.ArrayHeader(field_values.size());
  for (std::string_view s : field_values) reply.Bulk(s);
}

size_t ReplyRange(protocol::ReplyWriter& reply, const StreamObject& s, StreamID start, StreamID end,
                  size_t count, bool rev) {
  // The length comes first in RESP: the entries are written, then the header is put before them.
  std::string* out = reply.buffer();
  size_t mark = out->size();
  size_t n = 0;
  storage::StreamIterator it(s, start, end, rev);
  while ((count == 0 || n < count) && it.Next()) {
    ReplyEntry(reply, it.id(), it.field_values());
    n++;
  }
  std::string header;
  protocol::ReplyWriter(&header, reply.resp()).ArrayHeader(n);
  out->insert(mark, header);
  return n;
}

StreamObject* LookupRead(CommandContext& ctx, std::string_view key, bool* wrong) {
  Value* v = ctx.LookupReadOfType(key, ValueType::kStream, wrong);
  return v == nullptr ? nullptr : &v->As<StreamObject>();
}

StreamObject* LookupWrite(CommandContext& ctx, std::string_view key, bool* wrong) {
  Value* v = ctx.LookupWriteOfType(key, ValueType::kStream, wrong);
  return v == nullptr ? nullptr : &v->As<StreamObject>();
}

StreamObject& Create(CommandContext& ctx, std::string_view key) {
  Value& v = ctx.db.Add(key, Value::Object(ValueType::kStream, std::make_unique<StreamObject>()));
  return v.As<StreamObject>();
}

namespace {

// streamAddTrimArgs: what XADD and XTRIM parse before the id / after the key.
struct AddTrimArgs {
  StreamTrimSpec trim;
  size_t trim_arg = 0;  // the MAXLEN / MINID value's index (its `~` / `=` is just before)
  bool limit_given = false;
  bool id_given = false;
  bool seq_given = true;
  bool no_mkstream = false;
  StreamID id;
};

// One MAXLEN / MINID option at argv[*i] (with more arguments after it): its optional `~` / `=`
// and its value. Returns false after replying an error.
bool ParseTrimOption(CommandContext& ctx, size_t* i, bool maxlen, AddTrimArgs* a) {
  if (a->trim.strategy != StreamTrimSpec::Strategy::kNone) {
    ctx.reply.Error("syntax error, MAXLEN and MINID options at the same time are not compatible");
    return false;
  }
  a->trim.approx = false;
  bool more = ctx.argc() - 1 - *i >= 2;
  std::string_view next = CString(ctx.arg(*i + 1));
  if (more && (next == "~" || next == "=")) {
    a->trim.approx = next == "~";
    ++*i;
  }
  std::string_view value = ctx.arg(*i + 1);
  if (maxlen) {
    if (!ctx.ParseInt64(value, &a->trim.maxlen)) return false;
    if (a->trim.maxlen < 0) {
      ctx.reply.Error("The MAXLEN argument must be >= 0.");
      return false;
    }
  } else if (!ParseId(ctx, value, 0, &a->trim.minid, true)) {
    return false;
  }
  ++*i;
  a->trim.strategy = maxlen ? StreamTrimSpec::Strategy::kMaxLen : StreamTrimSpec::Strategy::kMinId;
  a->trim_arg = *i;
  return true;
}

// The trimming limit as streamParseAddOrTrimArgsOrReply settles it. False after an error.
bool SettleLimit(CommandContext& ctx, AddTrimArgs* a) {
  if (ctx.server.aof().IsLoadingClient(ctx.client)) {
    a->trim.limit = 0;  // the propagated trim was made exact
    return true;
  }
  if (a->limit_given) {
    if (a->trim.approx) return true;
    ctx.reply.Error("syntax error, LIMIT cannot be used without the special ~ option");
    return false;
  }
  int64_t per_node = Limits(ctx).node_max_entries;
  a->trim.limit = !a->trim.approx ? 0 : (per_node <= 0 || per_node > 100) ? 10000 : 100 * per_node;
  return true;
}

// streamParseAddOrTrimArgsOrReply: returns the index where parsing stopped (XADD: the id), or
// 0 after replying an error.
size_t ParseAddOrTrimArgs(CommandContext& ctx, bool xadd, AddTrimArgs* a) {
  size_t i = 2;
  for (; i < ctx.argc(); i++) {
    bool more = ctx.argc() - 1 - i > 0;
    std::string_view opt = ctx.arg(i);
    if (xadd && CString(opt) == "*") break;
    if (more && (OptionIs(opt, "maxlen") || OptionIs(opt, "minid"))) {
      if (!ParseTrimOption(ctx, &i, OptionIs(opt, "maxlen"), a)) return 0;
    } else if (more && OptionIs(opt, "limit")) {
      if (!ctx.ParseInt64(ctx.arg(i + 1), &a->trim.limit)) return 0;
      if (a->trim.limit < 0) {
        ctx.reply.Error("The LIMIT argument must be >= 0.");
        return 0;
      }
      a->limit_given = true;
      i++;
    } else if (xadd && OptionIs(opt, "nomkstream")) {
      a->no_mkstream = true;
    } else if (xadd) {
      if (!ParseId(ctx, opt, 0, &a->id, true, &a->seq_given)) return 0;
      a->id_given = true;
      break;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return 0;
    }
  }
  bool none = a->trim.strategy == StreamTrimSpec::Strategy::kNone;
  if (a->trim.limit != 0 && none) {
    ctx.reply.Error("syntax error, LIMIT cannot be used without specifying a trimming strategy");
    return 0;
  }
  if (!xadd && none) {
    ctx.reply.Error("syntax error, XTRIM must be called with a trimming strategy");
    return 0;
  }
  return SettleLimit(ctx, a) ? i : 0;
}

std::vector<std::string> ArgvCopy(CommandContext& ctx) {
  return std::vector<std::string>(ctx.argv.begin(), ctx.argv.end());
}

// streamRewriteApproxSpecifier + streamRewriteTrimArgument: an approximate trim propagates as
// the exact trim that gives the same result (MAXLEN = <length>, MINID = <first id>).
void RewriteApproxTrim(const StreamObject& s, const AddTrimArgs& a,
                       std::vector<std::string>* argv) {
  (*argv)[a.trim_arg - 1] = "=";
  if (a.trim.strategy == StreamTrimSpec::Strategy::kMaxLen) {
    (*argv)[a.trim_arg] = storage::Int64ToString(static_cast<int64_t>(s.length()));
    return;
  }
  StreamID first = StreamID::Max();  // streamGetEdgeID's answer for an empty stream
  s.FirstEntryId(&first, false);
  (*argv)[a.trim_arg] = first.ToString();
}

// Appends the entry; replies and returns false when it cannot be added.
bool AppendEntry(CommandContext& ctx, StreamObject& s, const AddTrimArgs& a, size_t field_pos,
                 StreamID* id) {
  if (s.last_id() == StreamID::Max()) {
    ctx.reply.Error("The stream has exhausted the last possible ID, unable to add more items");
    return false;
  }
  auto status = s.Append(ctx.argv.subspan(field_pos), a.id_given ? &a.id : nullptr, a.seq_given,
                         ctx.now_ms(), Limits(ctx), id);
  if (status == StreamObject::AppendStatus::kOk) return true;
  if (status == StreamObject::AppendStatus::kIdTooSmall) {
    ctx.reply.Error("The ID specified in XADD is equal or smaller than the target stream top item");
  } else {
    ctx.reply.Error("Elements are too large to be stored");
  }
  return false;
}

// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [...]
void CmdXAdd(CommandContext& ctx) {
  AddTrimArgs a;
  size_t idpos = ParseAddOrTrimArgs(ctx, true, &a);
  if (idpos == 0) return;
  size_t field_pos = idpos + 1;
  if (ctx.argc() < field_pos + 2 || (ctx.argc() - field_pos) % 2 == 1) return ctx.WrongArity();
  if (a.id_given && a.seq_given && a.id.IsZero()) {
    return ctx.reply.Error("The ID specified in XADD must be greater than 0-0");
  }
  std::string_view key = ctx.arg(1);
  bool wrong;
  StreamObject* s = LookupWrite(ctx, key, &wrong);
  if (wrong) return;
  bool created = s == nullptr;
  if (created) {
    if (a.no_mkstream) return ctx.reply.NullBulk();
    s = &Create(ctx, key);
  }
  StreamID id;
  if (!AppendEntry(ctx, *s, a, field_pos, &id)) {
    if (created) ctx.db.Delete(key);  // nothing was added: leave no empty key behind
    return;
  }
  ReplyId(ctx.reply, id);
  ctx.Notify('t', "xadd", key);
  ctx.Dirty();
  bool rewrite_trim = false;
  if (a.trim.strategy != StreamTrimSpec::Strategy::kNone) {
    if (s->Trim(a.trim) > 0) ctx.Notify('t', "xtrim", key);
    rewrite_trim = a.trim.approx;
  }
  ctx.KeyModified(key);
  if (!rewrite_trim && a.id_given && a.seq_given) return;
  std::vector<std::string> argv = ArgvCopy(ctx);
  if (rewrite_trim) RewriteApproxTrim(*s, a, &argv);
  if (!a.id_given || !a.seq_given) argv[idpos] = id.ToString();
  ctx.RewriteArgv(std::move(argv));
}

// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
void CmdXTrim(CommandContext& ctx) {
  AddTrimArgs a;
  if (ParseAddOrTrimArgs(ctx, false, &a) == 0) return;
  std::string_view key = ctx.arg(1);
  bool wrong;
  StreamObject* s = LookupWrite(ctx, key, &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Integer(0);
  int64_t deleted = s->Trim(a.trim);
  if (deleted > 0) {
    ctx.Notify('t', "xtrim", key);
    if (a.trim.approx) {
      std::vector<std::string> argv = ArgvCopy(ctx);
      RewriteApproxTrim(*s, a, &argv);
      ctx.RewriteArgv(std::move(argv));
    }
    ctx.KeyModified(key);
    ctx.Dirty(deleted);
  }
  ctx.reply.Integer(deleted);
}

// XLEN key
void CmdXLen(CommandContext& ctx) {
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(1), &wrong);
  if (wrong) return;
  ctx.reply.Integer(s == nullptr ? 0 : static_cast<int64_t>(s->length()));
}

// xrangeGenericCommand: XRANGE key start end [COUNT count], XREVRANGE key end start [COUNT count]
void RangeGeneric(CommandContext& ctx, bool rev) {
  StreamID start, end;
  if (!ParseRangeStart(ctx, ctx.arg(rev ? 3 : 2), &start)) return;
  if (!ParseRangeEnd(ctx, ctx.arg(rev ? 2 : 3), &end)) return;
  int64_t count = -1;
  for (size_t j = 4; j < ctx.argc(); j++) {
    if (!OptionIs(ctx.arg(j), "count") || j + 1 >= ctx.argc()) {
      return ctx.reply.Error(errors::kSyntax);
    }
    if (!ctx.ParseInt64(ctx.arg(++j), &count)) return;
    if (count < 0) count = 0;
  }
  bool wrong;
  StreamObject* s = LookupRead(ctx, ctx.arg(1), &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.ArrayHeader(0);
  if (count == 0) return ctx.reply.NullArray();
  ReplyRange(ctx.reply, *s, start, end, count == -1 ? 0 : static_cast<size_t>(count), rev);
}

// XRANGE key start end [COUNT count]
void CmdXRange(CommandContext& ctx) { RangeGeneric(ctx, false); }

// XREVRANGE key end start [COUNT count]
void CmdXRevRange(CommandContext& ctx) { RangeGeneric(ctx, true); }

// XDEL key id [id ...]
void CmdXDel(CommandContext& ctx) {
  std::string_view key = ctx.arg(1);
  bool wrong;
  StreamObject* s = LookupWrite(ctx, key, &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Integer(0);
  std::vector<StreamID> ids(ctx.argc() - 2);
  for (size_t j = 2; j < ctx.argc(); j++) {
    if (!ParseId(ctx, ctx.arg(j), 0, &ids[j - 2], true)) return;
  }
  int64_t deleted = 0;
  for (StreamID id : ids) deleted += s->Delete(id) ? 1 : 0;
  if (deleted > 0) {
    ctx.KeyModified(key);
    ctx.Notify('t', "xdel", key);
    ctx.Dirty(deleted);
  }
  ctx.reply.Integer(deleted);
}

// XSETID's options; false after replying an error.
bool ParseSetIdOptions(CommandContext& ctx, StreamID id, int64_t* entries_added,
                       StreamID* max_xdel_id) {
  for (size_t i = 3; i < ctx.argc(); i += 2) {
    bool more = i + 1 < ctx.argc();
    if (more && OptionIs(ctx.arg(i), "entriesadded")) {
      if (!ctx.ParseInt64(ctx.arg(i + 1), entries_added)) return false;
      if (*entries_added < 0) {
        ctx.reply.Error("entries_added must be positive");
        return false;
      }
    } else if (more && OptionIs(ctx.arg(i), "maxdeletedid")) {
      if (!ParseId(ctx, ctx.arg(i + 1), 0, max_xdel_id, true)) return false;
      if (id < *max_xdel_id) {
        ctx.reply.Error(
            "The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
        return false;
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
void CmdXSetId(CommandContext& ctx) {
  StreamID id, max_xdel_id;
  int64_t entries_added = -1;
  if (!ParseId(ctx, ctx.arg(2), 0, &id, true)) return;
  if (!ParseSetIdOptions(ctx, id, &entries_added, &max_xdel_id)) return;
  std::string_view key = ctx.arg(1);
  bool wrong;
  StreamObject* s = LookupWrite(ctx, key, &wrong);
  if (wrong) return;
  if (s == nullptr) return ctx.reply.Error(errors::kNoSuchKey);
  StreamID top;
  if (s->length() > 0 && s->LastEntryId(&top)) {
    if (id < top) {
      return ctx.reply.Error(
          "The ID specified in XSETID is smaller than the target stream top item");
    }
    if (entries_added != -1 && s->length() > static_cast<uint64_t>(entries_added)) {
      return ctx.reply.Error(
          "The entries_added specified in XSETID is smaller than the target stream length");
    }
  }
  s->set_last_id(id);
  if (entries_added != -1) s->set_entries_added(static_cast<uint64_t>(entries_added));
  if (!max_xdel_id.IsZero()) s->set_max_deleted_entry_id(max_xdel_id);
  ctx.reply.Ok();
  ctx.Dirty();  // Redis 7.0 does not signal the key: WATCH and blocked readers are not woken
  ctx.Notify('t', "xsetid", key);
}

}  // namespace

}  // namespace stream

void RegisterStreamCommands(CommandTable& table) {
  table.Register("xadd", stream::CmdXAdd);
  table.Register("xtrim", stream::CmdXTrim);
  table.Register("xlen", stream::CmdXLen);
  table.Register("xrange", stream::CmdXRange);
  table.Register("xrevrange", stream::CmdXRevRange);
  table.Register("xdel", stream::CmdXDel);
  table.Register("xsetid", stream::CmdXSetId);
  stream::RegisterStreamReadCommands(table);
  stream::RegisterStreamInfoCommands(table);
  stream::RegisterStreamGroupCommands(table);
}

}  // namespace docket::server
