// Pieces shared by the consumer-group command files (cmd_stream_group*.cc): PEL and consumer
// operations with Redis 7.0's bookkeeping (t_stream.c streamCreateConsumer, the PEL part of
// streamReplyWithRange, XACK's removal), the propagation of group state as Redis writes it
// (streamPropagateXCLAIM / GroupID / ConsumerCreation), and the NOGROUP error texts.
// Depends on server/cmd_stream.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/cmd_stream.h"

namespace docket::server::stream {

// What a group command propagates instead of its own argv: Redis's alsoPropagate calls, which
// go out as one MULTI ... EXEC unit when there are several.
class GroupPropagation {
 public:
  // XCLAIM key group <owner> 0 id TIME <delivery> RETRYCOUNT <count> FORCE JUSTID LASTID <last>.
  void XClaim(std::string_view key, std::string_view group, std::string_view id,
              const StreamNack& nack, const StreamGroup& g);
  // XGROUP SETID key group <last-id> ENTRIESREAD <entries-read>.
  void SetId(std::string_view key, std::string_view group, const StreamGroup& g);
  // XGROUP CREATECONSUMER key group consumer.
  void CreateConsumer(std::string_view key, std::string_view group, std::string_view consumer);
  bool empty() const { return cmds_.empty(); }
  // Hands the commands to ctx (marks it dirty): the first replaces argv, the others follow.
  void Flush(CommandContext& ctx);

 private:
  std::vector<std::vector<std::string>> cmds_;
};

// streamCreateConsumer: creates the consumer (seen now), sends xgroup-createconsumer and counts
// a change; nullptr when it exists already.
StreamConsumer* CreateConsumer(CommandContext& ctx, StreamGroup& g, std::string_view key,
                               std::string_view name);
// streamLookupConsumer(SLC_DEFAULT), else streamCreateConsumer: the consumer, seen now.
// *created tells whether it was made.
StreamConsumer* LookupOrCreateConsumer(CommandContext& ctx, StreamGroup& g, std::string_view key,
                                       std::string_view name, bool* created);

// The PEL part of streamReplyWithRange: id is delivered to c for the first time. A NACK that
// another consumer (or c) held moves to c with its counter reset to 1.
StreamNack& Deliver(StreamGroup& g, StreamConsumer& c, StreamID id, int64_t now_ms);
// Hands an existing NACK (c may be nullptr for one made by XCLAIM FORCE) to c.
void MoveNack(StreamNack& nack, StreamID id, StreamConsumer& c);
// Removes id from the group PEL and its owner's. False when it was not pending.
bool RemoveNack(StreamGroup& g, StreamID id);

// The entry id as [id, [field, value, ...]]; false (nothing sent) when it is not in the stream.
bool ReplyEntryById(protocol::ReplyWriter& reply, const StreamObject& s, StreamID id);

// "-NOGROUP No such key '<key>' or consumer group '<group>'" (XCLAIM, XAUTOCLAIM, XPENDING).
std::string NoKeyOrGroupError(std::string_view key, std::string_view group);
// "-NOGROUP No such consumer group '<group>' for key name '<key>'" (XGROUP, XINFO CONSUMERS).
std::string NoGroupForKeyError(std::string_view key, std::string_view group);

// XREADGROUP (cmd_stream_group_read.cc) and XCLAIM / XAUTOCLAIM (cmd_stream_group_claim.cc).
void RegisterStreamGroupReadCommands(CommandTable& table);
void RegisterStreamGroupClaimCommands(CommandTable& table);

}  // namespace docket::server::stream
