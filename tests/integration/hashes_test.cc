// Integration tests for hashes where replies are not deterministic and so stay out of the
// differential corpus: HSCAN's guarantee over a hashtable that grows while it is scanned,
// HRANDFIELD's sampling (distinct, repeats, RESP3 pairs), and HINCRBYFLOAT propagated as HSET to
// the AOF, reloaded on restart and kept by BGREWRITEAOF. Also runs against redis-server
// (DOCKET_SERVER=redis-server).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {

namespace {

// Fills key with n fields "f<i>" = "v<i>", pipelined 100 per HSET.
void FillHash(Redis& redis, const std::string& key, int n) {
  for (int start = 0; start < n; start += 100) {
    std::vector<std::string> argv = {"HSET", key};
    for (int i = start; i < n && i < start + 100; i++) {
      argv.push_back("f" + std::to_string(i));
      argv.push_back("v" + std::to_string(i));
    }
    Reply r = redis.Cmd(argv);
    REQUIRE(r);
    REQUIRE(r->type == REDIS_REPLY_INTEGER);
  }
}

}  // namespace

TEST_CASE("HSCAN returns every field present for the whole iteration of a hashtable") {
  ServerProcess server;
  Redis redis(server.port());
  FillHash(redis, "h", 2000);
  CHECK(redis.Str({"OBJECT", "ENCODING", "h"}) == "hashtable");

  std::map<std::string, std::string> seen;
  std::string cursor = "0";
  int calls = 0, added = 0;
  do {
    Reply r = redis.Cmd({"HSCAN", "h", cursor, "COUNT", "20"});
    REQUIRE(r);
    REQUIRE(r->type == REDIS_REPLY_ARRAY);
    REQUIRE(r->elements == 2);
    cursor = r->element[0]->str;
    redisReply* items = r->element[1];
    REQUIRE(items->elements % 2 == 0);
    for (size_t i = 0; i < items->elements; i += 2) {
      seen[items->element[i]->str] = items->element[i + 1]->str;
    }
    // New fields grow the table mid-iteration.
    if (++calls % 5 == 0 && added < 3000) {
      for (int j = 0; j < 100; j++) {
        redis.Cmd({"HSET", "h", "new" + std::to_string(added++), "x"});
      }
    }
    REQUIRE(calls < 100000);
  } while (cursor != "0");
  for (int i = 0; i < 2000; i++) {
    auto it = seen.find("f" + std::to_string(i));
    REQUIRE_MESSAGE(it != seen.end(), "f", i, " missed");
    CHECK(it->second == "v" + std::to_string(i));
  }
  CHECK(calls > 10);  // a hashtable is walked in steps

  // MATCH filters fields (values go with them), over the whole iteration.
  std::set<std::string> matched;
  cursor = "0";
  do {
    Reply r = redis.Cmd({"HSCAN", "h", cursor, "MATCH", "f1??", "COUNT", "50"});
    REQUIRE(r);
    cursor = r->element[0]->str;
    for (size_t i = 0; i < r->element[1]->elements; i += 2) {
      matched.insert(r->element[1]->element[i]->str);
    }
  } while (cursor != "0");
  CHECK(matched.size() == 100);  // f100 .. f199
}

TEST_CASE("HRANDFIELD: distinct fields, repeats with a negative count, RESP3 pairs") {
  ServerProcess server;
  Redis redis(server.port());
  FillHash(redis, "big", 1000);
  FillHash(redis, "small", 10);
  for (const char* key : {"big", "small"}) {
    int n = std::string(key) == "big" ? 1000 : 10;
    Reply r = redis.Cmd({"HRANDFIELD", key, std::to_string(n / 2), "WITHVALUES"});
    REQUIRE(r);
    REQUIRE(r->elements == static_cast<size_t>(n));
    std::set<std::string> fields;
    for (size_t i = 0; i < r->elements; i += 2) {
      std::string f = r->element[i]->str;
      fields.insert(f);
      CHECK(std::string(r->element[i + 1]->str) == "v" + f.substr(1));
    }
    CHECK(fields.size() == static_cast<size_t>(n / 2));

    r = redis.Cmd({"HRANDFIELD", key, "-3000"});
    REQUIRE(r);
    REQUIRE(r->elements == 3000);
    std::map<std::string, int> counts;
    for (size_t i = 0; i < r->elements; i++) counts[r->element[i]->str]++;
    CHECK(counts.size() > static_cast<size_t>(n / 4));  // spread over the hash
    CHECK(counts.size() <= static_cast<size_t>(n));
    bool repeats = false;
    for (auto& [f, c] : counts) repeats = repeats || c > 1;
    CHECK(repeats);
  }

  RawConn raw(server.port());
  raw.Cmd({"HELLO", "3"});
  std::string reply = raw.Cmd({"HRANDFIELD", "small", "-2", "WITHVALUES"});
  // An array of two [field, value] arrays.
  CHECK(reply.rfind("*2\r\n*2\r\n$", 0) == 0);
  reply = raw.Cmd({"HRANDFIELD", "small", "1"});
  CHECK(reply.rfind("*1\r\n$", 0) == 0);
}

TEST_CASE("HINCRBYFLOAT reaches the AOF as HSET and survives a restart") {
  ServerProcess server({"--appendonly", "yes", "--appendfsync", "always"});
  Redis redis(server.port());
  CHECK(redis.Str({"HINCRBYFLOAT", "h", "f", "0.1"}) == "0.1");
  CHECK(redis.Str({"HINCRBYFLOAT", "h", "f", "0.2"}) == "0.3");
  CHECK(redis.Int({"HSET", "h", "a", "1", "b", "2"}) == 2);
  CHECK(redis.Int({"HDEL", "h", "a"}) == 1);
  FillHash(redis, "big", 600);

  std::string incr;
  for (const auto& e : std::filesystem::directory_iterator(server.dir() + "/appendonlydir")) {
    if (e.path().string().find(".incr.aof") == std::string::npos) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    incr += ss.str();
  }
  CHECK(incr.find("HINCRBYFLOAT") == std::string::npos);
  CHECK(incr.find("$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n0.3\r\n") != std::string::npos);

  server.Stop();
  server.Restart();
  Redis again(server.port());
  CHECK(again.Str({"HGET", "h", "f"}) == "0.3");
  CHECK(again.Int({"HLEN", "h"}) == 2);
  CHECK(again.Int({"HLEN", "big"}) == 600);
  CHECK(again.Str({"HGET", "big", "f599"}) == "v599");
  CHECK(again.Str({"OBJECT", "ENCODING", "big"}) == "hashtable");

  // A rewrite keeps both encodings' contents (and the listpack's field order).
  std::string before = again.Str({"HKEYS", "h"});
  CHECK(again.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
  aof::WaitRewriteDone(again);
  server.Stop();
  server.Restart();
  Redis third(server.port());
  CHECK(third.Str({"HGET", "h", "f"}) == "0.3");
  CHECK(third.Str({"HGET", "h", "b"}) == "2");
  CHECK(third.Int({"HLEN", "big"}) == 600);
  CHECK(third.Str({"HGET", "big", "f0"}) == "v0");
  CHECK(third.Str({"OBJECT", "ENCODING", "h"}) == "listpack");
}

}  // namespace docket::test
