// Integration tests for stream consumer groups over TCP: blocked XREADGROUP readers served in the
// order they blocked once a MULTI/EXEC ends, timeouts, CLIENT UNBLOCK, -NOGROUP for a destroyed
// group and -UNBLOCKED for a deleted key, the crash-recovery loop (a reader dies holding
// entries, another XAUTOCLAIMs and XACKs them), and groups, consumers, PELs and delivery counts
// after an AOF restart, after BGREWRITEAOF, and in redis-server loading Docket's directory.
// Checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file).
#include <doctest/doctest.h>

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

// One entry as RESP2 with a single field f: [id, [f, value]].
std::string Entry(const std::string& id, const std::string& value) {
  return "*2\r\n" + Bulk(id) + "*2\r\n" + Bulk("f") + Bulk(value);
}

// An XREADGROUP reply naming one stream with the given (encoded) entries.
std::string ReadReply(const std::string& key, const std::vector<std::string>& entries) {
  std::string s = "*1\r\n*2\r\n" + Bulk(key) + "*" + std::to_string(entries.size()) + "\r\n";
  for (const std::string& e : entries) s += e;
  return s;
}

// A reply as compact text: bulk and status strings as they are, integers, nil, [a,b,...].
std::string Text(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; i++) s += (i > 0 ? "," : "") + Text(r->element[i]);
      return s + "]";
    }
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "nil";
    default:
      return std::string(r->str, r->len);
  }
}

std::string BlockedClients(Redis& admin) { return aof::Info(admin, "clients")["blocked_clients"]; }

bool WaitBlocked(Redis& admin, int n) {
  long long deadline = NowMs() + kBlockedWaitMs;
  std::string got;
  while (NowMs() < deadline) {
    got = BlockedClients(admin);
    if (got == std::to_string(n)) return true;
    SleepMs(5);
  }
  MESSAGE("blocked_clients is ", got, ", expected ", n);
  return false;
}

void SendBlocking(RawConn& conn, const std::vector<std::string>& argv) {
  REQUIRE(conn.Send(Multibulk(argv)));
}

bool Quiet(RawConn& conn) { return conn.ReadAvailable(kQuietMs).empty(); }

void AddEntries(Redis& c, const std::string& key, int from, int to) {
  for (int i = from; i <= to; i++) {
    REQUIRE(c.Str({"XADD", key, std::to_string(i) + "-0", "f", "v" + std::to_string(i)}) ==
            std::to_string(i) + "-0");
  }
}

// The extended XPENDING as "id owner deliveries" lines (idle times left out).
std::string PendingRows(Redis& c, const std::string& key, const std::string& group) {
  Reply r = c.Cmd({"XPENDING", key, group, "-", "+", "1000"});
  REQUIRE(r != nullptr);
  REQUIRE(r->type == REDIS_REPLY_ARRAY);
  std::string out;
  for (size_t i = 0; i < r->elements; i++) {
    const redisReply* row = r->element[i];
    out += std::string(row->element[0]->str) + " " + row->element[1]->str + " " +
           std::to_string(row->element[3]->integer) + "\n";
  }
  return out;
}

// XINFO CONSUMERS as "name pending" lines (idle times left out).
std::string Consumers(Redis& c, const std::string& key, const std::string& group) {
  Reply r = c.Cmd({"XINFO", "CONSUMERS", key, group});
  REQUIRE(r != nullptr);
  REQUIRE(r->type == REDIS_REPLY_ARRAY);
  std::string out;
  for (size_t i = 0; i < r->elements; i++) {
    const redisReply* m = r->element[i];
    out += std::string(m->element[1]->str) + " " + std::to_string(m->element[3]->integer) + "\n";
  }
  return out;
}

// Everything about a key's groups that does not depend on the clock.
std::string GroupState(Redis& c, const std::string& key) {
  std::string out = Text(c.Cmd({"XINFO", "GROUPS", key}).get()) + "\n";
  Reply groups = c.Cmd({"XINFO", "GROUPS", key});
  for (size_t i = 0; i < groups->elements; i++) {
    std::string name = groups->element[i]->element[1]->str;
    out += name + ":\n" + Text(c.Cmd({"XPENDING", key, name}).get()) + "\n" +
           PendingRows(c, key, name) + Consumers(c, key, name);
  }
  return out;
}

// A dataset with two groups, several consumers (one without pending entries), PEL entries with
// delivery counts above one, a NOACK group and a deleted entry.
void FillGroups(Redis& c) {
  AddEntries(c, "s", 1, 6);
  REQUIRE(c.Str({"XGROUP", "CREATE", "s", "g", "0"}) == "OK");
  REQUIRE(c.Str({"XGROUP", "CREATE", "s", "quiet", "$"}) == "OK");
  REQUIRE(c.Str({"XGROUP", "CREATE", "s", "fast", "0"}) == "OK");
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">"}));
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">"}));
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "fast", "x", "NOACK", "COUNT", "4", "STREAMS", "s", ">"}));
  REQUIRE(c.Int({"XGROUP", "CREATECONSUMER", "s", "quiet", "carol"}) == 1);
  REQUIRE(c.Cmd({"XCLAIM", "s", "g", "bob", "0", "1-0", "RETRYCOUNT", "5"}));
  REQUIRE(c.Cmd({"XAUTOCLAIM", "s", "g", "carol", "0", "2-0", "COUNT", "1"}));
  REQUIRE(c.Int({"XACK", "s", "g", "3-0"}) == 1);
  REQUIRE(c.Int({"XDEL", "s", "6-0"}) == 1);
}

// What FillGroups leaves in the PEL of g: 1-0 bob x5, 2-0 carol x2, 4-0 and 5-0 bob x1.
const char* const kFilledPel = "1-0 bob 5\n2-0 carol 2\n4-0 bob 1\n5-0 bob 1\n";

}  // namespace

TEST_CASE("stream groups: blocked readers are served in the order they blocked, after EXEC") {
  ServerProcess server;
  Redis admin(server.port());
  RawConn w1(server.port()), w2(server.port()), w3(server.port()), tx(server.port());
  REQUIRE(admin.Str({"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"}) == "OK");
  for (auto [conn, name] : {std::pair{&w1, "c1"}, {&w2, "c2"}, {&w3, "c3"}}) {
    SendBlocking(
        *conn, {"XREADGROUP", "GROUP", "g", name, "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"});
    REQUIRE(WaitBlocked(admin, conn == &w1 ? 1 : conn == &w2 ? 2 : 3));
  }
  CHECK(tx.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(tx.Cmd({"XADD", "s", "1-0", "f", "v1"}) == "+QUEUED\r\n");
  CHECK(tx.Cmd({"XADD", "s", "2-0", "f", "v2"}) == "+QUEUED\r\n");
  CHECK(Quiet(w1));  // nothing is served while the transaction is open
  CHECK(tx.Cmd({"EXEC"}) == "*2\r\n" + Bulk("1-0") + Bulk("2-0"));
  // One entry each, in the order the readers blocked; the third finds nothing left.
  CHECK(w1.Read() == ReadReply("s", {Entry("1-0", "v1")}));
  CHECK(w2.Read() == ReadReply("s", {Entry("2-0", "v2")}));
  CHECK(Quiet(w3));
  CHECK(BlockedClients(admin) == "1");
  CHECK(admin.Str({"XADD", "s", "3-0", "f", "v3"}) == "3-0");
  CHECK(w3.Read() == ReadReply("s", {Entry("3-0", "v3")}));
  CHECK(PendingRows(admin, "s", "g") == "1-0 c1 1\n2-0 c2 1\n3-0 c3 1\n");
  CHECK(Text(admin.Cmd({"XINFO", "GROUPS", "s"}).get()) ==
        "[[name,g,consumers,3,pending,3,last-delivered-id,3-0,entries-read,3,lag,0]]");
}

TEST_CASE("stream groups: timeouts, MULTI, CLIENT UNBLOCK and a reader that disconnects") {
  ServerProcess server;
  Redis admin(server.port());
  REQUIRE(admin.Str({"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"}) == "OK");
  RawConn c(server.port());
  long long start = NowMs();
  CHECK(c.Cmd({"XREADGROUP", "GROUP", "g", "a", "BLOCK", "100", "STREAMS", "s", ">"}) == "*-1\r\n");
  CHECK(NowMs() - start >= 90);
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"}) ==
        "+QUEUED\r\n");
  CHECK(c.Cmd({"EXEC"}) == "*1\r\n*-1\r\n");
  std::string id = c.Cmd({"CLIENT", "ID"}).substr(1);
  id.resize(id.size() - 2);
  SendBlocking(c, {"XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Int({"CLIENT", "UNBLOCK", id}) == 1);
  CHECK(c.Read() == "*-1\r\n");
  SendBlocking(c, {"XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Int({"CLIENT", "UNBLOCK", id, "ERROR"}) == 1);
  CHECK(c.Read() == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
  {
    RawConn gone(server.port());
    SendBlocking(gone, {"XREADGROUP", "GROUP", "g", "dead", "BLOCK", "0", "STREAMS", "s", ">"});
    REQUIRE(WaitBlocked(admin, 1));
  }
  REQUIRE(WaitBlocked(admin, 0));
  // The entry is not handed to the reader that went away: the next reader gets it.
  CHECK(admin.Str({"XADD", "s", "1-0", "f", "v1"}) == "1-0");
  CHECK(c.Cmd({"XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"}) ==
        ReadReply("s", {Entry("1-0", "v1")}));
  // A reader is created when it is served, not when it blocks.
  CHECK(Consumers(admin, "s", "g") == "b 1\n");
}

TEST_CASE("stream groups: a destroyed group or a deleted key ends the wait with an error") {
  ServerProcess server;
  Redis admin(server.port());
  REQUIRE(admin.Str({"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"}) == "OK");
  REQUIRE(admin.Str({"XGROUP", "CREATE", "s", "h", "$"}) == "OK");
  RawConn r1(server.port()), r2(server.port()), plain(server.port());
  SendBlocking(r1, {"XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"});
  SendBlocking(r2, {"XREADGROUP", "GROUP", "h", "b", "BLOCK", "0", "STREAMS", "s", ">"});
  SendBlocking(plain, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"});
  REQUIRE(WaitBlocked(admin, 3));
  CHECK(admin.Int({"XGROUP", "DESTROY", "s", "g"}) == 1);
  CHECK(r1.Read() == "-NOGROUP the consumer group this client was blocked on no longer exists\r\n");
  CHECK(Quiet(r2));
  CHECK(admin.Int({"DEL", "s"}) == 1);
  CHECK(r2.Read() == "-UNBLOCKED the stream key no longer exists\r\n");
  CHECK(Quiet(plain));  // XREAD keeps waiting for the key to come back
  CHECK(admin.Str({"XADD", "s", "5-0", "f", "v"}) == "5-0");
  CHECK(plain.Read() == ReadReply("s", {Entry("5-0", "v")}));
  // A key overwritten with another type ends the wait too.
  REQUIRE(admin.Str({"XGROUP", "CREATE", "s", "g", "$"}) == "OK");
  SendBlocking(r1, {"XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Str({"SET", "s", "x"}) == "OK");
  CHECK(r1.Read() == "-UNBLOCKED the stream key no longer exists\r\n");
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("stream groups: a reader dies holding entries; another claims and acknowledges them") {
  ServerProcess server;
  Redis admin(server.port());
  AddEntries(admin, "jobs", 1, 10);
  REQUIRE(admin.Str({"XGROUP", "CREATE", "jobs", "workers", "0"}) == "OK");
  {
    RawConn a(server.port());
    std::vector<std::string> all;
    for (int i = 1; i <= 10; i++)
      all.push_back(Entry(std::to_string(i) + "-0", "v" + std::to_string(i)));
    CHECK(a.Cmd({"XREADGROUP", "GROUP", "workers", "A", "COUNT", "10", "STREAMS", "jobs", ">"}) ==
          ReadReply("jobs", all));
  }  // A's connection closes without acknowledging anything
  CHECK(Text(admin.Cmd({"XPENDING", "jobs", "workers"}).get()) == "[10,1-0,10-0,[[A,10]]]");
  Redis b(server.port());
  // Too fresh: nothing is claimed, and B is not created.
  CHECK(Text(b.Cmd({"XAUTOCLAIM", "jobs", "workers", "B", "200", "0"}).get()) == "[0-0,[],[]]");
  CHECK(Consumers(admin, "jobs", "workers") == "A 10\n");
  SleepMs(250);
  Reply first = b.Cmd({"XAUTOCLAIM", "jobs", "workers", "B", "200", "0", "COUNT", "4", "JUSTID"});
  CHECK(Text(first.get()) == "[5-0,[1-0,2-0,3-0,4-0],[]]");
  Reply rest = b.Cmd({"XAUTOCLAIM", "jobs", "workers", "B", "200", "5-0"});
  REQUIRE(rest->type == REDIS_REPLY_ARRAY);
  CHECK(std::string(rest->element[0]->str) == "0-0");
  CHECK(rest->element[1]->elements == 6);
  CHECK(std::string(rest->element[1]->element[0]->element[0]->str) == "5-0");
  // JUSTID does not count a delivery; a full claim does.
  CHECK(PendingRows(admin, "jobs", "workers") ==
        "1-0 B 1\n2-0 B 1\n3-0 B 1\n4-0 B 1\n5-0 B 2\n6-0 B 2\n7-0 B 2\n8-0 B 2\n9-0 B 2\n"
        "10-0 B 2\n");
  CHECK(Consumers(admin, "jobs", "workers") == "A 0\nB 10\n");
  std::vector<std::string> ack = {"XACK", "jobs", "workers"};
  for (int i = 1; i <= 10; i++) ack.push_back(std::to_string(i) + "-0");
  CHECK(b.Int(ack) == 10);
  CHECK(b.Int(ack) == 0);
  CHECK(Text(admin.Cmd({"XPENDING", "jobs", "workers"}).get()) == "[0,nil,nil,nil]");
  CHECK(Text(admin.Cmd({"XINFO", "GROUPS", "jobs"}).get()) ==
        "[[name,workers,consumers,2,pending,0,last-delivered-id,10-0,entries-read,10,lag,0]]");
}

TEST_CASE("stream groups: PELs and delivery counts survive an AOF restart") {
  ServerProcess server(aof::AofArgs("always"));
  Redis c(server.port());
  FillGroups(c);
  CHECK(PendingRows(c, "s", "g") == kFilledPel);
  // A history read counts a delivery in memory only: Redis 7.0 does not propagate it.
  REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", "3"}));
  CHECK(PendingRows(c, "s", "g") == "1-0 bob 5\n2-0 carol 2\n4-0 bob 2\n5-0 bob 1\n");
  std::string before = GroupState(c, "s");
  server.Stop();
  aof::RestartLoaded(server);
  Redis again(server.port());
  CHECK(PendingRows(again, "s", "g") == kFilledPel);
  CHECK(Consumers(again, "s", "g") == "alice 0\nbob 3\ncarol 1\n");
  CHECK(Consumers(again, "s", "quiet") == "carol 0\n");
  CHECK(Consumers(again, "s", "fast") == "x 0\n");
  // Replayed XCLAIMs move the last id (LASTID) but not entries-read, as in Redis 7.0; the NOACK
  // group's SETID carries it. The deleted 6-0 makes both lags unknown.
  CHECK(Text(again.Cmd({"XINFO", "GROUPS", "s"}).get()) ==
        "[[name,fast,consumers,1,pending,0,last-delivered-id,4-0,entries-read,4,lag,nil],"
        "[name,g,consumers,3,pending,4,last-delivered-id,5-0,entries-read,nil,lag,nil],"
        "[name,quiet,consumers,1,pending,0,last-delivered-id,6-0,entries-read,nil,lag,0]]");
  CHECK(before != GroupState(again, "s"));  // only by g's entries-read and bob's count
}

TEST_CASE("stream groups: BGREWRITEAOF keeps groups, consumers, PELs and entries-read") {
  ServerProcess server(aof::AofArgs("always"));
  Redis c(server.port());
  FillGroups(c);
  REQUIRE(c.Str({"XGROUP", "CREATECONSUMER", "s", "g", "idle-one"}) == "1");
  std::string before = GroupState(c, "s");
  CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
  aof::WaitRewriteDone(c);
  std::string dir = aof::AofDir(server);
  std::string base = aof::ReadFile(dir + "/" + aof::BaseFile(aof::ReadManifest(dir)));
  CHECK(base.find(Multibulk({"XGROUP", "CREATE", "s", "g", "5-0", "ENTRIESREAD", "5"})) !=
        std::string::npos);
  CHECK(base.find(Multibulk({"XGROUP", "CREATECONSUMER", "s", "g", "idle-one"})) !=
        std::string::npos);
  server.Stop();
  aof::RestartLoaded(server);
  Redis again(server.port());
  CHECK(GroupState(again, "s") == before);
  CHECK(PendingRows(again, "s", "g") == kFilledPel);
}

TEST_CASE("stream groups: redis-server loads Docket's AOF directory with its groups") {
  ServerProcess server(aof::AofArgs("always"));
  std::string state;
  {
    Redis c(server.port());
    FillGroups(c);
    CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
    aof::WaitRewriteDone(c);
    // After the rewrite: reads, claims and group changes in the incr file (MULTI/EXEC units).
    AddEntries(c, "s", 7, 9);
    REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">"}));
    REQUIRE(c.Cmd({"XREADGROUP", "GROUP", "quiet", "erin", "NOACK", "STREAMS", "s", ">"}));
    REQUIRE(c.Cmd({"XCLAIM", "s", "g", "alice", "0", "7-0", "8-0", "LASTID", "20-0"}));
    REQUIRE(c.Int({"XGROUP", "DELCONSUMER", "s", "g", "carol"}) == 1);
    REQUIRE(c.Str({"XGROUP", "SETID", "s", "fast", "2-0", "ENTRIESREAD", "2"}) == "OK");
    state = PendingRows(c, "s", "g") + Consumers(c, "s", "g") + Consumers(c, "s", "quiet");
    CHECK(Text(c.Cmd({"XINFO", "GROUPS", "s"}).get()) ==
          "[[name,fast,consumers,1,pending,0,last-delivered-id,2-0,entries-read,2,lag,nil],"
          "[name,g,consumers,3,pending,6,last-delivered-id,20-0,entries-read,8,lag,1],"
          "[name,quiet,consumers,2,pending,0,last-delivered-id,9-0,entries-read,9,lag,0]]");
  }
  CHECK(aof::ExitedCleanly(server.Stop()));
  ServerProcess redis({"--appendonly", "yes", "--dir", server.dir()}, "", aof::kRedisServer);
  aof::WaitLoaded(redis.port());
  Redis r(redis.port());
  CHECK(PendingRows(r, "s", "g") + Consumers(r, "s", "g") + Consumers(r, "s", "quiet") == state);
  // g's entries-read comes from the rewrite (5); the incr file's XCLAIMs do not move it, as
  // Redis 7.0 replays them.
  CHECK(Text(r.Cmd({"XINFO", "GROUPS", "s"}).get()) ==
        "[[name,fast,consumers,1,pending,0,last-delivered-id,2-0,entries-read,2,lag,nil],"
        "[name,g,consumers,3,pending,6,last-delivered-id,20-0,entries-read,5,lag,4],"
        "[name,quiet,consumers,2,pending,0,last-delivered-id,9-0,entries-read,9,lag,0]]");
  CHECK(PendingRows(r, "s", "g") ==
        "1-0 bob 5\n4-0 bob 1\n5-0 bob 1\n7-0 alice 2\n8-0 alice 2\n"
        "9-0 dave 1\n");
}

}  // namespace docket::test
