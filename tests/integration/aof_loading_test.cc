// Integration test for serving clients while the AOF loads at start-up (issue 5, Loading): a
// large AOF, a restart, a client connected at once gets -LOADING (and INFO loading:1 with Redis's
// loading_* fields) until the data is complete, and is served normally afterwards. Written and
// checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test::aof {
namespace {

constexpr int kElements = 300000;
constexpr std::string_view kLoadingError = "-LOADING Redis is loading the dataset in memory\r\n";

// kElements RPUSHes of 100-byte values ("%099d" of the index plus a dash), as RESP.
std::string BigListAof() {
  std::string out;
  out.reserve(static_cast<size_t>(kElements) * 140);
  char value[128];
  for (int i = 0; i < kElements; i++) {
    snprintf(value, sizeof(value), "%099d-", i);
    out += "*3\r\n$5\r\nRPUSH\r\n$3\r\nbig\r\n$100\r\n";
    out += value;
    out += "\r\n";
  }
  return out;
}

TEST_CASE("aof loading: -LOADING and INFO loading:1 while a large AOF loads, then all data") {
  ServerProcess server(AofArgs("no"));
  {
    Redis c(server.port());
    REQUIRE(c.Str({"SET", "marker", "m"}) == "OK");
  }
  REQUIRE(ExitedCleanly(server.Stop()));
  std::string dir = AofDir(server);
  std::vector<std::string> incr = IncrFiles(ReadManifest(dir));
  REQUIRE(!incr.empty());
  AppendFile(dir + "/" + incr.back(), BigListAof());

  size_t log_from = server.Log().size();
  server.Restart();  // returns at the first reply, -LOADING or not
  RawConn conn(server.port());
  bool saw_loading = false, saw_data = false;
  std::string last;
  long long deadline = NowMs() + 30000;
  while (NowMs() < deadline) {
    last = conn.Cmd({"GET", "marker"});
    if (last == kLoadingError) {
      if (!saw_loading) {
        saw_loading = true;
        std::string info = conn.Cmd({"INFO", "persistence"});
        INFO("INFO while loading: ", info);
        if (info.find("loading:0\r\n") == std::string::npos) {
          CHECK(info.find("loading:1\r\n") != std::string::npos);
          for (const char* field :
               {"loading_start_time:", "loading_total_bytes:", "loading_rdb_used_mem:",
                "loading_loaded_bytes:", "loading_loaded_perc:", "loading_eta_seconds:"}) {
            CHECK_MESSAGE(info.find(std::string("\r\n") + field) != std::string::npos, field);
          }
        }
        // Commands without the loading flag are refused, with Redis's text.
        CHECK(conn.Cmd({"LLEN", "big"}) == kLoadingError);
        CHECK(conn.Cmd({"SET", "x", "y"}) == kLoadingError);
      }
      SleepMs(1);
      continue;
    }
    saw_data = true;
    break;
  }
  CHECK(saw_loading);
  REQUIRE_MESSAGE(saw_data, "last reply: ", last);
  // The client that connected during loading is served normally now.
  CHECK(last == "$1\r\nm\r\n");
  CHECK(conn.Cmd({"LLEN", "big"}) == ":" + std::to_string(kElements) + "\r\n");
  char want[128];
  snprintf(want, sizeof(want), "$100\r\n%099d-\r\n", kElements - 1);
  CHECK(conn.Cmd({"LINDEX", "big", "-1"}) == want);
  snprintf(want, sizeof(want), "$100\r\n%099d-\r\n", 12345);
  CHECK(conn.Cmd({"LINDEX", "big", "12345"}) == want);
  std::string info = conn.Cmd({"INFO", "persistence"});
  CHECK(info.find("loading:0\r\n") != std::string::npos);
  CHECK(info.find("loading_start_time:") == std::string::npos);
  // Writes after loading are logged again.
  CHECK(conn.Cmd({"SET", "after", "1"}) == "+OK\r\n");
  // As Redis 7.0: the load is logged, then "Ready to accept connections".
  REQUIRE(server.WaitForLog("Ready to accept connections"));
  std::string log = LogSince(server, log_from);
  size_t loaded = log.find("DB loaded from append only file");
  CHECK(loaded != std::string::npos);
  CHECK(loaded < log.find("Ready to accept connections"));
}

}  // namespace
}  // namespace docket::test::aof
