// The list family's blocking commands (t_list.c): BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH. With
// data they act as their non-blocking forms and propagate as those; without, they block (or, in
// MULTI, give the timeout reply at once). A blocked client's command is run again when a key it
// waits on changes. Depends on server/ (blocking.h, cmd_list.h), storage/list.h.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/errors.h"
#include "server/blocking.h"
#include "server/cmd_list.h"
#include "server/command.h"

namespace docket::server::list_family {
namespace {

namespace errors = protocol::errors;
using storage::ListObject;
using storage::Value;
using storage::ValueType;

// Nothing to serve: block (a re-run keeps its place), or reply the timeout reply at once when the
// client may not block (MULTI): a null array, or a null bulk for BLMOVE and BRPOPLPUSH.
void BlockOrReplyNull(CommandContext& ctx, std::span<const std::string_view> keys,
                      int64_t deadline_ms, bool null_bulk) {
  if (ctx.reprocessing || ctx.CanBlock()) return ctx.Block(keys, deadline_ms);
  null_bulk ? ctx.reply.NullBulk() : ctx.reply.NullArray();
}

// The list under key for a blocking command, or nullptr when there is none to pop from. Another
// type is WRONGTYPE (*wrong set) when the command first runs; a blocked client's re-run skips it,
// as Redis 7.0 serves a blocked client only from a list.
ListObject* BlockingSource(CommandContext& ctx, std::string_view key, bool* wrong) {
  *wrong = false;
  Value* v = ctx.LookupWrite(key);
  if (v == nullptr) return nullptr;
  if (v->type() != ValueType::kList) {
    if (ctx.reprocessing) return nullptr;
    *wrong = true;
    ctx.reply.Error(errors::kWrongType);
    return nullptr;
  }
  ListObject& list = v->As<ListObject>();
  return list.empty() ? nullptr : &list;
}

// blockingPopGenericCommand: pops from the first non-empty list among keys. count -1 is BLPOP /
// BRPOP's [key, element] reply, propagated as LPOP/RPOP key; otherwise BLMPOP's [key, elements].
void BlockingPop(CommandContext& ctx, std::span<const std::string_view> keys, End where,
                 size_t timeout_idx, int64_t count) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.arg(timeout_idx), &deadline_ms)) return;
  for (std::string_view key : keys) {
    if (!ctx.ready_key.empty() && key != ctx.ready_key) continue;  // served from the woken key
    bool wrong;
    ListObject* list = BlockingSource(ctx, key, &wrong);
    if (wrong) return;
    if (list == nullptr) continue;
    if (count != -1) return PopRangeReplyWithKey(ctx, key, *list, where, count);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(key);
    ctx.reply.Bulk(where == End::kHead ? list->PopFront() : list->PopBack());
    ElementsRemoved(ctx, key, where, *list, 1);
    ctx.RewriteArgv({where == End::kHead ? "LPOP" : "RPOP", std::string(key)});
    return;
  }
  BlockOrReplyNull(ctx, keys, deadline_ms, false);
}

// BLPOP key [key ...] timeout
void CmdBLPop(CommandContext& ctx) {
  BlockingPop(ctx, ctx.argv.subspan(1, ctx.argc() - 2), End::kHead, ctx.argc() - 1, -1);
}

// BRPOP key [key ...] timeout
void CmdBRPop(CommandContext& ctx) {
  BlockingPop(ctx, ctx.argv.subspan(1, ctx.argc() - 2), End::kTail, ctx.argc() - 1, -1);
}

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
void CmdBLMPop(CommandContext& ctx) {
  MpopArgs args;
  if (!ParseMpopArgs(ctx, 2, &args)) return;
  BlockingPop(ctx, args.keys, args.where, 1, args.count);
}

std::string EndName(End end) { return end == End::kHead ? "left" : "right"; }

// blmoveGenericCommand: LMOVE when the source has elements, else block on the source. A served
// BLMOVE propagates as LMOVE, a BRPOPLPUSH as RPOPLPUSH.
void BlockingMove(CommandContext& ctx, End from, End to, int64_t deadline_ms) {
  bool wrong;
  ListObject* list = BlockingSource(ctx, ctx.arg(1), &wrong);
  if (wrong) return;
  if (list == nullptr) return BlockOrReplyNull(ctx, ctx.argv.subspan(1, 1), deadline_ms, true);
  if (!MoveGeneric(ctx, from, to)) return;
  std::string src(ctx.arg(1)), dst(ctx.arg(2));
  if (ctx.argc() == 4) return ctx.RewriteArgv({"RPOPLPUSH", src, dst});
  if (ctx.reprocessing) return ctx.RewriteArgv({"LMOVE", src, dst, EndName(from), EndName(to)});
  ctx.RewriteArgv({"LMOVE", src, dst, std::string(ctx.arg(3)), std::string(ctx.arg(4))});
}

// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
void CmdBLMove(CommandContext& ctx) {
  End from, to;
  if (!ParseEnd(ctx, ctx.arg(3), &from) || !ParseEnd(ctx, ctx.arg(4), &to)) return;
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.arg(5), &deadline_ms)) return;
  BlockingMove(ctx, from, to, deadline_ms);
}

// BRPOPLPUSH source destination timeout
void CmdBRPopLPush(CommandContext& ctx) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.arg(3), &deadline_ms)) return;
  BlockingMove(ctx, End::kTail, End::kHead, deadline_ms);
}

}  // namespace

void RegisterBlockingListCommands(CommandTable& table) {
  table.Register("blpop", CmdBLPop);
  table.Register("brpop", CmdBRPop);
  table.Register("blmpop", CmdBLMPop);
  table.Register("blmove", CmdBLMove);
  table.Register("brpoplpush", CmdBRPopLPush);
}

}  // namespace docket::server::list_family
