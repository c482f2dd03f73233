// Tests for server/command_keys: every expectation is what redis-server 7.0.15 answered to
// COMMAND GETKEYS with the same arguments (copied from its replies, errors included).
// Depends on server/command_keys.h, server/command_meta.h and doctest.
#include "server/command_keys.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/command_meta.h"

namespace docket::server {
namespace {

using Keys = std::vector<std::string>;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

// Redis's lookupCommand for COMMAND GETKEYS: a container's subcommand comes from argv[1].
const CommandMeta* Lookup(std::span<const std::string_view> argv) {
  const CommandMeta* meta = FindCommandMeta(Lower(argv[0]));
  if (meta == nullptr || argv.size() < 2 || SubcommandMeta(meta->name).empty()) return meta;
  return FindCommandMeta(Lower(argv[0]) + "|" + Lower(argv[1]));
}

// What COMMAND GETKEYS <args> answers, as Redis 7.0's getKeysSubcommandImpl decides it: the key
// names, or the error text as the only element.
Keys GetKeys(std::initializer_list<std::string_view> args) {
  std::vector<std::string_view> argv(args);
  const CommandMeta* meta = Lookup(argv);
  if (meta == nullptr) return {"ERR Invalid command specified"};
  if (!CommandHasKeys(*meta)) return {"ERR The command has no key arguments"};
  int argc = static_cast<int>(argv.size());
  if ((meta->arity > 0 && meta->arity != argc) || argc < -meta->arity) {
    return {"ERR Invalid number of arguments specified for command"};
  }
  std::vector<int> positions;
  if (!GetKeysFromSpecs(*meta, argv, &positions) || positions.empty()) {
    if (meta->flags.find("no_mandatory_keys") != std::string_view::npos) return {};
    return {"ERR Invalid arguments specified for command"};
  }
  Keys keys;
  for (int pos : positions) keys.emplace_back(argv[pos]);
  return keys;
}

}  // namespace

TEST_CASE("fixed positions and ranges: index begin, lastkey 0 / -1, keystep 2, subcommands") {
  CHECK(GetKeys({"get", "k"}) == Keys{"k"});
  CHECK(GetKeys({"set", "k", "v", "get"}) == Keys{"k"});
  CHECK(GetKeys({"del", "a", "b", "c"}) == Keys{"a", "b", "c"});
  CHECK(GetKeys({"rename", "a", "b"}) == Keys{"a", "b"});
  CHECK(GetKeys({"mset", "a", "1", "b", "2", "c", "3"}) == Keys{"a", "b", "c"});
  CHECK(GetKeys({"mset", "a", "1", "b"}) == Keys{"a", "b"});
  CHECK(GetKeys({"copy", "a", "b", "db", "1"}) == Keys{"a", "b"});
  CHECK(GetKeys({"lmove", "a", "b", "left", "right"}) == Keys{"a", "b"});
  CHECK(GetKeys({"OBJECT", "Encoding", "k"}) == Keys{"k"});
  CHECK(GetKeys({"bitop", "and", "d", "a", "b"}) == Keys{"d", "a", "b"});
  CHECK(GetKeys({"memory", "usage", "k", "samples", "5"}) == Keys{"k"});
  CHECK(GetKeys({"xinfo", "stream", "s"}) == Keys{"s"});
  CHECK(GetKeys({"geosearchstore", "d", "s", "frommember", "m", "byradius", "1", "km"}) ==
        Keys{"d", "s"});
}

TEST_CASE("keyword begin: STREAMS with a range limited to half of the rest, STORE after option 6") {
  CHECK(GetKeys({"xread", "count", "2", "streams", "s1", "s2", "0", "0"}) == Keys{"s1", "s2"});
  CHECK(GetKeys({"xread", "streams", "s1", "s2", "s3", "0", "0"}) == Keys{"s1", "s2"});
  CHECK(GetKeys({"xread", "streams", "streams", "streams", "0", "0"}) ==
        Keys{"streams", "streams"});
  CHECK(GetKeys({"xread", "count", "1", "streams", "a"}) ==
        Keys{"ERR Invalid arguments specified for command"});
  CHECK(GetKeys({"xreadgroup", "group", "g", "c", "noack", "streams", "s1", "0"}) == Keys{"s1"});
  CHECK(GetKeys({"xreadgroup", "group", "streams", "c", "streams", "s1", "s2", "0", "0"}) ==
        Keys{"s1", "s2"});
  CHECK(GetKeys({"xreadgroup", "streams", "a", "b", "c", "d", "streams", "x"}) ==
        Keys{"a", "b", "c"});
  CHECK(GetKeys({"georadius", "k", "0", "0", "1", "km", "store", "d"}) == Keys{"k", "d"});
  CHECK(GetKeys({"georadius", "k", "0", "0", "1", "km", "storedist", "e", "store", "d"}) ==
        Keys{"k", "d", "e"});
  CHECK(GetKeys({"georadius", "k", "0", "0", "1", "km", "store"}) == Keys{"k"});
  CHECK(GetKeys({"georadiusbymember", "k", "m", "1", "km", "store", "d", "store", "e"}) ==
        Keys{"k", "d"});
}

TEST_CASE("numkeys: strict parse in the spec, atoi in the fallback, destination last there") {
  CHECK(GetKeys({"eval", "return 1", "2", "a", "b", "c"}) == Keys{"a", "b"});
  CHECK(GetKeys({"eval", "return 1", "0"}) == Keys{});
  CHECK(GetKeys({"eval", "return 1", "3", "a", "b"}) == Keys{});
  CHECK(GetKeys({"eval", "return 1", "1abc", "a"}) == Keys{"a"});
  CHECK(GetKeys({"eval", "s", "4294967297", "a"}) == Keys{"a"});
  CHECK(GetKeys({"eval", "s", "99999999999999999999", "a"}) == Keys{});
  CHECK(GetKeys({"fcall", "f", "1", "a", "b"}) == Keys{"a"});
  CHECK(GetKeys({"zunionstore", "d", "2", "a", "b", "weights", "1", "2"}) == Keys{"d", "a", "b"});
  CHECK(GetKeys({"zunionstore", "d", "3", "a", "b"}) ==
        Keys{"ERR Invalid arguments specified for command"});
  CHECK(GetKeys({"zunionstore", "d", "1abc", "a", "b"}) == Keys{"a", "d"});
  CHECK(GetKeys({"zunionstore", "d", "0", "a", "b"}) ==
        Keys{"ERR Invalid arguments specified for command"});
  CHECK(GetKeys({"zinter", "2", "a", "b"}) == Keys{"a", "b"});
  CHECK(GetKeys({"zintercard", "1", "a", "limit", "0"}) == Keys{"a"});
  CHECK(GetKeys({"lmpop", "2", "a", "b", "left"}) == Keys{"a", "b"});
  CHECK(GetKeys({"lmpop", "0", "a", "b", "left"}) ==
        Keys{"ERR Invalid arguments specified for command"});
  CHECK(GetKeys({"lmpop", "3", "a", "b", "left"}) == Keys{"a", "b", "left"});
  CHECK(GetKeys({"lmpop", "2x", "a", "b", "left"}) == Keys{"a", "b"});
  CHECK(GetKeys({"blmpop", "0", "2", "a", "b", "left", "count", "1"}) == Keys{"a", "b"});
  CHECK(GetKeys({"bzmpop", "0", "1", "a", "min"}) == Keys{"a"});
  CHECK(GetKeys({"sintercard", "2", "a", "b", "limit", "1"}) == Keys{"a", "b"});
}

TEST_CASE("getkeys procs: SORT ... STORE and MIGRATE ... KEYS") {
  CHECK(GetKeys({"sort", "k"}) == Keys{"k"});
  CHECK(GetKeys({"sort", "k", "by", "x", "get", "y", "store", "d"}) == Keys{"k", "d"});
  CHECK(GetKeys({"sort", "k", "store", "d", "store", "e"}) == Keys{"k", "e"});
  CHECK(GetKeys({"sort", "k", "limit", "store", "d"}) == Keys{"k"});
  CHECK(GetKeys({"sort", "k", "store", "get", "x"}) == Keys{"k", "get"});
  CHECK(GetKeys({"sort_ro", "k", "by", "x"}) == Keys{"k"});
  CHECK(GetKeys({"migrate", "h", "p", "k", "0", "10"}) == Keys{"k"});
  CHECK(GetKeys({"migrate", "h", "p", "", "0", "10", "copy", "keys", "a", "b"}) == Keys{"a", "b"});
  CHECK(GetKeys({"migrate", "h", "p", "", "0", "10", "auth2", "u", "keys", "a", "b"}) == Keys{""});
  CHECK(GetKeys({"migrate", "h", "p", "", "0", "10", "auth2", "u", "pw", "keys", "a", "b"}) ==
        Keys{"a", "b"});
  CHECK(GetKeys({"migrate", "h", "p", "k", "0", "10", "keys", "a", "b"}) ==
        Keys{"ERR Invalid arguments specified for command"});
}

TEST_CASE("COMMAND GETKEYS errors") {
  CHECK(GetKeys({"spublish", "c", "m"}) == Keys{"ERR The command has no key arguments"});
  CHECK(GetKeys({"config", "get", "x"}) == Keys{"ERR The command has no key arguments"});
  CHECK(GetKeys({"object", "help"}) == Keys{"ERR The command has no key arguments"});
  CHECK(GetKeys({"nosuch", "a"}) == Keys{"ERR Invalid command specified"});
  CHECK(GetKeys({"config", "nosuch"}) == Keys{"ERR Invalid command specified"});
  CHECK(GetKeys({"rename", "a"}) == Keys{"ERR Invalid number of arguments specified for command"});
  CHECK(GetKeys({"get", "a", "b"}) ==
        Keys{"ERR Invalid number of arguments specified for command"});
}

TEST_CASE("positions are argv indexes; a spec that does not fit gives false and no positions") {
  std::vector<int> positions{7};
  std::vector<std::string_view> argv{"object", "encoding", "k"};
  REQUIRE(FindCommandMeta("object|encoding") != nullptr);
  CHECK(GetKeysFromSpecs(*FindCommandMeta("object|encoding"), argv, &positions));
  CHECK(positions == std::vector<int>{2});
  argv = {"zunionstore", "d", "-1", "a"};
  CHECK_FALSE(GetKeysFromSpecs(*FindCommandMeta("zunionstore"), argv, &positions));
  CHECK(positions.empty());
  argv = {"blmpop", "0", "1", "a", "left"};
  CHECK(GetKeysFromSpecs(*FindCommandMeta("blmpop"), argv, &positions));
  CHECK(positions == std::vector<int>{3});
}

TEST_CASE("CommandHasKeys: not_key specs (sharded pub/sub channels) do not count") {
  CHECK(CommandHasKeys(*FindCommandMeta("get")));
  CHECK(CommandHasKeys(*FindCommandMeta("eval")));
  CHECK_FALSE(CommandHasKeys(*FindCommandMeta("ping")));
  CHECK_FALSE(CommandHasKeys(*FindCommandMeta("ssubscribe")));
}

}  // namespace docket::server
