// Configuration parameters, their parsing and Redis 7's error texts for CONFIG SET and start-up.
#include "server/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "protocol/request_parser.h"
#include "server/pubsub.h"
#include "storage/glob.h"
#include "storage/number.h"

namespace docket::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back(' ');
    out += p;
  }
  return out;
}

ConfigParam BoolParam(std::string name, bool Config::*field, bool def) {
  ConfigParam p;
  p.name = std::move(name);
  p.set = [field](Config& c, const std::vector<std::string>& v) -> std::string {
    std::string s = Lower(v[0]);
    if (s == "yes") {
      c.*field = true;
    } else if (s == "no") {
      c.*field = false;
    } else {
      return "argument must be 'yes' or 'no'";
    }
    return "";
  };
  p.get = [field](const Config& c) { return std::string(c.*field ? "yes" : "no"); };
  p.default_value = def ? "yes" : "no";
  return p;
}

ConfigParam IntParam(std::string name, int64_t Config::*field, int64_t min, int64_t max,
                     int64_t def, bool memory = false) {
  ConfigParam p;
  p.name = std::move(name);
  p.set = [=](Config& c, const std::vector<std::string>& v) -> std::string {
    int64_t n;
    if (memory) {
      if (!ParseMemory(v[0], &n)) return "argument must be a memory value";
    } else if (!storage::StringToInt64(v[0], &n)) {
      return "argument couldn't be parsed into an integer";
    }
    if (n < min || n > max) {
      return "argument must be between " + std::to_string(min) + " and " + std::to_string(max) +
             " inclusive";
    }
    c.*field = n;
    return "";
  };
  p.get = [field](const Config& c) { return std::to_string(c.*field); };
  p.default_value = std::to_string(def);
  return p;
}

ConfigParam EnumParam(std::string name, std::string Config::*field,
                      std::vector<std::string> choices, std::string def) {
  ConfigParam p;
  p.name = std::move(name);
  p.set = [=](Config& c, const std::vector<std::string>& v) -> std::string {
    std::string s = Lower(v[0]);
    if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
      std::string list;
      for (const auto& ch : choices) list += (list.empty() ? "" : ", ") + ch;
      return "argument(s) must be one of the following: " + list;
    }
    c.*field = s;
    return "";
  };
  p.get = [field](const Config& c) { return c.*field; };
  p.default_value = std::move(def);
  return p;
}

ConfigParam StringParam(std::string name, std::string Config::*field, bool immutable) {
  ConfigParam p;
  p.name = std::move(name);
  p.immutable = immutable;
  p.set = [field](Config& c, const std::vector<std::string>& v) -> std::string {
    c.*field = v[0];
    return "";
  };
  p.get = [field](const Config& c) { return c.*field; };
  p.quoted = true;
  return p;
}

// Writes a value as Redis's sdscatrepr does: quoted, with escapes for non-printable bytes.
std::string QuoteValue(std::string_view v) {
  std::string out = "\"";
  for (unsigned char ch : v) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (isprint(ch)) {
          out.push_back(static_cast<char>(ch));
        } else {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\x%02x", ch);
          out += buf;
        }
    }
  }
  out += "\"";
  return out;
}

// unixsocketperm: an octal mode (Redis parses it with strtol base 8), immutable.
ConfigParam UnixSocketPermParam() {
  ConfigParam p;
  p.name = "unixsocketperm";
  p.immutable = true;
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    char* end = nullptr;
    errno = 0;
    long mode = strtol(v[0].c_str(), &end, 8);
    if (v[0].empty() || *end != '\0' || errno != 0 || mode < 0 || mode > 0777) {
      return "argument must be between 0 and 777 inclusive";
    }
    c.unixsocketperm = mode;
    return "";
  };
  p.get = [](const Config& c) {
    char buf[16];
    snprintf(buf, sizeof(buf), "%lo", static_cast<long>(c.unixsocketperm));
    return std::string(buf);
  };
  p.default_value = "0";
  return p;
}

ConfigParam LogLevelParam() {
  // Redis 7.0 has no "nothing" level (7.2 added it).
  static const std::vector<std::string> kLevels = {"debug", "verbose", "notice", "warning"};
  ConfigParam p;
  p.name = "loglevel";
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    std::string s = Lower(v[0]);
    for (size_t i = 0; i < kLevels.size(); i++) {
      if (s == kLevels[i]) {
        c.loglevel = static_cast<int>(i);
        return "";
      }
    }
    return "argument(s) must be one of the following: debug, verbose, notice, warning";
  };
  p.get = [](const Config& c) { return kLevels[c.loglevel]; };
  p.default_value = "notice";
  return p;
}

ConfigParam BindParam() {
  ConfigParam p;
  p.name = "bind";
  p.multi_arg = true;
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    std::vector<std::string> addrs;
    for (const auto& arg : v) {
      std::istringstream in(arg);
      std::string a;
      while (in >> a) addrs.push_back(a);
    }
    if (addrs.size() > 16) return "Too many bind addresses specified.";
    c.bind = addrs;
    return "";
  };
  p.get = [](const Config& c) { return Join(c.bind); };
  p.default_value = "* -::*";
  return p;
}

ConfigParam HzParam() {
  ConfigParam p = IntParam("hz", &Config::hz, 0, INT_MAX, 10);
  auto parse = p.set;
  p.set = [parse](Config& c, const std::vector<std::string>& v) -> std::string {
    std::string err = parse(c, v);
    c.hz = std::clamp<int64_t>(c.hz, 1, 500);  // CONFIG_MIN_HZ .. CONFIG_MAX_HZ
    return err;
  };
  return p;
}

ConfigParam DirParam() {
  ConfigParam p;
  p.name = "dir";
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    if (chdir(v[0].c_str()) != 0) return strerror(errno);
    char buf[PATH_MAX];
    c.dir = getcwd(buf, sizeof(buf)) != nullptr ? buf : v[0];
    return "";
  };
  p.get = [](const Config& c) { return c.dir; };
  return p;
}

}  // namespace

bool ParseMemory(std::string_view text, int64_t* out) {
  std::string s = Lower(text);
  size_t digits = 0;
  while (digits < s.size() &&
         (isdigit(static_cast<unsigned char>(s[digits])) || (digits == 0 && s[0] == '-'))) {
    digits++;
  }
  std::string unit = s.substr(digits);
  int64_t mul;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000LL * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024LL * 1024 * 1024;
  } else {
    return false;
  }
  int64_t n;
  if (!storage::StringToInt64(std::string_view(s).substr(0, digits), &n)) return false;
  if (n < 0 || (n > 0 && mul > INT64_MAX / n)) return false;
  *out = n * mul;
  return true;
}

bool SplitConfigLine(std::string_view line, std::vector<std::string>* out) {
  return protocol::SplitInlineArgs(line, out);
}

ConfigRegistry::ConfigRegistry() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) != nullptr) config_.dir = buf;
  ConfigParam port = IntParam("port", nullptr, 0, 65535, 6379);
  Add(IntParam("maxclients", &Config::maxclients, 1, 4294967295LL, 10000));
  Add(IntParam("timeout", &Config::timeout, 0, INT_MAX, 0));
  Add(IntParam("tcp-keepalive", &Config::tcp_keepalive, 0, INT_MAX, 300));
  ConfigParam backlog = IntParam("tcp-backlog", &Config::tcp_backlog, 0, INT_MAX, 511);
  backlog.immutable = true;
  Add(backlog);
  ConfigParam dbs = IntParam("databases", &Config::databases, 1, INT_MAX, 16);
  dbs.immutable = true;
  Add(dbs);
  Add(HzParam());
  Add(BoolParam("dynamic-hz", &Config::dynamic_hz, true));
  Add(IntParam("proto-max-bulk-len", &Config::proto_max_bulk_len, 1024 * 1024, INT64_MAX,
               512LL * 1024 * 1024, true));
  Add(IntParam("client-query-buffer-limit", &Config::client_query_buffer_limit, 1024 * 1024,
               INT64_MAX, 1024LL * 1024 * 1024, true));
  Add(IntParam("slowlog-log-slower-than", &Config::slowlog_log_slower_than, -1, INT64_MAX, 10000));
  Add(IntParam("slowlog-max-len", &Config::slowlog_max_len, 0, INT64_MAX, 128));
  Add(IntParam("latency-monitor-threshold", &Config::latency_monitor_threshold, 0, INT64_MAX, 0));
  Add(IntParam("maxmemory", &Config::maxmemory, 0, INT64_MAX, 0, true));
  Add(EnumParam("maxmemory-policy", &Config::maxmemory_policy,
                {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
                 "allkeys-lfu", "allkeys-random", "noeviction"},
                "noeviction"));
  Add(IntParam("active-expire-effort", &Config::active_expire_effort, 1, 10, 1));
  Add(BoolParam("lazyfree-lazy-user-flush", &Config::lazyfree_lazy_user_flush, false));
  Add(BoolParam("protected-mode", &Config::protected_mode, true));
  Add(StringParam("requirepass", &Config::requirepass, false));
  Add(StringParam("logfile", &Config::logfile, true));
  Add(StringParam("pidfile", &Config::pidfile, true));
  Add(StringParam("unixsocket", &Config::unixsocket, true));
  Add(UnixSocketPermParam());
  ConfigParam daemonize = BoolParam("daemonize", &Config::daemonize, false);
  daemonize.immutable = true;
  Add(daemonize);
  Add(LogLevelParam());
  ConfigParam debug_cmd = EnumParam("enable-debug-command", &Config::enable_debug_command,
                                    {"no", "yes", "local"}, "no");
  debug_cmd.immutable = true;
  Add(debug_cmd);
  ConfigParam save = StringParam("save", &Config::save, false);
  save.quoted = false;  // Redis writes "save 3600 1 300 100"
  save.multi_arg = true;
  save.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    c.save = Join(v);
    return "";
  };
  Add(save);
  Add(BoolParam("appendonly", &Config::appendonly, false));
  Add(EnumParam("appendfsync", &Config::appendfsync, {"always", "everysec", "no"}, "everysec"));
  Add(BoolParam("aof-load-truncated", &Config::aof_load_truncated, true));
  Add(IntParam("auto-aof-rewrite-percentage", &Config::auto_aof_rewrite_percentage, 0, INT_MAX,
               100));
  Add(IntParam("auto-aof-rewrite-min-size", &Config::auto_aof_rewrite_min_size, 0, INT64_MAX,
               64LL * 1024 * 1024, true));
  Add(BoolParam("aof-use-rdb-preamble", &Config::aof_use_rdb_preamble, true));
  Add(BoolParam("aof-rewrite-incremental-fsync", &Config::aof_rewrite_incremental_fsync, true));
  Add(BoolParam("no-appendfsync-on-rewrite", &Config::no_appendfsync_on_rewrite, false));
  ConfigParam timestamps =
      BoolParam("aof-timestamp-enabled", &Config::aof_timestamp_enabled, false);
  auto parse_timestamps = timestamps.set;
  timestamps.set = [parse_timestamps](Config& c, const std::vector<std::string>& v) {
    std::string err = parse_timestamps(c, v);
    if (err.empty() && c.aof_timestamp_enabled) {
      c.aof_timestamp_enabled = false;
      return std::string("aof-timestamp-enabled yes is not supported by Docket");
    }
    return err;
  };
  Add(timestamps);
  Add(StringParam("appendfilename", &Config::appendfilename, true));
  Add(StringParam("appenddirname", &Config::appenddirname, true));
  ConfigParam hash_entries =
      IntParam("hash-max-listpack-entries", &Config::hash_max_listpack_entries, 0, LONG_MAX, 512);
  hash_entries.alias = "hash-max-ziplist-entries";
  Add(hash_entries);
  ConfigParam hash_value =
      IntParam("hash-max-listpack-value", &Config::hash_max_listpack_value, 0, LONG_MAX, 64, true);
  hash_value.alias = "hash-max-ziplist-value";
  Add(hash_value);
  Add(IntParam("set-max-intset-entries", &Config::set_max_intset_entries, 0, LONG_MAX, 512));
  ConfigParam busy = IntParam("busy-reply-threshold", &Config::busy_reply_threshold, 0, LONG_MAX, 5000);
  busy.alias = "lua-time-limit";
  Add(busy);
  ConfigParam zset_entries =
      IntParam("zset-max-listpack-entries", &Config::zset_max_listpack_entries, 0, LONG_MAX, 128);
  zset_entries.alias = "zset-max-ziplist-entries";
  Add(zset_entries);
  ConfigParam zset_value =
      IntParam("zset-max-listpack-value", &Config::zset_max_listpack_value, 0, LONG_MAX, 64, true);
  zset_value.alias = "zset-max-ziplist-value";
  Add(zset_value);
  Add(IntParam("stream-node-max-bytes", &Config::stream_node_max_bytes, 0, LONG_MAX, 4096, true));
  Add(IntParam("stream-node-max-entries", &Config::stream_node_max_entries, 0, LLONG_MAX, 100));
  Add(BindParam());
  Add(DirParam());
  Add(NotifyKeyspaceEventsParam());
  Add(ClientOutputBufferLimitParam());
  // port is an int, not int64: bind its accessors by hand.
  port.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    int64_t n;
    if (!storage::StringToInt64(v[0], &n)) return "argument couldn't be parsed into an integer";
    if (n < 0 || n > 65535) return "argument must be between 0 and 65535 inclusive";
    c.port = static_cast<int>(n);
    return "";
  };
  port.get = [](const Config& c) { return std::to_string(c.port); };
  Add(port);
}

void ConfigRegistry::Add(ConfigParam param) {
  by_name_[param.name] = params_.size();
  if (!param.alias.empty()) by_name_[param.alias] = params_.size();
  if (param.default_value.empty() && param.get) param.default_value = param.get(config_);
  params_.push_back(std::move(param));
}

void ConfigRegistry::SetApply(std::string_view name,
                              std::function<std::string(const Config&)> apply) {
  auto it = by_name_.find(Lower(name));
  if (it != by_name_.end()) params_[it->second].apply = std::move(apply);
}

const ConfigParam* ConfigRegistry::Find(std::string_view name) const {
  auto it = by_name_.find(Lower(name));
  return it == by_name_.end() ? nullptr : &params_[it->second];
}

std::string ConfigRegistry::SetOne(const std::string& name,
                                   const std::vector<std::string>& values) {
  const ConfigParam* p = Find(name);
  if (p == nullptr) return "Bad directive or wrong number of arguments";
  if (values.empty() || (!p->multi_arg && values.size() != 1)) return "wrong number of arguments";
  return p->set(config_, values);
}

std::string ConfigRegistry::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "Fatal error, can't open config file '" + path + "': " + strerror(errno);
  char buf[PATH_MAX];
  config_file_ = realpath(path.c_str(), buf) != nullptr ? buf : path;
  std::stringstream text;
  text << in.rdbuf();
  return LoadText(text.str());
}

std::string ConfigRegistry::LoadText(std::string_view text) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line_no++;
    while (!line.empty() && isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    while (!line.empty() && isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> args;
    std::string err;
    if (!SplitConfigLine(line, &args)) {
      err = "Unbalanced quotes in configuration line";
    } else if (!args.empty()) {
      std::vector<std::string> values(args.begin() + 1, args.end());
      err = SetOne(args[0], values);
    }
    if (!err.empty()) {
      return "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at "
             "line " +
             std::to_string(line_no) + "\n>>> '" + std::string(line) + "'\n" + err;
    }
  }
  return "";
}

std::string ConfigRegistry::LoadArgs(const std::vector<std::string>& args) {
  // Like Redis: each "--name" starts a line, the words after it are its quoted values.
  std::string text;
  for (const std::string& a : args) {
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      if (!text.empty()) text.push_back('\n');
      text += a.substr(2);
    } else {
      text += " \"";
      for (char c : a) {
        if (c == '"' || c == '\\') text.push_back('\\');
        text.push_back(c);
      }
      text += "\"";
    }
  }
  return LoadText(text);
}

std::vector<std::pair<std::string, std::string>> ConfigRegistry::Get(
    const std::vector<std::string_view>& patterns) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ConfigParam& p : params_) {
    for (const std::string& name : {p.name, p.alias}) {
      if (name.empty()) continue;
      bool match = std::any_of(patterns.begin(), patterns.end(), [&](std::string_view pat) {
        return storage::GlobMatch(pat, name, true);
      });
      if (match) out.emplace_back(name, p.get(config_));
    }
  }
  return out;
}

std::string ConfigRegistry::Set(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<const ConfigParam*> found;
  for (const auto& [name, value] : pairs) {
    const ConfigParam* p = Find(name);
    if (p == nullptr)
      return "Unknown option or number of arguments for CONFIG SET - '" + name + "'";
    std::string failure = "CONFIG SET failed (possibly related to argument '" + name + "') - ";
    if (p->immutable) return failure + "can't set immutable config";
    if (std::find(found.begin(), found.end(), p) != found.end()) {
      return failure + "duplicate parameter";
    }
    found.push_back(p);
  }
  // All or nothing: apply to a copy, then swap in and run the apply hooks.
  Config next = config_;
  for (size_t i = 0; i < pairs.size(); i++) {
    std::string err = found[i]->set(next, {pairs[i].second});
    if (!err.empty()) {
      return "CONFIG SET failed (possibly related to argument '" + pairs[i].first + "') - " + err;
    }
  }
  Config previous = config_;
  config_ = next;
  for (size_t i = 0; i < pairs.size(); i++) {
    if (!found[i]->apply) continue;
    std::string err = found[i]->apply(config_);
    if (!err.empty()) {
      config_ = previous;
      for (size_t j = 0; j <= i; j++) {
        if (found[j]->apply) found[j]->apply(config_);
      }
      return "CONFIG SET failed (possibly related to argument '" + pairs[i].first + "') - " + err;
    }
  }
  return "";
}

std::string ConfigRegistry::Rewrite() const {
  if (config_file_.empty()) return "The server is running without a config file";
  std::vector<std::string> lines;
  {
    std::ifstream in(config_file_);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  std::vector<bool> written(params_.size(), false);
  std::vector<std::string> out;
  for (const std::string& line : lines) {
    std::vector<std::string> args;
    const ConfigParam* p = nullptr;
    if (!line.empty() && line[0] != '#' && SplitConfigLine(line, &args) && !args.empty()) {
      p = Find(args[0]);
    }
    if (p == nullptr) {
      if (line != "# Generated by CONFIG REWRITE") out.push_back(line);
      continue;
    }
    size_t idx = p - params_.data();
    if (written[idx]) continue;  // a later duplicate: the rewritten line replaces them all
    written[idx] = true;
    out.push_back(p->name + " " + (p->quoted ? QuoteValue(p->get(config_)) : p->get(config_)));
  }
  bool header = false;
  for (size_t i = 0; i < params_.size(); i++) {
    const ConfigParam& p = params_[i];
    if (written[i] || p.get(config_) == p.default_value) continue;
    if (!header) out.push_back("# Generated by CONFIG REWRITE");
    header = true;
    std::string value = p.get(config_);
    out.push_back(p.name + " " + (p.quoted || value.empty() ? QuoteValue(value) : value));
  }
  std::string tmp = config_file_ + ".tmp-rewrite";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return std::string("Rewriting config file: ") + strerror(errno);
  std::string text;
  for (const auto& l : out) text += l + "\n";
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), config_file_.c_str()) != 0) {
    unlink(tmp.c_str());
    return std::string("Rewriting config file: ") + strerror(errno);
  }
  return "";
}

}  // namespace docket::server
