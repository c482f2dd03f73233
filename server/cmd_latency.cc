// LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH / HELP over the server's LatencyMonitor, with
// Redis 7.0's replies: DOCTOR's report and GRAPH's ASCII sparkline follow latency.c and
// sparkline.c text for text. Depends on server/.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <string>
#include <vector>

#include "server/cmd_server.h"
#include "server/log.h"
#include "server/server.h"

namespace docket::server {
namespace {

// The advices of LATENCY DOCTOR, in the order the report gives them (Redis 7.0.15's texts).
enum AdviceIndex {
  kBetterVm,
  kSlowlogEnabled,
  kSlowlogTuning,
  kSlowlogInspect,
  kScheduler,
  kLocalDisk,
  kSsd,
  kDataWriteback,
  kDiskContention,
  kNoAppendfsync,
  kRelaxFsyncPolicy,
  kWriteLoadInfo,
  kHz,
  kLargeObjects,
  kMassEviction,
  kDisableThp,
  kAdviceCount,
};

constexpr std::string_view kAdviceText[] = {
    // kBetterVm
    "- If you are using a virtual machine, consider upgrading it with a faster one using "
    "a hypervisior that provides less latency during fork() calls. Xen is known to have "
    "poor fork() performance. Even in the context of the same VM provider, certain kinds "
    "of instances can execute fork faster than others.\n",
    // kSlowlogEnabled
    "- There are latency issues with potentially slow commands you are using. Try to "
    "enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than "
    "%llu'. If the Slow log is disabled Redis is not able to log slow commands execution "
    "for you.\n",
    // kSlowlogTuning
    "- Your current Slow Log configuration only logs events that are slower than your "
    "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than "
    "%llu'.\n",
    // kSlowlogInspect
    "- Check your Slow Log to understand what are the commands you are running which "
    "are too slow to execute. Please check https://redis.io/commands/slowlog for more "
    "information.\n",
    // kScheduler
    "- The system is slow to execute Redis code paths not containing system calls. This "
    "usually means the system does not provide Redis CPU time to run for long periods. "
    "You should try to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Redis if you are running other software in the "
    "same system.\n"
    "  3) Check if you have a \"noisy neighbour\" problem.\n"
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency "
    "in your system.\n"
    "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, "
    "if you are using Jemalloc. However this may create fragmentation problems.\n",
    // kLocalDisk
    "- It is strongly advised to use local disks for persistence, especially if you are "
    "using AOF. Remote disks provided by platform-as-a-service providers are known to "
    "be slow.\n",
    // kSsd
    "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting "
    "and AOF log rewriting (resulting in smaller memory usage). With extremely high write "
    "load SSD disks can be a good option. However Redis should perform reasonably with "
    "high load using normal disks. Use this advice as a last resort.\n",
    // kDataWriteback
    "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost "
    "compared to data=ordered, however this mode of operation provides less guarantees, "
    "and sometimes it can happen that after a hard crash the AOF file will have a half-written "
    "command at the end and will require to be repaired before Redis restarts.\n",
    // kDiskContention
    "- Try to lower the disk contention. This is often caused by other disk intensive "
    "processes running in the same computer (including other Redis instances).\n",
    // kNoAppendfsync
    "- Assuming from the point of view of data safety this is viable in your environment, "
    "you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will "
    "not be performed while there is a child rewriting the AOF file or producing an RDB "
    "file (the moment where there is high disk contention).\n",
    // kRelaxFsyncPolicy
    "- Your fsync policy is set to 'always'. It is very hard to get good performances "
    "with such a setup, if possible try to relax the fsync policy to 'onesec'.\n",
    // kWriteLoadInfo
    "- Latency during the AOF atomic rename operation or when the final difference is "
    "flushed to the AOF file at the end of the rewrite, sometimes is caused by very high "
    "write load, causing the AOF buffer to get very large. If possible try to send less "
    "commands to accomplish the same work, or use Lua scripts to group multiple operations "
    "into a single EVALSHA call.\n",
    // kHz
    "- In order to make the Redis keys expiring process more incremental, try to set "
    "the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
    // kLargeObjects
    "- Deleting, expiring or evicting (because of maxmemory policy) large objects is "
    "a blocking operation. If you have very large objects that are often deleted, expired, "
    "or evicted, try to fragment those objects into multiple smaller objects.\n",
    // kMassEviction
    "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large "
    "objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster "
    "large keys migrations (RESTORE command), may create sudden memory pressure forcing "
    "the server to block trying to evict keys. \n",
    // kDisableThp
    "- I detected a non zero amount of anonymous huge pages used by your process. This "
    "creates very serious latency events in different conditions, especially when Redis "
    "is persisting on disk. To disable THP support use the command 'echo never > "
    "/sys/kernel/mm/transparent_hugepage/enabled', "
    "make sure to also add it into /etc/rc.local so that the command will be executed "
    "again after a reboot. Note that even if you have already disabled THP, you still "
    "need to restart the Redis process to get rid of the huge pages already created.\n",
};

static_assert(std::size(kAdviceText) == kAdviceCount);

// Per-event figures of the report, as Redis's analyzeLatencyForEvent computes them.
struct LatencyStats {
  uint64_t avg = 0, mad = 0, min = 0, max = 0, samples = 0;
  int64_t period = 0;
};

LatencyStats AnalyzeEvent(const LatencyEvent& ev, int64_t now) {
  LatencyStats ls;
  uint64_t sum = 0;
  for (const LatencySample& s : ev.samples) {
    if (s.time_sec == 0) continue;
    ls.samples++;
    if (ls.samples == 1 || s.latency_ms < ls.min) ls.min = s.latency_ms;
    if (ls.samples == 1 || s.latency_ms > ls.max) ls.max = s.latency_ms;
    sum += s.latency_ms;
    if (ls.period == 0 || s.time_sec < ls.period) ls.period = s.time_sec;
  }
  if (ls.samples == 0) return ls;
  ls.avg = sum / ls.samples;
  ls.period = now - ls.period;
  if (ls.period == 0) ls.period = 1;
  sum = 0;
  for (const LatencySample& s : ev.samples) {
    if (s.time_sec == 0) continue;
    int64_t delta = static_cast<int64_t>(ls.avg) - s.latency_ms;
    sum += static_cast<uint64_t>(delta < 0 ? -delta : delta);
  }
  ls.mad = sum / ls.samples;
  return ls;
}

// The advices an event calls for; *count adds up as Redis's `advices` counter does.
void AdviseForEvent(std::string_view event, const Config& config, bool* advise, int* count) {
  auto add = [&](std::initializer_list<AdviceIndex> list) {
    for (AdviceIndex a : list) advise[a] = true;
    *count += static_cast<int>(list.size());
  };
  if (EqualsIgnoreCase(event, "command")) {
    if (config.slowlog_log_slower_than < 0) {
      add({kSlowlogEnabled});
    } else if (config.slowlog_log_slower_than / 1000 > config.latency_monitor_threshold) {
      add({kSlowlogTuning});
    }
    add({kSlowlogInspect, kLargeObjects});
  } else if (EqualsIgnoreCase(event, "fast-command")) {
    add({kScheduler});
  } else if (EqualsIgnoreCase(event, "aof-write-pending-fsync")) {
    add({kLocalDisk, kDiskContention, kSsd, kDataWriteback});
  } else if (EqualsIgnoreCase(event, "aof-write-active-child")) {
    add({kNoAppendfsync, kDataWriteback, kSsd});
  } else if (EqualsIgnoreCase(event, "aof-write-alone")) {
    add({kLocalDisk, kDataWriteback, kSsd});
  } else if (EqualsIgnoreCase(event, "aof-fsync-always")) {
    add({kRelaxFsyncPolicy});
  } else if (EqualsIgnoreCase(event, "aof-fstat") ||
             EqualsIgnoreCase(event, "rdb-unlik-temp-file")) {
    add({kDiskContention, kLocalDisk});
  } else if (EqualsIgnoreCase(event, "aof-rewrite-diff-write") ||
             EqualsIgnoreCase(event, "aof-rename")) {
    add({kWriteLoadInfo, kDataWriteback, kSsd, kLocalDisk});
  } else if (EqualsIgnoreCase(event, "expire-cycle")) {
    add({kHz, kLargeObjects});
  } else if (EqualsIgnoreCase(event, "eviction-del")) {
    add({kLargeObjects});
  } else if (EqualsIgnoreCase(event, "eviction-cycle")) {
    add({kMassEviction});
  }
}

// THPGetAnonHugePagesSize: transparent huge pages in use by this process.
bool UsesAnonHugePages() {
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  if (f == nullptr) return false;
  char line[256];
  unsigned long long kb = 0, total = 0;
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) total += kb;
  }
  fclose(f);
  return total > 0;
}

std::string AdviceReport(const bool* advise, const Server& server) {
  const Config& config = server.config();
  unsigned long long threshold_us =
      static_cast<unsigned long long>(config.latency_monitor_threshold) * 1000;
  std::string out = "\nI have a few advices for you:\n\n";
  for (int i = 0; i < kAdviceCount; i++) {
    if (!advise[i]) continue;
    // Docket has no appendfsync setting yet (always is the only policy this advice is for).
    if (i == kRelaxFsyncPolicy) continue;
    if (i == kHz && server.hz() >= 100) continue;
    if (i == kSlowlogEnabled || i == kSlowlogTuning) {
      std::string text(kAdviceText[i]);
      size_t at = text.find("%llu");
      out += text.substr(0, at) + std::to_string(threshold_us) + text.substr(at + 4);
    } else {
      out += kAdviceText[i];
    }
  }
  return out;
}

// createLatencyReport
std::string LatencyReport(Server& server, int64_t now) {
  const auto& events = server.latency().events();
  if (events.empty() && server.config().latency_monitor_threshold == 0) {
    return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
           "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
           "order to enable it. If we weren't in a deep space mission I'd suggest to take a look "
           "at https://redis.io/topics/latency-monitor.\n";
  }
  std::string report;
  bool advise[kAdviceCount] = {};
  int advices = 0, eventnum = 0;
  for (const auto& [name, ev] : events) {
    if (++eventnum == 1) {
      report +=
          "Dave, I have observed latency spikes in this Redis instance. You don't mind "
          "talking about it, do you Dave?\n\n";
    }
    LatencyStats ls = AnalyzeEvent(ev, now);
    report += Format(
        "%d. %s: %d latency spikes (average %lums, mean deviation %lums, period "
        "%.2f sec). Worst all time event %lums.",
        eventnum, name.c_str(), static_cast<int>(ls.samples), static_cast<unsigned long>(ls.avg),
        static_cast<unsigned long>(ls.mad),
        static_cast<double>(ls.period) / static_cast<double>(ls.samples),
        static_cast<unsigned long>(ev.max_ms));
    if (EqualsIgnoreCase(name, "fork")) {
      // Docket does not measure a fork rate yet: Redis's verdict for a rate of 0.
      report += Format(" Fork rate is %.2f GB/sec (%s).", 0.0, "terrible");
      advise[kBetterVm] = true;
      advices++;
    }
    AdviseForEvent(name, server.config(), advise, &advices);
    report += "\n";
  }
  if (UsesAnonHugePages()) {
    advise[kDisableThp] = true;
    advices++;
  }
  if (eventnum == 0 && advices == 0) {
    report +=
        "Dave, no latency spike was observed during the lifetime of this Redis instance, "
        "not in the slightest bit. I honestly think you ought to sit down calmly, take a "
        "stress pill, and think things over.\n";
  } else if (eventnum > 0 && advices == 0) {
    report +=
        "\nWhile there are latency events logged, I'm not able to suggest any easy fix. "
        "Please use the Redis community to get some help, providing this report in your "
        "help request.\n";
  } else {
    report += AdviceReport(advise, server);
  }
  return report;
}

// One sample of a sparkline and its label (sparkline.c).
struct SparkSample {
  double value;
  std::string label;
};

// sparklineRenderRange with SPARKLINE_FILL: `rows` rows of "_o#|" and the labels beneath.
void RenderSparkRange(const std::vector<SparkSample>& seq, double min, double max, int rows,
                      size_t offset, size_t len, std::string* out) {
  static constexpr char kFill[] = "_o#";
  constexpr int kCharsetLen = 3, kLabelMarginTop = 1;
  double relmax = max - min;
  if (relmax == 0) relmax = 1;
  int steps = kCharsetLen * rows;
  bool has_labels = false;
  for (const SparkSample& s : seq) has_labels |= !s.label.empty();
  for (int row = 0;; row++) {
    bool loop = false;
    std::string chars(len, ' ');
    for (size_t j = 0; j < len; j++) {
      const SparkSample& s = seq[j + offset];
      int step = static_cast<int>(static_cast<int>((s.value - min) * steps) / relmax);
      step = std::clamp(step, 0, steps - 1);
      if (row < rows) {
        int charidx = step - (rows - row - 1) * kCharsetLen;
        loop = true;
        if (charidx >= 0 && charidx < kCharsetLen) {
          chars[j] = kFill[charidx];
        } else if (charidx >= kCharsetLen) {
          chars[j] = '|';
        }
      } else if (has_labels && row - rows < kLabelMarginTop) {
        loop = true;
        break;
      } else {
        size_t label_char = static_cast<size_t>(row - rows - kLabelMarginTop);
        if (s.label.size() > label_char) {
          loop = true;
          chars[j] = s.label[label_char];
        }
      }
    }
    if (!loop) break;
    *out += chars + "\n";
  }
}

// latencyCommandGenSparkeline: 80 columns, 4 rows, labelled with how long ago each sample was.
std::string LatencyGraph(const std::string& event, const LatencyEvent& ev, int64_t now) {
  constexpr size_t kCols = 80;
  std::vector<SparkSample> seq;
  double min = 0, max = 0;
  uint32_t low = 0, high = 0;
  for (size_t j = 0; j < LatencyEvent::kSamples; j++) {
    const LatencySample& s = ev.samples[(ev.next + j) % LatencyEvent::kSamples];
    if (s.time_sec == 0) continue;
    low = seq.empty() ? s.latency_ms : std::min(low, s.latency_ms);
    high = seq.empty() ? s.latency_ms : std::max(high, s.latency_ms);
    int elapsed = static_cast<int>(now - s.time_sec);
    std::string label = elapsed < 60          ? std::to_string(elapsed) + "s"
                        : elapsed < 3600      ? std::to_string(elapsed / 60) + "m"
                        : elapsed < 3600 * 24 ? std::to_string(elapsed / 3600) + "h"
                                              : std::to_string(elapsed / (3600 * 24)) + "d";
    double v = s.latency_ms;
    if (seq.empty()) {
      min = max = v;
    } else if (v < min) {
      min = v;
    } else if (v > max) {
      max = v;
    }
    seq.push_back({v, std::move(label)});
  }
  std::string graph = Format("%s - high %lu ms, low %lu ms (all time high %lu ms)\n", event.c_str(),
                             static_cast<unsigned long>(high), static_cast<unsigned long>(low),
                             static_cast<unsigned long>(ev.max_ms));
  graph += std::string(kCols, '-') + "\n";
  for (size_t j = 0; j < seq.size(); j += kCols) {
    if (j != 0) graph += "\n";
    RenderSparkRange(seq, min, max, 4, j, std::min(kCols, seq.size() - j), &graph);
  }
  return graph;
}

// LATENCY LATEST
void CmdLatencyLatest(CommandContext& ctx) {
  const auto& events = ctx.server.latency().events();
  ctx.reply.ArrayHeader(events.size());
  for (const auto& [name, ev] : events) {
    const LatencySample& last =
        ev.samples[(ev.next + LatencyEvent::kSamples - 1) % LatencyEvent::kSamples];
    ctx.reply.ArrayHeader(4);
    ctx.reply.Bulk(name);
    ctx.reply.Integer(last.time_sec);
    ctx.reply.Integer(last.latency_ms);
    ctx.reply.Integer(ev.max_ms);
  }
}

// LATENCY HISTORY event
void CmdLatencyHistory(CommandContext& ctx) {
  std::vector<LatencySample> samples = ctx.server.latency().History(ctx.arg(2));
  ctx.reply.ArrayHeader(samples.size());
  for (const LatencySample& s : samples) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(s.time_sec);
    ctx.reply.Integer(s.latency_ms);
  }
}

// LATENCY RESET [event ...]
void CmdLatencyReset(CommandContext& ctx) {
  LatencyMonitor& monitor = ctx.server.latency();
  if (ctx.argc() == 2) return ctx.reply.Integer(static_cast<int64_t>(monitor.Reset({})));
  int64_t resets = 0;
  for (size_t i = 2; i < ctx.argc(); i++) {
    std::vector<std::string> names;  // latencyResetEvent compares names case-insensitively
    for (const auto& [name, ev] : monitor.events()) {
      if (EqualsIgnoreCase(name, ctx.arg(i))) names.push_back(name);
    }
    for (const std::string& name : names) {
      resets += static_cast<int64_t>(monitor.Reset({std::string_view(name)}));
    }
  }
  ctx.reply.Integer(resets);
}

// LATENCY DOCTOR
void CmdLatencyDoctor(CommandContext& ctx) {
  ctx.reply.Verbatim(LatencyReport(ctx.server, time(nullptr)));
}

// LATENCY GRAPH event
void CmdLatencyGraph(CommandContext& ctx) {
  const auto& events = ctx.server.latency().events();
  auto it = events.find(ctx.arg(2));
  if (it == events.end()) {
    return ctx.reply.Error("No samples available for event '" + std::string(ctx.arg(2)) + "'");
  }
  ctx.reply.Verbatim(LatencyGraph(it->first, it->second, time(nullptr)));
}

// LATENCY HELP
void CmdLatencyHelp(CommandContext& ctx) {
  ReplyHelp(ctx, {
                     "DOCTOR",
                     "    Return a human readable latency analysis report.",
                     "GRAPH <event>",
                     "    Return an ASCII latency graph for the <event> class.",
                     "HISTORY <event>",
                     "    Return time-latency samples for the <event> class.",
                     "LATEST",
                     "    Return the latest latency samples for all events.",
                     "RESET [<event> ...]",
                     "    Reset latency data of one or more <event> classes.",
                     "    (default: reset all data for all event classes)",
                     "HISTOGRAM [COMMAND ...]",
                     "    Return a cumulative distribution of latencies in the format of a "
                     "histogram for the specified command names.",
                     "    If no commands are specified then all histograms are replied.",
                 });
}

}  // namespace

void RegisterLatencyCommands(CommandTable& table) {
  table.Register("latency|latest", CmdLatencyLatest);
  table.Register("latency|history", CmdLatencyHistory);
  table.Register("latency|reset", CmdLatencyReset);
  table.Register("latency|doctor", CmdLatencyDoctor);
  table.Register("latency|graph", CmdLatencyGraph);
  table.Register("latency|help", CmdLatencyHelp);
}

}  // namespace docket::server
