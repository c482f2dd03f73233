// Integration tests for lists as work queues: BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH over
// several connections (served at once, blocked then served, FIFO order, timeouts, CLIENT UNBLOCK,
// disconnects, type changes, pipelining). Expected bytes were checked against redis-server 7.0.15
// (DOCKET_SERVER=/usr/bin/redis-server runs this file against it). MULTI cases wait for MULTI.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {
namespace {

constexpr int kBlockedWaitMs = 3000;  // how long a client may take to show as blocked
constexpr int kQuietMs = 150;         // "no reply arrives" is checked over this long

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// An array of bulk strings, as RESP2 bytes.
std::string BulkArray(const std::vector<std::string>& items) {
  std::string s = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) s += Bulk(item);
  return s;
}

// The integer of a ":N\r\n" reply.
std::string IdOf(RawConn& conn) {
  std::string r = conn.Cmd({"CLIENT", "ID"});
  REQUIRE(r.size() > 3);
  REQUIRE(r[0] == ':');
  return r.substr(1, r.size() - 3);
}

// The value of a field of INFO <section>, or "" when absent.
std::string InfoField(RawConn& conn, const std::string& section, const std::string& field) {
  std::string info = conn.Cmd({"INFO", section});
  size_t at = info.find("\r\n" + field + ":");
  if (at == std::string::npos) return "";
  at += field.size() + 3;
  return info.substr(at, info.find("\r\n", at) - at);
}

// Polls INFO clients until blocked_clients is n. A client counts as blocked only once the server
// has run its command, so tests call this between blocking clients to fix their order.
bool WaitBlocked(RawConn& admin, int n) {
  long long deadline = NowMs() + kBlockedWaitMs;
  std::string want = std::to_string(n);
  std::string got;
  while (NowMs() < deadline) {
    got = InfoField(admin, "clients", "blocked_clients");
    if (got == want) return true;
    SleepMs(5);
  }
  MESSAGE("blocked_clients is ", got, ", expected ", want);
  return false;
}

// Sends a command whose reply is not expected yet (a blocking command).
void SendBlocking(RawConn& conn, const std::vector<std::string>& argv) {
  REQUIRE(conn.Send(Multibulk(argv)));
}

// True when nothing arrives on conn for kQuietMs.
bool Quiet(RawConn& conn) { return conn.ReadAvailable(kQuietMs).empty(); }

}  // namespace

TEST_CASE("blocking pops are served at once when a list has elements") {
  ServerProcess server;
  RawConn c(server.port());
  REQUIRE(c.Cmd({"RPUSH", "q", "a", "b", "c", "d", "e"}) == ":5\r\n");
  CHECK(c.Cmd({"BLPOP", "q", "0"}) == BulkArray({"q", "a"}));
  CHECK(c.Cmd({"BRPOP", "q", "0"}) == BulkArray({"q", "e"}));
  CHECK(c.Cmd({"BLMOVE", "q", "dst", "LEFT", "RIGHT", "0"}) == Bulk("b"));
  CHECK(c.Cmd({"BRPOPLPUSH", "q", "dst", "0"}) == Bulk("d"));
  CHECK(c.Cmd({"LRANGE", "dst", "0", "-1"}) == BulkArray({"d", "b"}));
  CHECK(c.Cmd({"BLMPOP", "0", "1", "q", "LEFT"}) == "*2\r\n" + Bulk("q") + BulkArray({"c"}));
  CHECK(c.Cmd({"EXISTS", "q"}) == ":0\r\n");
  REQUIRE(c.Cmd({"RPUSH", "q", "1", "2", "3"}) == ":3\r\n");
  CHECK(c.Cmd({"BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "2"}) ==
        "*2\r\n" + Bulk("q") + BulkArray({"3", "2"}));
  CHECK(c.Cmd({"BLMPOP", "0", "1", "q", "LEFT", "COUNT", "10"}) ==
        "*2\r\n" + Bulk("q") + BulkArray({"1"}));
}

TEST_CASE("the keys of a blocking pop are checked in order") {
  ServerProcess server;
  RawConn c(server.port());
  REQUIRE(c.Cmd({"RPUSH", "b", "b1", "b2"}) == ":2\r\n");
  REQUIRE(c.Cmd({"RPUSH", "c", "c1"}) == ":1\r\n");
  CHECK(c.Cmd({"BLPOP", "a", "b", "c", "0"}) == BulkArray({"b", "b1"}));
  CHECK(c.Cmd({"BRPOP", "c", "b", "0"}) == BulkArray({"c", "c1"}));
  CHECK(c.Cmd({"BLMPOP", "0", "3", "a", "c", "b", "LEFT", "COUNT", "5"}) ==
        "*2\r\n" + Bulk("b") + BulkArray({"b2"}));
  REQUIRE(c.Cmd({"SET", "s", "x"}) == "+OK\r\n");
  CHECK(c.Cmd({"BLPOP", "a", "s", "0"}) ==
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

TEST_CASE("a blocked client is served by a push from another connection") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), pusher(server.port());
  SUBCASE("BLPOP") {
    SendBlocking(waiter, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(pusher.Cmd({"RPUSH", "q", "job1"}) == ":1\r\n");
    CHECK(waiter.Read() == BulkArray({"q", "job1"}));
    CHECK(pusher.Cmd({"EXISTS", "q"}) == ":0\r\n");
  }
  SUBCASE("BRPOP on several keys: the key that got data") {
    SendBlocking(waiter, {"BRPOP", "q1", "q2", "q3", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(pusher.Cmd({"LPUSH", "q2", "x", "y"}) == ":2\r\n");
    CHECK(waiter.Read() == BulkArray({"q2", "x"}));
    CHECK(pusher.Cmd({"LRANGE", "q2", "0", "-1"}) == BulkArray({"y"}));
  }
  SUBCASE("BLMPOP with COUNT takes up to count") {
    SendBlocking(waiter, {"BLMPOP", "0", "2", "q1", "q2", "RIGHT", "COUNT", "2"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(pusher.Cmd({"RPUSH", "q2", "a", "b", "c"}) == ":3\r\n");
    CHECK(waiter.Read() == "*2\r\n" + Bulk("q2") + BulkArray({"c", "b"}));
    CHECK(pusher.Cmd({"LRANGE", "q2", "0", "-1"}) == BulkArray({"a"}));
  }
  SUBCASE("BRPOPLPUSH") {
    SendBlocking(waiter, {"BRPOPLPUSH", "src", "dst", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(pusher.Cmd({"RPUSH", "src", "a", "b"}) == ":2\r\n");
    CHECK(waiter.Read() == Bulk("b"));
    CHECK(pusher.Cmd({"LRANGE", "src", "0", "-1"}) == BulkArray({"a"}));
    CHECK(pusher.Cmd({"LRANGE", "dst", "0", "-1"}) == BulkArray({"b"}));
  }
  SUBCASE("a push by LMOVE wakes a client too") {
    REQUIRE(pusher.Cmd({"RPUSH", "other", "m"}) == ":1\r\n");
    SendBlocking(waiter, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(pusher.Cmd({"LMOVE", "other", "q", "LEFT", "LEFT"}) == Bulk("m"));
    CHECK(waiter.Read() == BulkArray({"q", "m"}));
  }
  CHECK(WaitBlocked(admin, 0));
  CHECK(waiter.Cmd({"PING"}) == "+PONG\r\n");
}

TEST_CASE("a blocking pop times out after a decimal timeout with a null array") {
  ServerProcess server;
  RawConn c(server.port());
  const std::vector<std::vector<std::string>> kCommands = {
      {"BLPOP", "q", "0.2"},
      {"BRPOP", "q1", "q2", "0.2"},
      {"BLMPOP", "0.2", "1", "q", "LEFT"},
      {"BLMOVE", "q", "d", "LEFT", "RIGHT", "0.2"},  // also a null array, not a null bulk
      {"BRPOPLPUSH", "q", "d", "0.2"},
  };
  for (const std::vector<std::string>& argv : kCommands) {
    INFO("command: ", argv[0]);
    long long start = NowMs();
    CHECK(c.Cmd(argv) == "*-1\r\n");
    long long elapsed = NowMs() - start;
    CHECK(elapsed >= 150);
    CHECK(elapsed < 1500);
  }
  CHECK(c.Cmd({"HELLO", "3"}).rfind("%", 0) == 0);
  CHECK(c.Cmd({"BLPOP", "q", "0.1"}) == "_\r\n");
  CHECK(c.Cmd({"BLMOVE", "q", "d", "LEFT", "RIGHT", "0.1"}) == "_\r\n");
  CHECK(c.Cmd({"EXISTS", "d"}) == ":0\r\n");
}

TEST_CASE("blocking timeouts that are not valid") {
  ServerProcess server;
  RawConn c(server.port());
  const std::string kNegative = "-ERR timeout is negative\r\n";
  const std::string kNotFloat = "-ERR timeout is not a float or out of range\r\n";
  CHECK(c.Cmd({"BLPOP", "q", "-1"}) == kNegative);
  CHECK(c.Cmd({"BLPOP", "q", "-0.5"}) == kNegative);
  CHECK(c.Cmd({"BRPOP", "q", "abc"}) == kNotFloat);
  CHECK(c.Cmd({"BRPOP", "q", "1.5x"}) == kNotFloat);
  CHECK(c.Cmd({"BLPOP", "q", ""}) == kNotFloat);
  CHECK(c.Cmd({"BLPOP", "q", "nan"}) == kNotFloat);
  CHECK(c.Cmd({"BLMOVE", "q", "d", "LEFT", "RIGHT", "-1"}) == kNegative);
  CHECK(c.Cmd({"BLMOVE", "q", "d", "LEFT", "RIGHT", "x"}) == kNotFloat);
  CHECK(c.Cmd({"BRPOPLPUSH", "q", "d", "-1"}) == kNegative);
  CHECK(c.Cmd({"BLMPOP", "-1", "1", "q", "LEFT"}) == kNegative);
  CHECK(c.Cmd({"BLMPOP", "x", "1", "q", "LEFT"}) == kNotFloat);
  // The timeout is checked before the keys: a bad timeout is an error even with data.
  REQUIRE(c.Cmd({"RPUSH", "q", "a"}) == ":1\r\n");
  CHECK(c.Cmd({"BLPOP", "q", "-1"}) == kNegative);
  CHECK(c.Cmd({"BLPOP", "q", "0.000001"}) == BulkArray({"q", "a"}));
  // Other argument errors of BLMOVE and BLMPOP.
  CHECK(c.Cmd({"BLMOVE", "q", "d", "UP", "RIGHT", "0"}) == "-ERR syntax error\r\n");
  CHECK(c.Cmd({"BLMPOP", "0", "0", "q", "LEFT"}) == "-ERR numkeys should be greater than 0\r\n");
  CHECK(c.Cmd({"BLMPOP", "0", "1", "q", "LEFT", "COUNT", "0"}) ==
        "-ERR count should be greater than 0\r\n");
  CHECK(c.Cmd({"BLMPOP", "0", "1", "q", "MIDDLE"}) == "-ERR syntax error\r\n");
  CHECK(InfoField(c, "clients", "blocked_clients") == "0");
}

TEST_CASE("clients blocked on one key are served first come, first served") {
  ServerProcess server;
  RawConn admin(server.port()), pusher(server.port());
  RawConn c1(server.port()), c2(server.port()), c3(server.port());
  SendBlocking(c1, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  SendBlocking(c2, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 2));
  SendBlocking(c3, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 3));
  SUBCASE("one push of three elements serves all three, in blocking order") {
    CHECK(pusher.Cmd({"RPUSH", "q", "a", "b", "c"}) == ":3\r\n");
    CHECK(c1.Read() == BulkArray({"q", "a"}));
    CHECK(c2.Read() == BulkArray({"q", "b"}));
    CHECK(c3.Read() == BulkArray({"q", "c"}));
    CHECK(pusher.Cmd({"EXISTS", "q"}) == ":0\r\n");
    CHECK(WaitBlocked(admin, 0));
  }
  SUBCASE("one element serves only the first; the others keep waiting in order") {
    CHECK(pusher.Cmd({"RPUSH", "q", "a"}) == ":1\r\n");
    CHECK(c1.Read() == BulkArray({"q", "a"}));
    CHECK(WaitBlocked(admin, 2));
    CHECK(Quiet(c2));
    CHECK(Quiet(c3));
    CHECK(pusher.Cmd({"LPUSH", "q", "b"}) == ":1\r\n");
    CHECK(c2.Read() == BulkArray({"q", "b"}));
    CHECK(Quiet(c3));
    // c1, blocking again, queues behind c3.
    SendBlocking(c1, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 2));
    CHECK(pusher.Cmd({"RPUSH", "q", "c", "d"}) == ":2\r\n");
    CHECK(c3.Read() == BulkArray({"q", "c"}));
    CHECK(c1.Read() == BulkArray({"q", "d"}));
    CHECK(WaitBlocked(admin, 0));
  }
}

TEST_CASE("a client blocked on two keys is served once") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), pusher(server.port());
  SendBlocking(waiter, {"BLPOP", "k1", "k2", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  // Both pushes arrive in one write: the first serves the client, the second stays in its list.
  REQUIRE(pusher.Send(Multibulk({"RPUSH", "k2", "second-key"}) +
                      Multibulk({"RPUSH", "k1", "first-key"})));
  CHECK(pusher.Read() == ":1\r\n");
  CHECK(pusher.Read() == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"k2", "second-key"}));
  CHECK(Quiet(waiter));
  CHECK(pusher.Cmd({"LRANGE", "k1", "0", "-1"}) == BulkArray({"first-key"}));
  CHECK(pusher.Cmd({"EXISTS", "k2"}) == ":0\r\n");
  CHECK(InfoField(admin, "clients", "blocked_clients") == "0");
}

TEST_CASE("a client that disconnects while blocked leaves nothing behind") {
  ServerProcess server;
  RawConn admin(server.port()), pusher(server.port());
  {
    RawConn gone1(server.port()), gone2(server.port());
    SendBlocking(gone1, {"BLPOP", "q", "0"});
    SendBlocking(gone2, {"BLMOVE", "q", "dst", "LEFT", "LEFT", "0"});
    REQUIRE(WaitBlocked(admin, 2));
  }
  CHECK(WaitBlocked(admin, 0));
  CHECK(pusher.Cmd({"RPUSH", "q", "kept"}) == ":1\r\n");
  CHECK(pusher.Cmd({"LRANGE", "q", "0", "-1"}) == BulkArray({"kept"}));
  CHECK(pusher.Cmd({"EXISTS", "dst"}) == ":0\r\n");
  // A client that blocks after them is served normally.
  RawConn waiter(server.port());
  SendBlocking(waiter, {"BRPOP", "q2", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(pusher.Cmd({"RPUSH", "q2", "x"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"q2", "x"}));
}

TEST_CASE("CLIENT UNBLOCK") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  std::string id = IdOf(waiter);
  SUBCASE("default: the timeout reply") {
    SendBlocking(waiter, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id}) == ":1\r\n");
    CHECK(waiter.Read() == "*-1\r\n");
  }
  SUBCASE("TIMEOUT, on BLMOVE") {
    SendBlocking(waiter, {"BLMOVE", "q", "d", "RIGHT", "LEFT", "0"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id, "TIMEOUT"}) == ":1\r\n");
    CHECK(waiter.Read() == "*-1\r\n");
  }
  SUBCASE("ERROR") {
    SendBlocking(waiter, {"BRPOP", "q", "0.3"});
    REQUIRE(WaitBlocked(admin, 1));
    CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id, "ERROR"}) == ":1\r\n");
    CHECK(waiter.Read() == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    CHECK(waiter.ReadAvailable(400).empty());  // its deadline went with it
  }
  CHECK(WaitBlocked(admin, 0));
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id}) == ":0\r\n");  // not blocked any more
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", IdOf(admin)}) == ":0\r\n");
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", "999999"}) == ":0\r\n");
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id, "BOGUS"}) ==
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", "abc"}) ==
        "-ERR value is not an integer or out of range\r\n");
  // The unblocked client is usable, and a later push is not taken by it.
  CHECK(waiter.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(admin.Cmd({"RPUSH", "q", "x"}) == ":1\r\n");
  CHECK(admin.Cmd({"LLEN", "q"}) == ":1\r\n");
}

TEST_CASE("BLMOVE rotates a list onto itself and moves into the destination once served") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), pusher(server.port());
  REQUIRE(admin.Cmd({"RPUSH", "ring", "a", "b", "c"}) == ":3\r\n");
  CHECK(admin.Cmd({"BLMOVE", "ring", "ring", "RIGHT", "LEFT", "0"}) == Bulk("c"));
  CHECK(admin.Cmd({"LRANGE", "ring", "0", "-1"}) == BulkArray({"c", "a", "b"}));
  CHECK(admin.Cmd({"BRPOPLPUSH", "ring", "ring", "0"}) == Bulk("b"));
  CHECK(admin.Cmd({"BLMOVE", "ring", "ring", "LEFT", "RIGHT", "0"}) == Bulk("b"));
  CHECK(admin.Cmd({"LRANGE", "ring", "0", "-1"}) == BulkArray({"c", "a", "b"}));

  SendBlocking(waiter, {"BLMOVE", "pending", "processing", "RIGHT", "LEFT", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(pusher.Cmd({"LPUSH", "pending", "job1", "job2"}) == ":2\r\n");
  CHECK(waiter.Read() == Bulk("job1"));
  CHECK(admin.Cmd({"LRANGE", "pending", "0", "-1"}) == BulkArray({"job2"}));
  CHECK(admin.Cmd({"LRANGE", "processing", "0", "-1"}) == BulkArray({"job1"}));

  SendBlocking(waiter, {"BLMOVE", "empty", "empty", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(pusher.Cmd({"RPUSH", "empty", "only"}) == ":1\r\n");
  CHECK(waiter.Read() == Bulk("only"));
  CHECK(admin.Cmd({"LRANGE", "empty", "0", "-1"}) == BulkArray({"only"}));
}

TEST_CASE("a served BLMOVE wakes a client blocked on its destination") {
  ServerProcess server;
  RawConn admin(server.port()), mover(server.port()), popper(server.port());
  SendBlocking(popper, {"BLPOP", "stage2", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  SendBlocking(mover, {"BLMOVE", "stage1", "stage2", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 2));
  CHECK(admin.Cmd({"RPUSH", "stage1", "item"}) == ":1\r\n");
  CHECK(mover.Read() == Bulk("item"));
  CHECK(popper.Read() == BulkArray({"stage2", "item"}));
  CHECK(admin.Cmd({"EXISTS", "stage1", "stage2"}) == ":0\r\n");
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("a waited-on key that becomes another type keeps the client waiting (Redis 7.0)") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), other(server.port());
  SendBlocking(waiter, {"BLPOP", "k", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(other.Cmd({"SET", "k", "string"}) == "+OK\r\n");
  CHECK(Quiet(waiter));
  CHECK(InfoField(admin, "clients", "blocked_clients") == "1");
  if (Implements(server.port(), {"sadd"})) {
    CHECK(other.Cmd({"SADD", "k2", "m"}) == ":1\r\n");
    CHECK(other.Cmd({"RENAME", "k2", "k"}) == "+OK\r\n");  // a set now
    CHECK(Quiet(waiter));
  }
  CHECK(other.Cmd({"DEL", "k"}) == ":1\r\n");
  CHECK(other.Cmd({"RPUSH", "k", "v"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"k", "v"}));
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("a blocked client shows in INFO clients and CLIENT LIST") {
  ServerProcess server;
  RawConn admin(server.port()), w1(server.port()), w2(server.port());
  std::string id1 = IdOf(w1), id2 = IdOf(w2);
  CHECK(InfoField(admin, "clients", "blocked_clients") == "0");
  SendBlocking(w1, {"BLPOP", "a", "0"});
  SendBlocking(w2, {"BRPOPLPUSH", "b", "c", "0"});
  REQUIRE(WaitBlocked(admin, 2));
  std::string list = admin.Cmd({"CLIENT", "LIST"});
  auto line_of = [&](const std::string& id) {
    size_t at = list.find("id=" + id + " ");
    if (at == std::string::npos) return std::string();
    return list.substr(at, list.find('\n', at) - at);
  };
  CHECK(line_of(id1).find(" flags=b ") != std::string::npos);
  CHECK(line_of(id1).find(" cmd=blpop ") != std::string::npos);
  CHECK(line_of(id2).find(" flags=b ") != std::string::npos);
  CHECK(line_of(id2).find(" cmd=brpoplpush ") != std::string::npos);
  CHECK(admin.Cmd({"CLIENT", "LIST", "ID", IdOf(admin)}).find(" flags=N ") != std::string::npos);
  CHECK(admin.Cmd({"RPUSH", "a", "x"}) == ":1\r\n");
  CHECK(w1.Read() == BulkArray({"a", "x"}));
  CHECK(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"CLIENT", "LIST", "ID", id1}).find(" flags=N ") != std::string::npos);
}

TEST_CASE("commands pipelined after a blocking command run once it is served") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), pusher(server.port());
  REQUIRE(waiter.Send(Multibulk({"BLPOP", "q", "0"}) + Multibulk({"PING"}) +
                      Multibulk({"RPUSH", "after", "1"}) + Multibulk({"LPOP", "q"})));
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(Quiet(waiter));
  CHECK(pusher.Cmd({"EXISTS", "after"}) == ":0\r\n");
  CHECK(pusher.Cmd({"RPUSH", "q", "first", "second"}) == ":2\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "first"}));
  CHECK(waiter.Read() == "+PONG\r\n");
  CHECK(waiter.Read() == ":1\r\n");
  CHECK(waiter.Read() == Bulk("second"));
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("a blocked client is served after each command of a pipelined push, not after all") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port()), pusher(server.port());
  SendBlocking(waiter, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  REQUIRE(pusher.Send(Multibulk({"RPUSH", "q", "a"}) + Multibulk({"LPOP", "q"})));
  CHECK(pusher.Read() == ":1\r\n");
  CHECK(pusher.Read() == "$-1\r\n");  // the waiter took "a" between the two commands
  CHECK(waiter.Read() == BulkArray({"q", "a"}));
}

TEST_CASE("a key repeated in one blocking command is served once") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  SendBlocking(waiter, {"BLPOP", "q", "q", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"RPUSH", "q", "a", "b"}) == ":2\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "a"}));
  CHECK(Quiet(waiter));
  CHECK(admin.Cmd({"LRANGE", "q", "0", "-1"}) == BulkArray({"b"}));
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("a blocked client waits on the key of its own database") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  REQUIRE(waiter.Cmd({"SELECT", "1"}) == "+OK\r\n");
  SendBlocking(waiter, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"RPUSH", "q", "db0"}) == ":1\r\n");
  CHECK(Quiet(waiter));
  CHECK(admin.Cmd({"SELECT", "1"}) == "+OK\r\n");
  CHECK(admin.Cmd({"RPUSH", "q", "db1"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "db1"}));
  CHECK(admin.Cmd({"SELECT", "0"}) == "+OK\r\n");
  CHECK(admin.Cmd({"LRANGE", "q", "0", "-1"}) == BulkArray({"db0"}));
}

TEST_CASE("a list arriving by RENAME, COPY, MOVE or SWAPDB wakes a waiter") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  REQUIRE(admin.Cmd({"RPUSH", "src", "x"}) == ":1\r\n");
  SendBlocking(waiter, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  SUBCASE("RENAME") {
    CHECK(admin.Cmd({"RENAME", "src", "q"}) == "+OK\r\n");
    CHECK(waiter.Read() == BulkArray({"q", "x"}));
  }
  SUBCASE("COPY") {
    CHECK(admin.Cmd({"COPY", "src", "q"}) == ":1\r\n");
    CHECK(waiter.Read() == BulkArray({"q", "x"}));
    CHECK(admin.Cmd({"LLEN", "src"}) == ":1\r\n");
  }
  SUBCASE("MOVE from another database") {
    CHECK(admin.Cmd({"SELECT", "2"}) == "+OK\r\n");
    CHECK(admin.Cmd({"RPUSH", "q", "from-db2"}) == ":1\r\n");
    CHECK(admin.Cmd({"MOVE", "q", "0"}) == ":1\r\n");
    CHECK(waiter.Read() == BulkArray({"q", "from-db2"}));
  }
  SUBCASE("SWAPDB") {
    CHECK(admin.Cmd({"SELECT", "3"}) == "+OK\r\n");
    CHECK(admin.Cmd({"RPUSH", "q", "from-db3"}) == ":1\r\n");
    CHECK(admin.Cmd({"SWAPDB", "0", "3"}) == "+OK\r\n");
    CHECK(waiter.Read() == BulkArray({"q", "from-db3"}));
  }
  CHECK(WaitBlocked(admin, 0));
}

TEST_CASE("a served BLMOVE whose destination is not a list gets WRONGTYPE") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  SendBlocking(waiter, {"BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"SET", "dst", "string"}) == "+OK\r\n");
  CHECK(admin.Cmd({"RPUSH", "src", "x"}) == ":1\r\n");
  CHECK(waiter.Read() == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  CHECK(WaitBlocked(admin, 0));
  CHECK(admin.Cmd({"LRANGE", "src", "0", "-1"}) == BulkArray({"x"}));
  CHECK(admin.Cmd({"GET", "dst"}) == Bulk("string"));
}

TEST_CASE("a client served before its timeout does not time out later") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  SendBlocking(waiter, {"BLPOP", "q", "0.3"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"RPUSH", "q", "a"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "a"}));
  SendBlocking(waiter, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(waiter.ReadAvailable(500).empty());  // past the first deadline: still blocked
  CHECK(admin.Cmd({"RPUSH", "q", "b"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "b"}));
}

TEST_CASE("CLIENT KILL of a blocked client") {
  ServerProcess server;
  RawConn admin(server.port()), victim(server.port());
  std::string id = IdOf(victim);
  SendBlocking(victim, {"BRPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"CLIENT", "KILL", "ID", id}) == ":1\r\n");
  CHECK(victim.WaitClosed());
  CHECK(WaitBlocked(admin, 0));
  CHECK(admin.Cmd({"RPUSH", "q", "kept"}) == ":1\r\n");
  CHECK(admin.Cmd({"LLEN", "q"}) == ":1\r\n");
}

TEST_CASE("replies of served clients in RESP3") {
  ServerProcess server;
  RawConn admin(server.port()), waiter(server.port());
  std::string id = IdOf(waiter);
  REQUIRE(waiter.Cmd({"HELLO", "3"}).rfind("%", 0) == 0);
  SendBlocking(waiter, {"BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"RPUSH", "q", "a", "b", "c"}) == ":3\r\n");
  CHECK(waiter.Read() == "*2\r\n" + Bulk("q") + BulkArray({"a", "b"}));
  SendBlocking(waiter, {"BRPOP", "none", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(admin.Cmd({"CLIENT", "UNBLOCK", id}) == ":1\r\n");
  CHECK(waiter.Read() == "_\r\n");
}

TEST_CASE("a blocked BLMOVE onto its own list passes the element on to the next waiter") {
  ServerProcess server;
  RawConn admin(server.port()), rotator(server.port()), popper(server.port());
  SendBlocking(rotator, {"BLMOVE", "q", "q", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  SendBlocking(popper, {"BLPOP", "q", "0"});
  REQUIRE(WaitBlocked(admin, 2));
  CHECK(admin.Cmd({"RPUSH", "q", "x"}) == ":1\r\n");
  CHECK(rotator.Read() == Bulk("x"));
  CHECK(popper.Read() == BulkArray({"q", "x"}));
  CHECK(admin.Cmd({"EXISTS", "q"}) == ":0\r\n");
}

// Redis 7.0 casts seconds * 1000 to a long long: on x86-64 a value past its range (or infinite)
// becomes LLONG_MIN, hence "negative"; and it has no "out of range" check on the deadline.
TEST_CASE("blocking timeouts beyond 64-bit milliseconds, as Redis 7.0") {
  ServerProcess server;
  RawConn c(server.port());
  const std::string kNegative = "-ERR timeout is negative\r\n";
  CHECK(c.Cmd({"BLPOP", "q", "1e20"}) == kNegative);
  CHECK(c.Cmd({"BLPOP", "q", "inf"}) == kNegative);
  CHECK(c.Cmd({"BLPOP", "q", "-inf"}) == kNegative);
  CHECK(c.Cmd({"BLPOP", "q", "9223372036854776"}) == kNegative);
  REQUIRE(c.Cmd({"RPUSH", "q", "a", "b"}) == ":2\r\n");
  CHECK(c.Cmd({"BLPOP", "q", "9223372036854775"}) == BulkArray({"q", "a"}));
  CHECK(c.Cmd({"BLPOP", "q", "9223371000000000"}) == BulkArray({"q", "b"}));
}

TEST_CASE("waiters with COUNT and with timeouts") {
  ServerProcess server;
  RawConn admin(server.port()), c1(server.port()), c2(server.port()), c3(server.port());
  SUBCASE("a BLMPOP with COUNT takes its share, the next waiter the rest") {
    SendBlocking(c1, {"BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"});
    REQUIRE(WaitBlocked(admin, 1));
    SendBlocking(c2, {"BRPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 2));
    SendBlocking(c3, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 3));
    CHECK(admin.Cmd({"RPUSH", "q", "a", "b", "c"}) == ":3\r\n");
    CHECK(c1.Read() == "*2\r\n" + Bulk("q") + BulkArray({"a", "b"}));
    CHECK(c2.Read() == BulkArray({"q", "c"}));
    CHECK(Quiet(c3));
    CHECK(WaitBlocked(admin, 1));
  }
  SUBCASE("each waiter times out at its own deadline; the others stay") {
    SendBlocking(c1, {"BLPOP", "q", "0.5"});
    SendBlocking(c2, {"BLPOP", "q", "0.2"});
    SendBlocking(c3, {"BLPOP", "q", "0"});
    REQUIRE(WaitBlocked(admin, 3));
    long long start = NowMs();
    CHECK(c2.Read() == "*-1\r\n");
    CHECK(InfoField(admin, "clients", "blocked_clients") == "2");
    CHECK(c1.Read() == "*-1\r\n");
    CHECK(NowMs() - start >= 200);
    CHECK(WaitBlocked(admin, 1));
    CHECK(admin.Cmd({"RPUSH", "q", "x"}) == ":1\r\n");
    CHECK(c3.Read() == BulkArray({"q", "x"}));
  }
}

// Two keys of one waiter become ready while blocked clients are served: Redis 7.0 serves it from
// the key that was signalled first, not from the first of its keys that has elements.
TEST_CASE("a waiter is served from the key that became ready first") {
  ServerProcess server;
  RawConn admin(server.port()), to_b(server.port()), to_a(server.port()), waiter(server.port());
  SendBlocking(to_b, {"BLMOVE", "c", "b", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 1));
  SendBlocking(to_a, {"BLMOVE", "c", "a", "LEFT", "RIGHT", "0"});
  REQUIRE(WaitBlocked(admin, 2));
  SendBlocking(waiter, {"BLPOP", "a", "b", "0"});
  REQUIRE(WaitBlocked(admin, 3));
  CHECK(admin.Cmd({"RPUSH", "c", "x1", "x2"}) == ":2\r\n");
  CHECK(to_b.Read() == Bulk("x1"));
  CHECK(to_a.Read() == Bulk("x2"));
  CHECK(waiter.Read() == BulkArray({"b", "x1"}));
  CHECK(admin.Cmd({"LRANGE", "a", "0", "-1"}) == BulkArray({"x2"}));
  CHECK(admin.Cmd({"EXISTS", "b", "c"}) == ":0\r\n");
  CHECK(WaitBlocked(admin, 0));
}

}  // namespace docket::test
