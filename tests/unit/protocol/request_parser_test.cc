// Tests for protocol/request_parser: multibulk and inline parsing, sdssplitargs quoting, empty
// commands, every protocol error text, the limits passed in through ParserLimits, and big bulks.
// Every input is parsed whole and split at every byte offset; both must give the same result.
// Expected behaviour was checked against redis-server 7.0.15 over raw sockets.
#include "protocol/request_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace docket::protocol {
namespace {

using namespace std::literals;
using Argv = std::vector<std::string>;

// What a client sees after feeding some chunks: the commands (empty ones included), the error (if
// any) and how many bytes are left unconsumed.
struct Outcome {
  std::vector<Argv> commands;
  bool error = false;
  std::string error_text;
  size_t leftover = 0;
  bool in_progress = false;

  bool operator==(const Outcome&) const = default;
};

// Feeds chunks the way server/client.cc does: append, parse until incomplete, then drop the
// consumed bytes. The buffer is copied after every chunk so that a view kept across calls (a bug)
// points into freed memory and shows up under ASan.
Outcome Feed(const std::vector<std::string_view>& chunks, const ParserLimits& limits = {}) {
  RequestParser parser;
  std::string buf;
  size_t pos = 0;
  Outcome out;
  std::vector<std::string_view> argv;
  for (std::string_view chunk : chunks) {
    buf.append(chunk);
    while (true) {
      ParseStatus st = parser.Parse(buf, &pos, limits, &argv);
      if (st == ParseStatus::kIncomplete) break;
      if (st == ParseStatus::kError) {
        out.error = true;
        out.error_text = parser.error();
        return out;  // the connection closes; what is left unread does not matter
      }
      out.commands.emplace_back(argv.begin(), argv.end());
    }
    buf = std::string(buf.substr(pos));
    pos = 0;
  }
  out.leftover = buf.size();
  out.in_progress = parser.InProgress();
  return out;
}

Outcome ParseWhole(std::string_view input, const ParserLimits& limits = {}) {
  return Feed({input}, limits);
}

std::string Describe(const Outcome& o) {
  std::string s = "commands:";
  for (const Argv& a : o.commands) {
    s += " [";
    for (const std::string& x : a) s += "'" + x + "' ";
    s += "]";
  }
  if (o.error) s += " error: " + o.error_text;
  s += " leftover: " + std::to_string(o.leftover);
  return s;
}

// Parses input whole, split once at every offset, split twice at every pair of offsets (short
// inputs), and one byte at a time; all must agree. Returns the whole-parse outcome.
Outcome ParseEverySplit(std::string_view input, const ParserLimits& limits = {}) {
  Outcome whole = ParseWhole(input, limits);
  for (size_t i = 0; i <= input.size(); i++) {
    Outcome split = Feed({input.substr(0, i), input.substr(i)}, limits);
    INFO("split at ", i, " of ", Describe(whole));
    REQUIRE(split == whole);
  }
  if (input.size() <= 120) {
    for (size_t i = 0; i <= input.size(); i++) {
      for (size_t j = i; j <= input.size(); j++) {
        Outcome split = Feed({input.substr(0, i), input.substr(i, j - i), input.substr(j)}, limits);
        INFO("split at ", i, " and ", j, " of ", Describe(whole));
        REQUIRE(split == whole);
      }
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); i++) bytes.push_back(input.substr(i, 1));
  Outcome one_by_one = Feed(bytes, limits);
  INFO("byte by byte of ", Describe(whole));
  REQUIRE(one_by_one == whole);
  return whole;
}

std::string Multibulk(const Argv& argv) {
  std::string s = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

}  // namespace

TEST_CASE("multibulk commands") {
  SUBCASE("one command") {
    Outcome o = ParseEverySplit("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n");
    CHECK(o.commands == std::vector<Argv>{{"SET", "k", "value"}});
    CHECK_FALSE(o.error);
    CHECK(o.leftover == 0);
  }
  SUBCASE("binary-safe bulks: CR, LF and NUL inside, empty bulk") {
    std::string input = Multibulk({"SET", "a\r\nb\0c"s, ""});
    Outcome o = ParseEverySplit(input);
    CHECK(o.commands == std::vector<Argv>{{"SET", "a\r\nb\0c"s, ""}});
  }
  SUBCASE("pipelined commands, a partial one left over") {
    std::string input = Multibulk({"PING"}) + Multibulk({"ECHO", "hi"}) + "*2\r\n$3\r\nGET\r\n$1";
    Outcome o = ParseEverySplit(input);
    CHECK(o.commands == std::vector<Argv>{{"PING"}, {"ECHO", "hi"}});
    CHECK(o.leftover == 15);
    CHECK(o.in_progress);
  }
  SUBCASE("the two bytes after a bulk are skipped, not checked") {
    Outcome o = ParseEverySplit("*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n");
    CHECK(o.commands == std::vector<Argv>{{"PING"}, {"PING"}});
  }
  SUBCASE("a bulk needs both trailing bytes before it completes") {
    Outcome o = ParseEverySplit("*1\r\n$4\r\nPING\n");
    CHECK(o.commands.empty());
    CHECK(o.leftover == 13);
  }
  SUBCASE("the header line needs the byte after CR, which is not checked") {
    Outcome o = ParseEverySplit("*1\rX$4\r\nPING\r\n");
    CHECK(o.commands == std::vector<Argv>{{"PING"}});
  }
  SUBCASE("argv views point into the caller's buffer") {
    std::string buf = Multibulk({"ECHO", "hello"});
    RequestParser parser;
    size_t pos = 0;
    std::vector<std::string_view> argv;
    REQUIRE(parser.Parse(buf, &pos, {}, &argv) == ParseStatus::kCommand);
    REQUIRE(argv.size() == 2);
    CHECK(argv[1].data() >= buf.data());
    CHECK(argv[1].data() + argv[1].size() <= buf.data() + buf.size());
    CHECK(pos == buf.size());
  }
  SUBCASE("parsing starts at *pos") {
    std::string buf = "garbage" + Multibulk({"PING"});
    RequestParser parser;
    size_t pos = 7;
    std::vector<std::string_view> argv;
    REQUIRE(parser.Parse(buf, &pos, {}, &argv) == ParseStatus::kCommand);
    CHECK(argv == std::vector<std::string_view>{"PING"});
    CHECK(pos == buf.size());
    CHECK(parser.Parse(buf, &pos, {}, &argv) == ParseStatus::kIncomplete);
    CHECK(argv.empty());
  }
}

TEST_CASE("empty commands are consumed and give an empty argv") {
  Outcome o = ParseEverySplit("*0\r\n*-1\r\n*-5\r\n\r\n\n   \t \r\nPING\r\n");
  CHECK(o.commands == std::vector<Argv>{{}, {}, {}, {}, {}, {}, {"PING"}});
  CHECK(o.leftover == 0);
  CHECK_FALSE(o.error);
}

TEST_CASE("inline commands") {
  struct Case {
    std::string_view line;
    Argv argv;
  };
  const Case kCases[] = {
      {"PING\r\n", {"PING"}},
      {"PING\n", {"PING"}},
      {"ECHO x\r\r\n", {"ECHO", "x"}},  // only one CR is stripped; the other is a blank
      {"  \t SET\t\tk   v  \r\n", {"SET", "k", "v"}},
      {"ECHO a\vb\r\n", {"ECHO", "a\vb"}},  // \v does not end an unquoted token
      {"ECHO \"a\"\v\r\n", {"ECHO", "a"}},  // ... but counts as a blank after a quote
      {"ECHO \"hello world\"\r\n", {"ECHO", "hello world"}},
      {"ECHO \"\"\r\n", {"ECHO", ""}},
      {"ECHO ''\r\n", {"ECHO", ""}},
      {"ECHO \"a\\x41\\x4g\"\r\n", {"ECHO", "aAx4g"}},
      {"ECHO \"\\x\"\r\n", {"ECHO", "x"}},
      {"ECHO \"\\x4\"\r\n", {"ECHO", "x4"}},
      {"ECHO \"\\xff\\x00z\"\r\n", {"ECHO", "\xff\0z"s}},
      {"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", {"ECHO", "\n\r\t\b\a\\\"q"}},
      {"ECHO 'a\\'b'\r\n", {"ECHO", "a'b"}},
      {"ECHO 'a\\nb\"'\r\n", {"ECHO", "a\\nb\""}},
      {"ECHO a\"b c\" d\r\n", {"ECHO", "ab c", "d"}},  // a quote inside a token opens a quote
      {"ECHO a'b c' d\r\n", {"ECHO", "ab c", "d"}},
      {"ECHO \"a\"\t'b'\r\n", {"ECHO", "a", "b"}},
  };
  for (const Case& c : kCases) {
    INFO("line: ", std::string(c.line));
    Outcome o = ParseEverySplit(c.line);
    CHECK_FALSE(o.error);
    CHECK(o.commands == std::vector<Argv>{c.argv});
    CHECK(o.leftover == 0);
  }
}

TEST_CASE("inline and multibulk mixed in one stream") {
  std::string input = "SET a 1\r\n" + Multibulk({"GET", "a"}) + "\r\nDEL a\n" + Multibulk({});
  Outcome o = ParseEverySplit(input);
  CHECK(o.commands == std::vector<Argv>{{"SET", "a", "1"}, {"GET", "a"}, {}, {"DEL", "a"}, {}});
}

TEST_CASE("a NUL hides the line end, as Redis's strchr does") {
  // Redis 7.0.15 waits for more input here, until the buffer passes the inline limit.
  CHECK(ParseEverySplit("PING\0\r\n"sv).leftover == 7);
  CHECK(ParseEverySplit("*1\0\r\n"sv).commands.empty());
  CHECK(ParseEverySplit("*1\r\n\0\r\n"sv).commands.empty());
  CHECK(ParseEverySplit("*1\r\n$1\0\r\nx\r\n"sv).commands.empty());
  ParserLimits small;
  small.max_inline_len = 16;
  CHECK(ParseWhole("PING\0\r\n0123456789abcdef"sv, small).error_text ==
        "Protocol error: too big inline request");
  CHECK(ParseWhole("*1\r\n$1\0\r\nx\r\n0123456789abcdef"sv, small).error_text ==
        "Protocol error: too big bulk count string");
}

TEST_CASE("SplitInlineArgs follows sdssplitargs") {
  Argv out;
  CHECK(SplitInlineArgs("", &out));
  CHECK(out.empty());
  CHECK(SplitInlineArgs(" \t\v\f ", &out));
  CHECK(out.empty());
  CHECK(SplitInlineArgs("a \"b c\" 'd'", &out));
  CHECK(out == Argv{"a", "b c", "d"});
  CHECK(SplitInlineArgs("a\0b c"sv, &out));  // a C string: the NUL ends the line
  CHECK(out == Argv{"a"});
  const std::string_view kUnbalanced[] = {
      "\"abc", "'abc", "\"a\"b", "'a'b", "a\"b c\"d", "\"\\\"", "'\\\\'", "\"\\x\"\\", "x \"",
  };
  for (std::string_view line : kUnbalanced) {
    INFO("line: ", std::string(line));
    out = {"stale"};
    CHECK_FALSE(SplitInlineArgs(line, &out));
    CHECK(out.empty());
  }
}

TEST_CASE("protocol errors, exact texts") {
  struct Case {
    std::string_view input;
    std::string_view error;
  };
  const Case kCases[] = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*-0\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"* 1\r\n", "Protocol error: invalid multibulk length"},
      {"*1 \r\n", "Protocol error: invalid multibulk length"},
      {"*2147483648\r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$+1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$01\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"},
      {"*2\r\n$4\r\nECHO\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"*1\r\n\n\r\n", "Protocol error: expected '$', got '\n'"},
      {"PING \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
      {"ECHO \"\r\n", "Protocol error: unbalanced quotes in request"},
      {"ECHO 'abc\r\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const Case& c : kCases) {
    INFO("input: ", std::string(c.input));
    Outcome o = ParseEverySplit(c.input);
    CHECK(o.error);
    CHECK(o.error_text == c.error);
    CHECK(o.commands.empty());
  }
  SUBCASE("commands before the error are still returned") {
    Outcome o = ParseEverySplit(Multibulk({"PING"}) + "PING\r\n*1\r\n$x\r\n");
    CHECK(o.commands == std::vector<Argv>{{"PING"}, {"PING"}});
    CHECK(o.error_text == "Protocol error: invalid bulk length");
  }
}

TEST_CASE("size limits with Redis's defaults") {
  SUBCASE("too big inline request") {
    std::string input(64 * 1024 + 1, 'x');
    CHECK(ParseWhole(input).error_text == "Protocol error: too big inline request");
    input.pop_back();
    CHECK_FALSE(ParseWhole(input).error);  // at the limit: still waiting for the newline
    input += "\r\n";
    Outcome o = ParseWhole(input);  // a complete line longer than the limit is accepted
    CHECK_FALSE(o.error);
    CHECK(o.commands.size() == 1);
  }
  SUBCASE("too big mbulk count string") {
    std::string input = "*" + std::string(64 * 1024, '1');
    CHECK(ParseWhole(input).error_text == "Protocol error: too big mbulk count string");
  }
  SUBCASE("too big bulk count string") {
    std::string input = "*1\r\n$" + std::string(64 * 1024, '1');
    CHECK(ParseWhole(input).error_text == "Protocol error: too big bulk count string");
  }
  SUBCASE("the largest accepted lengths wait for their data") {
    for (std::string_view input : {"*2147483647\r\n"sv, "*1\r\n$536870912\r\n"sv}) {
      Outcome o = ParseWhole(input);
      CHECK_FALSE(o.error);
      CHECK(o.commands.empty());
      CHECK(o.in_progress);
    }
  }
}

TEST_CASE("limits passed in through ParserLimits") {
  ParserLimits limits;
  SUBCASE("max_bulk_len (proto-max-bulk-len)") {
    limits.max_bulk_len = 5;
    CHECK(ParseEverySplit(Multibulk({"ECHO", "12345"}), limits).commands.size() == 1);
    CHECK(ParseEverySplit(Multibulk({"ECHO", "123456"}), limits).error_text ==
          "Protocol error: invalid bulk length");
  }
  SUBCASE("max_multibulk_len") {
    limits.max_multibulk_len = 2;
    CHECK(ParseEverySplit(Multibulk({"ECHO", "a"}), limits).commands.size() == 1);
    CHECK(ParseEverySplit(Multibulk({"ECHO", "a", "b"}), limits).error_text ==
          "Protocol error: invalid multibulk length");
  }
  SUBCASE("max_inline_len") {
    limits.max_inline_len = 8;
    CHECK(ParseWhole("PING 1234", limits).error_text == "Protocol error: too big inline request");
    CHECK(ParseWhole("PING 123", limits).commands.empty());
    CHECK(ParseWhole("*12345678", limits).error_text ==
          "Protocol error: too big mbulk count string");
    CHECK(ParseWhole("*1\r\n$12345678", limits).error_text ==
          "Protocol error: too big bulk count string");
  }
  SUBCASE("unauthenticated multibulk length") {
    limits.authenticated = false;
    Argv ten(10, "x");
    CHECK(ParseEverySplit(Multibulk(ten), limits).commands == std::vector<Argv>{ten});
    CHECK(ParseEverySplit(Multibulk(Argv(11, "x")), limits).error_text ==
          "Protocol error: unauthenticated multibulk length");
    limits.authenticated = true;
    CHECK(ParseEverySplit(Multibulk(Argv(11, "x")), limits).commands.size() == 1);
  }
  SUBCASE("unauthenticated bulk length") {
    limits.authenticated = false;
    std::string at_limit(16384, 'v');
    CHECK(ParseWhole(Multibulk({"AUTH", at_limit}), limits).commands.size() == 1);
    CHECK(ParseWhole("*2\r\n$4\r\nAUTH\r\n$16385\r\n", limits).error_text ==
          "Protocol error: unauthenticated bulk length");
  }
  SUBCASE("invalid length is checked before the unauthenticated limits") {
    limits.authenticated = false;
    CHECK(ParseWhole("*2147483648\r\n", limits).error_text ==
          "Protocol error: invalid multibulk length");
    CHECK(ParseWhole("*1\r\n$-2\r\n", limits).error_text == "Protocol error: invalid bulk length");
  }
  SUBCASE("limits may change between calls (AUTH in the same pipeline)") {
    RequestParser parser;
    std::string buf = Multibulk({"AUTH", "pw"}) + Multibulk(Argv(11, "x"));
    size_t pos = 0;
    std::vector<std::string_view> argv;
    limits.authenticated = false;
    REQUIRE(parser.Parse(buf, &pos, limits, &argv) == ParseStatus::kCommand);
    limits.authenticated = true;
    REQUIRE(parser.Parse(buf, &pos, limits, &argv) == ParseStatus::kCommand);
    CHECK(argv.size() == 11);
  }
}

TEST_CASE("big bulks") {
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 131 + (i >> 9));
  std::string input = Multibulk({"SET", "key", big}) + Multibulk({"PING"});
  Argv expected_set = {"SET", "key", big};

  Outcome whole = ParseWhole(input);
  REQUIRE(whole.commands.size() == 2);
  CHECK(whole.commands[0] == expected_set);

  std::string_view view = input;
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < view.size(); i += 16 * 1024) chunks.push_back(view.substr(i, 16 * 1024));
  CHECK(Feed(chunks) == whole);

  // A split at every offset of the headers and the bulk's edges.
  std::vector<size_t> offsets;
  for (size_t i = 0; i < 40; i++) offsets.push_back(i);
  for (size_t i = 0; i < 40; i++) offsets.push_back(input.size() - i);
  for (size_t at : offsets) {
    INFO("split at ", at);
    CHECK(Feed({input.substr(0, at), input.substr(at)}) == whole);
  }

  SUBCASE("BytesWanted reports the whole big argument") {
    RequestParser parser;
    size_t pos = 0;
    std::vector<std::string_view> argv;
    size_t header =
        ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$" + std::to_string(big.size()) + "\r\n").size();
    REQUIRE(parser.Parse(view.substr(0, header - 1), &pos, {}, &argv) == ParseStatus::kIncomplete);
    CHECK(parser.InProgress());
    CHECK(parser.BytesWanted() == 0);  // the big bulk's header is not complete yet
    REQUIRE(parser.Parse(view.substr(0, header + 10), &pos, {}, &argv) == ParseStatus::kIncomplete);
    CHECK(pos == 0);
    CHECK(parser.BytesWanted() == header + big.size() + 2);
    REQUIRE(parser.Parse(input, &pos, {}, &argv) == ParseStatus::kCommand);
    CHECK_FALSE(parser.InProgress());
    CHECK(parser.BytesWanted() == 0);
    CHECK(argv.size() == 3);
  }
}

TEST_CASE("the parser is reusable after an error") {
  RequestParser parser;
  std::string bad = "*2\r\n$4\r\nECHO\r\n$x\r\n";
  size_t pos = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse(bad, &pos, {}, &argv) == ParseStatus::kError);
  CHECK_FALSE(parser.InProgress());
  std::string good = Multibulk({"PING"});
  pos = 0;
  REQUIRE(parser.Parse(good, &pos, {}, &argv) == ParseStatus::kCommand);
  CHECK(argv == std::vector<std::string_view>{"PING"});
}

}  // namespace docket::protocol
