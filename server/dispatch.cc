// Command dispatch, in Redis's processCommand order: lookup, rejection (unknown command, arity,
// auth, context), CLIENT PAUSE, MULTI queueing, then Call (the handler, stats, slowlog, latency,
// propagation, MONITOR).
#include <algorithm>
#include <chrono>
#include <cstring>

#include "protocol/errors.h"
#include "server/aof.h"
#include "server/log.h"
#include "server/scripting.h"
#include "server/server.h"

namespace docket::server {
namespace {

// Redis's resetClient: CLIENT REPLY SKIP mutes exactly the command after it, even when the SKIP
// itself was muted by an earlier one.
void ResetReplySkip(Client& c) {
  c.Clear(kClientReplySkip);
  if (c.Has(kClientReplySkipNext)) {
    c.Clear(kClientReplySkipNext);
    c.Set(kClientReplySkip);
  }
}

}  // namespace

// The dispatch path, in processCommand's order.
bool Server::ProcessCommand(Client& c, std::span<const std::string_view> argv) {
  keyspace_->set_now_ms(NowMs());
  bool sub_unknown;
  CommandSpec* spec = commands_.Lookup(argv, &sub_unknown);
  // As Redis, CLIENT LIST's cmd= names even a rejected command ("NULL" when unknown).
  c.last_cmd = spec != nullptr && !sub_unknown ? std::string_view(spec->fullname) : "NULL";
  // A rejection is a reply like any other: CLIENT REPLY OFF / SKIP mute it.
  std::string discarded;
  if (c.Has(kClientReplyOff) || c.Has(kClientReplySkip)) c.reply().set_buffer(&discarded);
  bool rejected = RejectCommand(c, argv, spec, sub_unknown);
  c.reply().set_buffer(&c.out());
  if (rejected) {
    if (c.Has(kClientMulti)) c.Set(kClientDirtyExec);  // Redis's flagTransaction
    c.commands_processed++;
    ResetReplySkip(c);
    return true;
  }
  if ((IsPausedFor(*spec) || (paused() && IsExecCommand(*spec) && IsPausedForTransaction(c))) &&
      !c.Has(kClientMonitor)) {
    PauseClient(c);
    return false;
  }
  if (c.Has(kClientMulti) && !RunsInsideMulti(*spec)) {
    if (c.Has(kClientReplyOff) || c.Has(kClientReplySkip)) c.reply().set_buffer(&discarded);
    QueueMultiCommand(c, *spec, argv);
    c.reply().set_buffer(&c.out());
    c.commands_processed++;
    ResetReplySkip(c);
    return true;
  }
  Call(c, *spec, argv);
  ResetReplySkip(c);
  // Clients blocked on keys this command made ready are served now, before the next command.
  // Not while a script runs long and this was another client's allow-busy command: the keys it
  // touched are served when it ends.
  if (blocking_.HasReadyKeys() && !c.Has(kClientMulti) && !scripting_->running()) {
    blocking_.HandleReadyKeys();
  }
  return true;
}

bool Server::RejectCommand(Client& c, std::span<const std::string_view> argv, CommandSpec* spec,
                           bool sub_unknown) {
  protocol::ReplyWriter& reply = c.reply();
  if (spec == nullptr) {
    // Redis formats these with "%.128s" from C strings: a NUL ends the text.
    auto c_str = [](std::string_view s, size_t max) {
      return s.substr(0, std::min(max, s.find('\0')));
    };
    std::string args;
    for (size_t i = 1; i < argv.size() && args.size() < 128; i++) {
      size_t room = 128 - args.size();
      args += "'" + std::string(c_str(argv[i], room)) + "' ";
    }
    std::string name(c_str(argv[0], 128));
    reply.Error("unknown command '" + name + "', with args beginning with: " + args);
    return true;
  }
  if (sub_unknown) {
    std::string parent = spec->name;
    for (char& ch : parent) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    std::string_view sub = argv[1].substr(0, std::min<size_t>(128, argv[1].find('\0')));
    // Not counted: Redis's rejectCommand has no command for an unknown subcommand.
    reply.Error("unknown subcommand '" + std::string(sub) + "'. Try " + parent + " HELP.");
    return true;
  }
  if (!spec->ArityOk(argv.size()) && IsExecCommand(*spec)) {
    // As Redis's rejectCommand, with or without MULTI (the only refusal EXEC can meet here).
    AbortExec(c, argv, "wrong number of arguments for 'exec' command");
    spec->stats.rejected_calls++;
    return true;
  }
  if (!spec->ArityOk(argv.size()) || (spec->handler == nullptr)) {
    reply.Error("wrong number of arguments for '" + spec->fullname + "' command");
    spec->stats.rejected_calls++;
    return true;
  }
  // Redis's protected-command check (DEBUG and enable-debug-command), before authentication.
  if (spec->name == "debug" && config().enable_debug_command != "yes" &&
      (config().enable_debug_command != "local" || !c.IsLoopback())) {
    reply.Error(
        "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
        "can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server.");
    spec->stats.rejected_calls++;
    return true;
  }
  // As Redis's authRequired: a client that never authenticated needs no AUTH once requirepass
  // is cleared by CONFIG SET.
  if (!c.authenticated() && !config().requirepass.empty() && !spec->Has(kCmdNoAuth)) {
    reply.Error(protocol::errors::kNoAuth);
    spec->stats.rejected_calls++;
    return true;
  }
  if (c.Has(kClientMulti) && spec->Has(kCmdNoMulti)) {
    reply.Error("Command not allowed inside a transaction");
    spec->stats.rejected_calls++;
    return true;
  }
  // Redis's writeCommandsDeniedByDiskError: while the AOF cannot be written, writes (and PING,
  // and an EXEC with queued writes) are refused.
  if (spec->Has(kCmdWrite) || spec->name == "ping" || IsExecCommand(*spec)) {
    bool is_write = !IsExecCommand(*spec) ||
                    std::any_of(c.multi_queue.begin(), c.multi_queue.end(),
                                [](const QueuedCommand& q) { return q.spec->Has(kCmdWrite); });
    if (std::string err = is_write ? aof_->WriteErrorReply() : ""; !err.empty()) {
      if (IsExecCommand(*spec)) {
        AbortExec(c, argv, std::string_view(err).substr(1));
      } else {
        reply.Error(err);
      }
      spec->stats.rejected_calls++;
      return true;
    }
  }
  if (c.Has(kClientPubsub) && c.resp() == 2) {
    static const std::string_view kAllowed[] = {"ping",         "subscribe",    "ssubscribe",
                                                "unsubscribe",  "sunsubscribe", "psubscribe",
                                                "punsubscribe", "quit",         "reset"};
    std::string_view top = spec->parent != nullptr ? spec->parent->name : spec->name;
    if (std::find(std::begin(kAllowed), std::end(kAllowed), top) == std::end(kAllowed)) {
      reply.Error(
          Format("Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                 "QUIT / RESET are allowed in this context",
                 spec->fullname.c_str()));
      spec->stats.rejected_calls++;
      return true;
    }
  }
  // Redis's "Loading DB?" check: while the AOF loads, only CMD_LOADING commands run.
  if (aof_->loading() && !aof_->IsLoadingClient(c) && !spec->Has(kCmdLoading)) {
    reply.Error(protocol::errors::kLoading);
    spec->stats.rejected_calls++;
    return true;
  }
  // A script running past busy-reply-threshold: only allow-busy commands (SCRIPT KILL, ...).
  if (scripting_->busy() && !spec->Has(kCmdAllowBusy)) {
    if (IsExecCommand(*spec)) {
      AbortExec(c, argv, scripting_->BusyError().substr(1));  // as Redis's rejectCommand
    } else {
      reply.Error(scripting_->BusyError());
    }
    spec->stats.rejected_calls++;
    return true;
  }
  // A MONITOR client is a replica to Redis: it may not touch the keyspace.
  if (c.Has(kClientMonitor) &&
      (spec->Has(kCmdWrite) || spec->Has(kCmdReadonly) || spec->Has(kCmdMayReplicate))) {
    reply.Error("Replica can't interact with the keyspace");
    spec->stats.rejected_calls++;
    return true;
  }
  return false;
}

void Server::Call(Client& c, const CommandSpec& spec, std::span<const std::string_view> argv,
                  bool reprocessing, std::string_view ready_key) {
  int64_t start = NowUs();
  uint64_t errors_before = c.reply().errors();
  errors_mark_ = stats_.total_error_replies;
  std::string discarded;
  bool muted = c.Has(kClientReplyOff) || c.Has(kClientReplySkip);
  if (muted) c.reply().set_buffer(&discarded);
  storage::Database& db = keyspace_->db(c.db_index());
  CommandContext ctx(*this, c, argv, c.reply(), db, spec);
  ctx.reprocessing = reprocessing;
  ctx.ready_key = ready_key;
  spec.handler(ctx);
  c.reply().set_buffer(&c.out());
  int64_t duration = NowUs() - start;

  c.last_cmd = spec.fullname;
  if (!reprocessing) {  // a served blocked command was counted when it first ran
    c.commands_processed++;
    stats_.commands_processed++;
    spec.stats.calls++;
  }
  spec.stats.usec += duration;
  // As Redis's incrCommandStatsOnError: errors since the last call ended, so that EXEC does not
  // count its queued commands' errors as its own.
  if (c.reply().errors() > errors_before && stats_.total_error_replies > errors_mark_) {
    spec.stats.failed_calls++;
  }
  errors_mark_ = stats_.total_error_replies;
  std::vector<std::string_view> shown;  // argv with passwords hidden, for slowlog and monitor
  if (ctx.redacted != 0) {
    shown.assign(argv.begin(), argv.end());
    for (size_t i = 0; i < shown.size() && i < 64; i++) {
      if (ctx.redacted & (uint64_t{1} << i)) shown[i] = "(redacted)";
    }
    argv = shown;
  }
  // Thresholds first: most commands are fast, and the clock read is not free.
  int64_t slower_than = config().slowlog_log_slower_than;
  if (!spec.Has(kCmdSkipSlowlog) && slower_than >= 0 && duration >= slower_than) {
    slowlog_.Maybe(argv, duration, slower_than, static_cast<size_t>(config().slowlog_max_len),
                   NowMs() / 1000, c.addr(), c.name());
  }
  int64_t latency_threshold = config().latency_monitor_threshold;
  if (latency_threshold > 0 && duration / 1000 >= latency_threshold) {
    latency_.Maybe(spec.Has(kCmdFast) ? "fast-command" : "command", duration / 1000,
                   latency_threshold, NowMs() / 1000);
  }
  // A command that propagates several commands (SPOP with a count as SREMs) sends them as one
  // MULTI ... EXEC unit, as Redis 7.0's propagatePendingCommands; inside EXEC the transaction
  // already is that unit.
  size_t propagated = (ctx.dirty > 0 ? 1 : 0) + ctx.extra.size();
  bool wrap = propagated > 1 && !exec_propagation_.collecting();
  if (wrap) {
    std::string_view multi[] = {"MULTI"};
    Propagate(db.index(), multi);
  }
  if (ctx.dirty > 0) {
    dirty_ += ctx.dirty;
    if (ctx.rewritten.empty()) {
      Propagate(db.index(), ctx.argv);
    } else {
      std::vector<std::string_view> views(ctx.rewritten.begin(), ctx.rewritten.end());
      Propagate(db.index(), views);
    }
  }
  for (const auto& extra : ctx.extra) {
    std::vector<std::string_view> views(extra.begin(), extra.end());
    Propagate(db.index(), views);
  }
  if (wrap) {
    std::string_view exec[] = {"EXEC"};
    Propagate(db.index(), exec);
  }
  aof_->TagReply(c, ctx.dirty > 0);
  if (!monitors_.empty() && !reprocessing && !spec.Has(kCmdSkipMonitor) && !spec.Has(kCmdAdmin)) {
    FeedMonitors(c, c.db_index(), argv);
  }
}

void Server::FeedMonitors(Client& c, int db, std::span<const std::string_view> argv) {
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string from = c.Has(kClientUnixSocket) ? "unix:" + config().unixsocket : c.addr();
  std::string line = Format("%lld.%06lld [%d %s]", static_cast<long long>(now_us / 1000000),
                            static_cast<long long>(now_us % 1000000), db, from.c_str());
  for (std::string_view a : argv) {
    line += " \"";
    for (unsigned char ch : a) {
      switch (ch) {
        case '\\':
          line += "\\\\";
          break;
        case '"':
          line += "\\\"";
          break;
        case '\n':
          line += "\\n";
          break;
        case '\r':
          line += "\\r";
          break;
        case '\t':
          line += "\\t";
          break;
        case '\a':
          line += "\\a";
          break;
        case '\b':
          line += "\\b";
          break;
        default:
          if (isprint(ch)) {
            line.push_back(static_cast<char>(ch));
          } else {
            line += Format("\\x%02x", ch);
          }
      }
    }
    line += "\"";
  }
  for (uint64_t id : monitors_) {
    Client* m = FindClient(id);
    if (m == nullptr) continue;  // as Redis, a monitor sees its own commands too
    m->reply().Simple(line);
    QueueWrite(*m);
  }
}

}  // namespace docket::server
