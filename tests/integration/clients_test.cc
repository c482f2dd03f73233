// Integration tests for commands that act on other connections: CLIENT KILL (new and old forms),
// CLIENT PAUSE / UNPAUSE (held commands keep their order), and MONITOR's output lines.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <regex>
#include <string>

#include "tests/integration/harness.h"

namespace docket::test {

namespace {

// "127.0.0.1:<local port>" of a connection, as the server sees its peer.
std::string PeerAddr(const RawConn& conn) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  getsockname(conn.fd(), reinterpret_cast<sockaddr*>(&sa), &len);
  return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
}

// The integer of a ":N\r\n" reply.
std::string IdOf(RawConn& conn) {
  std::string r = conn.Cmd({"CLIENT", "ID"});
  REQUIRE(r.size() > 3);
  REQUIRE(r[0] == ':');
  return r.substr(1, r.size() - 3);
}

}  // namespace

TEST_CASE("CLIENT KILL") {
  ServerProcess server;
  RawConn admin(server.port());
  SUBCASE("by ID") {
    RawConn victim(server.port());
    std::string id = IdOf(victim);
    CHECK(admin.Cmd({"CLIENT", "KILL", "ID", id}) == ":1\r\n");
    CHECK(victim.WaitClosed());
    CHECK(admin.Cmd({"CLIENT", "KILL", "ID", id}) == ":0\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", "ID", "0"}) ==
          "-ERR client-id should be greater than 0\r\n");
  }
  SUBCASE("old form: CLIENT KILL addr:port") {
    RawConn victim(server.port());
    CHECK(victim.Cmd({"PING"}) == "+PONG\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", PeerAddr(victim)}) == "+OK\r\n");
    CHECK(victim.WaitClosed());
    CHECK(admin.Cmd({"CLIENT", "KILL", PeerAddr(victim)}) == "-ERR No such client\r\n");
  }
  SUBCASE("ADDR and LADDR filters") {
    RawConn victim(server.port());
    CHECK(victim.Cmd({"PING"}) == "+PONG\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", "ADDR", "127.0.0.1:1"}) == ":0\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", "ADDR", PeerAddr(victim)}) == ":1\r\n");
    CHECK(victim.WaitClosed());
  }
  SUBCASE("SKIPME: killing oneself only when asked") {
    RawConn other1(server.port()), other2(server.port());
    CHECK(other1.Cmd({"PING"}) == "+PONG\r\n");
    CHECK(other2.Cmd({"PING"}) == "+PONG\r\n");
    std::string id = IdOf(admin);
    CHECK(admin.Cmd({"CLIENT", "KILL", "ID", id}) == ":0\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", "TYPE", "normal"}) == ":2\r\n");
    CHECK(other1.WaitClosed());
    CHECK(other2.WaitClosed());
    CHECK(admin.Cmd({"CLIENT", "KILL", "ID", id, "SKIPME", "no"}) == ":1\r\n");
    CHECK(admin.WaitClosed());
  }
  SUBCASE("bad filters") {
    CHECK(admin.Cmd({"CLIENT", "KILL", "BOGUS", "1"}) == "-ERR syntax error\r\n");
    CHECK(admin.Cmd({"CLIENT", "KILL", "TYPE", "bogus"}) == "-ERR Unknown client type 'bogus'\r\n");
  }
  RawConn fresh(server.port());
  CHECK(fresh.Cmd({"PING"}) == "+PONG\r\n");
}

TEST_CASE("CLIENT PAUSE WRITE holds writes, in order, until CLIENT UNPAUSE") {
  ServerProcess server;
  RawConn admin(server.port()), worker(server.port());
  CHECK(worker.Cmd({"SET", "k", "old"}) == "+OK\r\n");
  CHECK(admin.Cmd({"CLIENT", "PAUSE", "100000", "WRITE"}) == "+OK\r\n");
  CHECK(worker.Cmd({"GET", "k"}, 1000) == "$3\r\nold\r\n");  // reads go on
  CHECK(worker.Cmd({"PING"}, 1000) == "+PONG\r\n");
  // A write is held, and so is the read queued behind it on the same connection.
  REQUIRE(worker.Send(Multibulk({"SET", "k", "new"}) + Multibulk({"GET", "k"})));
  CHECK(worker.Read(300) == "<timeout>");
  RawConn reader(server.port());
  CHECK(reader.Cmd({"GET", "k"}, 1000) == "$3\r\nold\r\n");
  CHECK(admin.Cmd({"CLIENT", "UNPAUSE"}) == "+OK\r\n");
  CHECK(worker.Read() == "+OK\r\n");
  CHECK(worker.Read() == "$3\r\nnew\r\n");
}

TEST_CASE("CLIENT PAUSE (ALL) holds every command until the timeout") {
  ServerProcess server;
  RawConn admin(server.port()), worker(server.port());
  long long start = NowMs();
  CHECK(admin.Cmd({"CLIENT", "PAUSE", "400"}) == "+OK\r\n");
  REQUIRE(worker.Send(Multibulk({"PING"})));
  CHECK(worker.Read(150) == "<timeout>");
  CHECK(worker.Read(3000) == "+PONG\r\n");
  CHECK(NowMs() - start >= 350);
  CHECK(admin.Cmd({"PING"}) == "+PONG\r\n");
}

TEST_CASE("CLIENT PAUSE argument errors") {
  ServerProcess server;
  RawConn conn(server.port());
  CHECK(conn.Cmd({"CLIENT", "PAUSE", "abc"}) ==
        "-ERR timeout is not an integer or out of range\r\n");
  CHECK(conn.Cmd({"CLIENT", "PAUSE", "-1"}) == "-ERR timeout is negative\r\n");
  CHECK(conn.Cmd({"CLIENT", "PAUSE", "10", "BOGUS"}) ==
        "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
  CHECK(conn.Cmd({"SET", "k", "v"}, 1000) == "+OK\r\n");  // nothing was paused
}

TEST_CASE("MONITOR shows other clients' commands") {
  ServerProcess server;
  RawConn monitor(server.port()), client(server.port());
  CHECK(monitor.Cmd({"MONITOR"}) == "+OK\r\n");
  const std::string addr = PeerAddr(client);
  auto expect_line = [&](const std::string& tail) {
    std::string line = monitor.Read();
    INFO("monitor line: ", line);
    CHECK(std::regex_match(line, std::regex(R"(\+\d{10}\.\d{6} \[.*\r\n)")));
    CHECK(line.size() > tail.size());
    CHECK(line.substr(line.size() - std::min(line.size(), tail.size())) == tail);
  };

  CHECK(client.Cmd({"SET", "foo", "bar baz"}) == "+OK\r\n");
  expect_line(" [0 " + addr + "] \"SET\" \"foo\" \"bar baz\"\r\n");

  CHECK(client.Send("ECHO hi\r\n"));  // inline commands too
  CHECK(client.Read() == "$2\r\nhi\r\n");
  expect_line(" [0 " + addr + "] \"ECHO\" \"hi\"\r\n");

  CHECK(client.Cmd({"SELECT", "3"}) == "+OK\r\n");
  expect_line(" [3 " + addr + "] \"SELECT\" \"3\"\r\n");
  CHECK(client.Cmd({"ECHO", "a\x01\"\\\n"}) == "$5\r\na\x01\"\\\n\r\n");
  expect_line(" [3 " + addr + "] \"ECHO\" \"a\\x01\\\"\\\\\\n\"\r\n");

  // Admin commands (CONFIG) and rejected commands are not shown.
  CHECK(client.Cmd({"CONFIG", "SET", "hz", "10"}) == "+OK\r\n");
  CHECK(client.Cmd({"NOSUCHCMD"}).substr(0, 20) == "-ERR unknown command");
  CHECK(client.Cmd({"GET"}).substr(0, 30) == "-ERR wrong number of arguments");
  CHECK(client.Cmd({"PING"}) == "+PONG\r\n");
  expect_line(" [3 " + addr + "] \"PING\"\r\n");
  CHECK(monitor.ReadAvailable(100).empty());
}

}  // namespace docket::test
