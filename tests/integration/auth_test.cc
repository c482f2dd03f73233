// Integration tests for connection admission: requirepass with AUTH and HELLO AUTH, the stricter
// protocol limits before authentication, and maxclients. Texts checked against redis-server 7.0.15.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {

namespace {

constexpr const char* kNoAuth = "-NOAUTH Authentication required.\r\n";
constexpr const char* kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

}  // namespace

TEST_CASE("requirepass: NOAUTH until AUTH succeeds") {
  ServerProcess server({"--requirepass", "s3cret"});
  RawConn conn(server.port());
  CHECK(conn.Cmd({"PING"}) == kNoAuth);
  CHECK(conn.Cmd({"GET", "k"}) == kNoAuth);
  CHECK(conn.Send("SET k v\r\n"));
  CHECK(conn.Read() == kNoAuth);
  // Unknown commands and arity errors are reported before the auth check, as in Redis.
  CHECK(conn.Cmd({"NOSUCHCMD"}) ==
        "-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n");
  CHECK(conn.Cmd({"AUTH"}) == "-ERR wrong number of arguments for 'auth' command\r\n");
  CHECK(conn.Cmd({"AUTH", "wrong"}) == kWrongPass);
  CHECK(conn.Cmd({"AUTH", "nobody", "s3cret"}) == kWrongPass);
  CHECK(conn.Cmd({"PING"}) == kNoAuth);
  CHECK(conn.Cmd({"AUTH", "s3cret"}) == "+OK\r\n");
  CHECK(conn.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(conn.Cmd({"SET", "k", "v"}) == "+OK\r\n");

  RawConn named(server.port());
  CHECK(named.Cmd({"AUTH", "default", "s3cret"}) == "+OK\r\n");
  CHECK(named.Cmd({"GET", "k"}) == "$1\r\nv\r\n");

  SUBCASE("RESET drops the authentication") {
    CHECK(conn.Cmd({"RESET"}) == "+RESET\r\n");
    CHECK(conn.Cmd({"PING"}) == kNoAuth);
  }
  SUBCASE("hiredis sees the same") {
    Redis redis(server.port());
    CHECK(redis.Str({"GET", "k"}) == "NOAUTH Authentication required.");
    CHECK(redis.Str({"AUTH", "s3cret"}) == "OK");
    CHECK(redis.Str({"GET", "k"}) == "v");
  }
}

TEST_CASE("requirepass: HELLO with AUTH") {
  ServerProcess server({"--requirepass", "s3cret"});
  RawConn conn(server.port());
  CHECK(conn.Cmd({"HELLO", "3"}) ==
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time\r\n");
  CHECK(conn.Cmd({"HELLO", "3", "AUTH", "default", "wrong"}) == kWrongPass);
  CHECK(conn.Cmd({"PING"}) == kNoAuth);
  std::string hello = conn.Cmd({"HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "w1"});
  CHECK(hello.substr(0, 4) == "%7\r\n");
  CHECK(conn.Cmd({"GET", "missing"}) == "_\r\n");
  CHECK(conn.Cmd({"CLIENT", "GETNAME"}) == "$2\r\nw1\r\n");
}

TEST_CASE("without requirepass, AUTH is an error") {
  ServerProcess server;
  RawConn conn(server.port());
  CHECK(conn.Cmd({"AUTH", "x"}) ==
        "-ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?\r\n");
  CHECK(conn.Cmd({"AUTH", "default", "anything"}) == "+OK\r\n");
  CHECK(conn.Cmd({"AUTH", "other", "anything"}) == kWrongPass);
}

TEST_CASE("unauthenticated clients get stricter protocol limits") {
  ServerProcess server({"--requirepass", "s3cret"});
  SUBCASE("multibulk of more than 10 arguments") {
    RawConn conn(server.port());
    conn.Send("*11\r\n");
    CHECK(conn.Read() == "-ERR Protocol error: unauthenticated multibulk length\r\n");
    CHECK(conn.WaitClosed());
  }
  SUBCASE("10 arguments are fine") {
    RawConn conn(server.port());
    CHECK(conn.Cmd(std::vector<std::string>(10, "x")) ==
          "-ERR unknown command 'x', with args beginning with: 'x' 'x' 'x' 'x' 'x' 'x' 'x' 'x' "
          "'x' \r\n");
  }
  SUBCASE("bulk of more than 16384 bytes") {
    RawConn conn(server.port());
    conn.Send("*2\r\n$4\r\nAUTH\r\n$16385\r\n");
    CHECK(conn.Read() == "-ERR Protocol error: unauthenticated bulk length\r\n");
    CHECK(conn.WaitClosed());
  }
  SUBCASE("after AUTH the normal limits apply") {
    RawConn conn(server.port());
    REQUIRE(conn.Cmd({"AUTH", "s3cret"}) == "+OK\r\n");
    std::vector<std::string> argv = {"MSET"};
    for (int i = 0; i < 10; i++) {
      argv.push_back("k" + std::to_string(i));
      argv.push_back(std::string(20000, 'a' + i));
    }
    CHECK(conn.Cmd(argv) == "+OK\r\n");
    CHECK(conn.Cmd({"STRLEN", "k9"}) == ":20000\r\n");
  }
}

TEST_CASE("maxclients: the connection over the limit is refused") {
  ServerProcess server({"--maxclients", "3"});
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 3; i++) {
    conns.push_back(std::make_unique<RawConn>(server.port()));
    // The readiness probe's connection may still be closing: retry until this one is served.
    std::string reply = conns.back()->Cmd({"PING"});
    if (reply != "+PONG\r\n") {
      SleepMs(100);
      conns.back() = std::make_unique<RawConn>(server.port());
      reply = conns.back()->Cmd({"PING"});
    }
    REQUIRE(reply == "+PONG\r\n");
  }
  RawConn extra(server.port());
  CHECK(extra.Read() == "-ERR max number of clients reached\r\n");
  CHECK(extra.WaitClosed());
  for (auto& c : conns) CHECK(c->Cmd({"PING"}) == "+PONG\r\n");

  conns.pop_back();  // one leaves; a newcomer gets in
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; attempt++) {
    RawConn again(server.port());
    admitted = again.Cmd({"PING"}) == "+PONG\r\n";
    if (!admitted) SleepMs(20);
  }
  CHECK(admitted);
  CHECK(conns[0]->Cmd({"CONFIG", "GET", "maxclients"}) == "*2\r\n$10\r\nmaxclients\r\n$1\r\n3\r\n");
}

}  // namespace docket::test
