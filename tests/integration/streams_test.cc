// Integration tests for streams over TCP: blocking XREAD (served at once, woken by XADD from
// another connection, `$` fixed when the client blocked, timeouts, MULTI, the 1000-entry cap of
// a woken read, CLIENT UNBLOCK, disconnects), and streams surviving an AOF restart, a
// BGREWRITEAOF and DEBUG RELOAD with ids, tombstones and counters intact. Expected bytes were
// checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {
namespace {

constexpr int kBlockedWaitMs = 3000;
constexpr int kQuietMs = 150;

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// One entry as RESP2: [id, [field, value, ...]].
std::string Entry(const std::string& id, const std::vector<std::string>& fv) {
  std::string s = "*2\r\n" + Bulk(id) + "*" + std::to_string(fv.size()) + "\r\n";
  for (const std::string& x : fv) s += Bulk(x);
  return s;
}

// An XREAD reply naming one stream with the given entries (already encoded).
std::string ReadReply(const std::string& key, const std::vector<std::string>& entries) {
  std::string s = "*1\r\n*2\r\n" + Bulk(key) + "*" + std::to_string(entries.size()) + "\r\n";
  for (const std::string& e : entries) s += e;
  return s;
}

std::string InfoField(RawConn& conn, const std::string& section, const std::string& field) {
  std::string info = conn.Cmd({"INFO", section});
  size_t at = info.find("\r\n" + field + ":");
  if (at == std::string::npos) return "";
  at += field.size() + 3;
  return info.substr(at, info.find("\r\n", at) - at);
}

bool WaitBlocked(RawConn& admin, int n) {
  long long deadline = NowMs() + kBlockedWaitMs;
  std::string want = std::to_string(n), got;
  while (NowMs() < deadline) {
    got = InfoField(admin, "clients", "blocked_clients");
    if (got == want) return true;
    SleepMs(5);
  }
  MESSAGE("blocked_clients is ", got, ", expected ", want);
  return false;
}

void SendBlocking(RawConn& conn, const std::vector<std::string>& argv) {
  REQUIRE(conn.Send(Multibulk(argv)));
}

bool Quiet(RawConn& conn) { return conn.ReadAvailable(kQuietMs).empty(); }

}  // namespace

TEST_CASE("streams: XREAD BLOCK reads at once when there are newer entries, else waits") {
  ServerProcess server;
  RawConn c(server.port()), w(server.port());
  REQUIRE(c.Cmd({"XADD", "s", "1-0", "f", "a"}) == Bulk("1-0"));
  CHECK(w.Cmd({"XREAD", "BLOCK", "0", "STREAMS", "s", "0"}) ==
        ReadReply("s", {Entry("1-0", {"f", "a"})}));
  // `$` is the last id when the client blocks: the entry already there is not returned.
  SendBlocking(w, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
  REQUIRE(WaitBlocked(c, 1));
  CHECK(Quiet(w));
  REQUIRE(c.Cmd({"XADD", "s", "2-0", "f", "b"}) == Bulk("2-0"));
  CHECK(w.Read() == ReadReply("s", {Entry("2-0", {"f", "b"})}));
  CHECK(WaitBlocked(c, 0));
  // A missing stream: the first entries of the stream that an XADD creates.
  SendBlocking(w, {"XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "missing", "s", "0", "$"});
  REQUIRE(WaitBlocked(c, 1));
  REQUIRE(c.Cmd({"XADD", "missing", "7-1", "x", "y"}) == Bulk("7-1"));
  CHECK(w.Read() == ReadReply("missing", {Entry("7-1", {"x", "y"})}));
}

TEST_CASE(
    "streams: every blocked reader past its id is served; one waiting further keeps waiting") {
  ServerProcess server;
  RawConn c(server.port()), w1(server.port()), w2(server.port()), w3(server.port());
  REQUIRE(c.Cmd({"XADD", "q", "1-0", "f", "1"}) == Bulk("1-0"));
  SendBlocking(w1, {"XREAD", "BLOCK", "0", "STREAMS", "q", "$"});
  REQUIRE(WaitBlocked(c, 1));
  SendBlocking(w2, {"XREAD", "BLOCK", "0", "STREAMS", "q", "100-0"});
  REQUIRE(WaitBlocked(c, 2));
  SendBlocking(w3, {"XREAD", "BLOCK", "0", "STREAMS", "q", "0"});  // served at once
  CHECK(w3.Read() == ReadReply("q", {Entry("1-0", {"f", "1"})}));
  SendBlocking(w3, {"XREAD", "BLOCK", "0", "STREAMS", "q", "$"});
  REQUIRE(WaitBlocked(c, 3));
  REQUIRE(c.Cmd({"XADD", "q", "2-0", "f", "2"}) == Bulk("2-0"));
  std::string want = ReadReply("q", {Entry("2-0", {"f", "2"})});
  CHECK(w1.Read() == want);
  CHECK(w3.Read() == want);
  CHECK(Quiet(w2));
  CHECK(WaitBlocked(c, 1));
  REQUIRE(c.Cmd({"XADD", "q", "101-0", "f", "3"}) == Bulk("101-0"));
  CHECK(w2.Read() == ReadReply("q", {Entry("101-0", {"f", "3"})}));
}

TEST_CASE("streams: XREAD BLOCK timeouts, MULTI, CLIENT UNBLOCK and disconnects") {
  ServerProcess server;
  RawConn c(server.port()), w(server.port());
  long long start = NowMs();
  CHECK(w.Cmd({"XREAD", "BLOCK", "100", "STREAMS", "s", "$"}) == "*-1\r\n");
  long long took = NowMs() - start;
  CHECK(took >= 90);
  CHECK(took < 3000);
  // Inside MULTI the blocking form replies at once.
  REQUIRE(c.Cmd({"MULTI"}) == "+OK\r\n");
  REQUIRE(c.Cmd({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"EXEC"}) == "*1\r\n*-1\r\n");
  // A transaction's entries are served after EXEC, together.
  SendBlocking(w, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
  REQUIRE(WaitBlocked(c, 1));
  REQUIRE(c.Cmd({"MULTI"}) == "+OK\r\n");
  REQUIRE(c.Cmd({"XADD", "s", "1-0", "a", "1"}) == "+QUEUED\r\n");
  REQUIRE(c.Cmd({"XADD", "s", "2-0", "a", "2"}) == "+QUEUED\r\n");
  CHECK(Quiet(w));
  CHECK(c.Cmd({"EXEC"}) == "*2\r\n" + Bulk("1-0") + Bulk("2-0"));
  CHECK(w.Read() == ReadReply("s", {Entry("1-0", {"a", "1"}), Entry("2-0", {"a", "2"})}));
  // CLIENT UNBLOCK: the timeout reply, or -UNBLOCKED.
  std::string id = w.Cmd({"CLIENT", "ID"}).substr(1);
  id = id.substr(0, id.size() - 2);
  SendBlocking(w, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
  REQUIRE(WaitBlocked(c, 1));
  CHECK(c.Cmd({"CLIENT", "UNBLOCK", id}) == ":1\r\n");
  CHECK(w.Read() == "*-1\r\n");
  SendBlocking(w, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
  REQUIRE(WaitBlocked(c, 1));
  CHECK(c.Cmd({"CLIENT", "UNBLOCK", id, "ERROR"}) == ":1\r\n");
  CHECK(w.Read() == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
  // A reader that goes away while blocked is forgotten.
  {
    RawConn gone(server.port());
    SendBlocking(gone, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
    REQUIRE(WaitBlocked(c, 1));
  }
  CHECK(WaitBlocked(c, 0));
  CHECK(c.Cmd({"XADD", "s", "3-0", "a", "3"}) == Bulk("3-0"));
  CHECK(c.Cmd({"XLEN", "s"}) == ":3\r\n");
}

TEST_CASE("streams: a woken XREAD without COUNT gets at most 1000 entries, as Redis 7.0") {
  ServerProcess server;
  RawConn c(server.port()), w(server.port());
  SendBlocking(w, {"XREAD", "BLOCK", "0", "STREAMS", "s", "0"});
  REQUIRE(WaitBlocked(c, 1));
  REQUIRE(c.Cmd({"MULTI"}) == "+OK\r\n");
  for (int i = 1; i <= 1500; i++) {
    REQUIRE(c.Cmd({"XADD", "s", std::to_string(i) + "-0", "f", "v"}) == "+QUEUED\r\n");
  }
  REQUIRE(c.Cmd({"EXEC"}).substr(0, 7) == "*1500\r\n");
  std::string r = w.Read();
  CHECK(r.substr(0, 22) == "*1\r\n*2\r\n$1\r\ns\r\n*1000\r\n");
  CHECK(r.find(Bulk("1000-0")) != std::string::npos);
  CHECK(r.find(Bulk("1001-0")) == std::string::npos);
  // Not woken: every entry.
  CHECK(w.Cmd({"XREAD", "STREAMS", "s", "0"}).substr(0, 22) == "*1\r\n*2\r\n$1\r\ns\r\n*1500\r\n");
}

namespace {

// Drops the integer reply that follows the field name (node counts change when a rewrite packs
// the live entries anew, in Redis too).
std::string StripField(std::string s, const std::string& name) {
  size_t at = s.find(Bulk(name));
  if (at == std::string::npos) return s;
  at += Bulk(name).size();
  return s.erase(at, s.find("\r\n", at) + 2 - at);
}

// What a stream looks like from outside: XINFO STREAM FULL (without node counts) and a range.
std::string Snapshot(RawConn& c, const std::string& key) {
  std::string info = c.Cmd({"XINFO", "STREAM", key, "FULL", "COUNT", "0"});
  info = StripField(StripField(info, "radix-tree-keys"), "radix-tree-nodes");
  return info + c.Cmd({"XRANGE", key, "-", "+"});
}

void FillStreams(RawConn& c) {
  for (int i = 1; i <= 3000; i++) {
    std::string v = std::to_string(i);
    REQUIRE(c.Cmd({"XADD", "big", v + "-" + std::to_string(i % 3), "f", v, "g", "x"}).size() > 0);
  }
  CHECK(c.Cmd({"XDEL", "big", "5-2", "1000-1", "2999-2"}) == ":3\r\n");
  CHECK(c.Cmd({"XTRIM", "big", "MAXLEN", "~", "2500", "LIMIT", "250"}) == ":199\r\n");
  CHECK(c.Cmd({"XTRIM", "big", "MINID", "210"}) == ":9\r\n");
  REQUIRE(c.Cmd({"XADD", "auto", "*", "a", "1"})[0] == '$');
  REQUIRE(c.Cmd({"XADD", "auto", "MAXLEN", "~", "1", "*", "b", "2"})[0] == '$');
  REQUIRE(c.Cmd({"XADD", "auto", "99999999999999-*", "c", "3"})[0] == '$');
  REQUIRE(c.Cmd({"XADD", "empty", "1-1", "f", "v"}) == Bulk("1-1"));
  REQUIRE(c.Cmd({"XDEL", "empty", "1-1"}) == ":1\r\n");
  REQUIRE(c.Cmd({"XADD", "trimmed", "MAXLEN", "0", "5-5", "f", "v"}) == Bulk("5-5"));
  REQUIRE(c.Cmd({"XADD", "set", "1-0", "f", "v"}) == Bulk("1-0"));
  REQUIRE(c.Cmd({"XSETID", "set", "50-0", "ENTRIESADDED", "40", "MAXDELETEDID", "20-0"}) ==
          "+OK\r\n");
}

}  // namespace

TEST_CASE("streams: survive an AOF restart, a rewrite and DEBUG RELOAD exactly") {
  ServerProcess server(
      {"--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes"});
  std::vector<std::string> keys = {"big", "auto", "empty", "trimmed", "set"};
  std::vector<std::string> before;
  {
    RawConn c(server.port());
    FillStreams(c);
    for (const std::string& k : keys) before.push_back(Snapshot(c, k));
  }
  CHECK(before[0].find(Bulk("recorded-first-entry-id") + Bulk("210-0")) != std::string::npos);
  auto check = [&](const char* when) {
    RawConn c(server.port());
    for (size_t i = 0; i < keys.size(); i++) {
      INFO(when, ": ", keys[i]);
      CHECK(Snapshot(c, keys[i]) == before[i]);
    }
  };
  server.Stop();
  aof::RestartLoaded(server);
  check("restart");
  {
    Redis r(server.port());
    CHECK(r.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
    aof::WaitRewriteDone(r);
  }
  server.Stop();
  aof::RestartLoaded(server);
  check("rewrite");
  {
    RawConn c(server.port());
    CHECK(c.Cmd({"DEBUG", "RELOAD"}) == "+OK\r\n");
  }
  check("reload");
}

TEST_CASE("streams: an approximate trim is logged as the exact trim it made") {
  ServerProcess server({"--appendonly", "yes", "--appendfsync", "always"});
  RawConn c(server.port());
  for (int i = 1; i <= 250; i++) {
    REQUIRE(c.Cmd({"XADD", "s", "MAXLEN", "~", "120", std::to_string(i) + "-0", "f", "v"})[0] ==
            '$');
  }
  CHECK(c.Cmd({"XLEN", "s"}) == ":150\r\n");  // whole nodes of 100 only
  REQUIRE(c.Cmd({"XADD", "s", "MINID", "~", "180", "LIMIT", "1000", "*", "f", "v"})[0] == '$');
  CHECK(c.Cmd({"XTRIM", "s", "MINID", "~", "180"}) == ":0\r\n");
  std::string aof;
  for (const auto& e : std::filesystem::directory_iterator(server.dir() + "/appendonlydir")) {
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    aof += ss.str();
  }
  CHECK(aof.find(Multibulk({"XADD", "s", "MAXLEN", "=", "101", "101-0", "f", "v"})) !=
        std::string::npos);
  CHECK(aof.find(Multibulk({"XADD", "s", "MAXLEN", "=", "150", "250-0", "f", "v"})) !=
        std::string::npos);
  CHECK(aof.find("$1\r\n~\r\n") == std::string::npos);
  CHECK(aof.find("MINID\r\n$1\r\n=\r\n$5\r\n101-0\r\n$5\r\nLIMIT\r\n$4\r\n1000\r\n") !=
        std::string::npos);
  std::string snap = Snapshot(c, "s");
  server.Stop();
  aof::RestartLoaded(server);
  RawConn again(server.port());
  CHECK(Snapshot(again, "s") == snap);
}

TEST_CASE("streams: consumer groups and PELs survive a rewrite") {
  ServerProcess server({"--appendonly", "yes", "--appendfsync", "always"});
  if (!Implements(server.port(), {"xgroup", "xreadgroup", "xclaim"})) {
    MESSAGE("consumer-group commands not available yet: skipped");
    return;
  }
  RawConn c(server.port());
  for (int i = 1; i <= 5; i++) {
    REQUIRE(c.Cmd({"XADD", "s", std::to_string(i) + "-0", "f", "v"})[0] == '$');
  }
  REQUIRE(c.Cmd({"XGROUP", "CREATE", "s", "g1", "0"}) == "+OK\r\n");
  REQUIRE(c.Cmd({"XGROUP", "CREATE", "s", "g2", "$"}) == "+OK\r\n");
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "s", ">"})[0] ==
          '*');
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", "s", ">"})[0] == '*');
  REQUIRE(c.Cmd({"XGROUP", "CREATECONSUMER", "s", "g2", "carol"}) == ":1\r\n");
  // An entry nobody has pending (Redis 7.0's XCLAIM drops a NACK whose entry is gone, so a RESP
  // rewrite cannot carry such NACKs: redis-server with aof-use-rdb-preamble no loses them too).
  REQUIRE(c.Cmd({"XDEL", "s", "4-0"}) == ":1\r\n");
  // Idle and seen times move (and a reload resets seen-time, as in Redis): compare the groups'
  // counters and the PEL summaries.
  auto pel = [](RawConn& conn) {
    return conn.Cmd({"XINFO", "GROUPS", "s"}) + conn.Cmd({"XPENDING", "s", "g1"}) +
           conn.Cmd({"XPENDING", "s", "g2"});
  };
  std::string before = pel(c);
  {
    Redis r(server.port());
    CHECK(r.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
    aof::WaitRewriteDone(r);
  }
  server.Stop();
  aof::RestartLoaded(server);
  RawConn again(server.port());
  CHECK(pel(again) == before);
}

}  // namespace docket::test
