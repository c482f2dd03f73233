// Helpers shared by the sorted-set command files (cmd_zset.cc, cmd_zset_range.cc): range parsing
// with Redis's rules, result replies, creation and deletion of zset keys. Depends on server/,
// storage/zset.h.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/errors.h"
#include "server/command.h"
#include "storage/zset.h"

namespace docket::server::zset {

namespace errors = protocol::errors;
using storage::Value;
using storage::ValueType;
using storage::ZLexRange;
using storage::ZScoreRange;
using storage::ZSetObject;
using Node = ZSetObject::Node;

inline constexpr std::string_view kMinMaxNotFloat = "min or max is not a float";
inline constexpr std::string_view kMinMaxNotLex = "min or max not valid string range item";
inline constexpr std::string_view kNanResult = "resulting score is not a number (NaN)";

inline ZSetObject& AsZSet(Value* v) { return v->As<ZSetObject>(); }
// zset-max-listpack-entries / -value as configured.
storage::ZSetLimits Limits(CommandContext& ctx);
// zsetTypeCreate + dbAdd: a skiplist from the start when the hints pass the listpack limits.
Value& CreateZSet(CommandContext& ctx, std::string_view key, size_t size_hint, size_t len_hint);
// zsetConvertToListpackIfNeeded for a freshly built set: the configured limits, every member.
void CheckConvert(CommandContext& ctx, ZSetObject& z);
// zslParseRange / zslParseLexRange; false on a bad item (no reply).
bool ParseScoreRange(std::string_view min, std::string_view max, ZScoreRange* r);
bool ParseLexRange(std::string_view min, std::string_view max, ZLexRange* r);
// Members (and scores: flat in RESP2, pairs in RESP3) as an array.
void ReplyEntries(CommandContext& ctx, const std::vector<Node*>& nodes, bool withscores);

}  // namespace docket::server::zset
