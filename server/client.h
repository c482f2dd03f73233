// A client connection: its socket events, query buffer and parser, output buffer, selected
// database, protocol version and the state CLIENT LIST reports.
#pragma once

#include <event2/event.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_writer.h"
#include "protocol/request_parser.h"

namespace docket::server {

class Server;
struct CommandSpec;

// A command queued between MULTI and EXEC, with its own copy of the arguments.
struct QueuedCommand {
  const CommandSpec* spec = nullptr;
  std::vector<std::string> argv;
};

// A growable byte buffer that, unlike std::string, does not zero the space a read() fills.
class QueryBuffer {
 public:
  char* data() { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Makes room for at least n more bytes after size().
  void Reserve(size_t n);
  char* end() { return data_.get() + size_; }
  void Grow(size_t n) { size_ += n; }
  // Drops the first n bytes.
  void Consume(size_t n);
  // Releases memory when the buffer is empty and large.
  void ShrinkIfIdle();
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

enum ClientFlag : uint32_t {
  kClientCloseAfterReply = 1 << 0,  // protocol error, QUIT, CLIENT KILL: close once output is out
  kClientCloseAsap = 1 << 1,        // close now, drop pending output
  kClientMonitor = 1 << 2,
  kClientPubsub = 1 << 3,
  kClientBlocked = 1 << 4,
  kClientMulti = 1 << 5,
  kClientNoEvict = 1 << 6,
  kClientPendingWrite = 1 << 7,  // in the server's pending-write list
  kClientUnixSocket = 1 << 8,
  kClientPaused = 1 << 9,  // input held back by CLIENT PAUSE
  kClientReplyOff = 1 << 10,
  kClientReplySkipNext = 1 << 11,
  kClientReplySkip = 1 << 12,
  kClientNoTouch = 1 << 13,
  kClientDenyBlocking = 1 << 14,  // inside EXEC or a script: blocking commands do not block
  kClientDirtyCas = 1 << 15,      // a WATCHed key changed: EXEC replies the null array
  kClientDirtyExec = 1 << 16,     // a command was refused while queuing: EXEC aborts
  kClientProtected = 1 << 18,     // its script runs long: not read, written or freed until it ends
};

class Client {
 public:
  Client(Server* server, int fd, uint64_t id);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uint64_t id() const { return id_; }
  int fd() const { return fd_; }
  Server& server() { return *server_; }

  bool Has(ClientFlag f) const { return (flags_ & f) != 0; }
  void Set(ClientFlag f) { flags_ |= f; }
  void Clear(ClientFlag f) { flags_ &= ~static_cast<uint32_t>(f); }
  uint32_t flags() const { return flags_; }

  protocol::ReplyWriter& reply() { return reply_; }
  int resp() const { return reply_.resp(); }
  void set_resp(int resp) { reply_.set_resp(resp); }

  // Output pending for the socket. Replies are appended here and written in BeforeSleep.
  std::string& out() { return out_; }
  size_t pending_output() const { return out_.size() - out_sent_; }
  // Pending output as Redis accounts it: the first 16 KB fill the fixed reply buffer (CLIENT
  // LIST obl), the rest is a list of 16 KB blocks (oll) whose bytes (omem) count against
  // client-output-buffer-limit.
  static constexpr size_t kReplyChunkBytes = 16 * 1024;
  size_t output_buffer_bytes() const { return std::min(pending_output(), kReplyChunkBytes); }
  size_t output_list_bytes() const { return pending_output() - output_buffer_bytes(); }
  size_t output_list_blocks() const {
    return (output_list_bytes() + kReplyChunkBytes - 1) / kReplyChunkBytes;
  }
  int64_t obuf_soft_limit_reached_time = 0;  // unix seconds; 0 = under the soft limit
  // Writes what the socket takes now. Returns false on a fatal socket error.
  bool WriteOutput();

  // Reads what the socket has and runs every complete command. Returns false when the client
  // must be closed now (EOF, error, query buffer limit).
  bool ReadAndProcess();
  // Runs complete commands already in the query buffer (after CLIENT UNPAUSE, unblocking, ...).
  void ProcessInputBuffer();

  int db_index() const { return db_index_; }
  void set_db_index(int i) { db_index_ = i; }

  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool a) { authenticated_ = a; }

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  const std::string& addr() const { return addr_; }
  const std::string& laddr() const { return laddr_; }
  void set_addrs(std::string addr, std::string laddr) {
    addr_ = std::move(addr);
    laddr_ = std::move(laddr);
  }
  bool IsLoopback() const;

  int64_t ctime_ms = 0;             // connection time
  int64_t last_interaction_ms = 0;  // for `timeout` and CLIENT LIST idle
  // CLIENT LIST cmd=: a command's full name (CommandSpec names live as long as the server) or a
  // literal; a view so the hot path copies nothing.
  std::string_view last_cmd = "NULL";
  // MULTI/EXEC (server/transaction.h): the queued commands, and their argument bytes plus a
  // pointer per argument, as Redis counts them for CLIENT LIST multi-mem.
  std::vector<QueuedCommand> multi_queue;
  size_t multi_mem = 0;
  uint64_t commands_processed = 0;
  // appendfsync always: the AOF write batch that must be fsynced before its output may go out.
  uint64_t aof_wait_seq = 0;
  uint64_t net_input_bytes = 0, net_output_bytes = 0;
  size_t query_buffer_size() const { return query_.size(); }
  size_t query_buffer_free() const { return query_.capacity() - query_.size(); }
  size_t query_buffer_pending() const { return query_.size() - query_pos_; }
  size_t argv_mem() const;

  // Event registration (owned here, created by the server).
  event* read_event = nullptr;
  event* write_event = nullptr;

 private:
  // Executes one parsed command unless the client is paused; returns false to stop processing.
  bool ExecuteParsed(size_t command_start);
  void CompactQueryBuffer();

  Server* server_;
  int fd_;
  uint64_t id_;
  uint32_t flags_ = 0;
  int db_index_ = 0;
  bool authenticated_ = false;
  std::string name_;
  std::string addr_, laddr_;

  QueryBuffer query_;
  size_t query_pos_ = 0;
  protocol::RequestParser parser_;
  std::vector<std::string_view> argv_;

  std::string out_;
  size_t out_sent_ = 0;
  protocol::ReplyWriter reply_;
};

}  // namespace docket::server
