// CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the ConfigRegistry, and the hooks that make
// a CONFIG SET act on the running server (loglevel, port, bind, maxclients), with Redis 7.0's
// replies and error texts. Depends on server/ and storage/glob.
#include <strings.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocol/errors.h"
#include "server/cmd_server.h"
#include "server/log.h"
#include "server/server.h"
#include "storage/glob.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// CONFIG GET parameter [parameter ...]
// As Redis's configGetCommand: a name without glob characters is looked up directly and
// reported as written; a pattern matches every name and alias; each parameter appears once.
void CmdConfigGet(CommandContext& ctx) {
  const ConfigRegistry& registry = ctx.server.config_registry();
  std::set<std::string> seen;  // lowercase names already in the reply
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 2; i < ctx.argc(); i++) {
    std::string_view pattern = ctx.arg(i);
    if (pattern.find_first_of("[*?") == std::string_view::npos) {
      const ConfigParam* p = registry.Find(pattern);
      if (p == nullptr || !seen.insert(AsciiToLower(pattern)).second) continue;
      out.emplace_back(pattern, p->get(registry.values()));
      continue;
    }
    for (auto& [name, value] : registry.Get({pattern})) {
      // An alias is its own entry, as in Redis 7.0 (hash-max-ziplist-* and hash-max-listpack-*).
      if (!seen.insert(name).second) continue;
      out.emplace_back(std::move(name), std::move(value));
    }
  }
  ctx.reply.MapHeader(out.size());
  for (const auto& [name, value] : out) {
    ctx.reply.Bulk(name);
    ctx.reply.Bulk(value);
  }
}

// CONFIG SET parameter value [parameter value ...]
void CmdConfigSet(CommandContext& ctx) {
  if (ctx.argc() % 2 != 0) return ctx.reply.Error(errors::kSyntax);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 2; i + 1 < ctx.argc(); i += 2) {
    pairs.emplace_back(std::string(ctx.arg(i)), std::string(ctx.arg(i + 1)));
    // Sensitive values stay out of SLOWLOG and MONITOR (Redis's SENSITIVE_CONFIG).
    if (strcasecmp(pairs.back().first.c_str(), "requirepass") == 0) ctx.Redact(i + 1);
  }
  std::string err = ctx.server.config_registry().Set(pairs);
  if (!err.empty()) return ctx.reply.Error(err);
  ctx.reply.Ok();
}

// CONFIG RESETSTAT
void CmdConfigResetStat(CommandContext& ctx) {
  ctx.server.ResetStats();
  ctx.reply.Ok();
}

// CONFIG REWRITE
void CmdConfigRewrite(CommandContext& ctx) {
  const ConfigRegistry& registry = ctx.server.config_registry();
  if (registry.config_file().empty()) {
    return ctx.reply.Error("The server is running without a config file");
  }
  std::string err = registry.Rewrite();
  if (!err.empty()) {
    DOCKET_LOG(LogLevel::kWarning, "CONFIG REWRITE failed: %s", err.c_str());
    return ctx.reply.Error(err);
  }
  DOCKET_LOG(LogLevel::kNotice, "CONFIG REWRITE executed with success.");
  ctx.reply.Ok();
}

// CONFIG HELP
void CmdConfigHelp(CommandContext& ctx) {
  ReplyHelp(ctx, {
                     "GET <pattern>",
                     "    Return parameters matching the glob-like <pattern> and their values.",
                     "SET <directive> <value>",
                     "    Set the configuration <directive> to <value>.",
                     "RESETSTAT",
                     "    Reset statistics reported by the INFO command.",
                     "REWRITE",
                     "    Rewrite the configuration file.",
                 });
}

constexpr rlim_t kMinReservedFds = 32;  // CONFIG_MIN_RESERVED_FDS

// The first value of wanted, wanted - 16, wanted - 32, ... that is not above ceiling.
rlim_t StepDownTo(rlim_t wanted, rlim_t ceiling) {
  return wanted <= ceiling ? wanted : wanted - (wanted - ceiling + 15) / 16 * 16;
}

// Redis's adjustOpenFilesLimit: raises RLIMIT_NOFILE to maxclients + 32, or to the highest of
// maxclients + 32 - 16k the OS allows. Returns the limit in force afterwards.
rlim_t AdjustOpenFilesLimit(int64_t maxclients) {
  rlim_t wanted = static_cast<rlim_t>(maxclients) + kMinReservedFds;
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == -1) return 1024;
  rlim_t old = limit.rlim_cur;
  if (old >= wanted) return old;
  // Nothing above fs.nr_open can work, nor above the hard limit without privileges: skip the
  // values Redis would try one by one that cannot succeed.
  rlim_t best = wanted;
  if (FILE* f = fopen("/proc/sys/fs/nr_open", "r")) {
    unsigned long long nr_open = 0;
    if (fscanf(f, "%llu", &nr_open) == 1) best = StepDownTo(best, nr_open);
    fclose(f);
  }
  rlimit probe{best, best};
  if (best > limit.rlim_max && setrlimit(RLIMIT_NOFILE, &probe) != 0) {
    best = StepDownTo(best, limit.rlim_max);
  }
  int error = 0;
  while (best > old) {
    rlimit next{best, std::max(best, limit.rlim_max)};
    if (setrlimit(RLIMIT_NOFILE, &next) == 0) break;
    error = errno;
    if (best < 16) {
      best = old;
      break;
    }
    best -= 16;
  }
  if (best < old) best = old;
  if (best < wanted) {
    DOCKET_LOG(LogLevel::kWarning,
               "You requested maxclients of %lld requiring at least %llu max file descriptors.",
               static_cast<long long>(maxclients), static_cast<unsigned long long>(wanted));
    DOCKET_LOG(LogLevel::kWarning,
               "Server can't set maximum open files to %llu because of OS error: %s.",
               static_cast<unsigned long long>(wanted), strerror(error != 0 ? error : EPERM));
    DOCKET_LOG(LogLevel::kWarning,
               "Current maximum open files is %llu. maxclients has been reduced to %lld to "
               "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
               static_cast<unsigned long long>(best),
               static_cast<long long>(best) - static_cast<long long>(kMinReservedFds));
  } else {
    DOCKET_LOG(LogLevel::kNotice,
               "Increased maximum number of open files to %llu (it was originally set to %llu).",
               static_cast<unsigned long long>(wanted), static_cast<unsigned long long>(old));
  }
  return best;
}

// Redis logs this when an apply step fails, before it restores the previous values.
std::string ApplyFailed(const char* name, std::string err) {
  DOCKET_LOG(LogLevel::kWarning,
             "Failed applying new configuration. Possibly related to new %s setting. Restoring "
             "previous settings.",
             name);
  return err;
}

std::string ApplyMaxclients(const Config& config) {
  rlim_t limit = AdjustOpenFilesLimit(config.maxclients);
  if (limit >= static_cast<rlim_t>(config.maxclients) + kMinReservedFds) return "";
  return ApplyFailed(
      "maxclients",
      "The operating system is not able to handle the specified number of clients, try with " +
          std::to_string(static_cast<int64_t>(limit) - static_cast<int64_t>(kMinReservedFds)));
}

}  // namespace

void InstallConfigApplyHooks(Server& server) {
  ConfigRegistry& registry = server.config_registry();
  registry.SetApply("loglevel", [](const Config& config) {
    SetLogLevel(static_cast<LogLevel>(config.loglevel));
    return std::string();
  });
  registry.SetApply("port", [&server](const Config&) {
    if (server.Relisten()) return std::string();
    return ApplyFailed("port", "Unable to listen on this port. Check server logs.");
  });
  registry.SetApply("bind", [&server](const Config&) {
    if (server.Relisten()) return std::string();
    return ApplyFailed("bind", "Failed to bind to specified addresses.");
  });
  registry.SetApply("maxclients", ApplyMaxclients);
  // As Redis at start-up: make room for maxclients, or lower it to what the OS allows.
  Config& config = registry.values();
  rlim_t limit = AdjustOpenFilesLimit(config.maxclients);
  if (limit < static_cast<rlim_t>(config.maxclients) + kMinReservedFds) {
    int64_t reduced = static_cast<int64_t>(limit) - static_cast<int64_t>(kMinReservedFds);
    config.maxclients = std::max<int64_t>(reduced, 1);
  }
}

void RegisterConfigCommands(CommandTable& table) {
  table.Register("config|get", CmdConfigGet);
  table.Register("config|set", CmdConfigSet);
  table.Register("config|resetstat", CmdConfigResetStat);
  table.Register("config|rewrite", CmdConfigRewrite);
  table.Register("config|help", CmdConfigHelp);
}

}  // namespace docket::server
