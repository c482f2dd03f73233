// Helpers shared by the stream command files (cmd_stream*.cc, and the consumer-group commands in
// cmd_stream_group.cc): stream id parsing with Redis's rules (t_stream.c streamParseID*), entry
// and range replies, stream key lookup/creation and the node limits from the config.
// Depends on server/, storage/stream.h.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/errors.h"
#include "server/command.h"
#include "storage/stream.h"

namespace docket::server::stream {

using storage::StreamConsumer;
using storage::StreamGroup;
using storage::StreamID;
using storage::StreamNack;
using storage::StreamObject;

inline constexpr std::string_view kInvalidId =
    "Invalid stream ID specified as stream command argument";

// stream-node-max-bytes / stream-node-max-entries as configured.
storage::StreamLimits Limits(CommandContext& ctx);

// streamGenericParseIDOrReply: "-" (0-0) and "+" (max) unless strict, "<ms>" (seq =
// missing_seq, *seq_given false), "<ms>-<seq>", and with strict "<ms>-*" (seq_given false).
// Replies kInvalidId and returns false on anything else.
bool ParseId(CommandContext& ctx, std::string_view arg, uint64_t missing_seq, StreamID* id,
             bool strict = false, bool* seq_given = nullptr);
// As ParseId without a reply (false on bad input).
bool ParseIdNoReply(std::string_view arg, uint64_t missing_seq, StreamID* id, bool strict,
                    bool* seq_given);
// streamParseIntervalIDOrReply: an id that may start with '(' (exclusive); *exclude tells which.
// "(-" and "(+" are invalid. Replies kInvalidId on bad input.
bool ParseIntervalId(CommandContext& ctx, std::string_view arg, uint64_t missing_seq, StreamID* id,
                     bool* exclude);
// A range's start (missing seq 0) / end (missing seq max) as XRANGE and XPENDING take them: an
// exclusive bound is moved to the next / previous id, replying "invalid start ID for the
// interval" / "invalid end ID for the interval" when it cannot be.
bool ParseRangeStart(CommandContext& ctx, std::string_view arg, StreamID* id);
bool ParseRangeEnd(CommandContext& ctx, std::string_view arg, StreamID* id);

// The stream id as a bulk string.
void ReplyId(protocol::ReplyWriter& reply, StreamID id);
// One entry: [id, [field, value, ...]].
void ReplyEntry(protocol::ReplyWriter& reply, StreamID id,
                std::span<const std::string_view> field_values);
// Entries of [start, end] (descending with rev), at most count (0 = all), as an array. Returns
// how many were sent.
size_t ReplyRange(protocol::ReplyWriter& reply, const StreamObject& s, StreamID start, StreamID end,
                  size_t count, bool rev);

// The stream under key for reading / writing: nullptr when missing, or (with *wrong set and the
// WRONGTYPE reply sent) when the key holds another type.
StreamObject* LookupRead(CommandContext& ctx, std::string_view key, bool* wrong);
StreamObject* LookupWrite(CommandContext& ctx, std::string_view key, bool* wrong);
// Creates an empty stream under key (dbAdd; key must be absent).
StreamObject& Create(CommandContext& ctx, std::string_view key);

// streamReplyWithCGLag: the group's lag (XINFO GROUPS, XINFO STREAM FULL), or a null when it
// cannot be known.
void ReplyLag(protocol::ReplyWriter& reply, const StreamObject& s, const StreamGroup& g);

// XINFO GROUPS key / XINFO CONSUMERS key group: defined with the consumer-group commands.
void CmdXInfoGroups(CommandContext& ctx);
void CmdXInfoConsumers(CommandContext& ctx);
// XINFO STREAM key FULL's "groups" part: every group with its PEL and consumers, each PEL at
// most count entries (0 = all). Defined in cmd_stream_info.cc.
void ReplyFullGroups(CommandContext& ctx, const StreamObject& s, size_t count);

// The consumer-group commands (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO
// GROUPS / CONSUMERS); called by RegisterStreamCommands.
// BLOCK <ms> of XREAD / XREADGROUP (getTimeoutFromObjectOrReply, UNIT_MILLISECONDS): the
// deadline, 0 for ever; false after replying the error.
bool ParseMsTimeout(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms);

void RegisterStreamGroupCommands(CommandTable& table);
// XREAD (cmd_stream_read.cc).
void RegisterStreamReadCommands(CommandTable& table);
// XINFO STREAM / HELP (cmd_stream_info.cc).
void RegisterStreamInfoCommands(CommandTable& table);

}  // namespace docket::server::stream
