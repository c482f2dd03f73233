// Integration tests for sets over TCP: a full SSCAN of a hashtable set through many cursors, SPOP
// and SRANDMEMBER results that a differential test cannot compare (random members), sets that
// survive an AOF restart after every kind of set write, and WATCH invalidated by set writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {
namespace {

using aof::RestartLoaded;

std::vector<std::string> Strings(const Reply& r) {
  std::vector<std::string> out;
  REQUIRE(r);
  REQUIRE(r->type == REDIS_REPLY_ARRAY);
  for (size_t i = 0; i < r->elements; i++) out.emplace_back(r->element[i]->str, r->element[i]->len);
  return out;
}

std::vector<std::string> SortedMembers(Redis& c, const std::string& key) {
  std::vector<std::string> m = Strings(c.Cmd({"SMEMBERS", key}));
  std::sort(m.begin(), m.end());
  return m;
}

TEST_CASE("sets: SSCAN walks a hashtable set through cursors and sees every member") {
  ServerProcess server;
  Redis c(server.port());
  std::vector<std::string> sadd = {"SADD", "s"};
  for (int i = 0; i < 2000; i++) sadd.push_back("member:" + std::to_string(i));
  CHECK(c.Int(sadd) == 2000);
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    Reply r = c.Cmd({"SSCAN", "s", cursor, "COUNT", "7"});
    REQUIRE((r && r->type == REDIS_REPLY_ARRAY && r->elements == 2));
    cursor = r->element[0]->str;
    redisReply* page = r->element[1];
    for (size_t i = 0; i < page->elements; i++) seen.insert(page->element[i]->str);
    // Removing members the scan already returned must not hide the others.
    if (calls++ % 10 == 0) c.Int({"SREM", "s", "member:" + std::to_string(calls)});
  } while (cursor != "0" && calls < 5000);
  CHECK(cursor == "0");
  CHECK(calls > 50);
  CHECK(seen.size() >= 2000 - 200);
  for (int i = 300; i < 2000; i++) CHECK(seen.count("member:" + std::to_string(i)) == 1);
}

TEST_CASE("sets: SPOP and SRANDMEMBER return members, distinct where Redis promises it") {
  ServerProcess server;
  Redis c(server.port());
  for (std::string key : {"ints", "strs"}) {
    std::vector<std::string> sadd = {"SADD", key};
    for (int i = 0; i < 100; i++) sadd.push_back((key == "ints" ? "" : "m") + std::to_string(i));
    REQUIRE(c.Int(sadd) == 100);
    std::set<std::string> all(sadd.begin() + 2, sadd.end());
    for (const char* n : {"5", "40", "99", "100", "150"}) {
      std::vector<std::string> r = Strings(c.Cmd({"SRANDMEMBER", key, n}));
      std::set<std::string> distinct(r.begin(), r.end());
      CHECK(r.size() == std::min<size_t>(std::stoul(n), 100));
      CHECK(distinct.size() == r.size());
      for (const std::string& m : r) CHECK(all.count(m) == 1);
    }
    std::vector<std::string> rep = Strings(c.Cmd({"SRANDMEMBER", key, "-500"}));
    CHECK(rep.size() == 500);
    for (const std::string& m : rep) CHECK(all.count(m) == 1);
    std::set<std::string> popped;
    for (const char* n : {"3", "60"}) {  // the small and the "keep few" strategies
      for (const std::string& m : Strings(c.Cmd({"SPOP", key, n}))) {
        CHECK(all.count(m) == 1);
        CHECK(popped.insert(m).second);
      }
    }
    CHECK(c.Int({"SCARD", key}) == 37);
    for (const std::string& m : SortedMembers(c, key)) CHECK(popped.count(m) == 0);
  }
}

TEST_CASE("sets: every kind of set write survives an AOF restart") {
  ServerProcess server({"--appendonly", "yes"});
  Redis c(server.port());
  std::vector<std::string> sadd = {"SADD", "big"};
  for (int i = 0; i < 300; i++) sadd.push_back("x" + std::to_string(i));
  CHECK(c.Int(sadd) == 300);
  CHECK(c.Int({"SADD", "ints", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}) == 10);
  c.Cmd({"SPOP", "big", "20"});   // propagated as SREMs
  c.Cmd({"SPOP", "big", "270"});  // keeps 10 in a new set
  c.Cmd({"SPOP", "ints"});
  c.Cmd({"SPOP", "ints", "2"});
  CHECK(c.Int({"SADD", "all", "a", "b"}) == 2);
  c.Cmd({"SPOP", "all", "5"});  // propagated as DEL
  CHECK(c.Int({"SREM", "ints", "1", "2"}) >= 0);
  CHECK(c.Int({"SMOVE", "big", "moved", SortedMembers(c, "big")[0]}) == 1);
  CHECK(c.Int({"SADD", "o1", "a", "b", "c", "1"}) == 4);
  CHECK(c.Int({"SADD", "o2", "b", "c", "d", "1"}) == 4);
  CHECK(c.Int({"SINTERSTORE", "inter", "o1", "o2"}) == 3);
  CHECK(c.Int({"SUNIONSTORE", "union", "o1", "o2"}) == 5);
  CHECK(c.Int({"SDIFFSTORE", "diff", "o1", "o2"}) == 1);
  const std::vector<std::string> keys = {"big", "ints", "all", "moved", "inter", "union", "diff"};
  std::vector<std::vector<std::string>> before;
  std::vector<std::string> encodings;
  for (const std::string& k : keys) {
    before.push_back(SortedMembers(c, k));
    encodings.push_back(c.Str({"OBJECT", "ENCODING", k}));
  }
  CHECK(before[2].empty());
  CHECK(before[0].size() == 9);
  server.Stop();
  RestartLoaded(server);
  Redis d(server.port());
  for (size_t i = 0; i < keys.size(); i++) {
    CAPTURE(keys[i]);
    CHECK(SortedMembers(d, keys[i]) == before[i]);
    CHECK(d.Str({"OBJECT", "ENCODING", keys[i]}) == encodings[i]);
  }
}

TEST_CASE("sets: WATCH is invalidated by set writes, not by no-op ones") {
  ServerProcess server;
  Redis c(server.port());
  Redis other(server.port());
  CHECK(c.Int({"SADD", "w", "a"}) == 1);
  auto exec_after = [&](const std::vector<std::string>& write) {
    CHECK(c.Str({"WATCH", "w"}) == "OK");
    other.Cmd(write);
    CHECK(c.Str({"MULTI"}) == "OK");
    CHECK(c.Str({"PING"}) == "QUEUED");
    Reply r = c.Cmd({"EXEC"});
    REQUIRE(r);
    return r->type == REDIS_REPLY_ARRAY;  // nil when aborted
  };
  CHECK_FALSE(exec_after({"SADD", "w", "b"}));
  CHECK(exec_after({"SADD", "w", "b"}));
  CHECK(exec_after({"SREM", "w", "zz"}));
  CHECK_FALSE(exec_after({"SREM", "w", "b"}));
  CHECK_FALSE(exec_after({"SPOP", "w"}));
  CHECK(c.Int({"SADD", "w", "a"}) == 1);
  CHECK_FALSE(exec_after({"SUNIONSTORE", "w", "missing"}));
  CHECK(exec_after({"SINTERSTORE", "w", "missing"}));  // nothing to delete: no change
}

}  // namespace
}  // namespace docket::test
