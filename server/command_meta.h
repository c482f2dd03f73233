// Redis 7.0 command metadata: arity, flags, key specs and the exact COMMAND INFO / COMMAND DOCS
// reply bytes of every command and subcommand, generated from redis-server by
// tools/gen_command_meta.py into command_meta.inc. Depends on the C++ standard library only.
#ifndef DOCKET_SERVER_COMMAND_META_H_
#define DOCKET_SERVER_COMMAND_META_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace docket::server {

// One Redis 7 key spec, as COMMAND INFO reports it. Fields of the begin_search / find_keys kinds
// that do not apply are 0 (or empty).
struct KeySpecMeta {
  enum class Begin : uint8_t { kUnknown, kIndex, kKeyword };
  enum class Find : uint8_t { kUnknown, kRange, kKeynum };
  Begin begin;
  int index;                 // kIndex: position of the first key
  std::string_view keyword;  // kKeyword: keyword (uppercase) the keys follow
  int startfrom;             // kKeyword: where the search starts; negative counts from the end
  Find find;
  int lastkey, keystep, limit;           // kRange
  int keynumidx, firstkey, keynum_step;  // kKeynum, relative to the begin_search position
  std::string_view flags;                // Redis names, space separated: "RW access delete"
};

// All string_views point to static storage.
struct CommandMeta {
  std::string_view name;              // lowercase; subcommands as "config|get"
  int arity;                          // N exact, -N at least N (name included; "config|get" too)
  std::string_view flags;             // Redis flag names, space separated: "write denyoom fast"
  std::string_view acl_categories;    // "@write @string @slow"
  int first_key, last_key, key_step;  // legacy range from COMMAND INFO
  const KeySpecMeta* key_specs;       // key_spec_count entries, or nullptr
  int key_spec_count;
  bool movablekeys;  // the "movablekeys" flag is present
  // COMMAND INFO entry elements 1..9 (name .. key specs) concatenated, without the "*10\r\n"
  // header and without the 10th element (subcommands). The full entry is
  //   "*10\r\n" + info + kEmptySubcommands{Resp2,Resp3}            (no subcommands)
  //   "*10\r\n" + info + "*<n>\r\n" + n full subcommand entries     (both protocols use '*')
  std::string_view info_resp2, info_resp3;
  // COMMAND DOCS: the map pairs (key + value bytes) other than "subcommands", and their number.
  // The doc map is "*<2*pairs>\r\n" (RESP2) or "%<pairs>\r\n" (RESP3) + docs; a command with
  // subcommands counts one pair more and appends "$11\r\nsubcommands\r\n" + a map of
  // name bulk -> that subcommand's doc map, in the same two encodings.
  int docs_pairs;
  std::string_view docs_resp2, docs_resp3;
};

// The 10th COMMAND INFO element of an entry without subcommands (Redis sends an empty set).
inline constexpr std::string_view kEmptySubcommandsResp2 = "*0\r\n";
inline constexpr std::string_view kEmptySubcommandsResp3 = "~0\r\n";

// Every Redis 7.0 command and subcommand, sorted by name (so "config" is followed directly by
// its "config|..." subcommands).
std::span<const CommandMeta> AllCommandMeta();

// The entry for "get" or "config|get" (lowercase), or nullptr.
const CommandMeta* FindCommandMeta(std::string_view lowercase_name);

// The "parent|..." entries of a container command, sorted by name; empty if it has none.
std::span<const CommandMeta> SubcommandMeta(std::string_view lowercase_parent);

}  // namespace docket::server

#endif  // DOCKET_SERVER_COMMAND_META_H_
