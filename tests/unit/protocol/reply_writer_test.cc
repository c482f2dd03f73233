// Tests for protocol/reply_writer: the exact bytes of every reply type in RESP2 and RESP3, as
// Redis 7.0's addReply* functions write them, and the error accounting hook.
#include "protocol/reply_writer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace docket::protocol {
namespace {

using namespace std::literals;

// Runs write against a fresh writer for the given protocol and returns the bytes written.
template <typename F>
std::string Bytes(int resp, F write) {
  std::string out;
  ReplyWriter w(&out, resp);
  write(w);
  return out;
}

// The same call in both protocols: {RESP2 bytes, RESP3 bytes}.
template <typename F>
std::pair<std::string, std::string> Both(F write) {
  return {Bytes(2, write), Bytes(3, write)};
}

using Pair = std::pair<std::string, std::string>;

}  // namespace

TEST_CASE("types that are the same in RESP2 and RESP3") {
  CHECK(Both([](ReplyWriter& w) { w.Ok(); }) == Pair{"+OK\r\n", "+OK\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Simple("PONG"); }) == Pair{"+PONG\r\n", "+PONG\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Simple(""); }) == Pair{"+\r\n", "+\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Integer(0); }) == Pair{":0\r\n", ":0\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Integer(-42); }) == Pair{":-42\r\n", ":-42\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Integer(INT64_MAX); }) ==
        Pair{":9223372036854775807\r\n", ":9223372036854775807\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Integer(INT64_MIN); }) ==
        Pair{":-9223372036854775808\r\n", ":-9223372036854775808\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Bulk("hello"); }) ==
        Pair{"$5\r\nhello\r\n", "$5\r\nhello\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Bulk(""); }) == Pair{"$0\r\n\r\n", "$0\r\n\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Bulk("a\r\n\0b"sv); }) ==
        Pair{"$5\r\na\r\n\0b\r\n"s, "$5\r\na\r\n\0b\r\n"s});
  CHECK(Both([](ReplyWriter& w) { w.ArrayHeader(0); }) == Pair{"*0\r\n", "*0\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.ArrayHeader(3); }) == Pair{"*3\r\n", "*3\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Raw("+RAW\r\n"); }) == Pair{"+RAW\r\n", "+RAW\r\n"});
}

TEST_CASE("big bulk header") {
  std::string big(100000, 'x');
  std::string out = Bytes(2, [&](ReplyWriter& w) { w.Bulk(big); });
  CHECK(out.size() == 100000 + 11);
  CHECK(out.substr(0, 9) == "$100000\r\n");
  CHECK(out.substr(out.size() - 2) == "\r\n");
}

TEST_CASE("nulls") {
  CHECK(Both([](ReplyWriter& w) { w.NullBulk(); }) == Pair{"$-1\r\n", "_\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.NullArray(); }) == Pair{"*-1\r\n", "_\r\n"});
}

TEST_CASE("aggregate headers") {
  CHECK(Both([](ReplyWriter& w) { w.MapHeader(2); }) == Pair{"*4\r\n", "%2\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.MapHeader(0); }) == Pair{"*0\r\n", "%0\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.SetHeader(3); }) == Pair{"*3\r\n", "~3\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.PushHeader(3); }) == Pair{"*3\r\n", ">3\r\n"});
}

TEST_CASE("a whole HELLO-like map") {
  auto write = [](ReplyWriter& w) {
    w.MapHeader(2);
    w.Bulk("server");
    w.Bulk("redis");
    w.Bulk("modules");
    w.ArrayHeader(0);
  };
  CHECK(Both(write) == Pair{"*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n",
                            "%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n"});
}

TEST_CASE("doubles use %.17g, inf and -inf") {
  CHECK(Both([](ReplyWriter& w) { w.Double(1.5); }) == Pair{"$3\r\n1.5\r\n", ",1.5\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Double(0); }) == Pair{"$1\r\n0\r\n", ",0\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Double(-2); }) == Pair{"$2\r\n-2\r\n", ",-2\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Double(0.1); }) ==
        Pair{"$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Double(1e300); }) ==
        Pair{"$23\r\n1.0000000000000001e+300\r\n", ",1.0000000000000001e+300\r\n"});
  double inf = std::numeric_limits<double>::infinity();
  CHECK(Both([&](ReplyWriter& w) { w.Double(inf); }) == Pair{"$3\r\ninf\r\n", ",inf\r\n"});
  CHECK(Both([&](ReplyWriter& w) { w.Double(-inf); }) == Pair{"$4\r\n-inf\r\n", ",-inf\r\n"});
  CHECK(FormatReplyDouble(3.0) == "3");
  CHECK(FormatReplyDouble(1e17) == "1e+17");
  CHECK(FormatReplyDouble(-0.0) == "-0");
}

TEST_CASE("booleans, verbatim strings and big numbers") {
  CHECK(Both([](ReplyWriter& w) { w.Bool(true); }) == Pair{":1\r\n", "#t\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Bool(false); }) == Pair{":0\r\n", "#f\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Verbatim("hello"); }) ==
        Pair{"$5\r\nhello\r\n", "=9\r\ntxt:hello\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Verbatim("# x\r\n", "mkd"); }) ==
        Pair{"$5\r\n# x\r\n\r\n", "=9\r\nmkd:# x\r\n\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.Verbatim(""); }) == Pair{"$0\r\n\r\n", "=4\r\ntxt:\r\n"});
  CHECK(Both([](ReplyWriter& w) { w.BigNumber("1234567890123456789012"); }) ==
        Pair{"$22\r\n1234567890123456789012\r\n", "(1234567890123456789012\r\n"});
}

TEST_CASE("errors") {
  SUBCASE("ERR is added unless the text has its own code") {
    CHECK(Both([](ReplyWriter& w) { w.Error("syntax error"); }) ==
          Pair{"-ERR syntax error\r\n", "-ERR syntax error\r\n"});
    CHECK(Bytes(2, [](ReplyWriter& w) {
            w.Error("-WRONGTYPE Operation against a key holding the wrong kind of value");
          }) == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK(Bytes(3, [](ReplyWriter& w) { w.Error("-NOAUTH Authentication required."); }) ==
          "-NOAUTH Authentication required.\r\n");
    CHECK(Bytes(2, [](ReplyWriter& w) { w.Error(""); }) == "-ERR \r\n");
  }
  SUBCASE("CR and LF inside become spaces") {
    CHECK(Bytes(2, [](ReplyWriter& w) { w.Error("a\r\nb\nc"); }) == "-ERR a  b c\r\n");
    CHECK(Bytes(2, [](ReplyWriter& w) { w.Error("Protocol error: expected '$', got '\n'"); }) ==
          "-ERR Protocol error: expected '$', got ' '\r\n");
  }
  SUBCASE("appends to what is already in the buffer") {
    std::string out = "+OK\r\n";
    ReplyWriter w(&out, 2);
    w.Error("-MOVED x");
    CHECK(out == "+OK\r\n-MOVED x\r\n");
  }
  SUBCASE("each error's code goes to the sink and is counted") {
    std::vector<std::string> codes;
    std::string out;
    ReplyWriter w(&out, 2);
    w.set_error_sink(
        [](void* ctx, std::string_view code) {
          static_cast<std::vector<std::string>*>(ctx)->emplace_back(code);
        },
        &codes);
    w.Error("syntax error");
    w.Error("-WRONGTYPE Operation against a key");
    w.Error("-NOSCRIPT");
    w.Error("");
    w.Bulk("not an error");
    CHECK(codes == std::vector<std::string>{"ERR", "WRONGTYPE", "NOSCRIPT", "ERR"});
    CHECK(w.errors() == 4);
  }
}

TEST_CASE("protocol and buffer can be switched") {
  std::string a, b;
  ReplyWriter w(&a, 2);
  CHECK(w.resp() == 2);
  w.NullBulk();
  w.set_resp(3);
  w.NullBulk();
  w.set_buffer(&b);
  CHECK(w.buffer() == &b);
  w.Bool(true);
  CHECK(a == "$-1\r\n_\r\n");
  CHECK(b == "#t\r\n");
}

}  // namespace docket::protocol
