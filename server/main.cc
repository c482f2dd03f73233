// docket-server [config-file] [--name value ...]: loads the configuration and runs the server.
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/server.h"

namespace {

void Usage() {
  fprintf(stderr,
          "Usage: ./docket-server [/path/to/redis.conf] [options]\n"
          "       ./docket-server - (read config from stdin)\n"
          "       ./docket-server -v or --version\n"
          "       ./docket-server -h or --help\n\n"
          "Examples:\n"
          "       ./docket-server (run the server with default config)\n"
          "       ./docket-server /etc/docket/6379.conf\n"
          "       ./docket-server --port 7777\n"
          "       ./docket-server /etc/mydocket.conf --loglevel verbose\n");
}

}  // namespace

int main(int argc, char** argv) {
  using docket::server::ConfigRegistry;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "-v" || args[0] == "--version")) {
    printf("Docket server v=%s redis_version=%s\n",
           std::string(docket::server::kDocketVersion).c_str(),
           std::string(docket::server::kRedisVersion).c_str());
    return 0;
  }
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    Usage();
    return 0;
  }
  setlocale(LC_COLLATE, "");  // SORT ALPHA compares with strcoll, as redis-server does
  ConfigRegistry config;
  std::string err;
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    if (args[0] == "-") {
      std::string text, line;
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) text.append(buf, n);
      err = config.LoadText(text);
    } else {
      err = config.LoadFile(args[0]);
    }
    args.erase(args.begin());
  }
  if (err.empty()) err = config.LoadArgs(args);
  if (!err.empty()) {
    fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  // As redis-server: detach, with standard streams on /dev/null (set logfile to keep the log).
  if (config.values().daemonize && daemon(1, 0) != 0) {
    perror("daemonize");
    return 1;
  }
  docket::server::Server server(&config);
  if (!server.Start()) return 1;
  return server.Run();
}
