// FUNCTION DUMP / RESTORE payloads (function_dump.h): CRC64, LZF, RDB lengths and strings, the
// payload writer and reader.
#include "server/function_dump.h"

#include <array>
#include <cstring>
#include <memory>
#include <vector>

namespace docket::server {
namespace {

// The Jones polynomial 0xad93d23594c935a9, bit-reversed (Redis's crc64 is reflected).
constexpr uint64_t kCrc64Poly = 0x95ac9329ac4bc9b5ULL;

constexpr std::array<uint64_t, 256> MakeCrc64Table() {
  std::array<uint64_t, 256> table{};
  for (uint64_t i = 0; i < 256; i++) {
    uint64_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kCrc64Poly : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint64_t, 256> kCrc64Table = MakeCrc64Table();

// liblzf's parameters as Redis's lzfP.h sets them.
constexpr int kLzfHashLog = 16;
constexpr uint32_t kLzfHashSize = 1u << kLzfHashLog;
constexpr uint32_t kLzfMaxLit = 1u << 5;
constexpr uint32_t kLzfMaxOff = 1u << 13;
constexpr uint32_t kLzfMaxRef = (1u << 8) + (1u << 3);

inline uint32_t LzfFirst(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
inline uint32_t LzfNext(uint32_t v, const uint8_t* p) { return (v << 8) | p[2]; }
inline uint32_t LzfIndex(uint32_t h) {  // VERY_FAST
  return ((h >> (3 * 8 - kLzfHashLog)) - h * 5) & (kLzfHashSize - 1);
}

// rdbSaveLen.
void AppendLen(std::string& out, uint64_t len) {
  if (len < (1 << 6)) {
    out.push_back(static_cast<char>(len));
  } else if (len < (1 << 14)) {
    out.push_back(static_cast<char>(0x40 | (len >> 8)));
    out.push_back(static_cast<char>(len & 0xff));
  } else if (len <= UINT32_MAX) {
    out.push_back(static_cast<char>(0x80));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  } else {
    out.push_back(static_cast<char>(0x81));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  }
}

// rdbSaveRawString for a library code: it starts with "#!", so it is never integer-encoded; over
// 20 bytes it is LZF-compressed when that saves at least 4 bytes.
void AppendRdbString(std::string& out, std::string_view s) {
  if (s.size() > 20) {
    size_t room = s.size() - 4;
    std::unique_ptr<char[]> buf(new char[room + 1]);
    if (size_t n = LzfCompress(s, buf.get(), room); n > 0) {
      out.push_back(static_cast<char>(0xc3));  // RDB_ENCVAL << 6 | RDB_ENC_LZF
      AppendLen(out, n);
      AppendLen(out, s.size());
      out.append(buf.get(), n);
      return;
    }
  }
  AppendLen(out, s.size());
  out.append(s);
}

}  // namespace

uint64_t Crc64(uint64_t crc, std::string_view data) {
  for (unsigned char b : data) crc = kCrc64Table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc;
}

size_t LzfCompress(std::string_view in_view, char* out_chars, size_t out_len) {
  const auto* in = reinterpret_cast<const uint8_t*>(in_view.data());
  auto* out = reinterpret_cast<uint8_t*>(out_chars);
  size_t in_len = in_view.size();
  if (in_len == 0 || out_len == 0) return 0;
  // Positions in the input (0 = none: a match never starts at the first byte, as in liblzf).
  std::vector<uint32_t> htab(kLzfHashSize, 0);
  size_t ip = 0, op = 1;  // op 0 holds the first literal run's length
  uint32_t lit = 0;
  uint32_t hval = in_len >= 2 ? LzfFirst(in) : 0;
  while (in_len >= 3 && ip < in_len - 2) {
    hval = LzfNext(hval, in + ip);
    uint32_t& slot = htab[LzfIndex(hval)];
    size_t ref = slot;
    slot = static_cast<uint32_t>(ip);
    size_t off;
    if (ref > 0 && ref < ip && (off = ip - ref - 1) < kLzfMaxOff && in[ref + 2] == in[ip + 2] &&
        in[ref] == in[ip] && in[ref + 1] == in[ip + 1]) {
      size_t len = 2;
      size_t maxlen = in_len - ip - len;
      if (maxlen > kLzfMaxRef) maxlen = kLzfMaxRef;
      if (op + 3 + 1 >= out_len && op - (lit == 0 ? 1 : 0) + 3 + 1 >= out_len) return 0;
      out[op - lit - 1] = static_cast<uint8_t>(lit - 1);  // close the literal run
      op -= lit == 0 ? 1 : 0;                             // or drop it when empty
      bool done = false;
      if (maxlen > 16) {  // liblzf's unrolled compare: up to 16 bytes without the bound check
        for (int k = 0; k < 16 && !done; k++) {
          len++;
          done = in[ref + len] != in[ip + len];
        }
      }
      if (!done) {
        do {
          len++;
        } while (len < maxlen && in[ref + len] == in[ip + len]);
      }
      len -= 2;  // now the match length minus one
      ip++;
      if (len < 7) {
        out[op++] = static_cast<uint8_t>((off >> 8) + (len << 5));
      } else {
        out[op++] = static_cast<uint8_t>((off >> 8) + (7 << 5));
        out[op++] = static_cast<uint8_t>(len - 7);
      }
      out[op++] = static_cast<uint8_t>(off);
      lit = 0;
      op++;  // start a new literal run
      ip += len + 1;
      if (ip >= in_len - 2) break;
      ip -= 2;  // VERY_FAST: hash the two positions before the next one
      hval = LzfFirst(in + ip);
      hval = LzfNext(hval, in + ip);
      htab[LzfIndex(hval)] = static_cast<uint32_t>(ip);
      ip++;
      hval = LzfNext(hval, in + ip);
      htab[LzfIndex(hval)] = static_cast<uint32_t>(ip);
      ip++;
    } else {
      if (op >= out_len) return 0;
      lit++;
      out[op++] = in[ip++];
      if (lit == kLzfMaxLit) {
        out[op - lit - 1] = static_cast<uint8_t>(lit - 1);
        lit = 0;
        op++;
      }
    }
  }
  if (op + 3 > out_len) return 0;
  while (ip < in_len) {
    lit++;
    out[op++] = in[ip++];
    if (lit == kLzfMaxLit) {
      out[op - lit - 1] = static_cast<uint8_t>(lit - 1);
      lit = 0;
      op++;
    }
  }
  out[op - lit - 1] = static_cast<uint8_t>(lit - 1);
  op -= lit == 0 ? 1 : 0;
  return op;
}

size_t LzfDecompress(std::string_view in_view, char* out_chars, size_t out_len) {
  const auto* in = reinterpret_cast<const uint8_t*>(in_view.data());
  auto* out = reinterpret_cast<uint8_t*>(out_chars);
  size_t in_len = in_view.size(), ip = 0, op = 0;
  while (ip < in_len) {
    uint32_t ctrl = in[ip++];
    if (ctrl < (1 << 5)) {  // a literal run of ctrl + 1 bytes
      ctrl++;
      if (op + ctrl > out_len || ip + ctrl > in_len) return 0;
      std::memcpy(out + op, in + ip, ctrl);
      op += ctrl;
      ip += ctrl;
      continue;
    }
    size_t len = ctrl >> 5;  // a back reference
    size_t back = ((ctrl & 0x1f) << 8) + 1;
    if (ip >= in_len) return 0;
    if (len == 7) {
      len += in[ip++];
      if (ip >= in_len) return 0;
    }
    back += in[ip++];
    if (op + len + 2 > out_len || back > op) return 0;
    for (size_t k = 0; k < len + 2; k++, op++) out[op] = out[op - back];
  }
  return op;
}

std::string BuildFunctionsPayload(std::span<const std::string_view> codes) {
  std::string out;
  for (std::string_view code : codes) {
    out.push_back(static_cast<char>(kRdbOpcodeFunction2));
    AppendRdbString(out, code);
  }
  out.push_back(static_cast<char>(kRdbVersion & 0xff));
  out.push_back(static_cast<char>(kRdbVersion >> 8));
  uint64_t crc = Crc64(0, out);
  for (int k = 0; k < 8; k++) out.push_back(static_cast<char>(crc >> (8 * k)));
  return out;
}

bool FunctionsPayloadReader::Verify(std::string* error) const {
  *error = "DUMP payload version or checksum are wrong";
  if (data_.size() < 10) return false;
  std::string_view footer = data_.substr(data_.size() - 10);
  uint16_t version = static_cast<uint8_t>(footer[0]) | (static_cast<uint8_t>(footer[1]) << 8);
  if (version > kRdbVersion) return false;
  uint64_t crc = Crc64(0, data_.substr(0, data_.size() - 8));
  for (int k = 0; k < 8; k++) {
    if (static_cast<uint8_t>(footer[2 + k]) != static_cast<uint8_t>(crc >> (8 * k))) return false;
  }
  error->clear();
  return true;
}

bool FunctionsPayloadReader::ReadByte(uint8_t* b) {
  if (pos_ >= data_.size()) return false;
  *b = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool FunctionsPayloadReader::ReadBytes(size_t n, std::string* out) {
  if (n > data_.size() - pos_) return false;
  out->assign(data_.substr(pos_, n));
  pos_ += n;
  return true;
}

bool FunctionsPayloadReader::ReadLen(uint64_t* len, bool* encoded) {
  uint8_t b;
  if (!ReadByte(&b)) return false;
  *encoded = false;
  int type = b >> 6;
  if (type == 3 || type == 0) {  // RDB_ENCVAL, RDB_6BITLEN
    *encoded = type == 3;
    *len = b & 0x3f;
    return true;
  }
  if (type == 1) {  // RDB_14BITLEN
    uint8_t b2;
    if (!ReadByte(&b2)) return false;
    *len = (uint64_t{b & 0x3fu} << 8) | b2;
    return true;
  }
  if (b != 0x80 && b != 0x81) return false;  // "Unknown length encoding"
  size_t n = b == 0x80 ? 4 : 8;
  std::string bytes;
  if (!ReadBytes(n, &bytes)) return false;
  *len = 0;
  for (char c : bytes) *len = (*len << 8) | static_cast<uint8_t>(c);
  return true;
}

bool FunctionsPayloadReader::ReadString(std::string* out) {
  uint64_t len;
  bool encoded;
  if (!ReadLen(&len, &encoded)) return false;
  if (!encoded) return len <= data_.size() - pos_ && ReadBytes(len, out);
  if (len <= 2) {  // RDB_ENC_INT8 / INT16 / INT32: a little-endian signed integer
    std::string bytes;
    if (!ReadBytes(size_t{1} << len, &bytes)) return false;
    uint32_t u = 0;
    for (size_t k = bytes.size(); k-- > 0;) u = (u << 8) | static_cast<uint8_t>(bytes[k]);
    int64_t v = len == 0   ? static_cast<int8_t>(u)
                : len == 1 ? static_cast<int16_t>(u)
                           : static_cast<int32_t>(u);
    *out = std::to_string(v);
    return true;
  }
  if (len != 3) return false;  // "Unknown RDB string encoding type"
  uint64_t clen, plain_len;
  std::string compressed;
  if (!ReadLen(&clen, &encoded) || !ReadLen(&plain_len, &encoded)) return false;
  if (clen > data_.size() - pos_ || !ReadBytes(clen, &compressed)) return false;
  // A back reference of 3 bytes expands to at most 264: anything larger cannot be right.
  if (plain_len > clen * 132 + 64) return false;
  out->assign(plain_len, '\0');
  return LzfDecompress(compressed, out->data(), plain_len) == plain_len;
}

FunctionsPayloadReader::Status FunctionsPayloadReader::Next(std::string* code, std::string* error) {
  if (data_.size() - pos_ <= 10) return Status::kDone;
  uint8_t type;
  ReadByte(&type);
  if (type == kRdbOpcodeFunctionPreGa) {  // name, engine, [description], code
    std::string name, engine, desc, body;
    uint64_t has_desc;
    bool encoded;
    const char* what = nullptr;
    if (!ReadString(&name)) {
      what = "Failed loading library name";
    } else if (!ReadString(&engine)) {
      what = "Failed loading engine name";
    } else if (!ReadLen(&has_desc, &encoded)) {
      what = "Failed loading library description indicator";
    } else if (has_desc != 0 && !ReadString(&desc)) {
      what = "Failed loading library description";
    } else if (!ReadString(&body)) {
      what = "Failed loading library blob";
    }
    if (what != nullptr) {
      *error = what;
      return Status::kError;
    }
    *code = "#!" + engine + " name=" + name + "\n" + body;
    return Status::kLibrary;
  }
  if (type != kRdbOpcodeFunction2) {
    *error = "given type is not a function";
    return Status::kError;
  }
  if (!ReadString(code)) {
    *error = "Failed loading library payload";
    return Status::kError;
  }
  return Status::kLibrary;
}

}  // namespace docket::server
