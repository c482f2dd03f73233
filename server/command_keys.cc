// Key extraction from Redis 7 key specs, mirroring Redis 7.0.15's getKeysUsingKeySpecs and the
// getkeys procs that getKeysFromCommandWithSpecs falls back to when a spec cannot be used.
// Depends on server/command_meta.h and the C++ standard library.
#include "server/command_keys.h"

#include <charconv>
#include <cstdint>
#include <limits>

#include "server/args.h"

namespace docket::server {
namespace {

using Argv = std::span<const std::string_view>;

// True if `word` is one of the space separated words of `words`.
bool HasWord(std::string_view words, std::string_view word) {
  while (!words.empty()) {
    size_t end = words.find(' ');
    if (words.substr(0, end) == word) return true;
    if (end == std::string_view::npos) break;
    words.remove_prefix(end + 1);
  }
  return false;
}

bool SpecHas(const KeySpecMeta& spec, std::string_view flag) { return HasWord(spec.flags, flag); }

bool AnySpecHas(const CommandMeta& meta, std::string_view flag) {
  for (int j = 0; j < meta.key_spec_count; ++j) {
    if (SpecHas(meta.key_specs[j], flag)) return true;
  }
  return false;
}

// Redis's string2ll: "0" or an optional '-' then a digit 1-9 and digits, within long long.
bool ParseStrictInt(std::string_view s, long long* value) {
  if (s == "0") {
    *value = 0;
    return true;
  }
  size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() <= digits || s[digits] < '1' || s[digits] > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

// C's atoi as glibc implements it, (int)strtol(s, NULL, 10): leading white space, an optional
// sign, digits up to the first other byte; out of range values clamp to the long range, and the
// cast to int keeps the low 32 bits. Redis's genericGetKeys reads numkeys this way.
int CAtoi(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
  bool negative = i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  constexpr uint64_t kLimit = uint64_t{1} << 63;  // |LONG_MIN|
  uint64_t magnitude = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    magnitude = magnitude > (kLimit - digit) / 10 ? kLimit : magnitude * 10 + digit;  // saturate
  }
  int64_t value = negative ? (magnitude >= kLimit ? std::numeric_limits<int64_t>::min()
                                                  : -static_cast<int64_t>(magnitude))
                           : (magnitude >= kLimit ? std::numeric_limits<int64_t>::max()
                                                  : static_cast<int64_t>(magnitude));
  return static_cast<int>(static_cast<uint32_t>(value));
}

// The argv index after the spec's keyword, searched from startfrom (negative: from the end,
// backwards) as Redis does, never looking at argv[0] or the last argument when searching forward;
// 0 if the keyword is absent.
int KeywordSearch(const KeySpecMeta& spec, int argc, Argv argv) {
  int start = spec.startfrom > 0 ? spec.startfrom : argc + spec.startfrom;
  int end = spec.startfrom > 0 ? argc - 1 : 1;
  for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
    if (i >= argc || i < 1) break;
    if (EqualsIgnoreCase(argv[i], spec.keyword)) return i + 1;
  }
  return 0;
}

// Applies one spec's find_keys from `first`; false if the spec does not fit argv.
bool FindKeys(const KeySpecMeta& spec, int argc, Argv argv, int first, std::vector<int>* out) {
  int64_t last = 0;
  int step = 0;
  if (spec.find == KeySpecMeta::Find::kRange) {
    step = spec.keystep;
    if (spec.lastkey >= 0) {
      last = int64_t{first} + spec.lastkey;
    } else if (spec.limit == 0) {
      last = int64_t{argc} + spec.lastkey;
    } else {
      last = first + ((argc - first) / spec.limit + spec.lastkey);
    }
  } else if (spec.find == KeySpecMeta::Find::kKeynum) {
    step = spec.keynum_step;
    int64_t numkeys_index = int64_t{first} + spec.keynumidx;
    long long numkeys = 0;
    if (numkeys_index < 0 || numkeys_index >= argc) return false;
    if (!ParseStrictInt(argv[numkeys_index], &numkeys) || numkeys < 0) return false;
    first += spec.firstkey;
    last = int64_t{first} + static_cast<int>(numkeys) - 1;  // Redis casts numkeys to int
  } else {
    return false;
  }
  if (last >= argc || last < first || first >= argc || step <= 0) return false;
  for (int64_t i = first; i <= last; i += step) out->push_back(static_cast<int>(i));
  return true;
}

// getKeysUsingKeySpecs: every spec but "not_key" ones, in order. False on a spec that does not
// fit argv, or an "incomplete" one (Redis then asks the command's getkeys proc).
// With flags, each key found also gets its spec's flags.
bool KeysUsingSpecs(const CommandMeta& meta, Argv argv, std::vector<int>* out,
                    std::vector<std::string_view>* flags = nullptr) {
  int argc = static_cast<int>(argv.size());
  for (int j = 0; j < meta.key_spec_count; ++j) {
    const KeySpecMeta& spec = meta.key_specs[j];
    if (SpecHas(spec, "not_key")) continue;
    int first = 0;
    if (spec.begin == KeySpecMeta::Begin::kIndex) {
      first = spec.index;
    } else if (spec.begin == KeySpecMeta::Begin::kKeyword) {
      first = KeywordSearch(spec, argc, argv);
      if (first == 0) continue;
    } else {
      return false;
    }
    if (!FindKeys(spec, argc, argv, first, out) || SpecHas(spec, "incomplete")) return false;
    if (flags != nullptr) flags->resize(out->size(), spec.flags);
  }
  return true;
}

// genericGetKeys, used by every command with a numkeys spec (EVAL, ZUNIONSTORE, LMPOP, ...):
// numkeys read with atoi, keys first and the destination (ZUNIONSTORE's) last.
bool KeynumProcKeys(const CommandMeta& meta, Argv argv, std::vector<int>* out) {
  int argc = static_cast<int>(argv.size());
  int store = 0;
  for (int j = 0; j < meta.key_spec_count; ++j) {
    const KeySpecMeta& spec = meta.key_specs[j];
    if (spec.begin != KeySpecMeta::Begin::kIndex) continue;
    if (spec.find == KeySpecMeta::Find::kRange && spec.lastkey == 0) store = spec.index;
    if (spec.find != KeySpecMeta::Find::kKeynum) continue;
    int count_pos = spec.index + spec.keynumidx;
    int first = spec.index + spec.firstkey;
    int step = spec.keynum_step;
    if (count_pos >= argc || step <= 0) return false;
    int num = CAtoi(argv[count_pos]);
    if (num < 1 || num > (argc - first) / step) return false;
    for (int i = 0; i < num; ++i) out->push_back(first + i * step);
    if (store != 0) out->push_back(store);
    return true;
  }
  return false;
}

// sortGetKeys: the sorted key, then the argument after the last STORE, skipping the arguments
// of LIMIT (2), GET and BY (1) but not STORE's own.
bool SortProcKeys(const CommandMeta&, Argv argv, std::vector<int>* out) {
  int argc = static_cast<int>(argv.size());
  int store = 0;
  for (int i = 2; i < argc; ++i) {
    if (EqualsIgnoreCase(argv[i], "limit")) {
      i += 2;
    } else if (EqualsIgnoreCase(argv[i], "store") && i + 1 < argc) {
      store = i + 1;
    } else if (EqualsIgnoreCase(argv[i], "get") || EqualsIgnoreCase(argv[i], "by")) {
      i += 1;
    }
  }
  out->push_back(1);
  if (store != 0) out->push_back(store);
  return true;
}

bool SortRoProcKeys(const CommandMeta&, Argv, std::vector<int>* out) {
  out->push_back(1);
  return true;
}

// migrateGetKeys: argv[3], or everything after KEYS (which requires argv[3] to be empty).
bool MigrateProcKeys(const CommandMeta&, Argv argv, std::vector<int>* out) {
  int argc = static_cast<int>(argv.size());
  int first = 3, num = 1;
  for (int i = 6; i < argc; ++i) {
    if (EqualsIgnoreCase(argv[i], "keys")) {
      if (!argv[3].empty()) return false;
      first = i + 1;
      num = argc - first;
      break;
    }
    if (EqualsIgnoreCase(argv[i], "auth")) {
      i += 1;
    } else if (EqualsIgnoreCase(argv[i], "auth2")) {
      i += 2;
    }
  }
  for (int i = 0; i < num; ++i) out->push_back(first + i);
  return num > 0;
}

// xreadGetKeys: the first STREAMS after the options; half of what follows are keys.
bool XReadProcKeys(const CommandMeta&, Argv argv, std::vector<int>* out) {
  int argc = static_cast<int>(argv.size());
  int streams_pos = -1;
  for (int i = 1; i < argc; ++i) {
    if (EqualsIgnoreCase(argv[i], "block") || EqualsIgnoreCase(argv[i], "count")) {
      i += 1;
    } else if (EqualsIgnoreCase(argv[i], "group")) {
      i += 2;
    } else if (EqualsIgnoreCase(argv[i], "streams")) {
      streams_pos = i;
      break;
    } else if (!EqualsIgnoreCase(argv[i], "noack")) {
      break;
    }
  }
  int num = argc - streams_pos - 1;
  if (streams_pos == -1 || num == 0 || num % 2 != 0) return false;
  for (int i = streams_pos + 1; i < argc - num / 2; ++i) out->push_back(i);
  return true;
}

using ProcKeys = bool (*)(const CommandMeta&, Argv, std::vector<int>*);

// The getkeys procs whose result can differ from the specs' (the rest agree with them).
struct NamedProc {
  std::string_view name;
  ProcKeys proc;
};
constexpr NamedProc kNamedProcs[] = {
    {"migrate", MigrateProcKeys}, {"sort", SortProcKeys},        {"sort_ro", SortRoProcKeys},
    {"xread", XReadProcKeys},     {"xreadgroup", XReadProcKeys},
};

bool ProcKeysFor(const CommandMeta& meta, Argv argv, std::vector<int>* out) {
  for (const NamedProc& named : kNamedProcs) {
    if (named.name == meta.name) return named.proc(meta, argv, out);
  }
  return KeynumProcKeys(meta, argv, out);
}

// The flags Redis's getkeys procs give the keys they find (genericGetKeys and xreadGetKeys give
// none).
std::string_view ProcKeyFlags(const CommandMeta& meta, size_t key_index) {
  if (meta.name == "sort") return key_index == 0 ? "RO access" : "OW update";
  if (meta.name == "sort_ro") return "RO access";
  if (meta.name == "migrate") return "RW access delete";
  return "";
}

// setGetKeys and bitfieldGetKeys: the flags of a "variable_flags" key depend on the arguments.
std::string_view VariableKeyFlags(const CommandMeta& meta, Argv argv) {
  int argc = static_cast<int>(argv.size());
  if (meta.name == "set") {
    for (int i = 3; i < argc; ++i) {
      if (EqualsIgnoreCase(argv[i], "get")) return "RW access update";
    }
    return "OW update";
  }
  for (int i = 2; i < argc; ++i) {  // BITFIELD: read-only unless SET, INCRBY or junk appears
    int more = argc - i - 1;
    if (EqualsIgnoreCase(argv[i], "get") && more >= 2) {
      i += 2;
    } else if (EqualsIgnoreCase(argv[i], "overflow") && more >= 1) {
      i += 1;
    } else {
      return "RW access update";
    }
  }
  return "RO access";
}

}  // namespace

bool CommandHasKeys(const CommandMeta& meta) {
  for (int j = 0; j < meta.key_spec_count; ++j) {
    if (!SpecHas(meta.key_specs[j], "not_key")) return true;
  }
  return false;
}

bool GetKeysFromSpecs(const CommandMeta& meta, std::span<const std::string_view> argv,
                      std::vector<int>* positions) {
  positions->clear();
  if (!CommandHasKeys(meta)) return false;
  if (KeysUsingSpecs(meta, argv, positions)) return true;
  positions->clear();
  // Redis answers SET and BITFIELD ("variable_flags" specs) with a getkeys proc that finds the
  // very key their spec describes, so for them a spec that does not fit is the final word.
  if (AnySpecHas(meta, "variable_flags") || !ProcKeysFor(meta, argv, positions)) {
    positions->clear();
    return false;
  }
  return !positions->empty();
}

bool GetKeysAndFlagsFromSpecs(const CommandMeta& meta, std::span<const std::string_view> argv,
                              std::vector<int>* positions, std::vector<std::string_view>* flags) {
  flags->clear();
  if (!GetKeysFromSpecs(meta, argv, positions)) return false;
  std::vector<int> from_specs;
  if (AnySpecHas(meta, "variable_flags")) {
    flags->assign(positions->size(), VariableKeyFlags(meta, argv));
  } else if (!KeysUsingSpecs(meta, argv, &from_specs, flags)) {  // a getkeys proc found them
    flags->clear();
    for (size_t i = 0; i < positions->size(); ++i) flags->push_back(ProcKeyFlags(meta, i));
  }
  return true;
}

}  // namespace docket::server
