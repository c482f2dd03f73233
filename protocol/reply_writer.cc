// RESP2/RESP3 reply encoder. Byte layouts follow Redis 7.0's networking.c addReply* functions.
#include "protocol/reply_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace docket::protocol {

void ReplyWriter::Header(char type, int64_t n) {
  char buf[32];
  buf[0] = type;
  char* end = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, end - buf);
}

void ReplyWriter::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void ReplyWriter::Error(std::string_view text) {
  size_t start = out_->size();
  if (text.empty() || text[0] != '-') out_->append("-ERR ");
  out_->append(text);
  // A newline inside would break the protocol; Redis replaces them with spaces.
  for (size_t i = start; i < out_->size(); i++) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
  std::string_view written(out_->data() + start + 1, out_->size() - start - 3);
  errors_++;
  if (sink_ != nullptr) sink_(sink_ctx_, written.substr(0, written.find(' ')));
}

void ReplyWriter::Integer(int64_t v) { Header(':', v); }

void ReplyWriter::Bulk(std::string_view s) {
  Header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void ReplyWriter::NullBulk() { Raw(resp_ == 2 ? "$-1\r\n" : "_\r\n"); }
void ReplyWriter::NullArray() { Raw(resp_ == 2 ? "*-1\r\n" : "_\r\n"); }
void ReplyWriter::ArrayHeader(size_t n) { Header('*', static_cast<int64_t>(n)); }

void ReplyWriter::MapHeader(size_t pairs) {
  if (resp_ == 2) {
    Header('*', static_cast<int64_t>(pairs * 2));
  } else {
    Header('%', static_cast<int64_t>(pairs));
  }
}

void ReplyWriter::SetHeader(size_t n) { Header(resp_ == 2 ? '*' : '~', static_cast<int64_t>(n)); }
void ReplyWriter::PushHeader(size_t n) { Header(resp_ == 2 ? '*' : '>', static_cast<int64_t>(n)); }

std::string FormatReplyDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  int len = std::snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, len);
}

void ReplyWriter::Double(double v) {
  std::string text = FormatReplyDouble(v);
  if (resp_ == 2) {
    Bulk(text);
  } else {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n");
  }
}

void ReplyWriter::Bool(bool v) {
  if (resp_ == 2) {
    Raw(v ? ":1\r\n" : ":0\r\n");
  } else {
    Raw(v ? "#t\r\n" : "#f\r\n");
  }
}

void ReplyWriter::Verbatim(std::string_view text, std::string_view format) {
  if (resp_ == 2) return Bulk(text);
  Header('=', static_cast<int64_t>(text.size() + 4));
  out_->append(format.substr(0, 3));
  out_->push_back(':');
  out_->append(text);
  out_->append("\r\n");
}

void ReplyWriter::BigNumber(std::string_view digits) {
  if (resp_ == 2) return Bulk(digits);
  out_->push_back('(');
  out_->append(digits);
  out_->append("\r\n");
}

}  // namespace docket::protocol
