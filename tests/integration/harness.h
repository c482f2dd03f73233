// Integration-test harness: starts the built server binary (DOCKET_SERVER) on a free port in its
// own temp dir, waits for PING, stops it by pid, and prints its log when a test fails; plus a
// raw-socket RESP client and a small hiredis wrapper. Depends on POSIX, hiredis and doctest.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace docket::test {

// A server process for one test. The constructor starts it (REQUIREs success); the destructor
// stops it with SIGTERM (SIGKILL after a grace period), checks it exited with status 0, and
// prints its log if the current test case has failed.
class ServerProcess {
 public:
  // args: extra `--name value` arguments. config_text, when set, is written to
  // <dir>/docket.conf and passed as the config file. binary, when set, is run instead of
  // DOCKET_SERVER (e.g. /usr/bin/redis-server for tests that use both servers).
  explicit ServerProcess(std::vector<std::string> args = {}, std::string config_text = "",
                         std::string binary = "");
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/docket.conf"; }

  // Starts the binary again (same dir, same arguments, a new port unless keep_port).
  // REQUIRES: the process has exited (see WaitExit / Stop).
  void Restart(bool keep_port = false);
  // The server's stdout and stderr so far.
  std::string Log() const;
  // Waits until the log contains text. Returns false on timeout.
  bool WaitForLog(std::string_view text, int timeout_ms = 5000) const;
  // True while the process runs.
  bool Alive();
  // Waits for the process to exit on its own. Returns its wait status, or -1 on timeout.
  int WaitExit(int timeout_ms);
  // SIGTERM, then SIGKILL after a grace period. Returns the wait status (or the one WaitExit saw).
  int Stop();

 private:
  bool Launch();
  bool WaitReady(int timeout_ms);

  std::vector<std::string> args_;
  std::string config_text_;
  std::string binary_;  // empty: DOCKET_SERVER
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int status_ = -1;  // wait status once reaped
};

// Runs the server binary with args (no harness defaults) until it exits, for start-up failures.
// Returns the wait status, or -1 when it had to be killed after timeout_ms. output gets its
// stdout and stderr.
int RunServerToExit(const std::vector<std::string>& args, int timeout_ms, std::string* output);

// Raw RESP over TCP: send bytes, read exactly one RESP2/RESP3 reply. Read results are the raw
// reply bytes, or "<timeout>" / "<closed>" (with any partial bytes after it) so that a failed
// CHECK shows what happened.
class RawConn {
 public:
  explicit RawConn(int port);  // REQUIREs a connection
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }
  // Writes all bytes (blocking). Returns false when the peer has gone.
  bool Send(std::string_view bytes);
  // Reads one complete reply.
  std::string Read(int timeout_ms = 5000);
  // Sends argv as a multibulk and reads one reply.
  std::string Cmd(const std::vector<std::string>& argv, int timeout_ms = 5000);
  // True when the server closes the connection within the timeout (pending replies are drained
  // and dropped).
  bool WaitClosed(int timeout_ms = 5000);
  // What arrives within timeout_ms, without parsing.
  std::string ReadAvailable(int timeout_ms);

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Returns the length of the first complete RESP2/RESP3 reply in buf, or 0 when incomplete.
size_t ReplyLength(std::string_view buf);
// Encodes argv as a RESP multibulk.
std::string Multibulk(const std::vector<std::string>& argv);

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// A hiredis connection (RESP2). Replies are owned; a null Reply means the connection failed.
class Redis {
 public:
  explicit Redis(int port);  // REQUIREs a connection
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  redisContext* ctx() { return ctx_; }
  Reply Cmd(const std::vector<std::string>& argv);
  // Pipelining: Append queues a command, Get reads the next reply.
  void Append(const std::vector<std::string>& argv);
  Reply Get();
  // Convenience: the reply as text ("OK", "PONG", bulk contents, error text, or the integer),
  // "(nil)" for a null.
  std::string Str(const std::vector<std::string>& argv);
  long long Int(const std::vector<std::string>& argv);

 private:
  redisContext* ctx_ = nullptr;
};

// True when the server implements every one of the commands (COMMAND INFO is not nil). Tests
// that need a command family from outside the current scope skip that part, with a MESSAGE, until
// the family lands; against redis-server they always run.
bool Implements(int port, const std::vector<std::string>& commands);

// Milliseconds on a monotonic clock.
long long NowMs();
void SleepMs(int ms);

}  // namespace docket::test
