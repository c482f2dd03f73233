// FUNCTION DUMP / RESTORE payloads in Redis 7.0's format (functions.c, rdb.c): per library an
// RDB_OPCODE_FUNCTION2 byte and the library code as an RDB string (LZF-compressed as Redis's
// rdbSaveRawString does), then the RDB version (2 bytes, little endian) and a CRC64 (Jones
// polynomial, Redis's crc64.c) of everything before it. Depends on the C++ standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace docket::server {

inline constexpr uint8_t kRdbOpcodeFunctionPreGa = 246;  // RDB_OPCODE_FUNCTION (7.0 rc1/rc2)
inline constexpr uint8_t kRdbOpcodeFunction2 = 245;      // RDB_OPCODE_FUNCTION2
inline constexpr uint16_t kRdbVersion = 10;              // Redis 7.0's RDB_VERSION

// Redis's crc64(crc, data): reflected Jones polynomial, no final xor.
uint64_t Crc64(uint64_t crc, std::string_view data);

// liblzf 3.6's lzf_compress as Redis builds it (HLOG 16, VERY_FAST): the compressed bytes in
// out, or 0 when they do not fit in out_len bytes.
size_t LzfCompress(std::string_view in, char* out, size_t out_len);
// lzf_decompress: the number of bytes written to out, or 0 on corrupt input or lack of room.
size_t LzfDecompress(std::string_view in, char* out, size_t out_len);

// FUNCTION DUMP's reply for libraries with these codes, in this order.
std::string BuildFunctionsPayload(std::span<const std::string_view> codes);

// Reads a FUNCTION RESTORE payload one library at a time, as functionRestoreCommand does: the
// footer is checked first, then each library is read from the bytes before the last 10 (reads may
// run into the footer, as Redis's rio reads do).
class FunctionsPayloadReader {
 public:
  explicit FunctionsPayloadReader(std::string_view payload) : data_(payload) {}

  // verifyDumpPayload: false with "DUMP payload version or checksum are wrong".
  bool Verify(std::string* error) const;
  enum class Status { kLibrary, kDone, kError };
  // The next library's code (for the pre-GA format, rebuilt as "#!<engine> name=<name>\n<code>"),
  // kDone at the footer, or kError with Redis's error text.
  Status Next(std::string* code, std::string* error);

 private:
  bool ReadByte(uint8_t* b);
  bool ReadBytes(size_t n, std::string* out);
  // rdbLoadLen: *encoded is set for an RDB_ENCVAL byte (a string encoding, not a length).
  bool ReadLen(uint64_t* len, bool* encoded);
  // rdbGenericLoadStringObject: raw, integer-encoded or LZF-compressed.
  bool ReadString(std::string* out);

  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace docket::server
