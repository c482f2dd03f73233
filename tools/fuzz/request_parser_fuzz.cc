// libFuzzer target for protocol/request_parser: the input is a byte stream from a client. It is
// parsed in one piece and again in chunks whose sizes derive from the input; both must give the
// same commands and the same error, and neither may crash, loop or hand out a stale view.
// Depends on protocol/ only.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/request_parser.h"

namespace {

using docket::protocol::ParserLimits;
using docket::protocol::ParseStatus;
using docket::protocol::RequestParser;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // empty when no protocol error
  size_t leftover = 0;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "request_parser_fuzz: %s\n", what);
    abort();
  }
}

// Parses what buf holds from *pos until the parser wants more bytes or fails.
bool Drain(RequestParser& parser, const std::string& buf, size_t* pos, const ParserLimits& limits,
           Outcome* out) {
  std::vector<std::string_view> argv;
  while (true) {
    size_t before = *pos;
    ParseStatus st = parser.Parse(buf, pos, limits, &argv);
    if (st == ParseStatus::kIncomplete) {
      Check(*pos == before, "kIncomplete moved pos");
      return true;
    }
    if (st == ParseStatus::kError) {
      Check(!parser.error().empty(), "kError without a text");
      out->error = parser.error();
      return false;
    }
    Check(*pos > before && *pos <= buf.size(), "kCommand without progress");
    bool multibulk = buf[before] == '*';
    for (std::string_view a : argv) {
      if (multibulk) {  // views into the caller's buffer, inside this command
        Check(a.data() >= buf.data() + before && a.data() + a.size() <= buf.data() + *pos,
              "argument view outside the command");
      }
      Check(a.size() <= static_cast<size_t>(limits.max_bulk_len) || !multibulk,
            "bulk longer than max_bulk_len");
    }
    if (multibulk) Check(argv.size() <= static_cast<size_t>(limits.max_multibulk_len), "argc");
    out->commands.emplace_back(argv.begin(), argv.end());
  }
}

// Feeds the chunks like server/client.cc: append, parse, drop consumed bytes. The buffer is
// rebuilt after every chunk so that a view kept across calls points into freed memory.
Outcome Feed(const std::vector<std::string_view>& chunks, const ParserLimits& limits) {
  RequestParser parser;
  Outcome out;
  std::string buf;
  size_t pos = 0;
  for (std::string_view chunk : chunks) {
    buf.append(chunk);
    if (!Drain(parser, buf, &pos, limits, &out)) return out;
    buf = std::string(buf.substr(pos));
    pos = 0;
  }
  out.leftover = buf.size();
  return out;
}

bool IsSizeError(const std::string& e) { return e.find("too big") != std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t seed = 1469598103934665603ULL;  // FNV-1a of the input picks limits and split points
  for (uint8_t b : input) seed = (seed ^ b) * 1099511628211ULL;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };

  ParserLimits limits;
  limits.authenticated = (seed & 1) != 0;
  // Small limits reach the size errors, which (as in Redis) may fire earlier when the bytes
  // arrive in pieces; large ones make one-shot and chunked parsing exactly equal.
  bool small = (seed & 2) != 0;
  limits.max_inline_len = small ? 16 + seed % 48 : 1 << 20;
  if ((seed & 4) != 0) limits.max_bulk_len = static_cast<int64_t>(seed % 64);
  if ((seed & 8) != 0) limits.max_multibulk_len = static_cast<int64_t>(seed % 16);

  Outcome whole = Feed({input}, limits);

  std::vector<std::string_view> chunks;
  for (size_t at = 0; at < input.size();) {
    size_t n = 1 + next() % ((next() & 1) != 0 ? 4 : 64);
    chunks.push_back(input.substr(at, n));
    at += chunks.back().size();
  }
  Outcome split = Feed(chunks, limits);

  if (IsSizeError(whole.error) || IsSizeError(split.error)) {
    // The chunked parse may stop earlier, but only with a size error, and what it returned
    // before must be a prefix of the one-shot result.
    Check(split.commands.size() <= whole.commands.size(), "chunked parse returned more commands");
    for (size_t i = 0; i < split.commands.size(); i++) {
      Check(split.commands[i] == whole.commands[i], "chunked command differs");
    }
    if (split.commands.size() < whole.commands.size() || split.error != whole.error) {
      Check(IsSizeError(split.error), "chunked parse stopped early without a size error");
    }
    return 0;
  }
  Check(split.commands == whole.commands, "chunked commands differ from one-shot");
  Check(split.error == whole.error, "chunked error differs from one-shot");
  Check(split.leftover == whole.leftover, "chunked leftover differs from one-shot");
  return 0;
}
