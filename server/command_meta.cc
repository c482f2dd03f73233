// The generated Redis 7.0 command table (command_meta.inc) and lookups over it.
// Depends on the C++ standard library only.
#include "server/command_meta.h"

#include <algorithm>
#include <string>

namespace docket::server {
namespace {

using std::string_view_literals::operator""sv;

#include "server/command_meta.inc"

bool NameLess(const CommandMeta& meta, std::string_view name) { return meta.name < name; }

}  // namespace

std::span<const CommandMeta> AllCommandMeta() { return kCommandMetaTable; }

const CommandMeta* FindCommandMeta(std::string_view lowercase_name) {
  std::span<const CommandMeta> all = AllCommandMeta();
  auto it = std::lower_bound(all.begin(), all.end(), lowercase_name, NameLess);
  if (it == all.end() || it->name != lowercase_name) return nullptr;
  return &*it;
}

std::span<const CommandMeta> SubcommandMeta(std::string_view lowercase_parent) {
  std::span<const CommandMeta> all = AllCommandMeta();
  std::string prefix(lowercase_parent);
  prefix += '|';
  auto first = std::lower_bound(all.begin(), all.end(), prefix, NameLess);
  auto last = first;
  while (last != all.end() && last->name.starts_with(prefix)) ++last;
  return {first, last};
}

}  // namespace docket::server
