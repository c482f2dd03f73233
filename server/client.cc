// A client connection: reading and parsing the query buffer, running complete commands, and
// writing the output buffer.
#include "server/client.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>

#include "server/log.h"
#include "server/server.h"

namespace docket::server {
namespace {

constexpr size_t kIoBufLen = 16 * 1024;        // PROTO_IOBUF_LEN
constexpr size_t kBigArg = 32 * 1024;          // PROTO_MBULK_BIG_ARG
constexpr size_t kIdleBufferKeep = 64 * 1024;  // larger idle buffers are released

void CountErrorThunk(void* ctx, std::string_view code) {
  static_cast<Server*>(ctx)->CountError(code);
}

}  // namespace

void QueryBuffer::Reserve(size_t n) {
  if (capacity_ - size_ >= n) return;
  size_t cap = capacity_ == 0 ? kIoBufLen : capacity_;
  while (cap - size_ < n) cap *= 2;
  std::unique_ptr<char[]> bigger(new char[cap]);
  if (size_ > 0) memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = cap;
}

void QueryBuffer::Consume(size_t n) {
  if (n == 0) return;
  if (n < size_) memmove(data_.get(), data_.get() + n, size_ - n);
  size_ -= n;
}

void QueryBuffer::ShrinkIfIdle() {
  if (size_ == 0 && capacity_ > kIdleBufferKeep) {
    data_.reset();
    capacity_ = 0;
  }
}

Client::Client(Server* server, int fd, uint64_t id)
    : server_(server), fd_(fd), id_(id), reply_(&out_, 2) {
  reply_.set_error_sink(&CountErrorThunk, server);
}

Client::~Client() {
  if (read_event != nullptr) event_free(read_event);
  if (write_event != nullptr) event_free(write_event);
  if (fd_ >= 0) close(fd_);
}

bool Client::IsLoopback() const {
  return Has(kClientUnixSocket) || addr_.rfind("127.", 0) == 0 || addr_.rfind("::1:", 0) == 0 ||
         addr_.rfind("[::1]", 0) == 0;
}

size_t Client::argv_mem() const {
  size_t n = 0;
  for (auto a : argv_) n += a.size();
  return n;
}

bool Client::ReadAndProcess() {
  size_t readlen = kIoBufLen;
  size_t wanted = parser_.BytesWanted();
  size_t have = query_.size() - query_pos_;
  if (wanted >= kBigArg && wanted > have) {
    // A big argument: read it in as few calls as possible into one right-sized buffer.
    readlen = wanted - have;
  }
  query_.Reserve(readlen);
  ssize_t n = read(fd_, query_.end(), readlen);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    DOCKET_LOG(LogLevel::kVerbose, "Reading from client: %s", strerror(errno));
    return false;
  }
  if (n == 0) {
    DOCKET_LOG(LogLevel::kVerbose, "Client closed connection id=%llu addr=%s",
               static_cast<unsigned long long>(id_), addr_.c_str());
    return false;
  }
  query_.Grow(static_cast<size_t>(n));
  net_input_bytes += n;
  server_->stats().net_input_bytes += n;
  server_->stats().io_reads_processed++;
  last_interaction_ms = server_->NowMs();
  if (query_.size() - query_pos_ >
      static_cast<size_t>(server_->config().client_query_buffer_limit)) {
    DOCKET_LOG(LogLevel::kWarning,
               "Closing client that reached max query buffer length: id=%llu addr=%s qbuf=%zu",
               static_cast<unsigned long long>(id_), addr_.c_str(), query_.size());
    server_->stats().client_qbuf_limit_disconnections++;
    return false;
  }
  ProcessInputBuffer();
  return true;
}

void Client::ProcessInputBuffer() {
  protocol::ParserLimits limits;
  limits.max_bulk_len = server_->config().proto_max_bulk_len;
  while (query_pos_ < query_.size()) {
    if (flags_ & (kClientCloseAfterReply | kClientCloseAsap | kClientBlocked | kClientPaused)) {
      break;
    }
    limits.authenticated = authenticated_;
    size_t start = query_pos_;
    protocol::ParseStatus st = parser_.Parse(query_.view(), &query_pos_, limits, &argv_);
    if (st == protocol::ParseStatus::kIncomplete) break;
    if (st == protocol::ParseStatus::kError) {
      reply_.Error(parser_.error());
      DOCKET_LOG(LogLevel::kVerbose, "Protocol error (%s) from client: id=%llu addr=%s",
                 parser_.error().c_str(), static_cast<unsigned long long>(id_), addr_.c_str());
      Set(kClientCloseAfterReply);
      query_pos_ = query_.size();
      break;
    }
    if (argv_.empty()) continue;
    if (!ExecuteParsed(start)) break;
  }
  CompactQueryBuffer();
  if (pending_output() > 0) server_->QueueWrite(*this);
}

bool Client::ExecuteParsed(size_t command_start) {
  if (!server_->ProcessCommand(*this, argv_)) {
    // Held back (CLIENT PAUSE): parse it again when the pause ends.
    query_pos_ = command_start;
    return false;
  }
  return true;
}

void Client::CompactQueryBuffer() {
  query_.Consume(query_pos_);
  query_pos_ = 0;
  query_.ShrinkIfIdle();
}

bool Client::WriteOutput() {
  while (out_sent_ < out_.size()) {
    ssize_t n = write(fd_, out_.data() + out_sent_, out_.size() - out_sent_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      DOCKET_LOG(LogLevel::kVerbose, "Error writing to client: %s", strerror(errno));
      return false;
    }
    out_sent_ += n;
    net_output_bytes += n;
    server_->stats().net_output_bytes += n;
  }
  server_->stats().io_writes_processed++;
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
    if (out_.capacity() > kIdleBufferKeep) out_.shrink_to_fit();
  } else if (out_sent_ > kIdleBufferKeep && out_sent_ * 2 > out_.size()) {
    out_.erase(0, out_sent_);
    out_sent_ = 0;
  }
  return true;
}

}  // namespace docket::server
