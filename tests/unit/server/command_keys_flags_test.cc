// Tests for GetKeysAndFlagsFromSpecs (COMMAND GETKEYSANDFLAGS): every expectation is what
// redis-server 7.0.15 answered with the same arguments: the key spec's flags, or those its getkeys
// proc gives (SET, BITFIELD, SORT, MIGRATE; none for the numkeys and XREAD fallbacks).
// Depends on server/command_keys.h, server/command_meta.h and doctest.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/command_keys.h"
#include "server/command_meta.h"

namespace docket::server {
namespace {

using KeyFlags = std::vector<std::pair<std::string, std::string>>;

// The (key, flags) pairs for argv; argv[0] names the command, lowercase, no container.
KeyFlags Flags(std::initializer_list<std::string_view> args) {
  std::vector<std::string_view> argv(args);
  const CommandMeta* meta = FindCommandMeta(argv[0]);
  REQUIRE(meta != nullptr);
  std::vector<int> positions;
  std::vector<std::string_view> flags;
  KeyFlags out;
  if (!GetKeysAndFlagsFromSpecs(*meta, argv, &positions, &flags)) return out;
  REQUIRE(flags.size() == positions.size());
  for (size_t i = 0; i < positions.size(); i++) {
    out.emplace_back(std::string(argv[positions[i]]), std::string(flags[i]));
  }
  return out;
}

}  // namespace

TEST_CASE("key spec flags") {
  CHECK(Flags({"get", "a"}) == KeyFlags{{"a", "RO access"}});
  CHECK(Flags({"lmove", "a", "b", "left", "right"}) ==
        KeyFlags{{"a", "RW access delete"}, {"b", "RW insert"}});
  CHECK(Flags({"zunionstore", "d", "2", "a", "b"}) ==
        KeyFlags{{"d", "OW update"}, {"a", "RO access"}, {"b", "RO access"}});
  CHECK(Flags({"georadius", "k", "0", "0", "1", "km", "store", "d"}) ==
        KeyFlags{{"k", "RO access"}, {"d", "OW update"}});
  CHECK(Flags({"xread", "streams", "a", "b", "0", "0"}) ==
        KeyFlags{{"a", "RO access"}, {"b", "RO access"}});
}

TEST_CASE("variable flags: SET with GET, BITFIELD with SET or INCRBY") {
  CHECK(Flags({"set", "a", "b"}) == KeyFlags{{"a", "OW update"}});
  CHECK(Flags({"set", "a", "b", "GET"}) == KeyFlags{{"a", "RW access update"}});
  CHECK(Flags({"bitfield", "a", "get", "u8", "0"}) == KeyFlags{{"a", "RO access"}});
  CHECK(Flags({"bitfield", "a", "overflow", "wrap", "get", "u8", "0"}) ==
        KeyFlags{{"a", "RO access"}});
  CHECK(Flags({"bitfield", "a", "set", "u8", "0", "1"}) == KeyFlags{{"a", "RW access update"}});
  CHECK(Flags({"bitfield", "a", "foo"}) == KeyFlags{{"a", "RW access update"}});
}

TEST_CASE("getkeys procs") {
  CHECK(Flags({"sort", "a", "store", "b"}) == KeyFlags{{"a", "RO access"}, {"b", "OW update"}});
  CHECK(Flags({"migrate", "h", "p", "", "0", "0", "keys", "a", "b"}) ==
        KeyFlags{{"a", "RW access delete"}, {"b", "RW access delete"}});
  CHECK(Flags({"zunionstore", "d", "1abc", "a", "b"}) == KeyFlags{{"a", ""}, {"d", ""}});
  CHECK(Flags({"eval", "s", "1abc", "a"}) == KeyFlags{{"a", ""}});
  CHECK(Flags({"xreadgroup", "streams", "a", "b", "c", "d", "streams", "x"}) ==
        KeyFlags{{"a", ""}, {"b", ""}, {"c", ""}});
}

}  // namespace docket::server
