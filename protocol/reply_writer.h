// RESP2/RESP3 reply encoder: appends replies to a caller-owned byte buffer, choosing each type's
// encoding by the connection's protocol version. Depends on the C++ standard library only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace docket::protocol {

class ReplyWriter {
 public:
  // REQUIRES: out outlives the writer. resp is 2 or 3.
  ReplyWriter(std::string* out, int resp) : out_(out), resp_(resp) {}

  int resp() const { return resp_; }
  void set_resp(int resp) { resp_ = resp; }
  std::string* buffer() { return out_; }
  void set_buffer(std::string* out) { out_ = out; }

  void Simple(std::string_view s);  // +s (s must not contain CR/LF)
  void Ok() { Raw("+OK\r\n"); }
  // Redis's addReplyError rule: a text starting with '-' keeps its own code ("-WRONGTYPE ..."),
  // any other text gets "-ERR ". CR/LF inside are replaced by spaces.
  void Error(std::string_view text);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void NullBulk();   // RESP2 $-1, RESP3 _
  void NullArray();  // RESP2 *-1, RESP3 _
  void ArrayHeader(size_t n);
  void MapHeader(size_t pairs);  // RESP2: a flat array of 2*pairs
  void SetHeader(size_t n);      // RESP2: an array
  void PushHeader(size_t n);     // RESP2: an array
  void Double(double v);         // RESP3 ",%.17g"; RESP2 a bulk string of the same text
  void Bool(bool v);             // RESP3 #t/#f; RESP2 :1/:0
  void Verbatim(std::string_view text, std::string_view format = "txt");  // RESP2: bulk
  void BigNumber(std::string_view digits);                                // RESP2: bulk
  void Raw(std::string_view bytes) { out_->append(bytes); }

  // Error accounting for INFO errorstats: every error reply's code ("ERR", "WRONGTYPE", ...) is
  // handed to the sink, and errors() counts them.
  using ErrorSink = void (*)(void* ctx, std::string_view code);
  void set_error_sink(ErrorSink sink, void* ctx) {
    sink_ = sink;
    sink_ctx_ = ctx;
  }
  uint64_t errors() const { return errors_; }

 private:
  void Header(char type, int64_t n);

  std::string* out_;
  int resp_;
  uint64_t errors_ = 0;
  ErrorSink sink_ = nullptr;
  void* sink_ctx_ = nullptr;
};

// Formats a double as Redis 7.0's addReplyDouble does ("%.17g", "inf", "-inf").
std::string FormatReplyDouble(double v);

}  // namespace docket::protocol
