// Integration tests for FUNCTION / FCALL (issue 8, part 2): a long function answered -BUSY with
// FUNCTION KILL's text, FUNCTION STATS while it runs, FUNCTION KILL / -UNKILLABLE, the 500 ms load
// timeout, libraries surviving restart through the AOF and BGREWRITEAOF, AOF directories and
// FUNCTION DUMP payloads exchanged with redis-server both ways, INFO memory. Checked against
// redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file against it).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test {
namespace {

using aof::kRedisServer;

constexpr char kBusyFunction[] =
    "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
constexpr char kBusyEval[] =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

// A queue library in the style of BullMQ's scripts: add a job (hash + list), take one, count.
constexpr char kQueueLib[] =
    "#!lua name=queue\n"
    "redis.register_function('add', function(keys, args)\n"
    "  local id = redis.call('incr', keys[1] .. ':id')\n"
    "  redis.call('hset', keys[1] .. ':' .. id, 'data', args[1])\n"
    "  redis.call('lpush', keys[1] .. ':wait', id)\n"
    "  return id\n"
    "end)\n"
    "redis.register_function{function_name='count', description='waiting jobs',\n"
    "  callback=function(keys) return redis.call('llen', keys[1] .. ':wait') end,\n"
    "  flags={'no-writes'}}\n";

constexpr char kSpinLib[] =
    "#!lua name=spin\n"
    "redis.register_function('spin', function() local i = 0 while true do i = i + 1 end end)\n"
    "redis.register_function('spinw', function()\n"
    "  redis.call('set', 'k', 'v') local i = 0 while true do i = i + 1 end end)\n";

// Polls PING until the running script makes the server answer with busy.
bool WaitBusy(RawConn& conn, const std::string& busy) {
  long long deadline = NowMs() + 5000;
  while (NowMs() < deadline) {
    if (conn.Cmd({"PING"}) == busy) return true;
    SleepMs(10);
  }
  return false;
}

// FUNCTION STATS with the duration replaced by D.
std::string StatsWithoutDuration(RawConn& conn) {
  std::string s = conn.Cmd({"FUNCTION", "STATS"});
  size_t at = s.find("duration_ms\r\n:");
  if (at != std::string::npos) {
    at += 14;
    s.replace(at, s.find("\r\n", at) - at, "D");
  }
  return s;
}

// Loads kQueueLib, adds two jobs through FCALL, checks the results.
void LoadQueueAndAdd(int port) {
  Redis c(port);
  CHECK(c.Str({"FUNCTION", "LOAD", kQueueLib}) == "queue");
  CHECK(c.Int({"FCALL", "add", "1", "q", "job-a"}) == 1);
  CHECK(c.Int({"FCALL", "add", "1", "q", "job-b"}) == 2);
}

// What a server holding kQueueLib and two jobs must answer; adds a third job.
void CheckQueue(int port) {
  Redis c(port);
  CHECK(c.Int({"FCALL_RO", "count", "1", "q"}) == 2);
  CHECK(c.Str({"HGET", "q:2", "data"}) == "job-b");
  CHECK(c.Int({"FCALL", "add", "1", "q", "job-c"}) == 3);
  Reply list = c.Cmd({"FUNCTION", "LIST"});
  REQUIRE(list);
  REQUIRE(list->type == REDIS_REPLY_ARRAY);
  CHECK(list->elements == 1);
}

TEST_CASE("functions: a long function gets -BUSY for others, FUNCTION STATS and KILL") {
  ServerProcess server({"--busy-reply-threshold", "100"});
  RawConn runner(server.port());
  RawConn other(server.port());
  CHECK(other.Cmd({"FUNCTION", "LOAD", kSpinLib}) == "$4\r\nspin\r\n");
  CHECK(other.Cmd({"FUNCTION", "KILL"}) == "-NOTBUSY No scripts in execution right now.\r\n");
  REQUIRE(runner.Send(Multibulk({"FCALL", "spin", "1", "key1", "arg1"})));
  REQUIRE(WaitBusy(other, kBusyFunction));
  CHECK(StatsWithoutDuration(other) ==
        "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n"
        "$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n1\r\n$4\r\nkey1\r\n$4\r\narg1\r\n$11\r\nduration_ms\r\n"
        ":D\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n"
        "$15\r\nfunctions_count\r\n:2\r\n");
  CHECK(other.Cmd({"SCRIPT", "KILL"}) == kBusyFunction);  // a function is not SCRIPT KILL's
  CHECK(other.Cmd({"FUNCTION", "LIST"}) == kBusyFunction);
  CHECK(other.Cmd({"FUNCTION", "KILL"}) == "+OK\r\n");
  CHECK(runner.Read() ==
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n");
  CHECK(other.Cmd({"PING"}) == "+PONG\r\n");
  // A function that wrote cannot be killed.
  REQUIRE(runner.Send(Multibulk({"FCALL", "spinw", "0"})));
  REQUIRE(WaitBusy(other, kBusyFunction));
  CHECK(other.Cmd({"FUNCTION", "KILL"}) ==
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You "
        "can either wait the script termination or kill the server in a hard way using the "
        "SHUTDOWN NOSAVE command.\r\n");
  REQUIRE(other.Send(Multibulk({"SHUTDOWN", "NOSAVE"})));
  int status = server.WaitExit(5000);
  CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("functions: FUNCTION STATS and FUNCTION KILL during a long EVAL are -BUSY") {
  ServerProcess server({"--busy-reply-threshold", "100"});
  RawConn runner(server.port());
  RawConn other(server.port());
  REQUIRE(runner.Send(Multibulk({"EVAL", "local i = 0 while true do i = i + 1 end", "0"})));
  REQUIRE(WaitBusy(other, kBusyEval));
  CHECK(other.Cmd({"FUNCTION", "STATS"}) == kBusyEval);
  CHECK(other.Cmd({"FUNCTION", "KILL"}) == kBusyEval);
  CHECK(other.Cmd({"SCRIPT", "KILL"}) == "+OK\r\n");
  CHECK(runner.Read().rfind("-ERR Script killed by user with SCRIPT KILL...", 0) == 0);
}

TEST_CASE("functions: FUNCTION LOAD stops library code after 500 ms") {
  ServerProcess server;
  RawConn conn(server.port());
  long long start = NowMs();
  CHECK(conn.Cmd({"FUNCTION", "LOAD", "#!lua name=slow\nlocal i = 0\nwhile true do i = i + 1 end"},
                 10000) == "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n");
  long long took = NowMs() - start;
  CHECK(took >= 450);
  CHECK(took < 3000);
  CHECK(conn.Cmd({"FUNCTION", "LIST"}) == "*0\r\n");
  CHECK(conn.Cmd({"PING"}) == "+PONG\r\n");
}

TEST_CASE("functions: libraries survive a restart through the AOF and BGREWRITEAOF") {
  ServerProcess server(aof::AofArgs());
  LoadQueueAndAdd(server.port());
  {
    Redis c(server.port());
    CHECK(c.Str({"FUNCTION", "LOAD",
                 "#!lua name=gone\nredis.register_function('g', "
                 "function() return 1 end)"}) == "gone");
    CHECK(c.Str({"FUNCTION", "DELETE", "gone"}) == "OK");
  }
  // FUNCTION LOAD / DELETE go to the incr file as they were sent; FCALL as its effects.
  std::string incr = aof::AllAofText(aof::AofDir(server));
  CHECK(incr.find("$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$" + std::to_string(strlen(kQueueLib)) + "\r\n" +
                  kQueueLib + "\r\n") != std::string::npos);
  CHECK(incr.find("$8\r\nFUNCTION\r\n$6\r\nDELETE\r\n$4\r\ngone\r\n") != std::string::npos);
  CHECK(incr.find("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nincr\r\n$4\r\nq:id\r\n") != std::string::npos);
  CHECK(incr.find("FCALL") == std::string::npos);
  REQUIRE(aof::ExitedCleanly(server.Stop()));
  aof::RestartLoaded(server);
  CheckQueue(server.port());
  {
    Redis c(server.port());
    CHECK(c.Str({"FCALL", "g", "0"}) == "ERR Function not found");
    CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
    aof::WaitRewriteDone(c);
  }
  // The rewritten base starts with one FUNCTION LOAD per library, as Redis's rewriteFunctions.
  std::vector<aof::ManifestEntry> entries = aof::ReadManifest(aof::AofDir(server));
  std::string base = aof::ReadFile(aof::AofDir(server) + "/" + aof::BaseFile(entries));
  CHECK(base.rfind("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$" + std::to_string(strlen(kQueueLib)) +
                       "\r\n" + kQueueLib + "\r\n*2\r\n$6\r\nSELECT\r\n",
                   0) == 0);
  REQUIRE(aof::ExitedCleanly(server.Stop()));
  aof::RestartLoaded(server);
  Redis c(server.port());
  CHECK(c.Int({"FCALL_RO", "count", "1", "q"}) == 3);
}

TEST_CASE("functions: AOF directories with libraries load across redis-server both ways") {
  for (bool redis_writes : {true, false}) {
    std::string direction = redis_writes ? "redis-server writes" : "the server under test writes";
    INFO(direction);
    ServerProcess w(aof::AofArgs(), "", redis_writes ? kRedisServer : "");
    LoadQueueAndAdd(w.port());
    {
      Redis c(w.port());
      CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
      aof::WaitRewriteDone(c);
      CHECK(c.Str({"FUNCTION", "LOAD",
                   "#!lua name=later\nredis.register_function('later', "
                   "function() return 'l' end)"}) == "later");
    }
    REQUIRE(aof::ExitedCleanly(w.Stop()));
    ServerProcess r(aof::AofArgs("everysec", {"--dir", w.dir()}), "",
                    redis_writes ? "" : kRedisServer);
    aof::WaitLoaded(r.port());
    Redis c(r.port());
    CHECK(c.Int({"FCALL_RO", "count", "1", "q"}) == 2);
    CHECK(c.Str({"FCALL", "later", "0"}) == "l");
    CHECK(c.Int({"FCALL", "add", "1", "q", "job-c"}) == 3);
  }
}

TEST_CASE("functions: FUNCTION DUMP payloads restore across redis-server both ways") {
  ServerProcess redis({}, "", kRedisServer);
  ServerProcess docket;
  for (bool from_redis : {true, false}) {
    std::string direction = from_redis ? "redis-server dumps" : "the server under test dumps";
    INFO(direction);
    RawConn src(from_redis ? redis.port() : docket.port());
    RawConn dst(from_redis ? docket.port() : redis.port());
    CHECK(src.Cmd({"FUNCTION", "FLUSH"}) == "+OK\r\n");
    CHECK(dst.Cmd({"FUNCTION", "FLUSH"}) == "+OK\r\n");
    // Long enough to be LZF-compressed, and a second library.
    CHECK(src.Cmd({"FUNCTION", "LOAD", kQueueLib}) == "$5\r\nqueue\r\n");
    CHECK(src.Cmd({"FUNCTION", "LOAD",
                   "#!lua name=two\nredis.register_function('two', "
                   "function() return 2 end)"}) == "$3\r\ntwo\r\n");
    std::string dump = src.Cmd({"FUNCTION", "DUMP"});
    REQUIRE(dump[0] == '$');
    std::string payload = dump.substr(dump.find("\r\n") + 2);
    payload.resize(payload.size() - 2);
    CHECK(dst.Cmd({"FUNCTION", "RESTORE", payload}) == "+OK\r\n");
    CHECK(dst.Cmd({"FCALL", "two", "0"}) == ":2\r\n");
    CHECK(dst.Cmd({"FCALL", "add", "1", "q", "x"}) == ":1\r\n");
    CHECK(dst.Cmd({"FUNCTION", "LIST", "LIBRARYNAME", "two", "WITHCODE"}) ==
          src.Cmd({"FUNCTION", "LIST", "LIBRARYNAME", "two", "WITHCODE"}));
    // Which of the two collides first depends on dict order in Redis.
    std::string again = dst.Cmd({"FUNCTION", "RESTORE", payload});
    CHECK((again == "-ERR Library queue already exists\r\n" ||
           again == "-ERR Library two already exists\r\n"));
    // One library: both servers write the same bytes.
    CHECK(src.Cmd({"FUNCTION", "DELETE", "two"}) == "+OK\r\n");
    CHECK(dst.Cmd({"FUNCTION", "DELETE", "two"}) == "+OK\r\n");
    CHECK(src.Cmd({"FUNCTION", "DUMP"}) == dst.Cmd({"FUNCTION", "DUMP"}));
  }
}

TEST_CASE("functions: INFO memory counts functions and the functions engine") {
  ServerProcess server;
  Redis c(server.port());
  std::map<std::string, std::string> before = aof::Info(c, "memory");
  CHECK(before["number_of_functions"] == "0");
  CHECK(before["number_of_libraries"] == "0");
  CHECK(c.Str({"FUNCTION", "LOAD", kQueueLib}) == "queue");
  std::map<std::string, std::string> after = aof::Info(c, "memory");
  CHECK(after["number_of_functions"] == "2");
  CHECK(after["number_of_libraries"] == "1");
  CHECK(std::stoll(after["used_memory_functions"]) > std::stoll(before["used_memory_functions"]));
  CHECK(std::stoll(after["used_memory_vm_functions"]) > 0);
  CHECK(std::stoll(after["used_memory_vm_total"]) ==
        std::stoll(after["used_memory_vm_eval"]) + std::stoll(after["used_memory_vm_functions"]));
  CHECK(c.Str({"FUNCTION", "FLUSH"}) == "OK");
  CHECK(aof::Info(c, "memory")["number_of_functions"] == "0");
}

}  // namespace
}  // namespace docket::test
