// list_memory: resident memory per element of storage::ListObject, for comparison with
// redis-server's (INFO memory after the same RPUSHes). Builds either one list of 1,000,000
// elements or 1000 lists of 1000, every element a 16-byte non-numeric string, and prints the
// RSS growth and MemoryUsage() per element. Depends on storage/ only.
//   g++ -std=c++20 -O2 -I. tools/list_memory.cc storage/list.cc storage/number.cc -o list_memory
//   ./list_memory one | ./list_memory many
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storage/list.h"

namespace {

size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// "e" and 15 digits: 16 bytes that are not an integer, all different.
std::string Element(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "e%015zu", i);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  bool many = argc > 1 && std::strcmp(argv[1], "many") == 0;
  size_t lists = many ? 1000 : 1;
  size_t per_list = many ? 1000 : 1000000;
  std::vector<std::unique_ptr<docket::storage::ListObject>> all;
  all.reserve(lists);
  size_t before = ResidentBytes();
  size_t next = 0;
  for (size_t l = 0; l < lists; l++) {
    all.push_back(std::make_unique<docket::storage::ListObject>());
    for (size_t i = 0; i < per_list; i++) all.back()->PushBack(Element(next++));
  }
  size_t after = ResidentBytes();
  size_t usage = 0, nodes = 0;
  for (const auto& l : all) {
    usage += l->MemoryUsage();
    nodes += l->node_count();
  }
  double n = static_cast<double>(next);
  std::printf(
      "%zu list(s) x %zu: RSS +%.2f bytes/element, MemoryUsage %.2f bytes/element, "
      "%zu nodes\n",
      lists, per_list, static_cast<double>(after - before) / n, static_cast<double>(usage) / n,
      nodes);
  return 0;
}
