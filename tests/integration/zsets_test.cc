// Integration tests for sorted sets over TCP: zsets (both encodings, awkward scores) survive an
// AOF restart and a BGREWRITEAOF, a full ZSCAN of a skiplist zset sees every member, and
// ZRANDMEMBER's random replies hold members only, distinct where Redis promises it.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {
namespace {

void FillZSet(Redis& c, const std::string& key, int n) {
  std::vector<std::string> zadd = {"ZADD", key};
  for (int i = 0; i < n; i++) {
    zadd.push_back(std::to_string(i) + ".25");
    zadd.push_back("m" + std::to_string(i));
  }
  REQUIRE(c.Int(zadd) == n);
}

std::vector<std::string> Strings(const Reply& r) {
  std::vector<std::string> out;
  REQUIRE(r);
  REQUIRE(r->type == REDIS_REPLY_ARRAY);
  for (size_t i = 0; i < r->elements; i++) out.emplace_back(r->element[i]->str, r->element[i]->len);
  return out;
}

TEST_CASE("zsets: survive an AOF restart and a rewrite, scores and encodings intact") {
  ServerProcess server({"--appendonly", "yes", "--appendfsync", "always"});
  Redis c(server.port());
  CHECK(c.Int({"ZADD", "z", "0.1", "a", "-inf", "b", "+inf", "c", "1e300", "d"}) == 4);
  CHECK(c.Str({"ZINCRBY", "z", "2", "a"}) == "2.1000000000000001");
  CHECK(c.Int({"ZREM", "z", "d"}) == 1);
  FillZSet(c, "big", 300);
  CHECK(c.Int({"ZREMRANGEBYRANK", "big", "0", "9"}) == 10);
  auto check = [](Redis& r) {
    CHECK(Strings(r.Cmd({"ZRANGE", "z", "0", "-1", "WITHSCORES"})) ==
          std::vector<std::string>{"b", "-inf", "a", "2.1000000000000001", "c", "inf"});
    CHECK(r.Int({"ZCARD", "big"}) == 290);
    CHECK(r.Str({"ZSCORE", "big", "m299"}) == "299.25");
    CHECK(r.Str({"OBJECT", "ENCODING", "big"}) == "skiplist");
    CHECK(r.Str({"OBJECT", "ENCODING", "z"}) == "listpack");
  };
  server.Stop();
  server.Restart();
  Redis again(server.port());
  check(again);
  CHECK(again.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
  aof::WaitRewriteDone(again);
  server.Stop();
  server.Restart();
  Redis third(server.port());
  check(third);
}

TEST_CASE("zsets: ZSCAN walks a skiplist zset and sees every member") {
  ServerProcess server;
  Redis c(server.port());
  FillZSet(c, "z", 1000);
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    Reply r = c.Cmd({"ZSCAN", "z", cursor, "COUNT", "7"});
    REQUIRE((r && r->type == REDIS_REPLY_ARRAY && r->elements == 2));
    cursor = r->element[0]->str;
    redisReply* page = r->element[1];
    REQUIRE(page->elements % 2 == 0);
    for (size_t i = 0; i < page->elements; i += 2) seen.insert(page->element[i]->str);
  } while (cursor != "0" && ++calls < 5000);
  CHECK(cursor == "0");
  CHECK(seen.size() == 1000);
}

TEST_CASE("zsets: ZRANDMEMBER replies members, distinct for a positive count") {
  ServerProcess server;
  Redis c(server.port());
  FillZSet(c, "z", 200);
  for (const char* n : {"5", "150", "199"}) {
    std::vector<std::string> r = Strings(c.Cmd({"ZRANDMEMBER", "z", n}));
    std::set<std::string> distinct(r.begin(), r.end());
    CHECK(r.size() == std::stoul(n));
    CHECK(distinct.size() == r.size());
    for (const std::string& m : r) CHECK(m[0] == 'm');
  }
  CHECK(Strings(c.Cmd({"ZRANDMEMBER", "z", "-500", "WITHSCORES"})).size() == 1000);
}

}  // namespace
}  // namespace docket::test
