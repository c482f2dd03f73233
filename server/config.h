// Server configuration: Redis's parameter names, defaults, validation and error texts, loaded from
// a redis.conf-syntax file and `--name value` arguments, and served by CONFIG GET/SET/REWRITE.
// Depends on std and storage/glob.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace docket::server {

// client-output-buffer-limit classes (Redis's CLIENT_TYPE_NORMAL / SLAVE / PUBSUB) and limits.
enum ClientOutputClass { kObufNormal = 0, kObufReplica = 1, kObufPubsub = 2, kObufClasses = 3 };
struct ClientOutputLimit {
  uint64_t hard_bytes = 0;
  uint64_t soft_bytes = 0;
  int64_t soft_seconds = 0;
};

// The values in force. Fields are read directly by the rest of the server.
struct Config {
  int port = 6379;
  std::vector<std::string> bind = {"*", "-::*"};
  bool protected_mode = true;
  std::string requirepass;
  int64_t maxclients = 10000;
  int64_t timeout = 0;  // seconds idle before a client is closed, 0 = never
  int64_t tcp_keepalive = 300;
  int64_t tcp_backlog = 511;
  int64_t databases = 16;
  int loglevel = 2;  // LogLevel
  std::string logfile;
  std::string dir;
  int64_t hz = 10;
  bool dynamic_hz = true;
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  int64_t client_query_buffer_limit = 1024LL * 1024 * 1024;
  int64_t slowlog_log_slower_than = 10000;
  int64_t slowlog_max_len = 128;
  int64_t latency_monitor_threshold = 0;
  int64_t maxmemory = 0;
  std::string maxmemory_policy = "noeviction";
  std::string pidfile;
  bool daemonize = false;
  std::string unixsocket;
  int64_t unixsocketperm = 0;  // octal in the config file; 0 leaves the umask's mode
  int64_t active_expire_effort = 1;
  bool lazyfree_lazy_user_flush = false;
  int notify_keyspace_events = 0;  // NotifyClass bits (server/pubsub.h)
  ClientOutputLimit client_obuf_limits[kObufClasses] = {
      {0, 0, 0}, {256ULL << 20, 64ULL << 20, 60}, {32ULL << 20, 8ULL << 20, 60}};
  // RDB snapshots are not written (the append-only file is Docket's persistence); `save` is
  // accepted and reported so redis.conf files and clients that read it keep working.
  std::string save = "3600 1 300 100 60 10000";
  bool appendonly = false;
  std::string appendfilename = "appendonly.aof";
  std::string appenddirname = "appendonlydir";
  std::string appendfsync = "everysec";  // always | everysec | no
  bool aof_load_truncated = true;
  int64_t auto_aof_rewrite_percentage = 100;
  int64_t auto_aof_rewrite_min_size = 64LL * 1024 * 1024;
  bool aof_use_rdb_preamble = true;  // accepted; Docket's base files are always RESP
  bool aof_timestamp_enabled = false;
  bool aof_rewrite_incremental_fsync = true;
  bool no_appendfsync_on_rewrite = false;
  std::string enable_debug_command = "no";  // no | yes | local
  int64_t hash_max_listpack_entries = 512;  // hashes: listpack (insertion order) up to these
  int64_t hash_max_listpack_value = 64;
  int64_t set_max_intset_entries = 512;  // sets: intset while all-integer and up to these
  int64_t busy_reply_threshold = 5000;  // ms a script runs before others get -BUSY (0: never)
  int64_t zset_max_listpack_entries = 128;  // sorted sets: listpack up to these
  int64_t zset_max_listpack_value = 64;
  int64_t stream_node_max_bytes = 4096;  // streams: a node closes at these (0 = no limit)
  int64_t stream_node_max_entries = 100;
};

// One parameter: its names, how it reads and writes Config, and whether CONFIG SET may change it.
struct ConfigParam {
  std::string name;
  std::string alias;  // e.g. "lua-time-limit" for "busy-reply-threshold"; may be empty
  bool immutable = false;
  // Parses text into the config; returns an error text (Redis's wording) or "".
  std::function<std::string(Config&, const std::vector<std::string>&)> set;
  std::function<std::string(const Config&)> get;
  // Called after a successful CONFIG SET of this parameter (start logging to a new file, ...).
  std::function<std::string(const Config&)> apply;
  std::string default_value;  // as `get` prints it, for CONFIG REWRITE
  bool quoted = false;        // CONFIG REWRITE writes the value quoted (Redis's string options)
  bool multi_arg = false;     // a config-file line may give several words (bind, save)
};

class ConfigRegistry {
 public:
  ConfigRegistry();

  Config& values() { return config_; }
  const Config& values() const { return config_; }

  // Adds a parameter (later command families register their own).
  void Add(ConfigParam param);
  const ConfigParam* Find(std::string_view name) const;
  // Sets the hook CONFIG SET runs after changing `name` (no-op for an unknown name).
  void SetApply(std::string_view name, std::function<std::string(const Config&)> apply);

  // Start-up: a config file's text plus `--name value ...` arguments. Returns "" or a Redis-like
  // error message for the offending line.
  std::string LoadFile(const std::string& path);
  std::string LoadText(std::string_view text);
  std::string LoadArgs(const std::vector<std::string>& args);

  // CONFIG GET: name/value pairs whose names (or aliases) match any of the glob patterns.
  std::vector<std::pair<std::string, std::string>> Get(
      const std::vector<std::string_view>& patterns) const;
  // CONFIG SET name value [name value ...]: all or nothing. Returns "" or the full error text.
  std::string Set(const std::vector<std::pair<std::string, std::string>>& pairs);
  // CONFIG REWRITE: rewrites the file the server started from. Returns "" or the error text.
  std::string Rewrite() const;

  const std::string& config_file() const { return config_file_; }

 private:
  std::string SetOne(const std::string& name, const std::vector<std::string>& values);

  Config config_;
  std::vector<ConfigParam> params_;
  std::map<std::string, size_t, std::less<>> by_name_;  // names and aliases, lowercase
  std::string config_file_;
};

// Parses Redis memory units: "1k" = 1000, "1kb" = 1024, "1mb", "1gb", ... Returns false on junk.
bool ParseMemory(std::string_view text, int64_t* out);

// Splits one redis.conf line into arguments (sdssplitargs rules).
bool SplitConfigLine(std::string_view line, std::vector<std::string>* out);

}  // namespace docket::server
