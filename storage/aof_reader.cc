// The AOF command reader (see aof_reader.h): Redis's loader accepts only multibulk commands.
#include "storage/aof_reader.h"

#include <charconv>

namespace docket::storage {

AofReadStatus AofReader::Fail(AofReadStatus status, size_t offset) {
  error_offset_ = offset;
  return status;
}

int AofReader::ReadNumberLine(size_t* pos, char prefix, long long* value) {
  if (*pos >= data_.size()) return 0;
  if (data_[*pos] != prefix) return -1;
  size_t nl = data_.find('\n', *pos);
  if (nl == std::string_view::npos) return 0;
  if (nl < *pos + 2 || data_[nl - 1] != '\r') return -1;
  const char* first = data_.data() + *pos + 1;
  const char* last = data_.data() + nl - 1;
  auto [ptr, ec] = std::from_chars(first, last, *value);
  if (ec != std::errc() || ptr != last || first == last) return -1;
  *pos = nl + 1;
  return 1;
}

AofReadStatus AofReader::Next(std::vector<std::string_view>* argv) {
  argv->clear();
  while (pos_ < data_.size() && data_[pos_] == '#') {  // annotations (aof-timestamp-enabled)
    size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) return Fail(AofReadStatus::kTruncated, pos_);
    pos_ = nl + 1;
  }
  if (pos_ >= data_.size()) return AofReadStatus::kEnd;
  size_t start = pos_, pos = pos_;
  long long argc;
  int rc = ReadNumberLine(&pos, '*', &argc);
  if (rc == 0) return Fail(AofReadStatus::kTruncated, start);
  if (rc < 0 || argc < 1) return Fail(AofReadStatus::kCorrupt, start);
  for (long long i = 0; i < argc; i++) {
    long long len;
    size_t arg_at = pos;
    rc = ReadNumberLine(&pos, '$', &len);
    if (rc == 0) return Fail(AofReadStatus::kTruncated, start);
    if (rc < 0 || len < 0) return Fail(AofReadStatus::kCorrupt, arg_at);
    if (data_.size() - pos < static_cast<size_t>(len) + 2) {
      return Fail(AofReadStatus::kTruncated, start);
    }
    if (data_[pos + len] != '\r' || data_[pos + len + 1] != '\n') {
      return Fail(AofReadStatus::kCorrupt, pos + len);
    }
    argv->push_back(data_.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  pos_ = pos;
  commands_++;
  return AofReadStatus::kCommand;
}

}  // namespace docket::storage
