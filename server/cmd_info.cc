// INFO [section ...]: Redis 7.0's sections, field names and field order (genRedisInfoString),
// with Docket's own values; fields for what Docket does not have (replication, Lua, forks,
// defragmentation, ...) report what an idle Redis without them reports.
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <random>
#include <set>
#include <string>

#include "server/client.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/log.h"
#include "server/server.h"

namespace docket::server {
namespace {

void Line(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(":").append(value).append("\r\n");
}
void Line(std::string& out, std::string_view name, long long value) {
  Line(out, name, std::to_string(value));
}
// A %.2f field (ratios, kbps, percentages without the '%').
void Line2f(std::string& out, std::string_view name, double value) {
  Line(out, name, Format("%.2f", value));
}
// Fields Docket has no mechanism for: always 0.
void Zeros(std::string& out, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) Line(out, name, "0");
}

// Redis's bytesToHuman.
std::string BytesToHuman(unsigned long long n) {
  constexpr double kK = 1024.0;
  if (n < 1024) return Format("%lluB", n);
  if (n < 1024ULL * 1024) return Format("%.2fK", n / kK);
  if (n < 1024ULL * 1024 * 1024) return Format("%.2fM", n / (kK * kK));
  if (n < 1024ULL * 1024 * 1024 * 1024) return Format("%.2fG", n / (kK * kK * kK));
  if (n < 1024ULL * 1024 * 1024 * 1024 * 1024) return Format("%.2fT", n / (kK * kK * kK * kK));
  if (n < 1024ULL * 1024 * 1024 * 1024 * 1024 * 1024) {
    return Format("%.2fP", n / (kK * kK * kK * kK * kK));
  }
  return Format("%lluB", n);
}

// Redis's getSafeInfoString: names must not break the "name:value" line format.
std::string SafeInfoName(std::string_view name) {
  std::string out(name);
  for (char& ch : out) {
    if (ch == '#' || ch == ':' || ch == '\n' || ch == '\r') ch = '_';
  }
  return out;
}

std::string ExecutablePath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// A replication ID, random per process as Redis's (Docket has no replicas to share it with).
const std::string& ReplicationId() {
  static const std::string id = [] {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) | rd());
    std::string hex;
    for (int i = 0; i < 40; i++) hex.push_back("0123456789abcdef"[rng() & 15]);
    return hex;
  }();
  return id;
}

// A build id that stays the same for one Docket version (Redis hashes its build info).
std::string BuildId() {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char ch : std::string("docket-") + std::string(kDocketVersion)) {
    h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  }
  return Format("%llx", static_cast<unsigned long long>(h));
}

void AppendServer(Server& server, std::string& out) {
  static utsname name = [] {
    utsname u{};
    uname(&u);
    return u;
  }();
  timeval tv;
  gettimeofday(&tv, nullptr);
  int64_t now_s = tv.tv_sec;
  int64_t uptime = now_s - server.stats().start_time_ms / 1000;
  out += "# Server\r\n";
  Line(out, "redis_version", kRedisVersion);
  Line(out, "redis_git_sha1", "00000000");
  Line(out, "redis_git_dirty", 0);
  Line(out, "redis_build_id", BuildId());
  Line(out, "redis_mode", "standalone");
  Line(out, "os", Format("%s %s %s", name.sysname, name.release, name.machine));
  Line(out, "arch_bits", static_cast<long long>(sizeof(void*) * 8));
  Line(out, "monotonic_clock", "POSIX clock_gettime");  // std::chrono::steady_clock
  Line(out, "multiplexing_api", event_base_get_method(server.base()));
  Line(out, "atomicvar_api", "c11-builtin");
  Line(out, "gcc_version", Format("%d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__));
  Line(out, "process_id", static_cast<long long>(getpid()));
  Line(out, "process_supervised", "no");
  Line(out, "run_id", server.run_id());
  Line(out, "tcp_port", server.config().port);
  Line(out, "server_time_usec", static_cast<long long>(now_s) * 1000000 + tv.tv_usec);
  Line(out, "uptime_in_seconds", uptime);
  Line(out, "uptime_in_days", uptime / (3600 * 24));
  Line(out, "hz", server.hz());
  Line(out, "configured_hz", server.config().hz);
  Line(out, "lru_clock", now_s & ((1 << 24) - 1));  // LRU_CLOCK: seconds, 24 bits
  Line(out, "executable", ExecutablePath());
  Line(out, "config_file", server.config_registry().config_file());
  Line(out, "io_threads_active", 0);
  Line(out, "docket_version", kDocketVersion);
}

size_t ClientMemory(Client& c) {
  return sizeof(Client) + c.query_buffer_size() + c.query_buffer_free() + c.out().capacity();
}

void AppendClients(Server& server, std::string& out) {
  size_t max_in = 0, max_out = 0, blocked = server.blocked_clients();
  for (const auto& [id, c] : server.clients()) {
    max_in = std::max(max_in, c->query_buffer_size() + c->query_buffer_free());
    max_out = std::max(max_out, c->pending_output());
    if (c->Has(kClientPaused)) blocked++;  // Redis blocks a client held by CLIENT PAUSE
  }
  out += "# Clients\r\n";
  Line(out, "connected_clients", static_cast<long long>(server.clients().size()));
  Line(out, "cluster_connections", 0);
  Line(out, "maxclients", server.config().maxclients);
  Line(out, "client_recent_max_input_buffer", static_cast<long long>(max_in));
  Line(out, "client_recent_max_output_buffer", static_cast<long long>(max_out));
  Line(out, "blocked_clients", static_cast<long long>(blocked));
  Line(out, "tracking_clients", 0);
  Line(out, "clients_in_timeout_table", 0);
}

// What getMemoryOverheadData computes, for Docket's structures.
struct MemoryFigures {
  size_t used, rss, peak, startup, clients, overhead, dataset;
};

MemoryFigures ComputeMemory(Server& server) {
  MemoryFigures m{};
  m.used = server.UsedMemory();
  m.rss = Server::ResidentMemory();
  server.stats().peak_memory = std::max(server.stats().peak_memory, m.used);
  m.peak = server.stats().peak_memory;
  m.startup = server.stats().startup_memory;
  for (const auto& [id, c] : server.clients()) m.clients += ClientMemory(*c);
  size_t tables = 0;  // key tables; an expiry entry costs about a key pointer and a time
  for (int i = 0; i < server.keyspace().count(); i++) {
    storage::Database& db = server.keyspace().db(i);
    tables += db.keys().MemoryUsage() + db.expires_size() * 3 * sizeof(void*);
  }
  m.overhead = std::min(m.used, m.startup + m.clients + tables);
  m.dataset = m.used - m.overhead;
  return m;
}

void AppendMemory(Server& server, std::string& out) {
  MemoryFigures m = ComputeMemory(server);
  double used = m.used > 0 ? static_cast<double>(m.used) : 1.0;
  size_t net = m.used > m.startup ? m.used - m.startup : 1;
  long long total_system = static_cast<long long>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  auto size = [](size_t v) { return static_cast<long long>(v); };
  out += "# Memory\r\n";
  Line(out, "used_memory", size(m.used));
  Line(out, "used_memory_human", BytesToHuman(m.used));
  Line(out, "used_memory_rss", size(m.rss));
  Line(out, "used_memory_rss_human", BytesToHuman(m.rss));
  Line(out, "used_memory_peak", size(m.peak));
  Line(out, "used_memory_peak_human", BytesToHuman(m.peak));
  Line(out, "used_memory_peak_perc", Format("%.2f%%", m.used * 100.0 / std::max<size_t>(m.peak, 1)));
  Line(out, "used_memory_overhead", size(m.overhead));
  Line(out, "used_memory_startup", size(m.startup));
  Line(out, "used_memory_dataset", size(m.dataset));
  Line(out, "used_memory_dataset_perc", Format("%.2f%%", m.dataset * 100.0 / net));
  // glibc malloc reports no allocator figures; Redis then uses used memory and RSS, as here.
  Line(out, "allocator_allocated", size(m.used));
  Line(out, "allocator_active", size(m.rss));
  Line(out, "allocator_resident", size(m.rss));
  Line(out, "total_system_memory", total_system);
  Line(out, "total_system_memory_human", BytesToHuman(total_system));
  AppendScriptMemory(out);
  Line(out, "maxmemory", server.config().maxmemory);
  Line(out, "maxmemory_human", BytesToHuman(server.config().maxmemory));
  Line(out, "maxmemory_policy", server.config().maxmemory_policy);
  Line2f(out, "allocator_frag_ratio", m.rss / used);
  Line(out, "allocator_frag_bytes", static_cast<long long>(m.rss - m.used));
  Line2f(out, "allocator_rss_ratio", 1.0);
  Line(out, "allocator_rss_bytes", 0);
  Line2f(out, "rss_overhead_ratio", 1.0);
  Line(out, "rss_overhead_bytes", 0);
  Line2f(out, "mem_fragmentation_ratio", m.rss / used);
  Line(out, "mem_fragmentation_bytes", static_cast<long long>(m.rss) - size(m.used));
  Zeros(out, {"mem_not_counted_for_evict", "mem_replication_backlog",
              "mem_total_replication_buffers", "mem_clients_slaves"});
  Line(out, "mem_clients_normal", size(m.clients));
  Zeros(out, {"mem_cluster_links", "mem_aof_buffer"});
  Line(out, "mem_allocator", "libc");
  Zeros(out, {"active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects"});
}

}  // namespace
}  // namespace docket::server
