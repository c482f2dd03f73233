// The integration-test runner: doctest's main, with SIGPIPE ignored (a test may write to a
// connection the server has closed) and the server binary taken from DOCKET_SERVER.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const char* server = getenv("DOCKET_SERVER");
  if (server == nullptr || access(server, X_OK) != 0) {
    fprintf(stderr, "DOCKET_SERVER must name the server binary to test (got %s)\n",
            server != nullptr ? server : "nothing");
    return 2;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
