// The slow log: commands slower than slowlog-log-slower-than, newest first, with Redis's argument
// trimming (32 arguments, 128 bytes each). Depends on std only.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace docket::server {

struct SlowLogEntry {
  uint64_t id;
  int64_t time_sec;
  int64_t duration_us;
  std::vector<std::string> argv;  // already trimmed
  std::string client_addr, client_name;
};

class SlowLog {
 public:
  // Records the command when duration_us >= threshold_us (threshold < 0 disables).
  void Maybe(std::span<const std::string_view> argv, int64_t duration_us, int64_t threshold_us,
             size_t max_len, int64_t now_sec, const std::string& addr, const std::string& name);
  const std::deque<SlowLogEntry>& entries() const { return entries_; }
  void Reset() { entries_.clear(); }
  void Trim(size_t max_len);

 private:
  std::deque<SlowLogEntry> entries_;  // newest at the front
  uint64_t next_id_ = 0;
};

}  // namespace docket::server
