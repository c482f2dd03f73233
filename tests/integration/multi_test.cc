// Integration tests for transactions: MULTI / EXEC / DISCARD errors and replies, EXECABORT,
// WATCH invalidated by another client's write, by expiry, by FLUSHALL and by SWAPDB, clients
// blocked on a list that a transaction changes, CLIENT LIST while queuing. Expected bytes were
// checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {
namespace {

constexpr int kBlockedWaitMs = 3000;
constexpr int kQuietMs = 150;

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

std::string BulkArray(const std::vector<std::string>& items) {
  std::string s = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) s += Bulk(item);
  return s;
}

// Runs MULTI, the commands (each must reply +QUEUED), EXEC; returns EXEC's reply.
std::string Transaction(RawConn& c, const std::vector<std::vector<std::string>>& commands) {
  REQUIRE(c.Cmd({"MULTI"}) == "+OK\r\n");
  for (const auto& argv : commands) REQUIRE(c.Cmd(argv) == "+QUEUED\r\n");
  return c.Cmd({"EXEC"});
}

// The value of field in the CLIENT LIST line of the client named name, or "".
std::string ClientField(RawConn& admin, const std::string& name, const std::string& field) {
  std::string list = admin.Cmd({"CLIENT", "LIST"});
  size_t line = list.find(" name=" + name + " ");
  if (line == std::string::npos) return "";
  size_t at = list.find(" " + field + "=", line);
  if (at == std::string::npos) return "";
  at += field.size() + 2;
  return list.substr(at, list.find_first_of(" \n", at) - at);
}

bool WaitBlocked(RawConn& admin, int n) {
  long long deadline = NowMs() + kBlockedWaitMs;
  std::string want = "blocked_clients:" + std::to_string(n) + "\r\n";
  while (NowMs() < deadline) {
    if (admin.Cmd({"INFO", "clients"}).find(want) != std::string::npos) return true;
    SleepMs(5);
  }
  return false;
}

}  // namespace

TEST_CASE("MULTI / EXEC / DISCARD replies and errors") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"EXEC"}) == "-ERR EXEC without MULTI\r\n");
  CHECK(c.Cmd({"DISCARD"}) == "-ERR DISCARD without MULTI\r\n");
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"MULTI"}) == "-ERR MULTI calls can not be nested\r\n");
  CHECK(c.Cmd({"WATCH", "k"}) == "-ERR WATCH inside MULTI is not allowed\r\n");
  CHECK(c.Cmd({"SET", "k", "v"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"GET", "k"}) == "+QUEUED\r\n");
  // Errors of MULTI itself and of WATCH do not doom the transaction.
  CHECK(c.Cmd({"EXEC"}) == "*2\r\n+OK\r\n" + Bulk("v"));
  CHECK(Transaction(c, {}) == "*0\r\n");

  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"INCR", "k"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"DISCARD"}) == "+OK\r\n");
  CHECK(c.Cmd({"GET", "k"}) == Bulk("v"));

  // A runtime error is that command's reply; the others still run (no rollback).
  CHECK(
      Transaction(c, {{"SET", "n", "1"}, {"LPUSH", "n", "x"}, {"INCR", "n"}}) ==
      "*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n");

  // QUIT runs at once inside MULTI.
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"QUIT"}) == "+OK\r\n");
  CHECK(c.WaitClosed());
}

TEST_CASE("a command refused while queuing aborts EXEC") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"SET", "a", "1"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"NOPE", "x"}) == "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n");
  CHECK(c.Cmd({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");
  CHECK(c.Cmd({"SET", "b", "1"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
  CHECK(c.Cmd({"EXISTS", "a", "b"}) == ":0\r\n");
  CHECK(c.Cmd({"EXEC"}) == "-ERR EXEC without MULTI\r\n");

  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"SHUTDOWN"}) == "-ERR Command not allowed inside a transaction\r\n");
  CHECK(c.Cmd({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");

  // EXEC itself refused ends the transaction at once.
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"SET", "a", "1"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"EXEC", "x"}) ==
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command\r\n");
  CHECK(c.Cmd({"EXEC"}) == "-ERR EXEC without MULTI\r\n");
  CHECK(c.Cmd({"EXISTS", "a"}) == ":0\r\n");

  // MONITOR queued in MULTI is refused when EXEC runs it.
  CHECK(Transaction(c, {{"MONITOR"}, {"PING"}}) ==
        "*2\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n+PONG\r\n");
}

TEST_CASE("WATCH: another client's write makes EXEC fail") {
  ServerProcess server;
  RawConn c(server.port()), other(server.port());
  CHECK(c.Cmd({"SET", "balance", "10"}) == "+OK\r\n");
  CHECK(c.Cmd({"WATCH", "balance", "other"}) == "+OK\r\n");
  CHECK(other.Cmd({"INCRBY", "balance", "5"}) == ":15\r\n");
  CHECK(Transaction(c, {{"SET", "balance", "0"}}) == "*-1\r\n");
  CHECK(c.Cmd({"GET", "balance"}) == Bulk("15"));

  // EXEC unwatched everything: the same write no longer matters.
  CHECK(Transaction(c, {{"SET", "balance", "1"}}) == "*1\r\n+OK\r\n");

  // Unchanged keys, a write to the same name in another database: EXEC runs.
  CHECK(c.Cmd({"WATCH", "balance"}) == "+OK\r\n");
  CHECK(other.Cmd({"SELECT", "1"}) == "+OK\r\n");
  CHECK(other.Cmd({"SET", "balance", "x"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"GET", "balance"}}) == "*1\r\n" + Bulk("1"));

  // UNWATCH and DISCARD forget the watched keys and a write already seen.
  CHECK(c.Cmd({"WATCH", "balance"}) == "+OK\r\n");
  CHECK(other.Cmd({"SELECT", "0"}) == "+OK\r\n");
  CHECK(other.Cmd({"DEL", "balance"}) == ":1\r\n");
  CHECK(c.Cmd({"UNWATCH"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*1\r\n+PONG\r\n");
  CHECK(c.Cmd({"WATCH", "balance"}) == "+OK\r\n");
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"DISCARD"}) == "+OK\r\n");
  CHECK(other.Cmd({"SET", "balance", "2"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*1\r\n+PONG\r\n");

  // RESP3: the failed EXEC is a null.
  CHECK(c.Cmd({"HELLO", "3"}).substr(0, 3) == "%7\r");
  CHECK(c.Cmd({"WATCH", "balance"}) == "+OK\r\n");
  CHECK(other.Cmd({"APPEND", "balance", "x"}) == ":2\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "_\r\n");
}

TEST_CASE("WATCH: a key that expires before EXEC counts as modified") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"SET", "lease", "me", "PX", "150"}) == "+OK\r\n");
  CHECK(c.Cmd({"WATCH", "lease"}) == "+OK\r\n");
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"PING"}) == "+QUEUED\r\n");
  SleepMs(300);
  CHECK(c.Cmd({"EXEC"}) == "*-1\r\n");

  // A key already expired when WATCH ran is ignored, and so is its deletion.
  CHECK(c.Cmd({"SET", "old", "v", "PX", "20"}) == "+OK\r\n");
  SleepMs(100);
  CHECK(c.Cmd({"WATCH", "old"}) == "+OK\r\n");
  CHECK(c.Cmd({"GET", "old"}) == "$-1\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*1\r\n+PONG\r\n");
}

TEST_CASE("WATCH: FLUSHALL, FLUSHDB and SWAPDB invalidate watched keys that exist") {
  ServerProcess server;
  RawConn c(server.port()), other(server.port());
  CHECK(c.Cmd({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(c.Cmd({"WATCH", "k"}) == "+OK\r\n");
  CHECK(other.Cmd({"FLUSHALL"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*-1\r\n");

  // A watched key that does not exist is not touched by a flush.
  CHECK(c.Cmd({"WATCH", "missing"}) == "+OK\r\n");
  CHECK(other.Cmd({"SET", "unrelated", "1"}) == "+OK\r\n");
  CHECK(other.Cmd({"FLUSHDB"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*1\r\n+PONG\r\n");

  // SWAPDB: the key exists in the database swapped in.
  CHECK(other.Cmd({"SELECT", "1"}) == "+OK\r\n");
  CHECK(other.Cmd({"SET", "k", "in-db-1"}) == "+OK\r\n");
  CHECK(c.Cmd({"WATCH", "k"}) == "+OK\r\n");
  CHECK(other.Cmd({"SWAPDB", "0", "1"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"GET", "k"}}) == "*-1\r\n");
  CHECK(c.Cmd({"GET", "k"}) == Bulk("in-db-1"));

  // SWAPDB of two databases without the key leaves the watch alone.
  CHECK(c.Cmd({"WATCH", "k"}) == "+OK\r\n");
  CHECK(other.Cmd({"SWAPDB", "2", "3"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"GET", "k"}}) == "*1\r\n" + Bulk("in-db-1"));
}

TEST_CASE("clients blocked on a list see a transaction's final state, after EXEC") {
  ServerProcess server;
  RawConn waiter(server.port()), c(server.port()), admin(server.port());
  REQUIRE(waiter.Send(Multibulk({"BLPOP", "q", "0"})));
  REQUIRE(WaitBlocked(admin, 1));
  // Pushes then pops inside one transaction: the waiter gets what is left at the end.
  CHECK(Transaction(c, {{"RPUSH", "q", "a", "b", "c"}, {"LPOP", "q"}, {"RPOP", "q"}}) ==
        "*3\r\n:3\r\n" + Bulk("a") + Bulk("c"));
  CHECK(waiter.Read() == BulkArray({"q", "b"}));
  CHECK(c.Cmd({"EXISTS", "q"}) == ":0\r\n");

  // A push undone in the same transaction wakes nobody.
  REQUIRE(waiter.Send(Multibulk({"BLPOP", "q", "0"})));
  REQUIRE(WaitBlocked(admin, 1));
  CHECK(Transaction(c, {{"RPUSH", "q", "x"}, {"DEL", "q"}}) == "*2\r\n:1\r\n:1\r\n");
  CHECK(waiter.ReadAvailable(kQuietMs).empty());
  CHECK(c.Cmd({"RPUSH", "q", "y"}) == ":1\r\n");
  CHECK(waiter.Read() == BulkArray({"q", "y"}));

  // Inside EXEC a blocking pop on an empty list does not block.
  CHECK(Transaction(c, {{"BLPOP", "empty", "0"}, {"BRPOPLPUSH", "empty", "d", "0"}}) ==
        "*2\r\n*-1\r\n$-1\r\n");
}

TEST_CASE("CLIENT LIST shows the queued count and the x and d flags") {
  ServerProcess server;
  RawConn c(server.port()), admin(server.port());
  CHECK(c.Cmd({"CLIENT", "SETNAME", "tx"}) == "+OK\r\n");
  CHECK(ClientField(admin, "tx", "multi") == "-1");
  CHECK(c.Cmd({"WATCH", "w"}) == "+OK\r\n");
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"SET", "a", "1"}) == "+QUEUED\r\n");
  CHECK(c.Cmd({"LPUSH", "abcdef", "x", "y", "z"}) == "+QUEUED\r\n");
  CHECK(ClientField(admin, "tx", "flags") == "x");
  CHECK(ClientField(admin, "tx", "multi") == "2");
  CHECK(ClientField(admin, "tx", "multi-mem") == "83");  // argument bytes + 8 per argument
  CHECK(admin.Cmd({"SET", "w", "changed"}) == "+OK\r\n");
  CHECK(ClientField(admin, "tx", "flags") == "xd");
  // A doomed transaction queues nothing more.
  CHECK(c.Cmd({"SET", "b", "1"}) == "+QUEUED\r\n");
  CHECK(ClientField(admin, "tx", "multi") == "2");
  CHECK(c.Cmd({"EXEC"}) == "*-1\r\n");
  CHECK(ClientField(admin, "tx", "flags") == "N");
  CHECK(ClientField(admin, "tx", "multi-mem") == "0");

  // RESET leaves MULTI and forgets watched keys.
  CHECK(c.Cmd({"WATCH", "w"}) == "+OK\r\n");
  CHECK(c.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(c.Cmd({"RESET"}) == "+RESET\r\n");
  CHECK(admin.Cmd({"SET", "w", "again"}) == "+OK\r\n");
  CHECK(Transaction(c, {{"PING"}}) == "*1\r\n+PONG\r\n");
}

TEST_CASE("a watching client that disconnects is forgotten") {
  ServerProcess server;
  RawConn c(server.port());
  {
    RawConn gone(server.port());
    CHECK(gone.Cmd({"WATCH", "k"}) == "+OK\r\n");
    CHECK(gone.Cmd({"MULTI"}) == "+OK\r\n");
    CHECK(gone.Cmd({"SET", "k", "1"}) == "+QUEUED\r\n");
  }
  SleepMs(50);
  CHECK(c.Cmd({"SET", "k", "2"}) == "+OK\r\n");
  CHECK(c.Cmd({"GET", "k"}) == Bulk("2"));
}

}  // namespace docket::test
