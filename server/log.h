// Server log lines in Redis's format: "pid:M 24 Nov 2026 00:18:22.123 * message", to stdout or
// the configured logfile. Depends on std only.
#pragma once

#include <string>
#include <string_view>

namespace docket::server {

enum class LogLevel { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3, kNothing = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Empty path: standard output. Returns false (and keeps the old target) when the file can't open.
bool SetLogFile(const std::string& path);

void Log(LogLevel level, std::string_view message);

#define DOCKET_LOG(level, ...)                                               \
  do {                                                                       \
    if ((level) >= ::docket::server::GetLogLevel())                          \
      ::docket::server::Log((level), ::docket::server::Format(__VA_ARGS__)); \
  } while (0)

// printf-style formatting into a std::string.
std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace docket::server
