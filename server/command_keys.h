// Key positions of a command's arguments, found from its Redis 7 key specs as Redis 7.0's
// getKeysFromCommandWithSpecs does (including the few getkeys procs it falls back to).
// Depends on server/command_meta.h and the C++ standard library.
#ifndef DOCKET_SERVER_COMMAND_KEYS_H_
#define DOCKET_SERVER_COMMAND_KEYS_H_

#include <span>
#include <string_view>
#include <vector>

#include "server/command_meta.h"

namespace docket::server {

// True if the command can have key arguments: it has a key spec not flagged "not_key".
// COMMAND GETKEYS answers "-ERR The command has no key arguments" when false.
bool CommandHasKeys(const CommandMeta& meta);

// Fills *positions with the indexes in argv of the key arguments, in Redis's order (spec by spec;
// for SORT ... STORE, MIGRATE ... KEYS and XREAD the way Redis's getkeys procs order them).
// argv is the whole command, name first: {"object", "encoding", "k"} for meta "object|encoding".
// REQUIRES: argv.size() satisfies meta.arity (Redis checks arity first); any argv is memory-safe.
// Returns false, with *positions empty, when no keys can be extracted: a spec that does not fit
// argv (numkeys not a number, negative or past the end; a range past the end) and no fallback
// that finds keys. Redis reports 0 keys in that case. COMMAND GETKEYS then answers
//   "-ERR Invalid arguments specified for command"   (also when true with no positions),
// or an empty array if meta.flags has "no_mandatory_keys" (EVAL, FCALL with numkeys 0).
// Its other errors: "-ERR Invalid command specified" (no such command or subcommand) and
// "-ERR Invalid number of arguments specified for command" (arity), checked before this.
[[nodiscard]] bool GetKeysFromSpecs(const CommandMeta& meta, std::span<const std::string_view> argv,
                                    std::vector<int>* positions);

// GetKeysFromSpecs plus one entry in *flags per position: the key's flags as COMMAND
// GETKEYSANDFLAGS reports them (Redis's names, space separated, as in KeySpecMeta::flags): its
// key spec's, or those Redis's getkeys proc gives it (SORT, MIGRATE, SET, BITFIELD; none for
// the numkeys commands' and XREAD's fallbacks).
[[nodiscard]] bool GetKeysAndFlagsFromSpecs(const CommandMeta& meta,
                                            std::span<const std::string_view> argv,
                                            std::vector<int>* positions,
                                            std::vector<std::string_view>* flags);

}  // namespace docket::server

#endif  // DOCKET_SERVER_COMMAND_KEYS_H_
