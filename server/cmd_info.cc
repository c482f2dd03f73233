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

#include "server/aof.h"
#include "server/client.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/functions.h"
#include "server/log.h"
#include "server/scripting.h"
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
    max_out = std::max(max_out, c->output_list_bytes());  // Redis's omem
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

// Scripting memory: the EVAL engine's Lua heap and script cache (server/scripting.h), the
// FUNCTION engine's heap and libraries (server/functions.h).
void AppendScriptMemory(Server& server, std::string& out) {
  long long vm_eval = static_cast<long long>(server.scripting().eval_engine().UsedMemory());
  long long scripts_eval = static_cast<long long>(server.scripting().EvalScriptsMemory());
  long long vm_functions = static_cast<long long>(server.functions().engine().UsedMemory());
  long long functions = static_cast<long long>(server.functions().MemoryOverhead());
  Line(out, "used_memory_lua", vm_eval);
  Line(out, "used_memory_vm_eval", vm_eval);
  Line(out, "used_memory_lua_human", BytesToHuman(vm_eval));
  Line(out, "used_memory_scripts_eval", scripts_eval);
  Line(out, "number_of_cached_scripts",
       static_cast<long long>(server.scripting().eval_scripts()));
  Line(out, "number_of_functions",
       static_cast<long long>(server.functions().current().functions.size()));
  Line(out, "number_of_libraries",
       static_cast<long long>(server.functions().current().libraries.size()));
  Line(out, "used_memory_vm_functions", vm_functions);
  Line(out, "used_memory_vm_total", vm_eval + vm_functions);
  Line(out, "used_memory_vm_total_human", BytesToHuman(vm_eval + vm_functions));
  Line(out, "used_memory_functions", functions);
  Line(out, "used_memory_scripts", scripts_eval + functions);
  Line(out, "used_memory_scripts_human", BytesToHuman(scripts_eval + functions));
}

// glibc malloc reports no allocator figures; Redis then takes allocated = used memory and
// active = resident = RSS, which makes the allocator and RSS ratios 1 and all of the
// fragmentation the allocator's.
void AppendFragmentation(const MemoryFigures& m, std::string& out) {
  double used = m.used > 0 ? static_cast<double>(m.used) : 1.0;
  long long extra = static_cast<long long>(m.rss) - static_cast<long long>(m.used);
  Line2f(out, "allocator_frag_ratio", m.rss / used);
  Line(out, "allocator_frag_bytes", extra);
  Line2f(out, "allocator_rss_ratio", 1.0);
  Line(out, "allocator_rss_bytes", 0);
  Line2f(out, "rss_overhead_ratio", 1.0);
  Line(out, "rss_overhead_bytes", 0);
  Line2f(out, "mem_fragmentation_ratio", m.rss / used);
  Line(out, "mem_fragmentation_bytes", extra);
}

void AppendMemory(Server& server, std::string& out) {
  MemoryFigures m = ComputeMemory(server);
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
  Line(out, "used_memory_peak_perc",
       Format("%.2f%%", m.used * 100.0 / static_cast<double>(std::max<size_t>(m.peak, 1))));
  Line(out, "used_memory_overhead", size(m.overhead));
  Line(out, "used_memory_startup", size(m.startup));
  Line(out, "used_memory_dataset", size(m.dataset));
  Line(out, "used_memory_dataset_perc", Format("%.2f%%", m.dataset * 100.0 / net));
  Line(out, "allocator_allocated", size(m.used));
  Line(out, "allocator_active", size(m.rss));
  Line(out, "allocator_resident", size(m.rss));
  Line(out, "total_system_memory", total_system);
  Line(out, "total_system_memory_human", BytesToHuman(total_system));
  AppendScriptMemory(server, out);
  Line(out, "maxmemory", server.config().maxmemory);
  Line(out, "maxmemory_human", BytesToHuman(server.config().maxmemory));
  Line(out, "maxmemory_policy", server.config().maxmemory_policy);
  AppendFragmentation(m, out);
  Zeros(out, {"mem_not_counted_for_evict", "mem_replication_backlog",
              "mem_total_replication_buffers", "mem_clients_slaves"});
  Line(out, "mem_clients_normal", size(m.clients));
  Zeros(out, {"mem_cluster_links", "mem_aof_buffer"});
  Line(out, "mem_allocator", "libc");
  Zeros(out, {"active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects"});
}

// Docket writes no RDB snapshots: the rdb figures of a Redis with `save ""` that never saved;
// the aof figures come from the append-only file (server/aof.h).
void AppendPersistence(Server& server, std::string& out) {
  out += "# Persistence\r\n";
  server.aof().AppendLoadingInfo(out);
  Zeros(out, {"async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age"});
  Line(out, "current_fork_perc", "0.00");
  Zeros(out, {"current_save_keys_processed", "current_save_keys_total"});
  Line(out, "rdb_changes_since_last_save", server.dirty());
  Line(out, "rdb_bgsave_in_progress", 0);
  Line(out, "rdb_last_save_time", server.stats().start_time_ms / 1000);
  Line(out, "rdb_last_bgsave_status", "ok");
  Line(out, "rdb_last_bgsave_time_sec", -1);
  Line(out, "rdb_current_bgsave_time_sec", -1);
  Zeros(out, {"rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired",
              "rdb_last_load_keys_loaded"});
  server.aof().AppendInfo(out);
}

long long U(uint64_t v) { return static_cast<long long>(v); }

void AppendStats(Server& server, std::string& out) {
  const ServerStats& st = server.stats();
  out += "# Stats\r\n";
  Line(out, "total_connections_received", U(st.connections_received));
  Line(out, "total_commands_processed", U(st.commands_processed));
  Line(out, "instantaneous_ops_per_sec", static_cast<long long>(st.ops.Mean()));
  Line(out, "total_net_input_bytes", U(st.net_input_bytes));
  Line(out, "total_net_output_bytes", U(st.net_output_bytes));
  Zeros(out, {"total_net_repl_input_bytes", "total_net_repl_output_bytes"});
  Line2f(out, "instantaneous_input_kbps", st.net_in.Mean() / 1024);
  Line2f(out, "instantaneous_output_kbps", st.net_out.Mean() / 1024);
  Line(out, "instantaneous_input_repl_kbps", "0.00");
  Line(out, "instantaneous_output_repl_kbps", "0.00");
  Line(out, "rejected_connections", U(st.rejected_connections));
  Zeros(out, {"sync_full", "sync_partial_ok", "sync_partial_err"});
  Line(out, "expired_keys", U(server.keyspace().expired_keys()));
  Line2f(out, "expired_stale_perc", static_cast<double>(st.expired_stale_perc));
  Zeros(out, {"expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
              "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time"});
  Line(out, "keyspace_hits", U(st.keyspace_hits));
  Line(out, "keyspace_misses", U(st.keyspace_misses));
  Line(out, "pubsub_channels", U(server.pubsub().channel_count()));
  Line(out, "pubsub_patterns", U(server.pubsub().pattern_count()));
  Line(out, "pubsubshard_channels", U(server.pubsub().shard_channel_count()));
  Zeros(out,
        {"latest_fork_usec", "total_forks", "migrate_cached_sockets", "slave_expires_tracked_keys",
         "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
         "active_defrag_key_misses", "total_active_defrag_time", "current_active_defrag_time",
         "tracking_total_keys", "tracking_total_items", "tracking_total_prefixes"});
  Line(out, "unexpected_error_replies", U(st.unexpected_error_replies));
  Line(out, "total_error_replies", U(st.total_error_replies));
  Line(out, "dump_payload_sanitizations", 0);
  Line(out, "total_reads_processed", U(st.io_reads_processed));
  Line(out, "total_writes_processed", U(st.io_writes_processed));
  Zeros(out, {"io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
              "reply_buffer_expands"});
}

void AppendReplication(Server&, std::string& out) {
  out += "# Replication\r\n";
  Line(out, "role", "master");
  Line(out, "connected_slaves", 0);
  Line(out, "master_failover_state", "no-failover");
  Line(out, "master_replid", ReplicationId());
  Line(out, "master_replid2", std::string(40, '0'));
  Line(out, "master_repl_offset", 0);
  Line(out, "second_repl_offset", -1);
  Line(out, "repl_backlog_active", 0);
  Line(out, "repl_backlog_size", 1048576);  // repl-backlog-size's default
  Zeros(out, {"repl_backlog_first_byte_offset", "repl_backlog_histlen"});
}

std::string CpuTime(const timeval& tv) {
  return Format("%ld.%06ld", static_cast<long>(tv.tv_sec), static_cast<long>(tv.tv_usec));
}

void AppendCpu(Server&, std::string& out) {
  rusage self{}, children{}, thread{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  getrusage(RUSAGE_THREAD, &thread);
  out += "# CPU\r\n";
  Line(out, "used_cpu_sys", CpuTime(self.ru_stime));
  Line(out, "used_cpu_user", CpuTime(self.ru_utime));
  Line(out, "used_cpu_sys_children", CpuTime(children.ru_stime));
  Line(out, "used_cpu_user_children", CpuTime(children.ru_utime));
  Line(out, "used_cpu_sys_main_thread", CpuTime(thread.ru_stime));
  Line(out, "used_cpu_user_main_thread", CpuTime(thread.ru_utime));
}

void AppendModules(Server&, std::string& out) { out += "# Modules\r\n"; }

void AppendCommandStats(Server& server, std::string& out) {
  out += "# Commandstats\r\n";
  server.commands().ForEachWithSubcommands([&out](const CommandSpec& spec) {
    const CommandStats& s = spec.stats;
    if (s.calls == 0 && s.failed_calls == 0 && s.rejected_calls == 0) return;
    float per_call = s.calls == 0 ? 0 : static_cast<float>(s.usec) / s.calls;
    out += Format(
        "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
        "failed_calls=%llu\r\n",
        SafeInfoName(spec.fullname).c_str(), static_cast<unsigned long long>(s.calls),
        static_cast<unsigned long long>(s.usec), per_call,
        static_cast<unsigned long long>(s.rejected_calls),
        static_cast<unsigned long long>(s.failed_calls));
  });
}

void AppendErrorStats(Server& server, std::string& out) {
  out += "# Errorstats\r\n";
  for (const auto& [code, count] : server.stats().errorstats) {
    out += "errorstat_" + SafeInfoName(code) + ":count=" + std::to_string(count) + "\r\n";
  }
}

// Redis fills this with per-command latency percentiles from HDR histograms (latency-tracking
// yes). Docket keeps no per-command histogram, so the section is what Redis shows with
// latency-tracking no: the header alone.
void AppendLatencyStats(Server&, std::string& out) { out += "# Latencystats\r\n"; }

void AppendCluster(Server&, std::string& out) {
  out += "# Cluster\r\n";
  Line(out, "cluster_enabled", 0);
}

// avg_ttl is Redis's running estimate from the active expire cycle; Docket's cycle does not
// estimate it, so it is 0 (what Redis shows before its first estimate).
void AppendKeyspace(Server& server, std::string& out) {
  out += "# Keyspace\r\n";
  for (int i = 0; i < server.keyspace().count(); i++) {
    storage::Database& db = server.keyspace().db(i);
    if (db.size() == 0 && db.expires_size() == 0) continue;
    out += Format("db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", i, db.size(), db.expires_size());
  }
}

struct Section {
  std::string_view name;
  std::string_view alias;  // "modules" is also selected as "module_list"
  void (*append)(Server&, std::string&);
};

constexpr Section kSections[] = {
    {"server", "", AppendServer},
    {"clients", "", AppendClients},
    {"memory", "", AppendMemory},
    {"persistence", "", AppendPersistence},
    {"stats", "", AppendStats},
    {"replication", "", AppendReplication},
    {"cpu", "", AppendCpu},
    {"modules", "module_list", AppendModules},
    {"commandstats", "", AppendCommandStats},
    {"errorstats", "", AppendErrorStats},
    {"latencystats", "", AppendLatencyStats},
    {"cluster", "", AppendCluster},
    {"keyspace", "", AppendKeyspace},
};

constexpr std::string_view kDefaultSections[] = {
    "server", "clients",     "memory",     "persistence", "stats",   "replication",
    "cpu",    "module_list", "errorstats", "cluster",     "keyspace"};

// Redis's genInfoSectionDict: names are case-insensitive; "default" adds the default
// sections, "all" every section, "everything" all plus module-generated ones (none here).
struct SectionSelection {
  std::set<std::string, std::less<>> names;
  bool all = false;

  bool Wants(const Section& s) const {
    return all || names.contains(s.name) || (!s.alias.empty() && names.contains(s.alias));
  }
};

SectionSelection SelectSections(std::span<const std::string_view> args) {
  SectionSelection sel;
  if (args.empty()) sel.names.insert(std::begin(kDefaultSections), std::end(kDefaultSections));
  for (std::string_view arg : args) {
    std::string name = AsciiToLower(arg);
    if (name == "default") {
      sel.names.insert(std::begin(kDefaultSections), std::end(kDefaultSections));
    } else if (name == "all" || name == "everything") {
      sel.all = true;
    } else {
      sel.names.insert(std::move(name));
    }
  }
  return sel;
}

// INFO [section [section ...]]
void CmdInfo(CommandContext& ctx) {
  SectionSelection sel = SelectSections(ctx.argv.subspan(1));
  std::string info;
  for (const Section& s : kSections) {
    if (!sel.Wants(s)) continue;
    if (!info.empty()) info += "\r\n";
    s.append(ctx.server, info);
  }
  ctx.reply.Verbatim(info, "txt");
}

}  // namespace

void RegisterInfoCommands(CommandTable& table) { table.Register("info", CmdInfo); }

}  // namespace docket::server
