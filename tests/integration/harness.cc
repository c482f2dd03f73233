// Integration-test harness: server processes, the raw RESP client and the hiredis wrapper. A
// doctest listener records failures so that a stopping server can print its log.
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace docket::test {
namespace {

constexpr int kStartTimeoutMs = 10000;
constexpr int kStopGraceMs = 10000;
constexpr size_t kLogTailBytes = 20000;

bool g_case_failed = false;  // set by the listener when an assertion of the current case fails

// Tells the harness when the running test case has failed.
struct FailureListener : doctest::IReporter {
  explicit FailureListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { g_case_failed = false; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override { g_case_failed = true; }
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& ad) override {
    if (ad.m_failed) g_case_failed = true;
  }
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("server-log", 1, FailureListener);

// DOCKET_SERVER as an absolute path: the server runs with its temp dir as working directory.
const char* ServerBinary() {
  static const std::string path = [] {
    const char* env = getenv("DOCKET_SERVER");
    std::error_code ec;
    std::filesystem::path p =
        std::filesystem::absolute(env != nullptr ? env : "bin/docket-server", ec);
    return p.string();
  }();
  return path.c_str();
}

int FreePort() {
  for (int attempt = 0; attempt < 20; attempt++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
      port = ntohs(sa.sin_port);
    }
    close(fd);
    if (port != 0 && port != 6379) return port;
  }
  return 0;
}

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  timeval tv{10, 0};  // a blocked send fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string DescribeStatus(int status) {
  if (status == -1) return "still running";
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// The first reply's end offset at or after pos, or npos when incomplete.
size_t ReplyEnd(std::string_view buf, size_t pos) {
  constexpr size_t kNpos = std::string_view::npos;
  if (pos >= buf.size()) return kNpos;
  size_t eol = buf.find("\r\n", pos);
  if (eol == kNpos) return kNpos;
  long long n = atoll(std::string(buf.substr(pos + 1, eol - pos - 1)).c_str());
  size_t next = eol + 2;
  switch (buf[pos]) {
    case '$':
    case '=':
    case '!':  // bulk, verbatim, blob error
      if (n < 0) return next;
      return buf.size() < next + n + 2 ? kNpos : next + n + 2;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {  // array, set, push, map, attribute
      if (n < 0) return next;
      if (buf[pos] == '%' || buf[pos] == '|') n *= 2;
      for (long long i = 0; i < n && next != kNpos; i++) next = ReplyEnd(buf, next);
      if (next != kNpos && buf[pos] == '|') next = ReplyEnd(buf, next);  // the reply it annotates
      return next;
    }
    default:  // + - : _ , # ( and anything unknown: one line
      return next;
  }
}

}  // namespace

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

size_t ReplyLength(std::string_view buf) {
  size_t end = ReplyEnd(buf, 0);
  return end == std::string_view::npos ? 0 : end;
}

std::string Multibulk(const std::vector<std::string>& argv) {
  std::string s = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

// ---- ServerProcess ----

ServerProcess::ServerProcess(std::vector<std::string> args, std::string config_text,
                             std::string binary)
    : args_(std::move(args)), config_text_(std::move(config_text)), binary_(std::move(binary)) {
  char tmpl[] = "/tmp/docket-it-XXXXXX";
  REQUIRE_MESSAGE(mkdtemp(tmpl) != nullptr, "mkdtemp: ", strerror(errno));
  dir_ = tmpl;
  if (!config_text_.empty()) std::ofstream(config_path()) << config_text_;
  bool started = false;
  for (int attempt = 0; attempt < 3 && !started; attempt++) {
    port_ = FreePort();
    started = Launch() && WaitReady(kStartTimeoutMs);
    if (!started) Stop();
  }
  if (!started) g_case_failed = true;
  REQUIRE_MESSAGE(started, "server ", binary_.empty() ? std::string(ServerBinary()) : binary_,
                  " did not start; log:\n", Log());
}

ServerProcess::~ServerProcess() {
  int status = Stop();
  CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "server on port ", port_,
                " ended with ", DescribeStatus(status));
  if (g_case_failed) {
    std::string log = Log();
    if (log.size() > kLogTailBytes) log = "...\n" + log.substr(log.size() - kLogTailBytes);
    fprintf(stderr, "\n==== server log (%s, port %d) ====\n%s==== end of server log ====\n",
            dir_.c_str(), port_, log.c_str());
    return;  // keep the directory for a look
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool ServerProcess::Launch() {
  std::vector<std::string> args = {binary_.empty() ? std::string(ServerBinary()) : binary_};
  if (!config_text_.empty()) args.push_back(config_path());
  args.insert(args.end(), {"--port", std::to_string(port_), "--dir", dir_, "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no"});
  args.insert(args.end(), args_.begin(), args_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd =
      open((dir_ + "/server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return false;
  status_ = -1;
  pid_ = fork();
  if (pid_ == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    for (int fd = 3; fd < 1024; fd++) close(fd);  // hiredis sockets are not close-on-exec
    if (chdir(dir_.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  return pid_ > 0;
}

bool ServerProcess::WaitReady(int timeout_ms) {
  long long deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    if (!Alive()) return false;
    int fd = ConnectTcp(port_);
    if (fd >= 0) {
      // Any reply will do: with requirepass set, PING answers -NOAUTH.
      bool ok = send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6;
      pollfd p{fd, POLLIN, 0};
      char c;
      ok = ok && poll(&p, 1, 2000) == 1 && recv(fd, &c, 1, 0) == 1;
      close(fd);
      if (ok) return true;
    }
    SleepMs(20);
  }
  return false;
}

void ServerProcess::Restart(bool keep_port) {
  REQUIRE_MESSAGE(!Alive(), "Restart needs a stopped server");
  bool started = false;
  for (int attempt = 0; attempt < 3 && !started; attempt++) {
    if (!keep_port || attempt > 0) port_ = FreePort();
    started = Launch() && WaitReady(kStartTimeoutMs);
    if (!started) Stop();
  }
  if (!started) g_case_failed = true;
  REQUIRE_MESSAGE(started, "server did not restart; log:\n", Log());
}

std::string ServerProcess::Log() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ServerProcess::WaitForLog(std::string_view text, int timeout_ms) const {
  long long deadline = NowMs() + timeout_ms;
  do {
    if (Log().find(text) != std::string::npos) return true;
    SleepMs(20);
  } while (NowMs() < deadline);
  return false;
}

bool ServerProcess::Alive() {
  if (pid_ <= 0 || status_ != -1) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return false;
  }
  return r == 0;
}

int ServerProcess::WaitExit(int timeout_ms) {
  long long deadline = NowMs() + timeout_ms;
  while (Alive()) {
    if (NowMs() >= deadline) return -1;
    SleepMs(10);
  }
  return status_;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return status_;
  if (Alive()) {
    kill(pid_, SIGTERM);
    if (WaitExit(kStopGraceMs) == -1) {
      CHECK_MESSAGE(false, "server pid ", pid_, " ignored SIGTERM; sending SIGKILL");
      kill(pid_, SIGKILL);
      int status;
      if (waitpid(pid_, &status, 0) == pid_) status_ = status;
    }
  }
  return status_;
}

int RunServerToExit(const std::vector<std::string>& args, int timeout_ms, std::string* output) {
  char tmpl[] = "/tmp/docket-it-run-XXXXXX";
  int out_fd = mkstemp(tmpl);
  REQUIRE(out_fd >= 0);
  std::vector<std::string> all = {ServerBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_fd);
  int status = -1;
  long long deadline = NowMs() + timeout_ms;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (NowMs() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    SleepMs(10);
  }
  std::ifstream in(tmpl);
  std::stringstream ss;
  ss << in.rdbuf();
  *output = ss.str();
  unlink(tmpl);
  return status;
}

// ---- RawConn ----

RawConn::RawConn(int port) : fd_(ConnectTcp(port)) {
  REQUIRE_MESSAGE(fd_ >= 0, "cannot connect to port ", port, ": ", strerror(errno));
}

RawConn::~RawConn() {
  if (fd_ >= 0) close(fd_);
}

bool RawConn::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string RawConn::Read(int timeout_ms) {
  long long deadline = NowMs() + timeout_ms;
  while (true) {
    if (size_t n = ReplyLength(buf_); n > 0) {
      std::string reply = buf_.substr(0, n);
      buf_.erase(0, n);
      return reply;
    }
    if (eof_) return "<closed>" + buf_;
    long long left = deadline - NowMs();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) == 0) return "<timeout>" + buf_;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
    } else {
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
}

std::string RawConn::Cmd(const std::vector<std::string>& argv, int timeout_ms) {
  if (!Send(Multibulk(argv))) return "<send failed>";
  return Read(timeout_ms);
}

bool RawConn::WaitClosed(int timeout_ms) {
  long long deadline = NowMs() + timeout_ms;
  buf_.clear();
  while (!eof_) {
    long long left = deadline - NowMs();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) == 0) return false;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) eof_ = true;
  }
  return true;
}

std::string RawConn::ReadAvailable(int timeout_ms) {
  long long deadline = NowMs() + timeout_ms;
  while (!eof_) {
    long long left = deadline - NowMs();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) == 0) break;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
    } else {
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  std::string out;
  out.swap(buf_);
  return out;
}

bool Implements(int port, const std::vector<std::string>& commands) {
  Redis redis(port);
  std::vector<std::string> argv = {"COMMAND", "INFO"};
  argv.insert(argv.end(), commands.begin(), commands.end());
  Reply r = redis.Cmd(argv);
  if (!r || r->type != REDIS_REPLY_ARRAY) return false;
  std::string missing;
  for (size_t i = 0; i < r->elements; i++) {
    if (r->element[i]->type == REDIS_REPLY_NIL) missing += " " + commands[i];
  }
  if (!missing.empty()) MESSAGE("skipping the part that needs" << missing << ": not implemented");
  return missing.empty();
}

// ---- Redis (hiredis) ----

Redis::Redis(int port) {
  ctx_ = redisConnectWithTimeout("127.0.0.1", port, timeval{5, 0});
  REQUIRE_MESSAGE((ctx_ != nullptr && ctx_->err == 0), "hiredis cannot connect to port ", port,
                  ": ", ctx_ != nullptr ? ctx_->errstr : "out of memory");
  redisSetTimeout(ctx_, timeval{10, 0});
}

Redis::~Redis() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

Reply Redis::Cmd(const std::vector<std::string>& argv) {
  Append(argv);
  return Get();
}

void Redis::Append(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data());
}

Reply Redis::Get() {
  void* r = nullptr;
  if (redisGetReply(ctx_, &r) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(r));
}

std::string Redis::Str(const std::vector<std::string>& argv) {
  Reply r = Cmd(argv);
  if (!r) return std::string("<connection error: ") + ctx_->errstr + ">";
  switch (r->type) {
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    default:
      return "(array of " + std::to_string(r->elements) + ")";
  }
}

long long Redis::Int(const std::vector<std::string>& argv) {
  Reply r = Cmd(argv);
  if (!r || r->type != REDIS_REPLY_INTEGER) {
    std::string got = !r ? "<no reply>" : r->str != nullptr ? std::string(r->str, r->len) : "?";
    FAIL_CHECK("expected an integer reply to ", argv[0], ", got ", got);
    return -1;
  }
  return r->integer;
}

}  // namespace docket::test
