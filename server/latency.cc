// The latency monitor, after Redis 7.0's latency.c: one sample per event per second, keeping the
// maximum when several land in the same second.
#include "server/latency.h"

namespace docket::server {

void LatencyMonitor::Maybe(std::string_view event, int64_t latency_ms, int64_t threshold_ms,
                           int64_t now_sec) {
  if (threshold_ms > 0 && latency_ms >= threshold_ms) {
    Add(event, static_cast<uint32_t>(latency_ms), now_sec);
  }
}

void LatencyMonitor::Add(std::string_view event, uint32_t latency_ms, int64_t now_sec) {
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), LatencyEvent{}).first;
  LatencyEvent& e = it->second;
  if (latency_ms > e.max_ms) e.max_ms = latency_ms;
  size_t prev = (e.next + LatencyEvent::kSamples - 1) % LatencyEvent::kSamples;
  if (e.samples[prev].time_sec == now_sec) {
    if (latency_ms > e.samples[prev].latency_ms) e.samples[prev].latency_ms = latency_ms;
    return;
  }
  e.samples[e.next] = {static_cast<int32_t>(now_sec), latency_ms};
  e.next = (e.next + 1) % LatencyEvent::kSamples;
}

std::vector<LatencySample> LatencyMonitor::History(std::string_view event) const {
  std::vector<LatencySample> out;
  auto it = events_.find(event);
  if (it == events_.end()) return out;
  const LatencyEvent& e = it->second;
  for (size_t i = 0; i < LatencyEvent::kSamples; i++) {
    const LatencySample& s = e.samples[(e.next + i) % LatencyEvent::kSamples];
    if (s.time_sec != 0) out.push_back(s);
  }
  return out;
}

size_t LatencyMonitor::Reset(const std::vector<std::string_view>& names) {
  if (names.empty()) {
    size_t n = events_.size();
    events_.clear();
    return n;
  }
  size_t n = 0;
  for (std::string_view name : names) {
    auto it = events_.find(name);
    if (it != events_.end()) {
      events_.erase(it);
      n++;
    }
  }
  return n;
}

}  // namespace docket::server
