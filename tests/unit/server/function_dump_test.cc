// Unit tests for server/function_dump.h: Redis's CRC64 check value, LZF round trips and
// limits, and FUNCTION RESTORE payload parsing (footer checks, encodings, truncation, pre-GA).
#include "server/function_dump.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace docket::server {
namespace {

std::string Payload(std::string body, uint16_t version = kRdbVersion) {
  body.push_back(static_cast<char>(version & 0xff));
  body.push_back(static_cast<char>(version >> 8));
  uint64_t crc = Crc64(0, body);
  for (int k = 0; k < 8; k++) body.push_back(static_cast<char>(crc >> (8 * k)));
  return body;
}

// Every library in payload, or "ERR <text>".
std::vector<std::string> ReadAll(const std::string& payload) {
  FunctionsPayloadReader reader(payload);
  std::string error, code;
  if (!reader.Verify(&error)) return {"ERR " + error};
  std::vector<std::string> out;
  for (;;) {
    FunctionsPayloadReader::Status status = reader.Next(&code, &error);
    if (status == FunctionsPayloadReader::Status::kDone) return out;
    if (status == FunctionsPayloadReader::Status::kError) return {"ERR " + error};
    out.push_back(code);
  }
}

TEST_CASE("Crc64 is Redis's crc64 (Jones polynomial, reflected)") {
  CHECK(Crc64(0, "123456789") == 0xe9c6d914c4b8d9caULL);  // crc64.c's test vector
  CHECK(Crc64(0, "") == 0);
}

TEST_CASE("LZF compresses repetitive text and round-trips") {
  std::string text;
  for (int i = 0; i < 50; i++) text += "redis.register_function('f" + std::to_string(i) + "')\n";
  std::string out(text.size(), '\0');
  size_t n = LzfCompress(text, out.data(), text.size() - 4);
  REQUIRE(n > 0);
  CHECK(n < text.size() / 2);
  std::string back(text.size(), '\0');
  CHECK(LzfDecompress(std::string_view(out.data(), n), back.data(), back.size()) == text.size());
  CHECK(back == text);
  // Too small an output buffer: 0, as liblzf.
  CHECK(LzfDecompress(std::string_view(out.data(), n), back.data(), back.size() - 1) == 0);
  std::string random = "q8#Zk!2Lp@9vX0mN";
  CHECK(LzfCompress(random, out.data(), random.size() - 4) == 0);
}

TEST_CASE("LzfDecompress refuses references before the start") {
  char out[16];
  CHECK(LzfDecompress(std::string("\x20\x05", 2), out, sizeof(out)) == 0);  // back 6 at 0
  CHECK(LzfDecompress(std::string("\x01", 1), out, sizeof(out)) == 0);      // short literal
}

TEST_CASE("a payload round-trips, compressed or not") {
  std::string small = "#!lua name=a\nredis.register_function('a', function() end)";
  std::string big = "#!lua name=b\n-- " + std::string(300, 'x') + "\n";
  std::vector<std::string_view> codes = {small, big};
  std::string payload = BuildFunctionsPayload(codes);
  CHECK(static_cast<uint8_t>(payload[0]) == kRdbOpcodeFunction2);
  CHECK(payload.size() < small.size() + big.size());  // the second was compressed
  CHECK(ReadAll(payload) == std::vector<std::string>{small, big});
  CHECK(ReadAll(BuildFunctionsPayload({})).empty());
}

TEST_CASE("payload footer: version and checksum") {
  std::string lib = "\xf5\x05#!lua";
  CHECK(ReadAll(Payload(lib)) == std::vector<std::string>{"#!lua"});
  CHECK(ReadAll(Payload(lib, 9)) == std::vector<std::string>{"#!lua"});
  const std::string kWrong = "ERR DUMP payload version or checksum are wrong";
  CHECK(ReadAll(Payload(lib, 11)) == std::vector<std::string>{kWrong});
  std::string bad = Payload(lib);
  bad.back() ^= 1;
  CHECK(ReadAll(bad) == std::vector<std::string>{kWrong});
  CHECK(ReadAll("short") == std::vector<std::string>{kWrong});
}

TEST_CASE("payload strings: integer encodings, bad types and truncation") {
  CHECK(ReadAll(Payload("\xf5\xc0\xfb")) == std::vector<std::string>{"-5"});
  CHECK(ReadAll(Payload(std::string("\xf5\xc1\x00\x80", 4))) == std::vector<std::string>{"-32768"});
  CHECK(ReadAll(Payload(std::string("\xf5\xc2\x01\x00\x00\x00", 6))) ==
        std::vector<std::string>{"1"});
  CHECK(ReadAll(Payload("\x01")) == std::vector<std::string>{"ERR given type is not a function"});
  CHECK(ReadAll(Payload("\xf5\xfe")) ==
        std::vector<std::string>{"ERR Failed loading library payload"});
  CHECK(ReadAll(Payload("\xf5\x82")) ==
        std::vector<std::string>{"ERR Failed loading library payload"});
  // A length past the end of the payload.
  CHECK(ReadAll(Payload(std::string("\xf5\x80\x00\x10\x00\x00", 6))) ==
        std::vector<std::string>{"ERR Failed loading library payload"});
}

TEST_CASE("the pre-GA format becomes a shebang") {
  std::string pre_ga("\xf6\x02pg\x03LUA\x00\x04", 10);  // name, engine, no description
  CHECK(ReadAll(Payload(pre_ga + "code")) == std::vector<std::string>{"#!LUA name=pg\ncode"});
  CHECK(ReadAll(Payload("\xf6\xfe")) ==
        std::vector<std::string>{"ERR Failed loading library name"});
  CHECK(ReadAll(Payload("\xf6\x02pg\x03LUA\x82")) ==
        std::vector<std::string>{"ERR Failed loading library description indicator"});
}

}  // namespace
}  // namespace docket::server
