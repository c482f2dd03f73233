// Log output. Each line is written with one write() so lines from a crash handler stay whole.
#include "server/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace docket::server {
namespace {

LogLevel g_level = LogLevel::kNotice;
FILE* g_file = nullptr;  // nullptr: stdout

}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

bool SetLogFile(const std::string& path) {
  if (path.empty()) {
    if (g_file != nullptr) fclose(g_file);
    g_file = nullptr;
    return true;
  }
  FILE* f = fopen(path.c_str(), "a");
  if (f == nullptr) return false;
  if (g_file != nullptr) fclose(g_file);
  g_file = f;
  return true;
}

std::string Format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  std::string out;
  if (n < static_cast<int>(sizeof(small))) {
    out.assign(small, n < 0 ? 0 : n);
  } else {
    out.resize(n);
    vsnprintf(out.data(), n + 1, fmt, ap);
  }
  va_end(ap);
  return out;
}

void Log(LogLevel level, std::string_view message) {
  static const char kMarks[] = ".-*#";
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm tm_now;
  localtime_r(&tv.tv_sec, &tm_now);
  char when[64];
  size_t off = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm_now);
  snprintf(when + off, sizeof(when) - off, "%03d", static_cast<int>(tv.tv_usec / 1000));
  std::string line =
      Format("%d:M %s %c ", static_cast<int>(getpid()), when, kMarks[static_cast<int>(level) & 3]);
  line.append(message);
  line.push_back('\n');
  int fd = g_file != nullptr ? fileno(g_file) : STDOUT_FILENO;
  ssize_t ignored = write(fd, line.data(), line.size());
  (void)ignored;
}

}  // namespace docket::server
