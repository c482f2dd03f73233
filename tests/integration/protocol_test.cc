// Integration tests for the wire protocol: deep pipelining, malformed input (each protocol error
// closes only the offending connection), bulk and query-buffer limits, and RESP3 encodings after
// HELLO 3. Expected bytes were checked against redis-server 7.0.15.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {
namespace {

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// Reads until `want` bytes arrived (or the timeout) and reports the first difference.
void ExpectStream(RawConn& conn, const std::string& expected, int timeout_ms = 20000) {
  std::string got;
  long long deadline = NowMs() + timeout_ms;
  while (got.size() < expected.size() && NowMs() < deadline) {
    got += conn.ReadAvailable(50);
  }
  size_t diff = 0;
  while (diff < got.size() && diff < expected.size() && got[diff] == expected[diff]) diff++;
  INFO("first difference at byte ", diff, " of ", expected.size(), ": got '",
       got.substr(diff > 20 ? diff - 20 : 0, 60), "', expected '",
       expected.substr(diff > 20 ? diff - 20 : 0, 60), "'");
  CHECK(got.size() == expected.size());
  CHECK(diff == expected.size());
}

// Sends a big request in chunks until the server stops taking it. Returns bytes sent.
size_t SendUntilRefused(RawConn& conn, size_t total, size_t chunk = 64 * 1024) {
  std::string block(chunk, 'x');
  size_t sent = 0;
  while (sent < total && conn.Send(block)) sent += chunk;
  return sent;
}

}  // namespace

TEST_CASE("10k commands pipelined in one write get every reply, in order") {
  ServerProcess server;
  RawConn conn(server.port());
  std::string request, expected;
  for (int i = 0; i < 10000; i++) {
    std::string v = std::to_string(i);
    switch (i % 4) {
      case 0:
        request += Multibulk({"SET", "k" + v, "v" + v});
        expected += "+OK\r\n";
        break;
      case 1:
        request += Multibulk({"GET", "k" + std::to_string(i - 1)});
        expected += Bulk("v" + std::to_string(i - 1));
        break;
      case 2:
        request += "ECHO " + v + "\r\n";  // inline commands mixed in
        expected += Bulk(v);
        break;
      default:
        request += Multibulk({"INCR", "counter"});
        expected += ":" + std::to_string(i / 4 + 1) + "\r\n";
    }
  }
  REQUIRE(conn.Send(request));
  ExpectStream(conn, expected);
  CHECK(conn.Cmd({"DBSIZE"}) == ":2501\r\n");
}

TEST_CASE("10k commands pipelined through hiredis") {
  ServerProcess server;
  Redis redis(server.port());
  for (int i = 0; i < 10000; i++) redis.Append({"INCRBY", "counter", std::to_string(i)});
  long long sum = 0;
  for (int i = 0; i < 10000; i++) {
    Reply r = redis.Get();
    REQUIRE(r);
    REQUIRE(r->type == REDIS_REPLY_INTEGER);
    sum += i;
    REQUIRE(r->integer == sum);
  }
  CHECK(redis.Str({"GET", "counter"}) == "49995000");
}

TEST_CASE("a protocol error closes only that connection, with the exact error") {
  ServerProcess server;
  RawConn other(server.port());
  REQUIRE(other.Cmd({"SET", "before", "1"}) == "+OK\r\n");
  struct Case {
    std::string input;
    std::string replies;  // everything the bad connection receives before the close
  };
  const std::vector<Case> kCases = {
      {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$01\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\nx\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n"},
      {"*1\r\n\n\r\n", "-ERR Protocol error: expected '$', got ' '\r\n"},
      {"PING \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {"ECHO 'abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70000, 'x'), "-ERR Protocol error: too big inline request\r\n"},
      {"*" + std::string(70000, '1'), "-ERR Protocol error: too big mbulk count string\r\n"},
      {"*1\r\n$" + std::string(70000, '1'), "-ERR Protocol error: too big bulk count string\r\n"},
      // Commands before the error run; the ones after it in the same write do not.
      {"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n:1\r\nSET after 1\r\n",
       "+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"},
  };
  for (const Case& c : kCases) {
    INFO("input: ", c.input.substr(0, 40));
    RawConn bad(server.port());
    bad.Send(c.input);
    std::string got;
    while (got.size() < c.replies.size()) {
      std::string r = bad.Read();
      got += r;
      if (r[0] == '<') break;
    }
    CHECK(got == c.replies);
    CHECK(bad.WaitClosed());
    CHECK(other.Cmd({"PING"}) == "+PONG\r\n");
  }
  CHECK(other.Cmd({"EXISTS", "before", "after"}) == ":1\r\n");
}

TEST_CASE("bulk lengths beyond proto-max-bulk-len") {
  SUBCASE("the default limit, 512mb") {
    ServerProcess server;
    RawConn bad(server.port());
    bad.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n");
    CHECK(bad.Read() == "-ERR Protocol error: invalid bulk length\r\n");
    CHECK(bad.WaitClosed());
    RawConn waiting(server.port());  // exactly at the limit: the server waits for the data
    waiting.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
    CHECK(waiting.Read(300) == "<timeout>");
    RawConn other(server.port());
    CHECK(other.Cmd({"PING"}) == "+PONG\r\n");
  }
  SUBCASE("set with CONFIG SET") {
    ServerProcess server;
    RawConn conn(server.port());
    REQUIRE(conn.Cmd({"CONFIG", "SET", "proto-max-bulk-len", "1mb"}) == "+OK\r\n");
    std::string at_limit(1024 * 1024, 'a');
    CHECK(conn.Cmd({"SET", "big", at_limit}) == "+OK\r\n");
    CHECK(conn.Cmd({"STRLEN", "big"}) == ":1048576\r\n");
    conn.Send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048577\r\n");
    CHECK(conn.Read() == "-ERR Protocol error: invalid bulk length\r\n");
    CHECK(conn.WaitClosed());
  }
  SUBCASE("set on the command line") {
    ServerProcess server({"--proto-max-bulk-len", "2mb"});
    RawConn conn(server.port());
    conn.Send("*2\r\n$4\r\nECHO\r\n$2097153\r\n");
    CHECK(conn.Read() == "-ERR Protocol error: invalid bulk length\r\n");
    CHECK(conn.WaitClosed());
  }
}

TEST_CASE("client-query-buffer-limit closes the connection and the server lives on") {
  const std::string kBigSetHeader = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n";
  SUBCASE("from the command line") {
    ServerProcess server({"--client-query-buffer-limit", "1mb"});
    RawConn hog(server.port());
    REQUIRE(hog.Send(kBigSetHeader));
    size_t sent = SendUntilRefused(hog, 8 * 1024 * 1024);
    CHECK(sent < 8 * 1024 * 1024);
    CHECK(hog.WaitClosed());
    CHECK(server.WaitForLog("Closing client that reached max query buffer length"));
    RawConn other(server.port());
    CHECK(other.Cmd({"PING"}) == "+PONG\r\n");
    CHECK(other.Cmd({"EXISTS", "k"}) == ":0\r\n");
  }
  SUBCASE("with CONFIG SET") {
    ServerProcess server;
    RawConn admin(server.port());
    REQUIRE(admin.Cmd({"CONFIG", "SET", "client-query-buffer-limit", "1mb"}) == "+OK\r\n");
    RawConn hog(server.port());
    REQUIRE(hog.Send(kBigSetHeader));
    SendUntilRefused(hog, 8 * 1024 * 1024);
    CHECK(hog.WaitClosed());
    CHECK(admin.Cmd({"PING"}) == "+PONG\r\n");
  }
  SUBCASE("a long pipeline of small commands is not cut off") {
    ServerProcess server({"--client-query-buffer-limit", "1mb"});
    RawConn conn(server.port());
    std::string pings, pongs;
    for (int i = 0; i < 250000; i++) {  // 1.5 MB of requests
      pings += "PING\r\n";
      pongs += "+PONG\r\n";
    }
    REQUIRE(conn.Send(pings));
    ExpectStream(conn, pongs);
  }
}

TEST_CASE("RESP3 after HELLO 3") {
  ServerProcess server;
  RawConn conn(server.port());
  std::string hello = conn.Cmd({"HELLO", "3"});
  const std::string kHead =
      "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
      ":3\r\n$2\r\nid\r\n:";
  const std::string kTail =
      "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n"
      "*0\r\n";
  CHECK(hello.substr(0, kHead.size()) == kHead);
  CHECK(hello.size() > kHead.size() + kTail.size());
  CHECK(hello.substr(hello.size() - kTail.size()) == kTail);

  CHECK(conn.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(conn.Cmd({"GET", "missing"}) == "_\r\n");  // null
  CHECK(conn.Cmd({"CONFIG", "GET", "maxclients"}) == "%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "nothing-matches"}) == "%0\r\n");
  CHECK(conn.Cmd({"SET", "str", "x"}) == "+OK\r\n");
  CHECK(conn.Cmd({"INCR", "str"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(conn.Cmd({"INCRBYFLOAT", "f", "1.5"}) == "$3\r\n1.5\r\n");  // a bulk, even in RESP3
  // Verbatim strings: "=<len>\r\ntxt:<text>\r\n".
  std::string info = conn.Cmd({"CLIENT", "INFO"});
  CHECK(info.substr(0, 1) == "=");
  CHECK(info.find("\r\ntxt:id=") != std::string::npos);
  CHECK(info.find(" resp=3\n\r\n") != std::string::npos);
  // Sets: the command flags in COMMAND INFO.
  std::string cmd = conn.Cmd({"COMMAND", "INFO", "get"});
  CHECK(cmd.substr(0, 44) == "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n");

  SUBCASE("HELLO 2 switches back") {
    CHECK(conn.Cmd({"HELLO", "2"}).substr(0, 5) == "*14\r\n");
    CHECK(conn.Cmd({"GET", "missing"}) == "$-1\r\n");
    CHECK(conn.Cmd({"CONFIG", "GET", "maxclients"}) ==
          "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
    CHECK(conn.Cmd({"CLIENT", "INFO"}).substr(0, 1) == "$");
  }
  SUBCASE("unsupported versions") {
    CHECK(conn.Cmd({"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
    CHECK(conn.Cmd({"HELLO", "x"}) ==
          "-ERR Protocol version is not an integer or out of range\r\n");
  }
}

TEST_CASE("RESP3 doubles, maps, sets and null arrays from the collection families") {
  ServerProcess server;
  if (!Implements(server.port(),
                  {"hset", "hgetall", "sadd", "smembers", "zadd", "zscore", "zincrby", "blpop"})) {
    return;
  }
  RawConn conn(server.port());
  REQUIRE(conn.Cmd({"HELLO", "3"}).substr(0, 4) == "%7\r\n");
  CHECK(conn.Cmd({"BLPOP", "nolist", "0.01"}) == "_\r\n");  // null array
  CHECK(conn.Cmd({"HSET", "h", "f", "v"}) == ":1\r\n");
  CHECK(conn.Cmd({"HGETALL", "h"}) == "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");  // map
  CHECK(conn.Cmd({"SADD", "s", "m"}) == ":1\r\n");
  CHECK(conn.Cmd({"SMEMBERS", "s"}) == "~1\r\n$1\r\nm\r\n");  // set
  CHECK(conn.Cmd({"ZADD", "z", "1.5", "a"}) == ":1\r\n");
  CHECK(conn.Cmd({"ZSCORE", "z", "a"}) == ",1.5\r\n");  // double
  CHECK(conn.Cmd({"ZINCRBY", "z", "0.1", "a"}) == ",1.6000000000000001\r\n");
  CHECK(conn.Cmd({"ZSCORE", "z", "nope"}) == "_\r\n");
  CHECK(conn.Cmd({"HGETALL", "z"}) ==
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  CHECK(conn.Cmd({"HELLO", "2"}).substr(0, 5) == "*14\r\n");
  CHECK(conn.Cmd({"BLPOP", "nolist", "0.01"}) == "*-1\r\n");
  CHECK(conn.Cmd({"ZSCORE", "z", "a"}) == "$18\r\n1.6000000000000001\r\n");
  CHECK(conn.Cmd({"HGETALL", "h"}) == "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

}  // namespace docket::test
