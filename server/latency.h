// The latency monitor: per-event samples above latency-monitor-threshold, as LATENCY LATEST /
// HISTORY / RESET report them (160 samples per event, one per second). Depends on std only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace docket::server {

struct LatencySample {
  int32_t time_sec;
  uint32_t latency_ms;
};

struct LatencyEvent {
  static constexpr size_t kSamples = 160;
  LatencySample samples[kSamples] = {};
  size_t next = 0;  // ring index
  uint32_t max_ms = 0;
};

class LatencyMonitor {
 public:
  // Records latency_ms for event when threshold_ms > 0 and latency_ms >= threshold_ms.
  void Maybe(std::string_view event, int64_t latency_ms, int64_t threshold_ms, int64_t now_sec);
  void Add(std::string_view event, uint32_t latency_ms, int64_t now_sec);
  const std::map<std::string, LatencyEvent, std::less<>>& events() const { return events_; }
  // The samples of one event, oldest first (empty when unknown).
  std::vector<LatencySample> History(std::string_view event) const;
  // Resets the named events (all when names is empty); returns how many were reset.
  size_t Reset(const std::vector<std::string_view>& names);

 private:
  std::map<std::string, LatencyEvent, std::less<>> events_;
};

}  // namespace docket::server
