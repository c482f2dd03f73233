// Integration tests for the process lifecycle: SHUTDOWN and signals stop the server cleanly, a
// config file with `--name value` overrides, start-up errors, and CONFIG REWRITE surviving a
// restart.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {

namespace {

bool ExitedCleanly(int status) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("SIGTERM and SIGINT stop the server cleanly") {
  for (int sig : {SIGTERM, SIGINT}) {
    INFO("signal ", sig);
    ServerProcess server;
    RawConn idle(server.port());
    REQUIRE(idle.Cmd({"SET", "k", "v"}) == "+OK\r\n");
    kill(server.pid(), sig);
    CHECK(ExitedCleanly(server.WaitExit(5000)));
    std::string log = server.Log();
    CHECK(log.find(sig == SIGTERM ? "Received SIGTERM scheduling shutdown..."
                                  : "Received SIGINT scheduling shutdown...") != std::string::npos);
    CHECK(log.find("ready to exit, bye bye...") != std::string::npos);
    CHECK(idle.WaitClosed());
  }
}

TEST_CASE("SHUTDOWN stops the server cleanly, without a reply") {
  for (std::vector<std::string> argv :
       {std::vector<std::string>{"SHUTDOWN"}, std::vector<std::string>{"shutdown", "nosave"}}) {
    std::string name = argv.size() == 1 ? "SHUTDOWN" : "SHUTDOWN NOSAVE";
    INFO(name);
    ServerProcess server;
    RawConn conn(server.port());
    RawConn other(server.port());
    CHECK(conn.Cmd({"PING"}) == "+PONG\r\n");
    REQUIRE(conn.Send(Multibulk(argv)));
    CHECK(conn.ReadAvailable(5000).empty());
    CHECK(conn.WaitClosed(100));
    CHECK(other.WaitClosed());
    CHECK(ExitedCleanly(server.WaitExit(5000)));
    std::string log = server.Log();
    CHECK(log.find("User requested shutdown...") != std::string::npos);
    CHECK(log.find("ready to exit, bye bye...") != std::string::npos);
  }
}

TEST_CASE("SHUTDOWN argument errors leave the server running") {
  ServerProcess server;
  RawConn conn(server.port());
  CHECK(conn.Cmd({"SHUTDOWN", "SAVE", "NOSAVE"}) == "-ERR syntax error\r\n");
  CHECK(conn.Cmd({"SHUTDOWN", "bogus"}) == "-ERR syntax error\r\n");
  CHECK(conn.Cmd({"PING"}) == "+PONG\r\n");
}

TEST_CASE("a config file with --name value overrides") {
  ServerProcess server({"--timeout", "9", "--hz", "15"},
                       "# a comment, then a blank line\n"
                       "\n"
                       "maxclients 123\n"
                       "timeout 7\n"
                       "   hz 20   \n"
                       "requirepass \"pass word\"\n"
                       "slowlog-max-len 64\n");
  RawConn conn(server.port());
  CHECK(conn.Cmd({"AUTH", "pass word"}) == "+OK\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "maxclients"}) == "*2\r\n$10\r\nmaxclients\r\n$3\r\n123\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "timeout"}) == "*2\r\n$7\r\ntimeout\r\n$1\r\n9\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "hz"}) == "*2\r\n$2\r\nhz\r\n$2\r\n15\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "slowlog-max-len"}) ==
        "*2\r\n$15\r\nslowlog-max-len\r\n$2\r\n64\r\n");
}

TEST_CASE("start-up errors exit with status 1 and say why") {
  std::string output;
  SUBCASE("a bad value in the config file") {
    char path[] = "/tmp/docket-it-conf-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << "timeout 5\nmaxclients abc\n";
    int status = RunServerToExit({path, "--port", "0", "--save", ""}, 5000, &output);
    unlink(path);
    CHECK(status != -1);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 1));
    CHECK(output.find("at line 2") != std::string::npos);
    CHECK(output.find(">>> 'maxclients abc'") != std::string::npos);
    CHECK(output.find("argument couldn't be parsed into an integer") != std::string::npos);
  }
  SUBCASE("an unknown option on the command line") {
    int status = RunServerToExit({"--port", "0", "--no-such-option", "1"}, 5000, &output);
    CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1));
    CHECK(output.find("Bad directive or wrong number of arguments") != std::string::npos);
  }
  SUBCASE("a config file that does not exist") {
    int status = RunServerToExit({"/nonexistent/docket.conf"}, 5000, &output);
    CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1));
    CHECK(output.find("Fatal error, can't open config file '/nonexistent/docket.conf'") !=
          std::string::npos);
  }
}

TEST_CASE("CONFIG REWRITE round trip") {
  ServerProcess server({},
                       "# Docket test config\n"
                       "maxclients 100\n"
                       "\n"
                       "# keep this comment\n"
                       "timeout 5\n");
  {
    RawConn conn(server.port());
    CHECK(conn.Cmd({"CONFIG", "SET", "maxclients", "200"}) == "+OK\r\n");
    CHECK(conn.Cmd({"CONFIG", "SET", "hz", "25", "timeout", "0"}) == "+OK\r\n");
    CHECK(conn.Cmd({"CONFIG", "SET", "requirepass", "p w"}) == "+OK\r\n");
    CHECK(conn.Cmd({"CONFIG", "REWRITE"}) == "+OK\r\n");
  }
  std::string text = ReadFile(server.config_path());
  INFO("rewritten file:\n", text);
  CHECK(text.find("# Docket test config\n") == 0);
  CHECK(text.find("# keep this comment\n") != std::string::npos);
  CHECK(text.find("maxclients 200\n") != std::string::npos);
  CHECK(text.find("hz 25\n") != std::string::npos);
  CHECK(text.find("maxclients 200") < text.find("# keep this comment"));  // replaced in place
  CHECK(text.find("maxclients 100") == std::string::npos);

  CHECK(ExitedCleanly(server.Stop()));
  server.Restart();
  RawConn conn(server.port());
  CHECK(conn.Cmd({"PING"}) == "-NOAUTH Authentication required.\r\n");
  CHECK(conn.Cmd({"AUTH", "p w"}) == "+OK\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "maxclients"}) == "*2\r\n$10\r\nmaxclients\r\n$3\r\n200\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "hz"}) == "*2\r\n$2\r\nhz\r\n$2\r\n25\r\n");
  CHECK(conn.Cmd({"CONFIG", "GET", "timeout"}) == "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
  // A second rewrite keeps the comments and values, and adds no duplicate lines.
  CHECK(conn.Cmd({"CONFIG", "REWRITE"}) == "+OK\r\n");
  std::string again = ReadFile(server.config_path());
  CHECK(again.find("# keep this comment\n") != std::string::npos);
  CHECK(again.find("maxclients 200\n") == again.rfind("maxclients 200\n"));
  CHECK(again.find("hz 25\n") == again.rfind("hz 25\n"));
}

TEST_CASE("CONFIG REWRITE without a config file") {
  ServerProcess server;
  RawConn conn(server.port());
  CHECK(conn.Cmd({"CONFIG", "REWRITE"}) == "-ERR The server is running without a config file\r\n");
}

}  // namespace docket::test
