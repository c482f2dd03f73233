// Reads the commands of an append-only file one at a time, as Redis's loadSingleAppendOnlyFile:
// `*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument; `#` annotation lines are skipped. Tells
// a truncated last command (the file ends inside it) from corruption. Depends on std only.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace docket::storage {

enum class AofReadStatus {
  kCommand,    // argv holds the next command
  kEnd,        // clean end of the data
  kTruncated,  // the data ends inside a command starting at error_offset()
  kCorrupt,    // malformed bytes at error_offset()
};

class AofReader {
 public:
  // data must outlive the reader; argv views point into it.
  explicit AofReader(std::string_view data) : data_(data) {}

  AofReadStatus Next(std::vector<std::string_view>* argv);
  // Bytes of complete commands (and annotations) read so far: where to truncate a torn tail.
  size_t valid_end() const { return pos_; }
  // Where the failing command starts (kTruncated) or the bad byte is (kCorrupt).
  size_t error_offset() const { return error_offset_; }
  size_t commands() const { return commands_; }

 private:
  // Reads a "<prefix><number>\r\n" line at *pos. 1 = ok, 0 = data ends first, -1 = malformed.
  int ReadNumberLine(size_t* pos, char prefix, long long* value);
  AofReadStatus Fail(AofReadStatus status, size_t offset);

  std::string_view data_;
  size_t pos_ = 0;
  size_t error_offset_ = 0;
  size_t commands_ = 0;
};

}  // namespace docket::storage
