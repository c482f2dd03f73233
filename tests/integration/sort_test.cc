// Integration tests for SORT over TCP: SORT ... STORE is logged to the AOF (and a plain SORT is
// not), so the stored list and a deleted destination survive a restart; and on larger random data
// (lists, hashtable sets, skiplist zsets, BY / GET keys) every option combination answers exactly
// as redis-server does.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {
namespace {

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    n++;
  }
  return n;
}

TEST_CASE("sort: STORE is propagated to the AOF, a plain SORT is not") {
  ServerProcess server({"--appendonly", "yes", "--appendfsync", "always"});
  Redis c(server.port());
  CHECK(c.Int({"RPUSH", "l", "3", "1", "2"}) == 3);
  CHECK(c.Str({"MSET", "w_1", "30", "w_2", "10", "w_3", "20"}) == "OK");
  CHECK(c.Str({"SET", "gone", "x"}) == "OK");
  CHECK(c.Cmd({"SORT", "l"})->elements == 3);
  CHECK(c.Cmd({"SORT_RO", "l", "ALPHA"})->elements == 3);
  CHECK(c.Int({"SORT", "l", "BY", "w_*", "STORE", "dst"}) == 3);
  CHECK(c.Int({"SORT", "nokey", "STORE", "gone"}) == 0);
  CHECK(c.Int({"SORT", "nokey", "STORE", "never"}) == 0);  // nothing deleted: not logged
  std::string aof = aof::AllAofText(aof::AofDir(server));
  CHECK(Count(aof, "$4\r\nSORT\r\n") == 2);
  CHECK(Count(aof, "SORT_RO") == 0);
  server.Stop();
  server.Restart();
  Redis again(server.port());
  aof::WaitLoaded(server.port());
  CHECK(aof::ValueOf(again, "list", "dst") == "[1:2,1:3,1:1,]");
  CHECK(again.Int({"EXISTS", "gone"}) == 0);
}

// A data set with many ties, duplicates, hash and string weights, for the comparison below.
void Fill(Redis& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> rpush = {"RPUSH", "list"}, sadd = {"SADD", "set"};
  std::vector<std::string> zadd = {"ZADD", "zset"};
  for (int i = 0; i < 400; i++) {
    int v = static_cast<int>(rng() % 150);
    std::string item = (i % 7 == 0) ? std::to_string(v) + ".5" : std::to_string(v);
    rpush.push_back(item);
    sadd.push_back(item);
    zadd.push_back(std::to_string(rng() % 50));
    zadd.push_back(item);
    if (rng() % 4 != 0) {  // a quarter of the elements have no weight key
      c.Cmd({"SET", "w_" + item, std::to_string(rng() % 40)});
      c.Cmd({"HSET", "h_" + item, "f", std::to_string(rng() % 1000) + "-" + item, "n", item});
    }
  }
  c.Cmd(rpush);
  c.Cmd(sadd);
  c.Cmd(zadd);
}

TEST_CASE("sort: larger random data sorts exactly as in redis-server") {
  ServerProcess docket;
  ServerProcess redis({}, "", aof::kRedisServer);
  Redis d(docket.port()), r(redis.port());
  Fill(d, 7);
  Fill(r, 7);
  const std::vector<std::vector<std::string>> variants = {
      {},
      {"DESC"},
      {"LIMIT", "10", "25"},
      {"LIMIT", "100", "500", "DESC"},
      {"ALPHA"},
      {"ALPHA", "DESC", "LIMIT", "5", "5"},
      {"BY", "w_*"},
      {"BY", "w_*", "LIMIT", "20", "10", "DESC"},
      {"BY", "w_*", "GET", "#", "GET", "w_*", "GET", "h_*->n"},
      {"BY", "h_*->f", "ALPHA", "GET", "h_*->f"},
      {"BY", "h_*->f", "ALPHA", "DESC", "LIMIT", "3", "30", "GET", "h_*->n"},
      {"BY", "nosort", "LIMIT", "30", "20", "DESC", "GET", "#"},
  };
  for (const std::string key : {"list", "set", "zset"}) {
    for (const auto& options : variants) {
      if (key == "set" && options.size() >= 2 && options[1] == "nosort") continue;  // set order
      std::vector<std::string> argv = {"SORT", key};
      argv.insert(argv.end(), options.begin(), options.end());
      std::string shown;
      for (const std::string& a : argv) shown += a + " ";
      INFO(shown);
      Reply want = r.Cmd(argv), got = d.Cmd(argv);
      REQUIRE(want);
      REQUIRE(got);
      CHECK(want->elements > 0);
      CHECK(got->type == want->type);
      CHECK(aof::ReplyItems(got.get(), 1) == aof::ReplyItems(want.get(), 1));
      argv.push_back("STORE");
      argv.push_back("dst");
      CHECK(d.Int(argv) == r.Int(argv));
      CHECK(aof::ValueOf(d, "list", "dst") == aof::ValueOf(r, "list", "dst"));
    }
  }
}

}  // namespace
}  // namespace docket::test
