// The slow log. Trimming rules follow slowlogCreateEntry in Redis 7.0's slowlog.c.
#include "server/slowlog.h"

namespace docket::server {
namespace {

constexpr size_t kMaxArgc = 32;
constexpr size_t kMaxArgLen = 128;

}  // namespace

void SlowLog::Maybe(std::span<const std::string_view> argv, int64_t duration_us,
                    int64_t threshold_us, size_t max_len, int64_t now_sec, const std::string& addr,
                    const std::string& name) {
  if (threshold_us < 0 || duration_us < threshold_us) return;
  SlowLogEntry e{next_id_++, now_sec, duration_us, {}, addr, name};
  size_t argc = argv.size() > kMaxArgc ? kMaxArgc : argv.size();
  for (size_t i = 0; i < argc; i++) {
    if (argc != argv.size() && i == argc - 1) {
      e.argv.push_back("... (" + std::to_string(argv.size() - argc + 1) + " more arguments)");
    } else if (argv[i].size() > kMaxArgLen) {
      e.argv.push_back(std::string(argv[i].substr(0, kMaxArgLen)) + "... (" +
                       std::to_string(argv[i].size() - kMaxArgLen) + " more bytes)");
    } else {
      e.argv.emplace_back(argv[i]);
    }
  }
  entries_.push_front(std::move(e));
  Trim(max_len);
}

void SlowLog::Trim(size_t max_len) {
  while (entries_.size() > max_len) entries_.pop_back();
}

}  // namespace docket::server
