// Tests for server/command_meta: lookups, and that COMMAND INFO / COMMAND DOCS rebuilt from the
// generated pieces equal redis-server 7.0.15's replies (copied byte for byte from it).
// Depends on server/command_meta.h and doctest. tools/gen_command_meta.py checks every command.
#include "server/command_meta.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace docket::server {
namespace {

using std::string_view_literals::operator""sv;

// COMMAND INFO get, from redis-server 7.0.15.
constexpr std::string_view kInfoGetResp2 =
    "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n"
    "+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\n"
    "index\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n"
    "$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"sv;
constexpr std::string_view kInfoGetResp3 =
    "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n"
    "+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n"
    "$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\n"
    "index\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n"
    "$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n"sv;

// COMMAND DOCS get, from redis-server 7.0.15.
constexpr std::string_view kDocsGetResp2 =
    "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\n"
    "since\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
    "$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n"
    "$14\r\nkey_spec_index\r\n:0\r\n"sv;
constexpr std::string_view kDocsGetResp3 =
    "%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n"
    "$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\n"
    "arguments\r\n*1\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\n"
    "key_spec_index\r\n:0\r\n"sv;

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string InfoReply(const CommandMeta& meta, bool resp3) {
  return "*1\r\n*10\r\n" + std::string(resp3 ? meta.info_resp3 : meta.info_resp2) +
         std::string(resp3 ? kEmptySubcommandsResp3 : kEmptySubcommandsResp2);
}

std::string DocsReply(const CommandMeta& meta, bool resp3) {
  std::string map = resp3 ? "%" + std::to_string(meta.docs_pairs) + "\r\n"
                          : "*" + std::to_string(2 * meta.docs_pairs) + "\r\n";
  return (resp3 ? "%1\r\n" : "*2\r\n") + Bulk(meta.name) + map +
         std::string(resp3 ? meta.docs_resp3 : meta.docs_resp2);
}

}  // namespace

TEST_CASE("COMMAND INFO and COMMAND DOCS get rebuild to redis-server's bytes") {
  const CommandMeta* get = FindCommandMeta("get");
  REQUIRE(get != nullptr);
  CHECK(InfoReply(*get, false) == kInfoGetResp2);
  CHECK(InfoReply(*get, true) == kInfoGetResp3);
  CHECK(DocsReply(*get, false) == kDocsGetResp2);
  CHECK(DocsReply(*get, true) == kDocsGetResp3);
}

TEST_CASE("fields of get, config|get and xreadgroup") {
  const CommandMeta* get = FindCommandMeta("get");
  REQUIRE(get != nullptr);
  CHECK(get->arity == 2);
  CHECK(get->flags == "readonly fast");
  CHECK(get->acl_categories == "@read @string @fast");
  CHECK((get->first_key == 1 && get->last_key == 1 && get->key_step == 1));
  REQUIRE(get->key_spec_count == 1);
  CHECK(get->key_specs[0].begin == KeySpecMeta::Begin::kIndex);
  CHECK(get->key_specs[0].flags == "RO access");
  CHECK_FALSE(get->movablekeys);

  const CommandMeta* config_get = FindCommandMeta("config|get");
  REQUIRE(config_get != nullptr);
  CHECK(config_get->arity == -3);
  CHECK(config_get->flags == "admin noscript loading stale");

  const CommandMeta* xreadgroup = FindCommandMeta("xreadgroup");
  REQUIRE(xreadgroup != nullptr);
  CHECK(xreadgroup->movablekeys);
  REQUIRE(xreadgroup->key_spec_count == 1);
  const KeySpecMeta& spec = xreadgroup->key_specs[0];
  CHECK(spec.begin == KeySpecMeta::Begin::kKeyword);
  CHECK(spec.keyword == "STREAMS");
  CHECK(spec.startfrom == 4);
  CHECK(spec.find == KeySpecMeta::Find::kRange);
  CHECK((spec.lastkey == -1 && spec.keystep == 1 && spec.limit == 2));
}

TEST_CASE("lookups: sorted table, subcommands follow their container") {
  CHECK(FindCommandMeta("GET") == nullptr);  // names are looked up lowercase
  CHECK(FindCommandMeta("nosuch") == nullptr);
  CHECK(FindCommandMeta("config|nosuch") == nullptr);
  CHECK(AllCommandMeta().size() == 366);  // COMMAND LIST: 240 commands, 126 subcommands
  std::span<const CommandMeta> subs = SubcommandMeta("config");
  REQUIRE(subs.size() == 5);
  CHECK(subs.front().name == "config|get");
  CHECK(subs.back().name == "config|set");
  CHECK(SubcommandMeta("get").empty());
  CHECK(SubcommandMeta("client").size() == 16);
  auto unordered = [](const CommandMeta& a, const CommandMeta& b) { return a.name >= b.name; };
  std::span<const CommandMeta> all = AllCommandMeta();
  CHECK(std::adjacent_find(all.begin(), all.end(), unordered) == all.end());
}

}  // namespace docket::server
