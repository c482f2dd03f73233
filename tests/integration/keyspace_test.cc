// Integration tests for keyspace-wide behaviour: SCAN's guarantee (every key present for the whole
// iteration is returned, while other keys come and go and the table rehashes) and expiry (keys
// vanish lazily on access and actively in the background).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {

namespace {

// Runs the pipelined commands and checks every reply is not an error.
void Pipeline(Redis& redis, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) redis.Append(argv);
  for (size_t i = 0; i < commands.size(); i++) {
    Reply r = redis.Get();
    REQUIRE(r);
    REQUIRE_MESSAGE(r->type != REDIS_REPLY_ERROR, commands[i][0], ": ", r->str);
  }
}

}  // namespace

TEST_CASE("SCAN returns every key present for the whole iteration, across rehashing") {
  ServerProcess server;
  Redis redis(server.port());
  std::vector<std::vector<std::string>> setup;
  for (int i = 0; i < 1000; i++) setup.push_back({"SET", "keep:" + std::to_string(i), "1"});
  Pipeline(redis, setup);

  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0, added = 0, deleted = 0;
  do {
    Reply r = redis.Cmd({"SCAN", cursor, "COUNT", "10"});
    REQUIRE(r);
    REQUIRE(r->type == REDIS_REPLY_ARRAY);
    REQUIRE(r->elements == 2);
    cursor.assign(r->element[0]->str, r->element[0]->len);
    for (size_t i = 0; i < r->element[1]->elements; i++) {
      seen.emplace(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
    }
    // First grow the table (10000 keys: 16384 buckets), then delete the extra keys so that the
    // cron shrinks it while the scan goes on.
    std::vector<std::vector<std::string>> churn;
    if (calls < 90) {
      for (int j = 0; j < 100; j++) churn.push_back({"SET", "tmp:" + std::to_string(added++), "x"});
    } else if (deleted < added) {
      for (int j = 0; j < 200 && deleted < added; j++) {
        churn.push_back({"DEL", "tmp:" + std::to_string(deleted++)});
      }
      if (deleted == added) SleepMs(300);  // under 10% full: let the cron shrink the table
    }
    Pipeline(redis, churn);
    calls++;
    REQUIRE(calls < 100000);
  } while (cursor != "0");

  int missing = 0;
  for (int i = 0; i < 1000; i++) {
    if (seen.count("keep:" + std::to_string(i)) == 0) missing++;
  }
  CHECK(missing == 0);
  CHECK(calls > 10);
  INFO("SCAN calls: ", calls, ", keys added during the scan: ", added);
  CHECK(added >= 9000);
}

TEST_CASE("SCAN with MATCH, TYPE and COUNT on a quiet keyspace returns each key once") {
  ServerProcess server;
  Redis redis(server.port());
  std::vector<std::vector<std::string>> setup;
  for (int i = 0; i < 500; i++) setup.push_back({"SET", "s:" + std::to_string(i), "1"});
  size_t want_lists = Implements(server.port(), {"rpush"}) ? 100 : 0;
  for (size_t i = 0; i < want_lists; i++) {
    setup.push_back({"RPUSH", "l:" + std::to_string(i), "1"});
  }
  Pipeline(redis, setup);
  std::multiset<std::string> strings, lists;
  for (const char* type : {"string", "list"}) {
    std::string cursor = "0";
    do {
      Reply r = redis.Cmd({"SCAN", cursor, "MATCH", "*:*", "COUNT", "7", "TYPE", type});
      REQUIRE(r);
      REQUIRE(r->type == REDIS_REPLY_ARRAY);
      cursor.assign(r->element[0]->str, r->element[0]->len);
      for (size_t i = 0; i < r->element[1]->elements; i++) {
        (type[0] == 's' ? strings : lists).emplace(r->element[1]->element[i]->str);
      }
    } while (cursor != "0");
  }
  CHECK(strings.size() == 500);
  CHECK(std::set<std::string>(strings.begin(), strings.end()).size() == 500);
  CHECK(lists.size() == want_lists);
  CHECK(std::set<std::string>(lists.begin(), lists.end()).size() == want_lists);
}

TEST_CASE("keys with PX expire without being touched") {
  ServerProcess server;
  Redis redis(server.port());
  std::vector<std::vector<std::string>> setup;
  for (int i = 0; i < 1000; i++)
    setup.push_back({"SET", "e:" + std::to_string(i), "v", "PX", "50"});
  for (int i = 0; i < 10; i++) setup.push_back({"SET", "p:" + std::to_string(i), "v"});
  Pipeline(redis, setup);
  CHECK(redis.Int({"DBSIZE"}) == 1010);

  // Active expiry: DBSIZE does not look keys up, so only the background cycle can drop them.
  long long deadline = NowMs() + 5000;
  long long size = -1;
  while (NowMs() < deadline) {
    size = redis.Int({"DBSIZE"});
    if (size == 10) break;
    SleepMs(50);
  }
  CHECK(size == 10);
  CHECK(redis.Str({"GET", "p:0"}) == "v");
  CHECK(redis.Int({"EXISTS", "e:0", "e:999"}) == 0);
}

TEST_CASE("an expired key is gone on access, before the background cycle sees it") {
  // hz 1: the active cycle runs once a second, so the lookups below find the keys first.
  ServerProcess server({"--hz", "1"});
  Redis redis(server.port());
  CHECK(redis.Str({"SET", "lazy", "v", "PX", "30"}) == "OK");
  CHECK(redis.Str({"SET", "lazy2", "v", "PX", "30"}) == "OK");
  CHECK(redis.Str({"SET", "stays", "v", "PX", "100000"}) == "OK");
  SleepMs(60);
  CHECK(redis.Str({"GET", "lazy"}) == "(nil)");
  CHECK(redis.Int({"EXISTS", "lazy2"}) == 0);
  CHECK(redis.Int({"TTL", "lazy"}) == -2);
  CHECK(redis.Str({"GET", "stays"}) == "v");
  long long ttl = redis.Int({"PTTL", "stays"});
  CHECK(ttl > 90000);
  CHECK(ttl <= 100000);
}

}  // namespace docket::test
