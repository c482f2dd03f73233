// Shared pieces of the list command family (cmd_list.cc, cmd_list_blocking.cc): list ends, the
// housekeeping after elements leave a list, the LMOVE core and LMPOP's argument parser, as
// Redis's t_list.c helpers. Depends on server/command.h and storage/list.h.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "server/command.h"
#include "storage/list.h"

namespace docket::server::list_family {

enum class End { kHead, kTail };  // Redis's LIST_HEAD (LEFT) and LIST_TAIL (RIGHT)

// getListPositionFromObjectOrReply: "left" or "right" (any case); replies "syntax error" else.
bool ParseEnd(CommandContext& ctx, std::string_view arg, End* end);

// getRangeLongFromObjectOrReply with a message: an integer in [min, max], or replies msg.
bool RangeOrReply(CommandContext& ctx, std::string_view arg, int64_t min, int64_t max,
                  std::string_view msg, int64_t* out);

// listElementsRemoved: after count elements left key's list from `where`: the lpop/rpop event,
// the key deleted (with a `del` event) when the list is empty, modified-key signal, dirty count.
// The list must not be used afterwards (it may have been freed).
void ElementsRemoved(CommandContext& ctx, std::string_view key, End where,
                     storage::ListObject& list, int64_t count);

// listPopRangeAndReplyWithKey: pops up to count elements from `where`, replies [key, [elements]],
// and propagates the pop as "LPOP|RPOP key n" (LMPOP and BLMPOP).
void PopRangeReplyWithKey(CommandContext& ctx, std::string_view key, storage::ListObject& list,
                          End where, int64_t count);

// lmoveGenericCommand for argv [cmd, source, destination, ...]: moves one element and replies
// it, replies null when source is missing, WRONGTYPE when either key holds another type.
// Returns true when an element moved.
bool MoveGeneric(CommandContext& ctx, End from, End to);

// Arguments of LMPOP / BLMPOP, parsed in lmpopGenericCommand's order: numkeys, the keys, LEFT or
// RIGHT, then at most one COUNT.
struct MpopArgs {
  std::span<const std::string_view> keys;
  End where = End::kHead;
  int64_t count = 1;
};
bool ParseMpopArgs(CommandContext& ctx, size_t numkeys_idx, MpopArgs* out);

// BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (cmd_list_blocking.cc).
void RegisterBlockingListCommands(CommandTable& table);

}  // namespace docket::server::list_family
