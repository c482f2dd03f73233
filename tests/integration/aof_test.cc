// Integration tests for the append-only file (issue 5): restart under each appendfsync policy,
// SIGKILL after an acknowledged write, Redis 7's multi-part directory layout (checked with
// redis-check-aof), loading directories across redis-server and the server under test, truncated
// and corrupt tails, BGREWRITEAOF and automatic rewrite, CONFIG SET appendonly, INFO persistence,
// and -MISCONF on a full disk (a small tmpfs; skipped when mount is not permitted). Written and
// checked against redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/aof/aof_util.h"
#include "tests/integration/harness.h"

namespace docket::test::aof {
namespace {

// ---- the standard dataset ----

// Strings with TTLs, lists, INCRBYFLOAT, three databases, a transaction, a served BLPOP, a key
// that expires before the restart ("short", 600 ms) and one already expired ("gone").
void Populate(int port) {
  Redis c(port);
  RawConn waiter(port);
  REQUIRE(waiter.Send(Multibulk({"BLPOP", "queue", "0"})));
  CHECK(c.Str({"SET", "str", "hello"}) == "OK");
  CHECK(c.Str({"SET", "ttl", "v", "EX", "1000"}) == "OK");
  CHECK(c.Str({"SET", "rel", "v"}) == "OK");
  CHECK(c.Int({"EXPIRE", "rel", "2000"}) == 1);
  CHECK(c.Str({"SET", "short", "v", "PX", "600"}) == "OK");
  CHECK(c.Str({"SET", "gone", "v", "PX", "50"}) == "OK");
  CHECK(c.Int({"RPUSH", "list", "a", "b", "c", "d"}) == 4);
  CHECK(c.Int({"LPUSH", "list", "z"}) == 5);
  CHECK(c.Str({"RPOP", "list"}) == "d");
  CHECK(c.Str({"INCRBYFLOAT", "float", "1.1"}) == "1.1");
  CHECK(c.Str({"INCRBYFLOAT", "float", "2.15"}) == "3.25");
  CHECK(c.Int({"DEL", "nothing-here-key"}) == 0);
  CHECK(c.Str({"SELECT", "1"}) == "OK");
  CHECK(c.Str({"SET", "db1key", "one"}) == "OK");
  CHECK(c.Int({"RPUSH", "db1list", "x", "y"}) == 2);
  CHECK(c.Str({"SELECT", "3"}) == "OK");
  CHECK(c.Str({"SET", "db3key", "three"}) == "OK");
  CHECK(c.Str({"SELECT", "0"}) == "OK");
  CHECK(c.Str({"MULTI"}) == "OK");
  CHECK(c.Str({"SET", "tx", "1"}) == "QUEUED");
  CHECK(c.Str({"INCR", "tx"}) == "QUEUED");
  CHECK(c.Str({"RPUSH", "txlist", "p", "q"}) == "QUEUED");
  Reply exec = c.Cmd({"EXEC"});
  CHECK((exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 3));
  WaitBlocked(c, 1);
  CHECK(c.Int({"RPUSH", "queue", "e1", "e2"}) == 2);
  CHECK(waiter.Read() == "*2\r\n$5\r\nqueue\r\n$2\r\ne1\r\n");
  SleepMs(100);
  CHECK(c.Str({"GET", "gone"}) == "(nil)");
}

// The values Populate leaves, checked one by one after a restart.
void CheckPopulated(int port) {
  Redis c(port);
  CHECK(c.Str({"GET", "str"}) == "hello");
  long long ttl = c.Int({"PTTL", "ttl"});
  CHECK((ttl > 1000000 - 20000 && ttl <= 1000000));
  long long rel = c.Int({"PTTL", "rel"});
  CHECK((rel > 2000000 - 20000 && rel <= 2000000));
  CHECK(c.Int({"EXISTS", "short"}) == 0);
  CHECK(c.Int({"EXISTS", "gone"}) == 0);
  CHECK(ReplyText(c.Cmd({"LRANGE", "list", "0", "-1"}).get()) == "[1:z,1:a,1:b,1:c,]");
  CHECK(c.Str({"GET", "float"}) == "3.25");
  CHECK(c.Str({"GET", "tx"}) == "2");
  CHECK(ReplyText(c.Cmd({"LRANGE", "txlist", "0", "-1"}).get()) == "[1:p,1:q,]");
  CHECK(ReplyText(c.Cmd({"LRANGE", "queue", "0", "-1"}).get()) == "[2:e2,]");
  CHECK(c.Str({"SELECT", "1"}) == "OK");
  CHECK(c.Str({"GET", "db1key"}) == "one");
  CHECK(ReplyText(c.Cmd({"LRANGE", "db1list", "0", "-1"}).get()) == "[1:x,1:y,]");
  CHECK(c.Str({"SELECT", "3"}) == "OK");
  CHECK(c.Str({"GET", "db3key"}) == "three");
  CHECK(c.Int({"DBSIZE"}) == 1);
}

}  // namespace

TEST_CASE("AOF: a restart keeps the data under every appendfsync policy") {
  for (std::string policy : {"always", "everysec", "no"}) {
    INFO("appendfsync ", policy);
    ServerProcess server(AofArgs(policy));
    long long start = NowMs();
    Populate(server.port());
    Dataset before = Dump(server.port());
    before.erase("0:short");  // expires while the server is down
    if (policy == "everysec") {
      kill(server.pid(), SIGTERM);
    } else {
      RawConn conn(server.port());
      REQUIRE(conn.Send(Multibulk({"SHUTDOWN"})));
    }
    CHECK(ExitedCleanly(server.WaitExit(10000)));

    // What is logged is what happened.
    std::string aof = AllAofText(AofDir(server));
    CHECK(aof.find(Multibulk({"SELECT", "1"})) != std::string::npos);
    CHECK(aof.find("PEXPIREAT") != std::string::npos);
    CHECK(aof.find("BLPOP") == std::string::npos);
    CHECK(aof.find("nothing-here-key") == std::string::npos);
    CHECK(aof.find("INCRBYFLOAT") == std::string::npos);
    CHECK(aof.find(Multibulk({"MULTI"})) != std::string::npos);
    CHECK(aof.find(Multibulk({"EXEC"})) != std::string::npos);

    long long wait = start + 800 - NowMs();
    if (wait > 0) SleepMs(static_cast<int>(wait));
    RestartLoaded(server);
    CheckPopulated(server.port());
    CheckSameData(before, Dump(server.port()));
  }
}

TEST_CASE("AOF: with appendfsync always an acknowledged write survives SIGKILL") {
  ServerProcess server(AofArgs("always"));
  constexpr int kCycles = 4;
  constexpr int kPerCycle = 100;
  int total = 0;
  for (int cycle = 0; cycle < kCycles; cycle++) {
    INFO("cycle ", cycle);
    {
      Redis c(server.port());
      for (int i = 0; i < kPerCycle; i++) c.Append({"RPUSH", "nums", std::to_string(total + i)});
      for (int i = 0; i < kPerCycle; i++) {
        Reply r = c.Get();
        REQUIRE(r);
        CHECK(r->integer == total + i + 1);
      }
      total += kPerCycle;
      CHECK(c.Str({"SET", "last", std::to_string(cycle)}) == "OK");
    }
    REQUIRE(kill(server.pid(), SIGKILL) == 0);
    int status = server.WaitExit(5000);
    CHECK((status != -1 && WIFSIGNALED(status)));
    RestartLoaded(server);
    Redis c(server.port());
    CHECK(c.Int({"LLEN", "nums"}) == total);
    CHECK(c.Str({"LINDEX", "nums", "-1"}) == std::to_string(total - 1));
    CHECK(c.Str({"GET", "last"}) == std::to_string(cycle));
  }
}

TEST_CASE("AOF: what is logged is what happened") {
  ServerProcess server(AofArgs());
  long long t0 = WallMs();
  {
    Redis c(server.port());
    RawConn waiter(server.port());
    REQUIRE(waiter.Send(Multibulk({"BLPOP", "q", "0"})));
    WaitBlocked(c, 1);
    CHECK(c.Int({"RPUSH", "q", "e1", "e2"}) == 2);
    CHECK(waiter.Read() == "*2\r\n$1\r\nq\r\n$2\r\ne1\r\n");
    for (const std::vector<std::string>& argv :
         std::vector<std::vector<std::string>>{{"SELECT", "2"},
                                               {"SET", "b", "2"},
                                               {"SELECT", "2"},
                                               {"SET", "c", "3"},
                                               {"SELECT", "0"},
                                               {"DEL", "none"},
                                               {"INCRBYFLOAT", "f", "1.5"},
                                               {"GETEX", "k", "EX", "100"},
                                               {"SET", "k", "v"},
                                               {"GETEX", "k", "EX", "100"},
                                               {"LPOP", "empty"},
                                               {"EXPIRE", "k", "0"},
                                               {"SET", "s", "v", "PX", "1"}}) {
      Reply r = c.Cmd(argv);
      REQUIRE(r);
      CHECK_MESSAGE(r->type != REDIS_REPLY_ERROR, argv[0], ": ", r->str);
    }
    SleepMs(50);
    CHECK(c.Str({"GET", "s"}) == "(nil)");
    CHECK(c.Str({"MULTI"}) == "OK");
    CHECK(c.Str({"SET", "t", "1"}) == "QUEUED");
    CHECK(c.Str({"INCR", "t"}) == "QUEUED");
    CHECK(c.Cmd({"EXEC"}));
    CHECK(c.Str({"MULTI"}) == "OK");
    CHECK(c.Str({"GET", "t"}) == "QUEUED");
    CHECK(c.Cmd({"EXEC"}));
    CHECK(c.Str({"SET", "end", "1"}) == "OK");
  }
  long long t1 = WallMs();
  CHECK(ExitedCleanly(server.Stop()));
  std::vector<std::string> incr = IncrFiles(ReadManifest(AofDir(server)));
  REQUIRE(incr.size() == 1);
  std::vector<std::vector<std::string>> got = ParseAof(ReadFile(AofDir(server) + "/" + incr[0]));
  // "@N" stands for an absolute unix time in ms between t0 + N and t1 + N.
  const std::vector<std::vector<std::string>> expected = {
      {"SELECT", "0"},   {"RPUSH", "q", "e1", "e2"},
      {"LPOP", "q"},     {"SELECT", "2"},
      {"SET", "b", "2"}, {"SET", "c", "3"},
      {"SELECT", "0"},   {"SET", "f", "1.5", "KEEPTTL"},
      {"SET", "k", "v"}, {"PEXPIREAT", "k", "@100000"},
      {"DEL", "k"},      {"SET", "s", "v", "PXAT", "@1"},
      {"DEL", "s"},      {"MULTI"},
      {"SET", "t", "1"}, {"INCR", "t"},
      {"EXEC"},          {"SET", "end", "1"}};
  CHECK(got.size() == expected.size());
  for (size_t i = 0; i < std::min(got.size(), expected.size()); i++) {
    INFO("command ", i, " (expected ", expected[i][0], ")");
    REQUIRE(got[i].size() == expected[i].size());
    CHECK(Lower(got[i][0]) == Lower(expected[i][0]));
    for (size_t j = 1; j < got[i].size(); j++) {
      if (expected[i][j][0] != '@') {
        CHECK(got[i][j] == expected[i][j]);
        continue;
      }
      long long delta = std::stoll(expected[i][j].substr(1));
      long long at = std::stoll(got[i][j]);
      CHECK((at >= t0 + delta && at <= t1 + delta));
    }
  }
}

namespace {

constexpr int kRewriteKeys = 50000;

// Writes kRewriteKeys keys, starts BGREWRITEAOF, pushes to "during" and SIGKILLs the server
// while the rewrite runs. Returns the number of incr files the manifest lists afterwards.
size_t KillDuringRewrite(ServerProcess& server) {
  {
    Redis c(server.port());
    for (int i = 0; i < kRewriteKeys; i++) c.Append({"SET", "key:" + std::to_string(i), "value"});
    ReadReplies(c, kRewriteKeys);
    CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
    CHECK(c.Int({"RPUSH", "during", "1"}) == 1);
  }
  REQUIRE(kill(server.pid(), SIGKILL) == 0);
  CHECK(server.WaitExit(5000) != -1);
  SleepMs(300);  // an orphaned rewrite child may still finish its temp file
  return IncrFiles(ReadManifest(AofDir(server))).size();
}

void CheckRewriteData(int port) {
  Redis c(port);
  CHECK(c.Int({"DBSIZE"}) == kRewriteKeys + 1);
  CHECK(c.Str({"GET", "key:0"}) == "value");
  CHECK(c.Str({"GET", "key:" + std::to_string(kRewriteKeys - 1)}) == "value");
  CHECK(c.Int({"LLEN", "during"}) == 1);
}

}  // namespace

TEST_CASE("AOF: SIGKILL during BGREWRITEAOF leaves a loadable directory") {
  ServerProcess server(AofArgs());
  constexpr int kKeys = kRewriteKeys;
  // The writes during the rewrite went to a new incr file, listed before the rewrite ends.
  CHECK(KillDuringRewrite(server) == 2);
  {
    INFO("redis-server loads the directory");
    ServerProcess redis({"--appendonly", "yes", "--dir", server.dir()}, "", kRedisServer);
    WaitLoaded(redis.port());
    CheckRewriteData(redis.port());
  }
  RestartLoaded(server);
  CheckRewriteData(server.port());
  Redis c(server.port());
  // The directory keeps working: another rewrite, a write, a clean restart.
  CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
  WaitRewriteDone(c);
  CHECK(c.Str({"SET", "after", "1"}) == "OK");
  CHECK(ExitedCleanly(server.Stop()));
  std::string out;
  CHECK(RunCheckAof(AofDir(server) + "/appendonly.aof.manifest", &out) == 0);
  RestartLoaded(server);
  Redis c2(server.port());
  CHECK(c2.Int({"DBSIZE"}) == kKeys + 2);
}

TEST_CASE("AOF: a directory redis-server left with two incr files loads in the server under test") {
  ServerProcess writer(AofArgs(), "", kRedisServer);
  CHECK(KillDuringRewrite(writer) == 2);
  ServerProcess reader({"--appendonly", "yes", "--dir", writer.dir()});
  WaitLoaded(reader.port());
  CheckRewriteData(reader.port());
  CHECK(ExitedCleanly(reader.Stop()));
  RestartLoaded(writer);  // and redis-server still loads what the reader left
  CheckRewriteData(writer.port());
}

TEST_CASE("AOF: Redis 7's directory layout, manifest syntax and redis-check-aof") {
  SUBCASE("default names") {
    ServerProcess server(AofArgs());
    {
      Redis c(server.port());
      CHECK(c.Str({"SET", "k", "v"}) == "OK");
      CHECK(c.Int({"RPUSH", "l", "a"}) == 1);
    }
    std::string dir = AofDir(server);
    REQUIRE(fs::is_directory(dir));
    std::vector<ManifestEntry> entries = ReadManifest(dir);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].name == "appendonly.aof.1.base.aof");
    CHECK(entries[0].seq == 1);
    CHECK(entries[0].type == 'b');
    CHECK(entries[1].name == "appendonly.aof.1.incr.aof");
    CHECK(entries[1].seq == 1);
    CHECK(entries[1].type == 'i');
    for (const ManifestEntry& e : entries) CHECK_MESSAGE(fs::exists(dir + "/" + e.name), e.name);
    std::string incr = ReadFile(dir + "/appendonly.aof.1.incr.aof");
    std::string expected =
        Multibulk({"SELECT", "0"}) + Multibulk({"SET", "k", "v"}) + Multibulk({"RPUSH", "l", "a"});
    CHECK(incr == expected);
    CHECK(ExitedCleanly(server.Stop()));
    std::string out;
    CHECK(RunCheckAof(dir + "/appendonly.aof.manifest", &out) == 0);
    INFO("redis-check-aof:\n", out);
    CHECK(out.find("All AOF files and manifest are valid") != std::string::npos);
    RestartLoaded(server);
  }
  SUBCASE("appenddirname and appendfilename") {
    ServerProcess server(
        AofArgs("everysec", {"--appenddirname", "qdir", "--appendfilename", "tasks.aof"}));
    {
      Redis c(server.port());
      CHECK(c.Str({"SET", "k", "v"}) == "OK");
    }
    std::string dir = server.dir() + "/qdir";
    std::vector<ManifestEntry> entries = ReadManifest(dir, "tasks.aof.manifest");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].name == "tasks.aof.1.base.aof");
    CHECK(entries[1].name == "tasks.aof.1.incr.aof");
    CHECK(ExitedCleanly(server.Stop()));
    std::string out;
    CHECK(RunCheckAof(dir + "/tasks.aof.manifest", &out) == 0);
    RestartLoaded(server);
    Redis c(server.port());
    CHECK(c.Str({"GET", "k"}) == "v");
  }
}

TEST_CASE("AOF: directories load across redis-server and the server under test") {
  for (bool redis_writes : {true, false}) {
    std::string writer = redis_writes ? kRedisServer : "";
    std::string reader = redis_writes ? "" : kRedisServer;
    std::string direction = redis_writes ? "redis-server writes, the server under test reads"
                                         : "the server under test writes, redis-server reads";
    INFO(direction);
    ServerProcess w(AofArgs(), "", writer);
    Populate(w.port());
    {
      Redis c(w.port());
      CHECK(c.Str({"BGREWRITEAOF"}) == "Background append only file rewriting started");
      WaitRewriteDone(c);
      // More in the incr file after the rewrite, in another database.
      CHECK(c.Str({"SELECT", "5"}) == "OK");
      CHECK(c.Int({"RPUSH", "after", "1", "2", "3"}) == 3);
      CHECK(c.Str({"SET", "after-ttl", "x", "PX", "900000"}) == "OK");
      CHECK(c.Int({"DEL", "after-ttl-none"}) == 0);
    }
    SleepMs(700);  // "short" expires (the DEL goes to the incr file)
    Dataset before = Dump(w.port());
    CHECK(before.size() >= 10);
    CHECK(ExitedCleanly(w.Stop()));
    std::string out;
    CHECK(RunCheckAof(AofDir(w) + "/appendonly.aof.manifest", &out) == 0);
    // The reader uses its own defaults for reading an AOF (rdb preamble allowed).
    ServerProcess r({"--appendonly", "yes", "--dir", w.dir()}, "", reader);
    WaitLoaded(r.port());
    CheckSameData(before, Dump(r.port()));
    CheckPopulated(r.port());
  }
}

TEST_CASE("AOF: a truncated last command is dropped with aof-load-truncated yes, refused with no") {
  ServerProcess server(AofArgs("everysec", {"--aof-load-truncated", "yes"}));
  const std::vector<std::string> tails = {"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhal",
                                          "*2\r\n$3\r\nDEL\r\n$"};
  for (size_t i = 0; i < tails.size(); i++) {
    INFO("tail ", i);
    std::string n = std::to_string(i);
    {
      Redis c(server.port());
      CHECK(c.Str({"SET", "before" + n, "v"}) == "OK");
      CHECK(c.Int({"RPUSH", "l", n}) == static_cast<long long>(i) + 1);
    }
    CHECK(ExitedCleanly(server.Stop()));
    std::vector<std::string> incr = IncrFiles(ReadManifest(AofDir(server)));
    REQUIRE(!incr.empty());
    AppendFile(AofDir(server) + "/" + incr.back(), tails[i]);

    std::string out;
    std::vector<std::string> args = {"--port", std::to_string(server.port()),
                                     "--bind", "127.0.0.1",
                                     "--dir",  server.dir(),
                                     "--save", ""};
    std::vector<std::string> aof = AofArgs("everysec", {"--aof-load-truncated", "no"});
    args.insert(args.end(), aof.begin(), aof.end());
    int status = RunServerToExit(args, 5000, &out);
    INFO("output with aof-load-truncated no:\n", out);
    CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0));

    size_t log_from = server.Log().size();
    RestartLoaded(server);
    CHECK(Lower(LogSince(server, log_from)).find("truncat") != std::string::npos);
    Redis c(server.port());
    for (size_t j = 0; j <= i; j++) {
      CHECK(c.Str({"GET", "before" + std::to_string(j)}) == "v");
      if (j < i) CHECK(c.Str({"GET", "after" + std::to_string(j)}) == "w");
    }
    CHECK(c.Int({"LLEN", "l"}) == static_cast<long long>(i) + 1);
    CHECK(c.Int({"EXISTS", "x"}) == 0);
    // A write after the truncation must land on a clean file (checked by the next restart).
    CHECK(c.Str({"SET", "after" + n, "w"}) == "OK");
  }
  CHECK(ExitedCleanly(server.Stop()));
  std::string dir = AofDir(server);
  std::string out;
  CHECK(RunCheckAof(dir + "/appendonly.aof.manifest", &out) == 0);
  RestartLoaded(server);
  {
    Redis c(server.port());
    CHECK(c.Str({"GET", "after1"}) == "w");
  }

  // Corruption before the tail: refused even with aof-load-truncated yes, naming the file.
  CHECK(ExitedCleanly(server.Stop()));
  std::string last_incr = IncrFiles(ReadManifest(dir)).back();
  AppendFile(dir + "/" + last_incr, "garbage\r\n" + Multibulk({"SET", "y", "1"}));
  std::vector<std::string> args = {"--port", std::to_string(server.port()),
                                   "--bind", "127.0.0.1",
                                   "--dir",  server.dir(),
                                   "--save", ""};
  std::vector<std::string> aof = AofArgs("everysec", {"--aof-load-truncated", "yes"});
  args.insert(args.end(), aof.begin(), aof.end());
  int status = RunServerToExit(args, 5000, &out);
  INFO("output with a corrupt AOF:\n", out);
  CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0));
  CHECK(out.find(last_incr) != std::string::npos);
  // Leave a loadable file for the destructor's clean stop check: the server is already stopped.
}

TEST_CASE("AOF: BGREWRITEAOF keeps the data and switches to a new incr file") {
  ServerProcess server(AofArgs());
  Redis c(server.port());
  for (int i = 0; i < 2000; i++)
    c.Append({"SET", "key:" + std::to_string(i), std::string(50, 'v')});
  ReadReplies(c, 2000);
  CHECK(c.Int({"RPUSH", "list", "a", "b"}) == 2);
  CHECK(c.Str({"SET", "ttl", "v", "EX", "5000"}) == "OK");
  std::vector<ManifestEntry> old_entries = ReadManifest(AofDir(server));

  // Writes pipelined right behind BGREWRITEAOF arrive while the rewrite runs.
  RawConn raw(server.port());
  std::string burst = Multibulk({"BGREWRITEAOF"});
  for (int i = 0; i < 300; i++) burst += Multibulk({"RPUSH", "during", std::to_string(i)});
  REQUIRE(raw.Send(burst));
  CHECK(raw.Read() == "+Background append only file rewriting started\r\n");
  for (int i = 0; i < 300; i++) CHECK(raw.Read() == ":" + std::to_string(i + 1) + "\r\n");
  WaitRewriteDone(c);
  std::map<std::string, std::string> info = Info(c, "persistence");
  CHECK(info["aof_rewrite_in_progress"] == "0");
  CHECK(info["aof_last_bgrewrite_status"] == "ok");
  CHECK(info["aof_last_write_status"] == "ok");

  std::vector<ManifestEntry> entries = ReadManifest(AofDir(server));
  std::string base = BaseFile(entries);
  CHECK(base != BaseFile(old_entries));
  CHECK(base == "appendonly.aof.2.base.aof");
  std::vector<std::string> incr = IncrFiles(entries);
  REQUIRE(incr.size() == 1);
  CHECK(incr[0] == "appendonly.aof.2.incr.aof");
  CHECK(fs::file_size(AofDir(server) + "/" + base) > 2000 * 50);
  // The old files are removed (Redis does it in the background).
  long long deadline = NowMs() + 3000;
  auto old_gone = [&] {
    for (const ManifestEntry& e : old_entries) {
      if (fs::exists(AofDir(server) + "/" + e.name)) return false;
    }
    return true;
  };
  while (!old_gone() && NowMs() < deadline) SleepMs(20);
  CHECK(old_gone());

  CHECK(c.Str({"SET", "after-rewrite", "yes"}) == "OK");
  CHECK(ReadFile(AofDir(server) + "/" + incr[0]).find(Multibulk({"SET", "after-rewrite", "yes"})) !=
        std::string::npos);
  Dataset before = Dump(server.port());
  CHECK(before.size() == 2000 + 4);
  CHECK(ExitedCleanly(server.Stop()));
  std::string out;
  CHECK(RunCheckAof(AofDir(server) + "/appendonly.aof.manifest", &out) == 0);
  RestartLoaded(server);
  CheckSameData(before, Dump(server.port()));
  Redis c2(server.port());
  CHECK(c2.Int({"LLEN", "during"}) == 300);
}

TEST_CASE("AOF: automatic rewrite with a small auto-aof-rewrite-min-size") {
  ServerProcess server(AofArgs(
      "everysec", {"--auto-aof-rewrite-min-size", "4kb", "--auto-aof-rewrite-percentage", "100"}));
  Redis c(server.port());
  for (int i = 0; i < 200; i++) c.Append({"SET", "k" + std::to_string(i), std::string(100, 'x')});
  ReadReplies(c, 200);
  long long deadline = NowMs() + 5000;
  std::string base;
  while (NowMs() < deadline) {
    base = BaseFile(ReadManifest(AofDir(server)));
    if (base != "appendonly.aof.1.base.aof") break;
    SleepMs(50);
  }
  CHECK(base == "appendonly.aof.2.base.aof");
  WaitRewriteDone(c);
  CHECK(Info(c, "persistence")["aof_last_bgrewrite_status"] == "ok");
  CHECK(ExitedCleanly(server.Stop()));
  RestartLoaded(server);
  Redis c2(server.port());
  CHECK(c2.Int({"DBSIZE"}) == 200);
  CHECK(c2.Str({"GET", "k199"}) == std::string(100, 'x'));
}

TEST_CASE("AOF: CONFIG SET appendonly yes at run time writes the current data, no stops") {
  ServerProcess server;  // appendonly no
  Redis c(server.port());
  CHECK(c.Str({"SET", "s", "v"}) == "OK");
  CHECK(c.Str({"SET", "t", "v", "EX", "1000"}) == "OK");
  CHECK(c.Int({"RPUSH", "l", "1", "2"}) == 2);
  CHECK(c.Str({"SELECT", "2"}) == "OK");
  CHECK(c.Str({"SET", "db2", "v"}) == "OK");
  CHECK(!fs::exists(AofDir(server)));
  CHECK(Info(c, "persistence")["aof_enabled"] == "0");
  CHECK(c.Str({"CONFIG", "SET", "appendonly", "yes"}) == "OK");
  WaitRewriteDone(c);
  CHECK(Info(c, "persistence")["aof_enabled"] == "1");
  std::vector<ManifestEntry> entries = ReadManifest(AofDir(server));
  CHECK(fs::file_size(AofDir(server) + "/" + BaseFile(entries)) > 0);
  CHECK(c.Str({"CONFIG", "SET", "appendfsync", "always"}) == "OK");
  CHECK(c.Str({"SET", "after", "enable"}) == "OK");
  Dataset before = Dump(server.port());
  CHECK(before.size() == 5);
  // Turned off again: later writes are not logged, the directory stays loadable.
  CHECK(c.Str({"CONFIG", "SET", "appendonly", "no"}) == "OK");
  CHECK(Info(c, "persistence")["aof_enabled"] == "0");
  CHECK(c.Str({"SET", "not-logged", "1"}) == "OK");
  CHECK(ExitedCleanly(server.Stop()));
  ServerProcess again({"--appendonly", "yes", "--dir", server.dir()});
  WaitLoaded(again.port());
  CheckSameData(before, Dump(again.port()));
}

TEST_CASE("AOF: INFO persistence has Redis's fields") {
  ServerProcess server(AofArgs());
  Redis c(server.port());
  CHECK(c.Str({"SET", "k", "v"}) == "OK");
  CHECK(c.Int({"RPUSH", "l", "a", "b"}) == 2);
  std::map<std::string, std::string> f = Info(c, "persistence");
  for (const char* name :
       {"loading", "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
        "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status",
        "aof_rewrites", "aof_last_write_status", "aof_current_size", "aof_base_size",
        "aof_pending_rewrite", "aof_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync"}) {
    CHECK_MESSAGE(f.count(name) == 1, "INFO persistence lacks ", name);
  }
  CHECK(f["loading"] == "0");
  CHECK(f["aof_enabled"] == "1");
  CHECK(f["aof_rewrite_in_progress"] == "0");
  CHECK(f["aof_last_bgrewrite_status"] == "ok");
  CHECK(f["aof_last_write_status"] == "ok");
  CHECK(f["aof_last_rewrite_time_sec"] == "-1");
  CHECK(f["aof_buffer_length"] == "0");
  std::vector<ManifestEntry> entries = ReadManifest(AofDir(server));
  uintmax_t total = fs::file_size(AofDir(server) + "/" + BaseFile(entries));
  CHECK(f["aof_base_size"] == std::to_string(total));
  for (const std::string& name : IncrFiles(entries))
    total += fs::file_size(AofDir(server) + "/" + name);
  CHECK(f["aof_current_size"] == std::to_string(total));
}

TEST_CASE("AOF: a full disk refuses writes with -MISCONF, serves reads, and recovers") {
  TmpfsMount disk("size=512k");
  if (!disk.mounted()) {
    MESSAGE("skipping the MISCONF test: cannot mount a tmpfs (" << disk.error() << ")");
    return;
  }
  const std::string kMisconf = "MISCONF Errors writing to the AOF file: No space left on device";
  ServerProcess server(AofArgs("everysec", {"--dir", disk.dir()}));
  Redis c(server.port());
  CHECK(c.Str({"SET", "k", "v"}) == "OK");
  std::string filler = disk.dir() + "/filler";
  FillDisk(filler);
  std::string big(64 * 1024, 'b');
  c.Str({"SET", "big", big});  // accepted in memory (everysec); its AOF write fails
  std::string reply;
  long long deadline = NowMs() + 3000;
  while (NowMs() < deadline) {
    reply = c.Str({"SET", "probe", "1"});
    if (reply != "OK") break;
    SleepMs(50);
  }
  CHECK(reply == kMisconf);
  CHECK(c.Str({"GET", "k"}) == "v");
  CHECK(c.Int({"DBSIZE"}) >= 2);
  CHECK(Info(c, "persistence")["aof_last_write_status"] == "err");

  fs::remove(filler);
  deadline = NowMs() + 5000;
  while (NowMs() < deadline) {
    reply = c.Str({"SET", "after", "1"});
    if (reply == "OK") break;
    SleepMs(50);
  }
  CHECK(reply == "OK");
  CHECK(Info(c, "persistence")["aof_last_write_status"] == "ok");
  CHECK(ExitedCleanly(server.Stop()));
  RestartLoaded(server);
  Redis c2(server.port());
  CHECK((c2.Str({"GET", "big"}) == big));  // not shown on failure: 64 KB
  CHECK(c2.Str({"GET", "after"}) == "1");
  CHECK(c2.Str({"GET", "k"}) == "v");
}

}  // namespace docket::test::aof
