// Integration tests for pub/sub: fan-out to many subscribers, per-publisher order, pattern edge
// cases, shard channels, RESP3 pushes over raw sockets, unsubscribe replies, CLIENT LIST fields,
// disconnect cleanup, client-output-buffer-limit on slow subscribers (hard and soft limits, RSS
// bounded, other clients unaffected) and keyspace events. Expected bytes were checked against
// redis-server 7.0.15 (DOCKET_SERVER=/usr/bin/redis-server runs this file against it).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace docket::test {
namespace {

constexpr char kLimitLog[] = "scheduled to be closed ASAP for overcoming of output buffer limits.";

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// A pub/sub frame: "*N" in RESP2, ">N" (a push) in RESP3. An integer element is given as ":N".
std::string Frame(const std::vector<std::string>& items, int resp = 2) {
  std::string s = (resp == 2 ? "*" : ">") + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) {
    s += !item.empty() && item[0] == ':' ? item + "\r\n" : Bulk(item);
  }
  return s;
}

std::string Message(const std::string& channel, const std::string& msg, int resp = 2) {
  return Frame({"message", channel, msg}, resp);
}

std::string Confirm(const std::string& kind, const std::string& name, int count, int resp = 2) {
  return Frame({kind, name, ":" + std::to_string(count)}, resp);
}

std::vector<std::string> ReadN(RawConn& conn, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; i++) out.push_back(conn.Read());
  return out;
}

// True when nothing arrives on conn for a while.
bool Quiet(RawConn& conn) { return conn.ReadAvailable(150).empty(); }

// The value of "field=" in the CLIENT LIST line of the client with this id ("" when absent).
std::string ClientField(RawConn& admin, const std::string& id, const std::string& field) {
  std::string list = admin.Cmd({"CLIENT", "LIST", "ID", id});
  size_t at = list.find(" " + field + "=");
  if (at == std::string::npos) return "";
  at += field.size() + 2;
  return list.substr(at, list.find_first_of(" \n", at) - at);
}

std::string IdOf(RawConn& conn) {
  std::string r = conn.Cmd({"CLIENT", "ID"});
  REQUIRE(r.size() > 3);
  return r.substr(1, r.size() - 3);
}

std::string InfoField(RawConn& conn, const std::string& field) {
  std::string info = conn.Cmd({"INFO", "everything"});
  size_t at = info.find("\r\n" + field + ":");
  if (at == std::string::npos) return "";
  at += field.size() + 3;
  return info.substr(at, info.find("\r\n", at) - at);
}

long long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// A subscriber that never reads after its confirmation: a tiny receive buffer, so the server's
// output for it piles up soon. Returns the socket (the caller closes it).
int SlowSubscriber(int port, const std::string& channel) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  std::string cmd = Multibulk({"SUBSCRIBE", channel});
  REQUIRE(send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(cmd.size()));
  std::string want = Confirm("subscribe", channel, 1), got;
  char buf[256];
  while (got.size() < want.size()) {
    ssize_t n = recv(fd, buf, std::min(sizeof(buf), want.size() - got.size()), 0);
    REQUIRE(n > 0);
    got.append(buf, static_cast<size_t>(n));
  }
  REQUIRE(got == want);
  return fd;
}

// Publishes count messages of size bytes to channel, pipelined in batches, reading the replies.
void PublishMany(RawConn& pub, const std::string& channel, int count, size_t size) {
  std::string cmd = Multibulk({"PUBLISH", channel, std::string(size, 'x')});
  constexpr int kBatch = 16;
  for (int done = 0; done < count; done += kBatch) {
    int n = std::min(kBatch, count - done);
    std::string batch;
    for (int i = 0; i < n; i++) batch += cmd;
    REQUIRE(pub.Send(batch));
    for (int i = 0; i < n; i++) REQUIRE(pub.Read()[0] == ':');
  }
}

// Polls PUBSUB NUMSUB until channel has n subscribers.
bool WaitNumSub(RawConn& admin, const std::string& channel, int n, int timeout_ms = 5000) {
  std::string want = "*2\r\n" + Bulk(channel) + ":" + std::to_string(n) + "\r\n";
  long long deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    if (admin.Cmd({"PUBSUB", "NUMSUB", channel}) == want) return true;
    SleepMs(10);
  }
  return false;
}

// Starts a server whose RSS reflects what it holds: under AddressSanitizer, freed memory would
// otherwise sit in ASan's quarantine (other builds ignore ASAN_OPTIONS).
std::unique_ptr<ServerProcess> StartForRss(std::vector<std::string> args) {
  const char* old = getenv("ASAN_OPTIONS");
  std::string saved = old != nullptr ? old : "";
  setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "quarantine_size_mb=1").c_str(), 1);
  auto server = std::make_unique<ServerProcess>(std::move(args));
  if (old != nullptr) {
    setenv("ASAN_OPTIONS", saved.c_str(), 1);
  } else {
    unsetenv("ASAN_OPTIONS");
  }
  return server;
}

}  // namespace

TEST_CASE("fan-out: every subscriber gets every message, in publish order") {
  ServerProcess server;
  constexpr int kSubscribers = 200, kMessages = 20;
  std::vector<std::unique_ptr<RawConn>> subs;
  for (int i = 0; i < kSubscribers; i++) {
    subs.push_back(std::make_unique<RawConn>(server.port()));
    REQUIRE(subs.back()->Cmd({"SUBSCRIBE", "fan"}) == Confirm("subscribe", "fan", 1));
  }
  RawConn pattern(server.port());
  REQUIRE(pattern.Cmd({"PSUBSCRIBE", "f?n"}) == Confirm("psubscribe", "f?n", 1));
  RawConn pub(server.port());
  std::string batch;
  for (int i = 0; i < kMessages; i++) batch += Multibulk({"PUBLISH", "fan", std::to_string(i)});
  REQUIRE(pub.Send(batch));
  for (int i = 0; i < kMessages; i++) CHECK(pub.Read() == ":201\r\n");
  for (auto& sub : subs) {
    for (int i = 0; i < kMessages; i++) REQUIRE(sub->Read() == Message("fan", std::to_string(i)));
  }
  CHECK(Quiet(*subs.back()));
  for (int i = 0; i < kMessages; i++) {
    CHECK(pattern.Read() == Frame({"pmessage", "f?n", "fan", std::to_string(i)}));
  }
  CHECK(pub.Cmd({"PUBSUB", "NUMSUB", "fan"}) == "*2\r\n" + Bulk("fan") + ":200\r\n");
}

TEST_CASE("order: a long pipelined stream arrives whole and in order") {
  ServerProcess server;
  RawConn sub(server.port()), pub(server.port());
  REQUIRE(sub.Cmd({"SUBSCRIBE", "seq"}) == Confirm("subscribe", "seq", 1));
  constexpr int kMessages = 20000;
  std::string batch;
  for (int i = 0; i < kMessages; i++) batch += Multibulk({"PUBLISH", "seq", std::to_string(i)});
  REQUIRE(pub.Send(batch));
  for (int i = 0; i < kMessages; i++) REQUIRE(pub.Read() == ":1\r\n");
  for (int i = 0; i < kMessages; i++) REQUIRE(sub.Read() == Message("seq", std::to_string(i)));
  CHECK(Quiet(sub));
}

TEST_CASE("patterns: glob edge cases, binary names, one delivery per subscription") {
  ServerProcess server;
  RawConn pub(server.port());
  struct Case {
    std::string pattern;
    std::vector<std::string> match, miss;
  };
  const std::vector<Case> cases = {
      {"*", {"a", "any thing", std::string("\0\xff", 2)}, {""}},
      {"h?llo", {"hello", "h\nllo"}, {"hllo", "heello"}},
      {"h[ae]llo", {"hello", "hallo"}, {"hillo"}},
      {"h[^e]llo", {"hallo", "h-llo"}, {"hello"}},
      {"h[a-c]llo", {"hbllo"}, {"hdllo"}},
      {"h[c-a]llo", {"hbllo"}, {"hdllo"}},
      {"h\\*llo", {"h*llo"}, {"hello"}},
      {"h[al", {"ha", "hl"}, {"hal"}},
      {"trailing\\", {"trailing\\"}, {"trailing"}},
      {std::string("\0*\0", 3), {std::string("\0abc\0", 5)}, {"abc"}},
      {"[[]x", {"[x"}, {"x"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    RawConn sub(server.port());
    REQUIRE(sub.Cmd({"PSUBSCRIBE", c.pattern}) == Confirm("psubscribe", c.pattern, 1));
    for (const std::string& ch : c.match) {
      CAPTURE(ch);
      CHECK(pub.Cmd({"PUBLISH", ch, "m"}) == ":1\r\n");
      CHECK(sub.Read() == Frame({"pmessage", c.pattern, ch, "m"}));
    }
    for (const std::string& ch : c.miss) {
      CAPTURE(ch);
      CHECK(pub.Cmd({"PUBLISH", ch, "m"}) == ":0\r\n");
    }
    CHECK(Quiet(sub));
  }
  // One client, the channel and two matching patterns: three deliveries, channel frame first.
  RawConn sub(server.port());
  REQUIRE(sub.Cmd({"SUBSCRIBE", "news"}) == Confirm("subscribe", "news", 1));
  REQUIRE(sub.Cmd({"PSUBSCRIBE", "n*", "*s"}) == Confirm("psubscribe", "n*", 2));
  REQUIRE(sub.Read() == Confirm("psubscribe", "*s", 3));
  CHECK(pub.Cmd({"PUBLISH", "news", "hi"}) == ":3\r\n");
  CHECK(sub.Read() == Message("news", "hi"));
  std::set<std::string> frames = {sub.Read(), sub.Read()};
  CHECK(frames == std::set<std::string>{Frame({"pmessage", "n*", "news", "hi"}),
                                        Frame({"pmessage", "*s", "news", "hi"})});
  CHECK(pub.Cmd({"PUBSUB", "NUMPAT"}) == ":2\r\n");
  CHECK(pub.Cmd({"PUBSUB", "NUMSUB", "news"}) == "*2\r\n" + Bulk("news") + ":1\r\n");
}

TEST_CASE("shard channels: SSUBSCRIBE / SPUBLISH / SUNSUBSCRIBE, apart from the rest") {
  ServerProcess server;
  RawConn sub(server.port()), pattern(server.port()), pub(server.port());
  REQUIRE(pattern.Cmd({"PSUBSCRIBE", "*"}) == Confirm("psubscribe", "*", 1));
  REQUIRE(sub.Cmd({"SSUBSCRIBE", "orders", "audit"}) == Confirm("ssubscribe", "orders", 1));
  REQUIRE(sub.Read() == Confirm("ssubscribe", "audit", 2));
  // The shard count is separate from channels + patterns.
  CHECK(sub.Cmd({"SUBSCRIBE", "orders"}) == Confirm("subscribe", "orders", 1));
  CHECK(pub.Cmd({"SPUBLISH", "orders", "o1"}) == ":1\r\n");
  CHECK(sub.Read() == Frame({"smessage", "orders", "o1"}));
  CHECK(pub.Cmd({"PUBLISH", "orders", "p1"}) == ":2\r\n");
  CHECK(sub.Read() == Message("orders", "p1"));
  CHECK(pattern.Read() == Frame({"pmessage", "*", "orders", "p1"}));
  CHECK(Quiet(pattern));  // SPUBLISH never reaches patterns
  CHECK(pub.Cmd({"PUBSUB", "SHARDNUMSUB", "orders", "nope"}) ==
        "*4\r\n" + Bulk("orders") + ":1\r\n" + Bulk("nope") + ":0\r\n");
  CHECK(pub.Cmd({"PUBSUB", "SHARDCHANNELS", "aud*"}) == "*1\r\n" + Bulk("audit") + "");
  CHECK(sub.Cmd({"UNSUBSCRIBE"}) == Confirm("unsubscribe", "orders", 0));
  CHECK(sub.Cmd({"PING"}) == "*2\r\n" + Bulk("pong") + Bulk(""));  // still subscribed (shard)
  std::set<std::string> left = {sub.Cmd({"SUNSUBSCRIBE"}), sub.Read()};
  CHECK(left.size() == 2);
  CHECK((left.count(Confirm("sunsubscribe", "orders", 1)) +
         left.count(Confirm("sunsubscribe", "audit", 1))) == 1);
  CHECK(sub.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(pub.Cmd({"SPUBLISH", "orders", "o2"}) == ":0\r\n");
  CHECK(pub.Cmd({"PUBSUB", "SHARDCHANNELS"}) == "*0\r\n");
}

TEST_CASE("RESP3: pushes interleave with replies on one connection") {
  ServerProcess server;
  RawConn c(server.port()), pub(server.port());
  REQUIRE(c.Cmd({"HELLO", "3"})[0] == '%');
  CHECK(c.Cmd({"SUBSCRIBE", "a", "b"}) == Confirm("subscribe", "a", 1, 3));
  CHECK(c.Read() == Confirm("subscribe", "b", 2, 3));
  CHECK(c.Cmd({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(c.Cmd({"GET", "missing"}) == "_\r\n");
  CHECK(c.Cmd({"PING"}) == "+PONG\r\n");
  // Publishing to itself: the push comes before PUBLISH's own reply.
  CHECK(c.Cmd({"PUBLISH", "a", "self"}) == Message("a", "self", 3));
  CHECK(c.Read() == ":1\r\n");
  CHECK(pub.Cmd({"PUBLISH", "b", "other"}) == ":1\r\n");
  CHECK(c.Read() == Message("b", "other", 3));
  // Pipelined: replies and pushes keep the order the server produced them in.
  REQUIRE(pub.Cmd({"PUBLISH", "a", "1"}) == ":1\r\n");
  REQUIRE(c.Send(Multibulk({"ECHO", "x"}) + Multibulk({"PUBLISH", "a", "2"})));
  CHECK(ReadN(c, 4) ==
        std::vector<std::string>{Message("a", "1", 3), Bulk("x"), Message("a", "2", 3), ":1\r\n"});
  CHECK(c.Cmd({"PSUBSCRIBE", "z*"}) == Confirm("psubscribe", "z*", 3, 3));
  CHECK(pub.Cmd({"PUBLISH", "zz", "p"}) == ":1\r\n");
  CHECK(c.Read() == Frame({"pmessage", "z*", "zz", "p"}, 3));
  CHECK(c.Cmd({"PUNSUBSCRIBE"}) == Confirm("punsubscribe", "z*", 2, 3));
  CHECK(c.Cmd({"SUNSUBSCRIBE"}) == ">3\r\n" + Bulk("sunsubscribe") + "_\r\n:0\r\n");
  CHECK(c.Cmd({"RESET"}) == "+RESET\r\n");
  CHECK(pub.Cmd({"PUBLISH", "a", "gone"}) == ":0\r\n");
  CHECK(Quiet(c));
}

TEST_CASE("unsubscribe replies: named, all, none; the RESP2 context follows the count") {
  ServerProcess server;
  RawConn c(server.port());
  CHECK(c.Cmd({"UNSUBSCRIBE"}) == "*3\r\n" + Bulk("unsubscribe") + "$-1\r\n:0\r\n");
  CHECK(c.Cmd({"PUNSUBSCRIBE"}) == "*3\r\n" + Bulk("punsubscribe") + "$-1\r\n:0\r\n");
  CHECK(c.Cmd({"SUBSCRIBE", "c1", "c2", "c3", "c2"}) == Confirm("subscribe", "c1", 1));
  CHECK(ReadN(c, 3) == std::vector<std::string>{Confirm("subscribe", "c2", 2),
                                                Confirm("subscribe", "c3", 3),
                                                Confirm("subscribe", "c2", 3)});
  CHECK(c.Cmd({"PSUBSCRIBE", "p1", "p2"}) == Confirm("psubscribe", "p1", 4));
  CHECK(c.Read() == Confirm("psubscribe", "p2", 5));
  CHECK(c.Cmd({"GET", "k"}) ==
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context\r\n");
  CHECK(c.Cmd({"UNSUBSCRIBE", "nope"}) == Confirm("unsubscribe", "nope", 5));
  // Without arguments: one reply per channel, counts going down, each channel once.
  std::set<std::string> seen;
  for (int left = 4; left >= 2; left--) {
    std::string r = left == 4 ? c.Cmd({"UNSUBSCRIBE"}) : c.Read();
    bool found = false;
    for (std::string ch : {"c1", "c2", "c3"}) {
      if (r == Confirm("unsubscribe", ch, left)) found = seen.insert(ch).second;
    }
    CHECK_MESSAGE(found, r);
  }
  CHECK(c.Cmd({"PING"}) == "*2\r\n" + Bulk("pong") + Bulk(""));
  std::string first = c.Cmd({"PUNSUBSCRIBE"});
  CHECK((first == Confirm("punsubscribe", "p1", 1) || first == Confirm("punsubscribe", "p2", 1)));
  CHECK(c.Read()[0] == '*');
  CHECK(c.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(c.Cmd({"UNSUBSCRIBE", "x"}) == Confirm("unsubscribe", "x", 0));
  CHECK(c.Cmd({"GET", "k"}) == "$-1\r\n");
}

TEST_CASE("CLIENT LIST sub/psub/ssub and flags; RESET and disconnects clean up") {
  ServerProcess server;
  RawConn admin(server.port()), c(server.port());
  std::string id = IdOf(c);
  c.Cmd({"SUBSCRIBE", "a", "b"});
  c.Read();
  c.Cmd({"PSUBSCRIBE", "p*"});
  c.Cmd({"SSUBSCRIBE", "s"});
  CHECK(ClientField(admin, id, "flags") == "P");
  CHECK(ClientField(admin, id, "sub") == "2");
  CHECK(ClientField(admin, id, "psub") == "1");
  CHECK(ClientField(admin, id, "ssub") == "1");
  CHECK(InfoField(admin, "pubsub_channels") == "2");
  CHECK(InfoField(admin, "pubsub_patterns") == "1");
  CHECK(InfoField(admin, "pubsubshard_channels") == "1");
  CHECK(admin.Cmd({"CLIENT", "LIST", "TYPE", "pubsub"}).find("id=" + id + " ") !=
        std::string::npos);
  CHECK(c.Cmd({"RESET"}) == "+RESET\r\n");
  CHECK(ClientField(admin, id, "flags") == "N");
  CHECK(ClientField(admin, id, "sub") == "0");
  CHECK(ClientField(admin, id, "psub") == "0");
  CHECK(ClientField(admin, id, "ssub") == "0");
  CHECK(admin.Cmd({"PUBSUB", "NUMPAT"}) == ":0\r\n");
  // Disconnected subscribers leave every channel and pattern.
  {
    std::vector<std::unique_ptr<RawConn>> subs;
    for (int i = 0; i < 50; i++) {
      subs.push_back(std::make_unique<RawConn>(server.port()));
      subs.back()->Cmd({"SUBSCRIBE", "gone"});
      subs.back()->Cmd({"PSUBSCRIBE", "go*"});
      subs.back()->Cmd({"SSUBSCRIBE", "gone"});
    }
    CHECK(admin.Cmd({"PUBLISH", "gone", "x"}) == ":100\r\n");
  }
  CHECK(WaitNumSub(admin, "gone", 0));
  CHECK(admin.Cmd({"PUBSUB", "NUMPAT"}) == ":0\r\n");
  CHECK(admin.Cmd({"PUBSUB", "CHANNELS"}) == "*0\r\n");
  CHECK(admin.Cmd({"PUBSUB", "SHARDCHANNELS"}) == "*0\r\n");
  CHECK(admin.Cmd({"PUBLISH", "gone", "x"}) == ":0\r\n");
}

TEST_CASE("slow subscriber: the pubsub hard limit closes it, memory stays bounded") {
  std::unique_ptr<ServerProcess> process =
      StartForRss({"--client-output-buffer-limit", "pubsub 2mb 0 0"});
  ServerProcess& server = *process;
  RawConn admin(server.port()), pub(server.port()), healthy(server.port());
  REQUIRE(healthy.Cmd({"SUBSCRIBE", "other"}) == Confirm("subscribe", "other", 1));
  long long rss_before = RssKb(server.pid());
  int slow = SlowSubscriber(server.port(), "firehose");
  // 128 MB for a client that reads nothing; only the limit keeps the server from holding it.
  PublishMany(pub, "firehose", 2048, 64 * 1024);
  long long rss_after = RssKb(server.pid());
  MESSAGE("server RSS before ", rss_before, " kB, after ", rss_after, " kB");
  CHECK(rss_after - rss_before < 48 * 1024);
  CHECK(server.WaitForLog(kLimitLog));
  CHECK(server.Log().find("flags=P") != std::string::npos);
  CHECK(WaitNumSub(admin, "firehose", 0));
  // Everyone else carries on.
  CHECK(admin.Cmd({"PING"}) == "+PONG\r\n");
  CHECK(pub.Cmd({"PUBLISH", "other", "still here"}) == ":1\r\n");
  CHECK(healthy.Read() == Message("other", "still here"));
  RawConn fresh(server.port());
  REQUIRE(fresh.Cmd({"SUBSCRIBE", "firehose"}) == Confirm("subscribe", "firehose", 1));
  CHECK(pub.Cmd({"PUBLISH", "firehose", "after"}) == ":1\r\n");
  CHECK(fresh.Read() == Message("firehose", "after"));
  close(slow);
}

TEST_CASE("slow subscriber: the soft limit closes it only after its seconds") {
  ServerProcess server({"--client-output-buffer-limit", "pubsub 0 1mb 1"});
  RawConn admin(server.port()), pub(server.port());
  int slow = SlowSubscriber(server.port(), "soft");
  std::string id;
  {
    std::string list = admin.Cmd({"CLIENT", "LIST", "TYPE", "pubsub"});
    size_t at = list.find("id=");
    REQUIRE(at != std::string::npos);
    id = list.substr(at + 3, list.find(' ', at) - at - 3);
  }
  long long over_since = 0, closed_at = 0;
  long long deadline = NowMs() + 10000;
  while (NowMs() < deadline && closed_at == 0) {
    PublishMany(pub, "soft", 4, 64 * 1024);
    std::string omem = ClientField(admin, id, "omem");
    if (omem.empty()) {
      closed_at = NowMs();
    } else if (over_since == 0 && std::stoll(omem) >= 1024 * 1024) {
      over_since = NowMs();
    }
    SleepMs(20);
  }
  REQUIRE(over_since != 0);
  REQUIRE(closed_at != 0);
  MESSAGE("closed ", closed_at - over_since, " ms after passing the soft limit");
  CHECK(closed_at - over_since >= 900);
  CHECK(server.WaitForLog(kLimitLog));
  close(slow);
}

TEST_CASE("output buffer sizes in CLIENT LIST and INFO; a normal-class limit") {
  ServerProcess server;
  RawConn admin(server.port()), pub(server.port());
  int slow = SlowSubscriber(server.port(), "big");
  PublishMany(pub, "big", 160, 64 * 1024);  // 10 MB, under the default 32mb
  std::string list = admin.Cmd({"CLIENT", "LIST", "TYPE", "pubsub"});
  CAPTURE(list);
  size_t at = list.find("id=");
  REQUIRE(at != std::string::npos);
  std::string id = list.substr(at + 3, list.find(' ', at) - at - 3);
  // Redis keeps up to 16 KB in its fixed buffer (obl) and the rest in a list of blocks.
  CHECK(std::stoll(ClientField(admin, id, "obl")) <= 16384);
  CHECK(std::stoll(ClientField(admin, id, "oll")) > 0);
  CHECK(std::stoll(ClientField(admin, id, "omem")) > 1024 * 1024);
  // Redis samples this in its clients cron: give it a moment.
  long long deadline = NowMs() + 3000;
  while (std::stoll(InfoField(admin, "client_recent_max_output_buffer")) <= 1024 * 1024 &&
         NowMs() < deadline) {
    SleepMs(50);
  }
  CHECK(std::stoll(InfoField(admin, "client_recent_max_output_buffer")) > 1024 * 1024);
  close(slow);
  // A normal client's limit applies to replies too (0 = none by default).
  REQUIRE(admin.Cmd({"SET", "blob", std::string(512 * 1024, 'b')}) == "+OK\r\n");
  REQUIRE(admin.Cmd({"CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"}) ==
          "+OK\r\n");
  int reader = SlowSubscriber(server.port(), "unused");
  std::string unsub = Multibulk({"UNSUBSCRIBE"});
  REQUIRE(send(reader, unsub.data(), unsub.size(), MSG_NOSIGNAL) > 0);
  std::string gets;
  for (int i = 0; i < 40; i++) gets += Multibulk({"GET", "blob"});
  REQUIRE(send(reader, gets.data(), gets.size(), MSG_NOSIGNAL) > 0);
  CHECK(server.WaitForLog(kLimitLog));
  CHECK(server.Log().find("cmd=get") != std::string::npos);
  CHECK(admin.Cmd({"PING"}) == "+PONG\r\n");
  close(reader);
}

TEST_CASE("keyspace events") {
  ServerProcess server;
  RawConn sub(server.port()), c(server.port());
  REQUIRE(sub.Cmd({"PSUBSCRIBE", "__key*__:*"}) == Confirm("psubscribe", "__key*__:*", 1));
  auto event = [](const std::string& channel, const std::string& msg) {
    return Frame({"pmessage", "__key*__:*", channel, msg});
  };
  // Off by default.
  CHECK(c.Cmd({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(Quiet(sub));
  REQUIRE(c.Cmd({"CONFIG", "SET", "notify-keyspace-events", "KEA"}) == "+OK\r\n");
  CHECK(c.Cmd({"CONFIG", "GET", "notify-keyspace-events"}) ==
        "*2\r\n" + Bulk("notify-keyspace-events") + Bulk("AKE"));
  CHECK(c.Cmd({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(ReadN(sub, 2) == std::vector<std::string>{event("__keyspace@0__:k", "set"),
                                                  event("__keyevent@0__:set", "k")});
  CHECK(c.Cmd({"SELECT", "3"}) == "+OK\r\n");
  CHECK(c.Cmd({"RPUSH", "q", "a"}) == ":1\r\n");
  CHECK(ReadN(sub, 2) == std::vector<std::string>{event("__keyspace@3__:q", "rpush"),
                                                  event("__keyevent@3__:rpush", "q")});
  CHECK(c.Cmd({"SET", "t", "v", "PX", "30"}) == "+OK\r\n");
  CHECK(ReadN(sub, 4) == std::vector<std::string>{event("__keyspace@3__:t", "set"),
                                                  event("__keyevent@3__:set", "t"),
                                                  event("__keyspace@3__:t", "expire"),
                                                  event("__keyevent@3__:expire", "t")});
  SleepMs(100);
  CHECK(c.Cmd({"GET", "t"}) == "$-1\r\n");
  CHECK(ReadN(sub, 2) == std::vector<std::string>{event("__keyspace@3__:t", "expired"),
                                                  event("__keyevent@3__:expired", "t")});
  // Keyevent only, one class only.
  REQUIRE(c.Cmd({"CONFIG", "SET", "notify-keyspace-events", "E$"}) == "+OK\r\n");
  CHECK(c.Cmd({"CONFIG", "GET", "notify-keyspace-events"}) ==
        "*2\r\n" + Bulk("notify-keyspace-events") + Bulk("$E"));
  CHECK(c.Cmd({"DEL", "q"}) == ":1\r\n");  // generic: not selected
  CHECK(c.Cmd({"APPEND", "s", "x"}) == ":1\r\n");
  CHECK(sub.Read() == event("__keyevent@3__:append", "s"));
  // Key misses and new keys are outside A.
  REQUIRE(c.Cmd({"CONFIG", "SET", "notify-keyspace-events", "Kmn"}) == "+OK\r\n");
  CHECK(c.Cmd({"GET", "nothing"}) == "$-1\r\n");
  CHECK(sub.Read() == event("__keyspace@3__:nothing", "keymiss"));
  CHECK(c.Cmd({"SET", "fresh", "1"}) == "+OK\r\n");
  CHECK(c.Cmd({"SET", "fresh", "2"}) == "+OK\r\n");
  CHECK(sub.Read() == event("__keyspace@3__:fresh", "new"));
  CHECK(c.Cmd({"CONFIG", "SET", "notify-keyspace-events", "x"}) == "+OK\r\n");
  CHECK(c.Cmd({"CONFIG", "SET", "notify-keyspace-events", "Kz!"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n");
  CHECK(c.Cmd({"CONFIG", "GET", "notify-keyspace-events"}) ==
        "*2\r\n" + Bulk("notify-keyspace-events") + Bulk("x"));
  CHECK(Quiet(sub));
}

}  // namespace docket::test
