// Tests for AofFsyncThread, the background fsync of appendfsync everysec and of the pipelined group
// commit of appendfsync always: a job names the last write batch it covers (seq), its end is
// signalled on an eventfd, and a failed fsync leaves its errno. Depends on server/aof.h.
#include <doctest/doctest.h>
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "server/aof.h"

namespace docket::server {
namespace {

class CountingFile : public storage::AofWritableFile {
 public:
  ssize_t Write(const char*, size_t n) override { return static_cast<ssize_t>(n); }
  int Fsync() override {
    syncs++;
    if (fail) {
      errno = EIO;
      return -1;
    }
    return 0;
  }
  int Truncate(off_t) override { return 0; }
  std::atomic<int> syncs{0};
  std::atomic<bool> fail{false};
};

// Waits for the eventfd to be signalled; false after timeout_ms.
bool WaitSignal(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  uint64_t count = 0;
  return read(fd, &count, sizeof(count)) == sizeof(count) && count >= 1;
}

TEST_CASE("aof fsync thread: a job's seq, its end on the eventfd, and a failure's errno") {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  auto file = std::make_shared<CountingFile>();
  {
    AofFsyncThread thread;
    thread.set_notify_fd(fd);
    CHECK(thread.done_seq() == 0);
    thread.Submit(file, 7);
    REQUIRE(WaitSignal(fd, 5000));
    thread.Drain();
    CHECK(!thread.busy());
    CHECK(thread.done_seq() == 7);
    CHECK(thread.last_errno() == 0);
    CHECK(file->syncs == 1);

    file->fail = true;
    thread.Submit(file, 9);
    REQUIRE(WaitSignal(fd, 5000));
    thread.Drain();
    CHECK(thread.done_seq() == 9);
    CHECK(thread.last_errno() == EIO);
    thread.clear_error();
    CHECK(thread.last_errno() == 0);

    file->fail = false;
    thread.set_notify_fd(-1);  // no signal, the job still runs
    thread.Submit(file, 10);
    thread.Drain();
    CHECK(thread.done_seq() == 10);
    CHECK(file->syncs == 3);
    CHECK(!WaitSignal(fd, 50));
  }
  close(fd);
}

}  // namespace
}  // namespace docket::server
