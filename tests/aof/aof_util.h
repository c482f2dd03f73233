// Helpers for the AOF integration tests (tests/integration/aof_test.cc): server arguments, the
// manifest and AOF files, redis-check-aof, INFO fields, a canonical dump of a dataset compared
// between two servers, and a tmpfs for disk-full tests. Header-only: the Makefile builds
// tests/integration/*.cc only.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test::aof {

namespace fs = std::filesystem;

inline const char* const kRedisServer = "/usr/bin/redis-server";
constexpr int kDatabases = 16;
constexpr long long kTtlToleranceMs = 5000;

// Server arguments for AOF on with a RESP base file, the given fsync policy, and extra.
inline std::vector<std::string> AofArgs(const std::string& fsync = "everysec",
                                        std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--appendonly", "yes",           "--aof-use-rdb-preamble",
                                   "no",           "--appendfsync", fsync};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void AppendFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
  REQUIRE(out.good());
}

inline bool ExitedCleanly(int status) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ---- manifest ----

struct ManifestEntry {
  std::string name;
  long long seq = 0;
  char type = '?';  // b base, h history, i incr
};

// Parses <aof_dir>/<manifest>, CHECKing Redis's line syntax: `file NAME seq N type b|h|i`.
inline std::vector<ManifestEntry> ReadManifest(
    const std::string& aof_dir, const std::string& manifest = "appendonly.aof.manifest") {
  std::string path = aof_dir + "/" + manifest;
  REQUIRE_MESSAGE(fs::exists(path), "no manifest at ", path);
  std::string text = ReadFile(path);
  INFO("manifest:\n", text);
  CHECK((!text.empty() && text.back() == '\n'));
  static const std::regex kLine(R"(file (\S+) seq ([0-9]+) type ([bhi]))");
  std::vector<ManifestEntry> entries;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    CHECK_MESSAGE(std::regex_match(line, m, kLine), "bad manifest line: ", line);
    if (m.empty()) continue;
    entries.push_back({m[1], std::stoll(m[2]), m[3].str()[0]});
  }
  return entries;
}

inline std::string BaseFile(const std::vector<ManifestEntry>& entries) {
  for (const ManifestEntry& e : entries) {
    if (e.type == 'b') return e.name;
  }
  return "";
}

inline std::vector<std::string> IncrFiles(const std::vector<ManifestEntry>& entries) {
  std::vector<std::string> names;
  for (const ManifestEntry& e : entries) {
    if (e.type == 'i') names.push_back(e.name);
  }
  return names;
}

// Every base and incr file of the manifest, concatenated in load order.
inline std::string AllAofText(const std::string& aof_dir) {
  std::vector<ManifestEntry> entries = ReadManifest(aof_dir);
  std::string text = ReadFile(aof_dir + "/" + BaseFile(entries));
  for (const std::string& name : IncrFiles(entries)) text += ReadFile(aof_dir + "/" + name);
  return text;
}

inline std::string AofDir(const ServerProcess& server) { return server.dir() + "/appendonlydir"; }

// Runs redis-check-aof on a manifest; returns its exit code (-1 if it did not exit) and output.
inline int RunCheckAof(const std::string& manifest_path, std::string* output) {
  std::string cmd = "redis-check-aof '" + manifest_path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- INFO ----

inline std::map<std::string, std::string> Info(Redis& c, const std::string& section) {
  std::map<std::string, std::string> fields;
  std::istringstream in(c.Str({"INFO", section}));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
    fields[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return fields;
}

// Waits until no AOF rewrite is running or scheduled (and AOF is on when expect_enabled).
inline void WaitRewriteDone(Redis& c, bool expect_enabled = true, int timeout_ms = 10000) {
  long long deadline = NowMs() + timeout_ms;
  std::map<std::string, std::string> f;
  while (NowMs() < deadline) {
    f = Info(c, "persistence");
    if (f["aof_rewrite_in_progress"] == "0" && f["aof_rewrite_scheduled"] == "0" &&
        (!expect_enabled || f["aof_enabled"] == "1")) {
      return;
    }
    SleepMs(20);
  }
  FAIL("AOF rewrite still running after ", timeout_ms,
       " ms: in_progress=", f["aof_rewrite_in_progress"], " scheduled=", f["aof_rewrite_scheduled"],
       " enabled=", f["aof_enabled"]);
}

// Waits until the server has loaded its data (PING stops answering -LOADING).
inline void WaitLoaded(int port) {
  Redis c(port);
  long long deadline = NowMs() + 20000;
  std::string reply;
  while (NowMs() < deadline) {
    reply = c.Str({"PING"});
    if (reply.rfind("LOADING", 0) != 0) break;
    SleepMs(20);
  }
  REQUIRE_MESSAGE(reply == "PONG", "still loading or failing: ", reply);
}

// Reads n pipelined replies; REQUIREs that none is missing or an error.
inline void ReadReplies(Redis& c, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++) {
    Reply r = c.Get();
    if (!r || r->type == REDIS_REPLY_ERROR) bad++;
  }
  REQUIRE_MESSAGE(bad == 0, bad, " of ", n, " pipelined replies missing or errors");
}

// Restarts a stopped server on its directory and waits until the data is loaded.
inline void RestartLoaded(ServerProcess& server) {
  server.Restart();
  WaitLoaded(server.port());
}

// ---- canonical dataset dump ----

// A reply as text; set-like replies (SMEMBERS, HGETALL pairs) are sorted by the caller.
inline std::string ReplyText(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; i++) s += ReplyText(r->element[i]) + ",";
      return s + "]";
    }
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    default:
      return std::to_string(r->len) + ":" + std::string(r->str, r->len);
  }
}

inline std::vector<std::string> ReplyItems(const redisReply* r, size_t group) {
  std::vector<std::string> items;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return items;
  for (size_t i = 0; i + group <= r->elements; i += group) {
    std::string item;
    for (size_t j = 0; j < group; j++) item += ReplyText(r->element[i + j]) + ";";
    items.push_back(item);
  }
  return items;
}

struct Entry {
  std::string type;
  std::string value;
  long long expire_at = -1;
};
using Dataset = std::map<std::string, Entry>;  // "db:key" -> entry

inline std::string ValueOf(Redis& c, const std::string& type, const std::string& key) {
  auto joined = [](std::vector<std::string> items, bool sort) {
    if (sort) std::sort(items.begin(), items.end());
    std::string s;
    for (const std::string& i : items) s += i;
    return s;
  };
  if (type == "string") return c.Str({"GET", key});
  if (type == "list") return ReplyText(c.Cmd({"LRANGE", key, "0", "-1"}).get());
  if (type == "hash") return joined(ReplyItems(c.Cmd({"HGETALL", key}).get(), 2), true);
  if (type == "set") return joined(ReplyItems(c.Cmd({"SMEMBERS", key}).get(), 1), true);
  if (type == "zset") return ReplyText(c.Cmd({"ZRANGE", key, "0", "-1", "WITHSCORES"}).get());
  if (type == "stream") return ReplyText(c.Cmd({"XRANGE", key, "-", "+"}).get());
  return "<unknown type " + type + ">";
}

// KEYS + TYPE + value + absolute expiry (PEXPIRETIME) of every database. The absolute time does
// not drift while a slow (sanitizer) build dumps the data, as a relative PTTL would.
inline Dataset Dump(int port) {
  Redis c(port);
  Dataset data;
  for (int db = 0; db < kDatabases; db++) {
    if (c.Str({"SELECT", std::to_string(db)}) != "OK") break;
    Reply keys = c.Cmd({"KEYS", "*"});
    REQUIRE((keys && keys->type == REDIS_REPLY_ARRAY));
    for (size_t i = 0; i < keys->elements; i++) {
      std::string key(keys->element[i]->str, keys->element[i]->len);
      Entry e;
      e.type = c.Str({"TYPE", key});
      e.value = ValueOf(c, e.type, key);
      e.expire_at = c.Int({"PEXPIRETIME", key});
      data[std::to_string(db) + ":" + key] = e;
    }
  }
  return data;
}

inline void CheckSameData(const Dataset& expected, const Dataset& actual) {
  CHECK(expected.size() == actual.size());
  for (const auto& [key, e] : expected) {
    INFO("key ", key);
    auto it = actual.find(key);
    if (it == actual.end()) {
      CHECK_MESSAGE(false, "missing key ", key);
      continue;
    }
    CHECK(it->second.type == e.type);
    CHECK(it->second.value == e.value);
    CHECK((it->second.expire_at < 0) == (e.expire_at < 0));
    if (e.expire_at >= 0) CHECK(std::llabs(it->second.expire_at - e.expire_at) <= kTtlToleranceMs);
  }
  for (const auto& [key, e] : actual) {
    CHECK_MESSAGE(expected.count(key) == 1, "unexpected key ", key, " (", e.type, ")");
  }
}

// Waits until INFO clients shows n blocked clients.
inline void WaitBlocked(Redis& c, int n) {
  long long deadline = NowMs() + 3000;
  while (NowMs() < deadline) {
    if (Info(c, "clients")["blocked_clients"] == std::to_string(n)) return;
    SleepMs(10);
  }
  FAIL("blocked_clients never reached ", n);
}

// What the log shows from byte offset from on.
inline std::string LogSince(const ServerProcess& server, size_t from) {
  std::string log = server.Log();
  return from < log.size() ? log.substr(from) : "";
}

// Parses an AOF text (RESP multibulks only) into commands; REQUIREs well-formed input.
inline std::vector<std::vector<std::string>> ParseAof(const std::string& text) {
  std::vector<std::vector<std::string>> commands;
  size_t pos = 0;
  auto number = [&](char prefix) {
    REQUIRE_MESSAGE((pos < text.size() && text[pos] == prefix), "bad AOF byte at ", pos);
    size_t eol = text.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    long long n = std::stoll(text.substr(pos + 1, eol - pos - 1));
    pos = eol + 2;
    return n;
  };
  while (pos < text.size()) {
    if (text[pos] == '#') {  // annotations, as Redis's loader skips them
      size_t eol = text.find('\n', pos);
      pos = eol == std::string::npos ? text.size() : eol + 1;
      continue;
    }
    long long argc = number('*');
    std::vector<std::string> argv;
    for (long long i = 0; i < argc; i++) {
      long long len = number('$');
      REQUIRE(pos + len + 2 <= text.size());
      argv.push_back(text.substr(pos, len));
      pos += len + 2;
    }
    commands.push_back(argv);
  }
  return commands;
}

inline long long WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A tmpfs mounted for one test, unmounted (lazily) and removed at the end.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& options) {
    char tmpl[] = "/tmp/docket-aof-tmpfs-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    rmdir(dir_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& dir() const { return dir_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

// Fills the file system holding path until writes fail with ENOSPC.
inline void FillDisk(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::string chunk(4096, 'f');
  while (write(fd, chunk.data(), chunk.size()) > 0) {
  }
  while (write(fd, chunk.data(), 1) > 0) {
  }
  CHECK(errno == ENOSPC);
  close(fd);
}

}  // namespace docket::test::aof
