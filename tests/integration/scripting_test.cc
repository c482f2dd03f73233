// Integration tests for Lua scripting (issue 8): atomicity, busy-reply-threshold with -BUSY for
// other clients, SCRIPT KILL / -NOTBUSY / -UNKILLABLE, SHUTDOWN NOSAVE during a busy script,
// blocked clients woken after a script pushes, effects propagated to the AOF wrapped in
// MULTI/EXEC and restored by a restart, NOSCRIPT after SCRIPT FLUSH, EVAL_RO, MONITOR, INFO.
// Expected bytes were checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server
// runs this file against it).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {
namespace {

constexpr char kBusy[] =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
// A script that never ends by itself.
constexpr char kForever[] = "local i = 0; while true do i = i + 1 end";

// Lua that busy-waits about ms milliseconds of wall time (TIME is allowed in scripts).
std::string SpinLua(int ms) {
  return "local t0 = redis.call('time'); while true do local t = redis.call('time'); "
         "if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > " +
         std::to_string(ms * 1000) + " then break end end";
}

std::string InfoField(RawConn& conn, const std::string& section, const std::string& field) {
  std::string info = conn.Cmd({"INFO", section});
  size_t at = info.find("\r\n" + field + ":");
  if (at == std::string::npos) return "";
  at += field.size() + 3;
  return info.substr(at, info.find("\r\n", at) - at);
}

// Polls PING until the running script makes the server answer -BUSY.
bool WaitBusy(RawConn& conn) {
  long long deadline = NowMs() + 5000;
  while (NowMs() < deadline) {
    if (conn.Cmd({"PING"}) == kBusy) return true;
    SleepMs(10);
  }
  return false;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The concatenated incr files of the AOF directory (Redis 7 multi-part layout).
std::string IncrAof(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/appendonlydir")) {
    if (entry.path().string().find(".incr.aof") != std::string::npos) {
      all += ReadAll(entry.path().string());
    }
  }
  return all;
}

TEST_CASE("scripting: a script runs atomically; a command sent meanwhile waits for it") {
  ServerProcess server;
  RawConn runner(server.port());
  RawConn other(server.port());
  // Sets a, spins about 300 ms (under busy-reply-threshold), then reads a back.
  std::string script =
      "redis.call('set', 'a', '1'); " + SpinLua(300) + "; return redis.call('get', 'a')";
  REQUIRE(runner.Send(Multibulk({"EVAL", script, "0"})));
  SleepMs(50);
  REQUIRE(other.Send(Multibulk({"SET", "a", "2"})));
  CHECK(runner.Read(10000) == "$1\r\n1\r\n");  // the SET did not run in between
  CHECK(other.Read() == "+OK\r\n");
  CHECK(other.Cmd({"GET", "a"}) == "$1\r\n2\r\n");
}

TEST_CASE("scripting: past busy-reply-threshold others get -BUSY until SCRIPT KILL") {
  ServerProcess server({"--busy-reply-threshold", "100"});
  RawConn runner(server.port());
  RawConn other(server.port());
  CHECK(other.Cmd({"CONFIG", "GET", "lua-time-limit"}) ==
        "*2\r\n$14\r\nlua-time-limit\r\n$3\r\n100\r\n");
  CHECK(other.Cmd({"SCRIPT", "KILL"}) == "-NOTBUSY No scripts in execution right now.\r\n");
  REQUIRE(runner.Send(Multibulk({"EVAL", kForever, "0"})));
  REQUIRE(WaitBusy(other));
  CHECK(other.Cmd({"GET", "x"}) == kBusy);
  CHECK(other.Cmd({"EVAL", "return 1", "0"}) == kBusy);
  CHECK(other.Cmd({"SHUTDOWN"}) == kBusy);
  // MULTI is allowed while busy; what it queues is refused and the transaction aborts.
  CHECK(other.Cmd({"MULTI"}) == "+OK\r\n");
  CHECK(other.Cmd({"SET", "x", "1"}) == kBusy);
  CHECK(other.Cmd({"DISCARD"}) == "+OK\r\n");
  RawConn late(server.port());  // a client that connects while the script runs is served too
  CHECK(late.Cmd({"PING"}) == kBusy);
  CHECK(other.Cmd({"SCRIPT", "KILL"}) == "+OK\r\n");
  std::string killed = runner.Read();
  CHECK(killed.rfind("-ERR Script killed by user with SCRIPT KILL... script: ", 0) == 0);
  CHECK(killed.find(", on @user_script:1.\r\n") != std::string::npos);
  CHECK(other.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(runner.Cmd({"PING"}) == "+PONG\r\n");  // the script's caller is served again
  CHECK(server.WaitForLog("Slow script detected"));
}

TEST_CASE("scripting: a script that wrote cannot be killed; SHUTDOWN NOSAVE stops the server") {
  ServerProcess server({"--busy-reply-threshold", "100"});
  RawConn runner(server.port());
  RawConn other(server.port());
  REQUIRE(runner.Send(
      Multibulk({"EVAL", std::string("redis.call('set', 'k', 'v'); ") + kForever, "0"})));
  REQUIRE(WaitBusy(other));
  CHECK(other.Cmd({"SCRIPT", "KILL"}) ==
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You "
        "can either wait the script termination or kill the server in a hard way using the "
        "SHUTDOWN NOSAVE command.\r\n");
  REQUIRE(other.Send(Multibulk({"SHUTDOWN", "NOSAVE"})));
  int status = server.WaitExit(5000);
  CHECK(status != -1);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("scripting: a caller that disconnects while its script runs long does not crash") {
  ServerProcess server({"--busy-reply-threshold", "50"});
  RawConn other(server.port());
  {
    RawConn runner(server.port());
    // About half a second of work, then the script ends by itself.
    REQUIRE(runner.Send(Multibulk({"EVAL", SpinLua(500) + "; return 1", "0"})));
    REQUIRE(WaitBusy(other));
  }  // the runner's socket closes here, while the script still runs
  long long deadline = NowMs() + 10000;
  std::string reply;
  while (NowMs() < deadline && (reply = other.Cmd({"PING"})) == kBusy) SleepMs(20);
  CHECK(reply == "+PONG\r\n");
  CHECK(InfoField(other, "clients", "connected_clients") == "1");
}

TEST_CASE("scripting: clients blocked on keys a script pushes to are served after it ends") {
  ServerProcess server;
  RawConn waiter(server.port());
  RawConn admin(server.port());
  REQUIRE(waiter.Send(Multibulk({"BLPOP", "q", "0"})));
  long long deadline = NowMs() + 3000;
  while (NowMs() < deadline && InfoField(admin, "clients", "blocked_clients") != "1") SleepMs(5);
  REQUIRE(InfoField(admin, "clients", "blocked_clients") == "1");
  // Both pushes happen before the waiter is served: it gets the head after the script.
  CHECK(admin.Cmd({"EVAL",
                   "redis.call('lpush', KEYS[1], 'first'); redis.call('lpush', KEYS[1], "
                   "'second'); return redis.call('llen', KEYS[1])",
                   "1", "q"}) == ":2\r\n");
  CHECK(waiter.Read() == "*2\r\n$1\r\nq\r\n$6\r\nsecond\r\n");
  CHECK(admin.Cmd({"LRANGE", "q", "0", "-1"}) == "*1\r\n$5\r\nfirst\r\n");
  // Inside a script a blocking command never blocks (BLPOP is refused; XREAD-like commands
  // would act as non-blocking): the script's own pops see the list as it is.
  CHECK(admin.Cmd({"EVAL", "return redis.pcall('blpop', 'none', 0)", "0"}) ==
        "-ERR This Redis command is not allowed from script\r\n");
}

TEST_CASE("scripting: effects go to the AOF wrapped in MULTI/EXEC and survive a restart") {
  ServerProcess server(
      {"--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--appendfsync", "always"});
  RawConn c(server.port());
  CHECK(c.Cmd({"EVAL", "redis.call('lpush', KEYS[1], 'a'); return redis.call('incr', KEYS[2])", "2",
               "jobs", "counter"}) == ":1\r\n");
  CHECK(c.Cmd({"EVAL", "return redis.call('set', KEYS[1], 'alone')", "1", "single"}) == "+OK\r\n");
  CHECK(c.Cmd({"EVAL", "return redis.call('get', KEYS[1])", "1", "single"}) ==
        "$5\r\nalone\r\n");  // a read-only script propagates nothing
  CHECK(c.Cmd({"EVAL",
               "redis.call('select', 2); redis.call('set', 'db2', 'x'); redis.call('select', 0); "
               "redis.call('rpush', 'jobs', 'b'); return 1",
               "0"}) == ":1\r\n");
  std::string aof = IncrAof(server.dir());
  std::string lpush_incr =
      "*1\r\n$5\r\nMULTI\r\n*3\r\n$5\r\nlpush\r\n$4\r\njobs\r\n$1\r\na\r\n"
      "*2\r\n$4\r\nincr\r\n$7\r\ncounter\r\n*1\r\n$4\r\nEXEC\r\n";
  CHECK(aof.find(lpush_incr) != std::string::npos);
  size_t single = aof.find("*3\r\n$3\r\nset\r\n$6\r\nsingle\r\n$5\r\nalone\r\n");
  REQUIRE(single != std::string::npos);
  CHECK(aof.rfind("MULTI", single) < aof.find(lpush_incr) + lpush_incr.size());  // not wrapped
  CHECK(aof.find("get") == std::string::npos);
  CHECK(aof.find("$3\r\ndb2\r\n") != std::string::npos);
  server.Stop();
  server.Restart();
  RawConn after(server.port());
  CHECK(after.Cmd({"LRANGE", "jobs", "0", "-1"}) == "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  CHECK(after.Cmd({"GET", "counter"}) == "$1\r\n1\r\n");
  CHECK(after.Cmd({"GET", "single"}) == "$5\r\nalone\r\n");
  CHECK(after.Cmd({"SELECT", "2"}) == "+OK\r\n");
  CHECK(after.Cmd({"GET", "db2"}) == "$1\r\nx\r\n");
}

TEST_CASE("scripting: EVALSHA, SCRIPT LOAD/EXISTS/FLUSH and NOSCRIPT") {
  ServerProcess server;
  RawConn c(server.port());
  std::string sha = "573cd020e2fc941d149285df8b681959190edd09";  // SHA1 of "return 'x'"
  CHECK(c.Cmd({"EVALSHA", sha, "0"}) == "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  CHECK(c.Cmd({"SCRIPT", "LOAD", "return 'x'"}) == "$40\r\n" + sha + "\r\n");
  CHECK(c.Cmd({"EVALSHA", sha, "0"}) == "$1\r\nx\r\n");
  CHECK(c.Cmd({"SCRIPT", "EXISTS", sha, "nope"}) == "*2\r\n:1\r\n:0\r\n");
  CHECK(InfoField(c, "memory", "number_of_cached_scripts") == "1");
  CHECK(c.Cmd({"SCRIPT", "FLUSH"}) == "+OK\r\n");
  CHECK(c.Cmd({"EVALSHA", sha, "0"}) == "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  CHECK(InfoField(c, "memory", "number_of_cached_scripts") == "0");
  CHECK(c.Cmd({"EVAL", "return 'x'", "0"}) == "$1\r\nx\r\n");  // EVAL caches it again
  CHECK(c.Cmd({"EVALSHA", sha, "0"}) == "$1\r\nx\r\n");
  CHECK(InfoField(c, "errorstats", "errorstat_NOSCRIPT") == "count=2");
}

TEST_CASE("scripting: EVAL_RO and no-writes scripts refuse writes") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(c.Cmd({"EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"}) == "$1\r\nv\r\n");
  std::string denied = c.Cmd({"EVAL_RO", "return redis.call('del', KEYS[1])", "1", "k"});
  CHECK(denied.rfind("-ERR Write commands are not allowed from read-only scripts. script: ", 0) ==
        0);
  CHECK(c.Cmd({"EVAL_RO", "#!lua\nreturn 1", "0"}) ==
        "-ERR Can not execute a script with write flag using *_ro command.\r\n");
  CHECK(c.Cmd({"EVAL", "#!lua flags=no-writes\nreturn redis.pcall('del', 'k')", "0"}) ==
        "-ERR Write commands are not allowed from read-only scripts.\r\n");
  CHECK(c.Cmd({"GET", "k"}) == "$1\r\nv\r\n");
}

TEST_CASE("scripting: MONITOR shows EVAL, then the commands the script runs as [db lua]") {
  ServerProcess server;
  RawConn monitor(server.port());
  RawConn c(server.port());
  CHECK(monitor.Cmd({"MONITOR"}) == "+OK\r\n");
  CHECK(c.Cmd({"EVAL", "return redis.call('set', 'mk', 'mv')", "0"}) == "+OK\r\n");
  std::string first = monitor.Read();
  std::string second = monitor.Read();
  CHECK(first.find("\"EVAL\" \"return redis.call('set', 'mk', 'mv')\" \"0\"") != std::string::npos);
  CHECK(second.find("[0 lua] \"set\" \"mk\" \"mv\"") != std::string::npos);
}

TEST_CASE("scripting: each error is counted once in errorstats, the script as failed") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"SET", "s", "v"}) == "+OK\r\n");
  // The INCR errors are counted when they happen; returning or raising them counts no more.
  CHECK(c.Cmd({"EVAL", "return {redis.pcall('incr', 's'), redis.pcall('incr', 's')}", "0"}) ==
        "*2\r\n-ERR value is not an integer or out of range\r\n"
        "-ERR value is not an integer or out of range\r\n");
  CHECK(c.Cmd({"EVAL", "return redis.call('incr', 's')", "0"}).rfind("-ERR value is not", 0) == 0);
  CHECK(c.Cmd({"EVAL", "return redis.call('nosuch')", "0"}).rfind("-ERR Unknown Redis", 0) == 0);
  CHECK(c.Cmd({"EVAL", "return redis.error_reply('MY failure')", "0"}) == "-MY failure\r\n");
  CHECK(InfoField(c, "errorstats", "errorstat_ERR") == "count=4");
  CHECK(InfoField(c, "errorstats", "errorstat_MY") == "count=1");
  std::string stats = InfoField(c, "commandstats", "cmdstat_eval");
  CHECK(stats.find("calls=4,") == 0);
  CHECK(stats.find("failed_calls=5") != std::string::npos);
  CHECK(InfoField(c, "commandstats", "cmdstat_incr").find("failed_calls=3") != std::string::npos);
}

TEST_CASE("scripting: INFO reports the Lua VM and the script cache") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(std::stoll(InfoField(c, "memory", "used_memory_lua")) > 0);
  CHECK(InfoField(c, "memory", "used_memory_lua") == InfoField(c, "memory", "used_memory_vm_eval"));
  CHECK(c.Cmd({"SCRIPT", "LOAD", "return 1"}).size() == 47);
  CHECK(c.Cmd({"SCRIPT", "LOAD", "return 2"}).size() == 47);
  CHECK(InfoField(c, "memory", "number_of_cached_scripts") == "2");
  CHECK(std::stoll(InfoField(c, "memory", "used_memory_scripts_eval")) > 0);
}

}  // namespace
}  // namespace docket::test
