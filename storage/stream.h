// StreamObject: a stream value (Redis's t_stream.c / stream.h): entries kept in packed nodes keyed
// by their first ("master") id, each node one byte buffer with varint delta-encoded ids and
// length-prefixed values; plus the consumer-group side (groups, consumers, PELs). Nodes split at
// the same points as Redis's listpacks (stream-node-max-bytes / -entries), so approximate
// trimming and XINFO's node count agree with Redis. Depends on std and storage/value.h only.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/value.h"

namespace docket::storage {

// An entry id: milliseconds and sequence (streamID). Ordered as Redis orders them.
struct StreamID {
  uint64_t ms = 0;
  uint64_t seq = 0;

  auto operator<=>(const StreamID&) const = default;
  static constexpr StreamID Min() { return {0, 0}; }
  static constexpr StreamID Max() { return {UINT64_MAX, UINT64_MAX}; }
  bool IsZero() const { return ms == 0 && seq == 0; }

  // streamIncrID / streamDecrID: the successor / predecessor. At the end of the id space the id
  // wraps (Max -> 0-0, 0-0 -> Max) and the call returns false.
  bool Incr();
  bool Decr();

  // "<ms>-<seq>".
  std::string ToString() const;
  // Writes "<ms>-<seq>" to buf (at least kMaxChars bytes) and returns its length.
  static constexpr size_t kMaxChars = 41;
  size_t Format(char* buf) const;
};

// Redis's SCG_INVALID_ENTRIES_READ: a group whose logical read counter is unknown.
inline constexpr int64_t kInvalidEntriesRead = -1;

// The node size limits, from the stream-node-max-bytes / stream-node-max-entries config (0 means
// no limit; bytes are also capped at 1 GiB as Redis's STREAM_LISTPACK_MAX_SIZE).
struct StreamLimits {
  int64_t node_max_bytes = 4096;
  int64_t node_max_entries = 100;
};

// A trimming request (streamAddTrimArgs): MAXLEN keeps at most maxlen entries, MINID drops
// entries with ids below minid. approx trims whole nodes only, and at most `limit` entries
// (0 = no limit).
struct StreamTrimSpec {
  enum class Strategy { kNone, kMaxLen, kMinId };
  Strategy strategy = Strategy::kNone;
  int64_t maxlen = 0;
  StreamID minid;
  bool approx = false;
  int64_t limit = 0;
};

struct StreamConsumer;

// A pending entry (streamNACK): delivered to a consumer, not yet acknowledged.
struct StreamNack {
  int64_t delivery_time_ms = 0;  // last delivery, unix ms
  uint64_t delivery_count = 0;
  StreamConsumer* consumer = nullptr;  // the owner; it lists this NACK in its own pel
};

// A consumer of a group (streamConsumer). Redis 7.0 keeps only seen-time (no active-time).
struct StreamConsumer {
  std::string name;
  int64_t seen_time_ms = 0;
  // The consumer's share of the group PEL; the NACKs are owned by StreamGroup::pel.
  std::map<StreamID, StreamNack*> pel;
};

// A consumer group (streamCG). Consumers are listed in byte order of their names, as Redis's rax.
struct StreamGroup {
  StreamID last_id;                            // last delivered id
  int64_t entries_read = kInvalidEntriesRead;  // logical read counter, -1 when unknown
  std::map<StreamID, std::unique_ptr<StreamNack>> pel;
  std::map<std::string, std::unique_ptr<StreamConsumer>, std::less<>> consumers;

  // The consumer called name, or nullptr.
  StreamConsumer* FindConsumer(std::string_view name) const;
  // Creates the consumer (seen_time_ms = now_ms); nullptr when it already exists.
  StreamConsumer* CreateConsumer(std::string_view name, int64_t now_ms);
  // Deletes the consumer and its pending entries (from the group PEL too); returns how many
  // pending entries it had. REQUIRES: consumer belongs to this group.
  size_t DeleteConsumer(StreamConsumer* consumer);
};

class StreamObject : public TypedObject {
 public:
  StreamObject();
  ~StreamObject() override;
  StreamObject(const StreamObject&) = delete;
  StreamObject& operator=(const StreamObject&) = delete;

  // TypedObject
  std::unique_ptr<TypedObject> Clone() const override;
  size_t MemoryUsage() const override;
  std::string_view EncodingName() const override { return "stream"; }

  // --- entries ---------------------------------------------------------------------------------

  uint64_t length() const { return length_; }
  StreamID last_id() const { return last_id_; }
  // The first live entry's id (0-0 when empty), as Redis keeps s->first_id.
  StreamID first_id() const { return first_id_; }
  StreamID max_deleted_entry_id() const { return max_deleted_entry_id_; }
  uint64_t entries_added() const { return entries_added_; }
  // XSETID: REQUIRES the caller validated the values as xsetidCommand does.
  void set_last_id(StreamID id) { last_id_ = id; }
  void set_max_deleted_entry_id(StreamID id) { max_deleted_entry_id_ = id; }
  void set_entries_added(uint64_t n) { entries_added_ = n; }

  // Nodes ("radix-tree-keys" in XINFO STREAM).
  size_t node_count() const { return nodes_.size(); }

  enum class AppendStatus {
    kOk,
    kIdTooSmall,  // EDOM: the id is not greater than last_id
    kTooLarge,    // ERANGE: the fields and values exceed 1 GiB together (or, as 7.0.15
                  // answers, `<ms>-*` whose sequence cannot advance)
  };
  // streamAppendItem: adds an entry with field_values (field, value, ...; even and non-empty).
  // use_id nullptr generates the id from now_ms (never going backward); otherwise use_id, or with
  // !seq_given use_id->ms with the next free sequence. *added gets the id. Counts entries_added.
  AppendStatus Append(std::span<const std::string_view> field_values, const StreamID* use_id,
                      bool seq_given, int64_t now_ms, const StreamLimits& limits, StreamID* added);

  // XDEL of one id: marks the live entry deleted (dropping its node when it was the node's last
  // live entry), updates length, first_id and max_deleted_entry_id. False when no such entry.
  bool Delete(StreamID id);

  // streamTrim: returns the number of entries removed. Does not touch max_deleted_entry_id.
  int64_t Trim(const StreamTrimSpec& spec);

  // Whether a live entry with this id exists (streamEntryExists).
  bool EntryExists(StreamID id) const;

  // The first (or last) live entry's id; false when the stream is empty (streamGetEdgeID with
  // skip_tombstones). With tombstones, the first / last entry of any node, deleted or not.
  bool FirstEntryId(StreamID* id, bool skip_tombstones = true) const;
  bool LastEntryId(StreamID* id, bool skip_tombstones = true) const;

  // --- lag helpers (t_stream.c) ----------------------------------------------------------------

  // streamRangeHasTombstones: whether a deleted entry may lie in [start, end].
  bool RangeHasTombstones(StreamID start = StreamID::Min(), StreamID end = StreamID::Max()) const;
  // streamEstimateDistanceFromFirstEverEntry: the logical read counter of id, or
  // kInvalidEntriesRead when it cannot be known.
  int64_t EstimateDistanceFromFirstEverEntry(StreamID id) const;

  // --- consumer groups -------------------------------------------------------------------------

  using Groups = std::map<std::string, std::unique_ptr<StreamGroup>, std::less<>>;
  const Groups& groups() const { return groups_; }
  StreamGroup* FindGroup(std::string_view name) const;
  // streamCreateCG: nullptr when a group of that name exists.
  StreamGroup* CreateGroup(std::string_view name, StreamID last_id, int64_t entries_read);
  bool DestroyGroup(std::string_view name);

  // --- internals shared with StreamIterator ----------------------------------------------------

  struct Node;
  using NodeMap = std::map<StreamID, std::unique_ptr<Node>>;
  const NodeMap& nodes() const { return nodes_; }

 private:
  Node* TailNodeFor(std::span<const std::string_view> field_values, const StreamLimits& limits);
  void RefreshFirstId();
  // Marks the entry at offset of node deleted; drops the node when it has no live entry left.
  void MarkDeleted(NodeMap::iterator it, size_t offset);

  NodeMap nodes_;
  uint64_t length_ = 0;
  StreamID last_id_;
  StreamID first_id_;
  StreamID max_deleted_entry_id_;
  uint64_t entries_added_ = 0;
  Groups groups_;
};

// Walks the live entries of a stream with start <= id <= end, ascending (or descending with
// rev). Views returned point into the stream and stay valid until the next Next() call or any
// change of the stream. The stream must not be modified while the iterator is in use.
class StreamIterator {
 public:
  StreamIterator(const StreamObject& s, StreamID start = StreamID::Min(),
                 StreamID end = StreamID::Max(), bool rev = false);

  // Advances to the next live entry; false when there is none.
  bool Next();
  StreamID id() const { return id_; }
  // field, value, field, value, ...
  std::span<const std::string_view> field_values() const { return fv_; }
  size_t num_fields() const { return fv_.size() / 2; }

 private:
  struct Slot {
    uint32_t offset;  // the entry's first byte in the node
    uint8_t flags;
    StreamID id;
  };
  bool EnterNode();  // positions on node_it_, false when the walk is over
  bool NextForward();
  bool NextReverse();
  void ReadBody(size_t offset, uint8_t flags);

  const StreamObject* s_;
  StreamID start_, end_;
  bool rev_;
  bool done_ = false;
  bool in_node_ = false;
  StreamObject::NodeMap::const_iterator node_it_;
  std::vector<std::string_view> master_;  // the node's master fields
  size_t off_ = 0;                        // forward: next entry offset
  StreamID prev_;                         // forward: id of the previous entry in the node
  bool first_ = true;                     // forward: next entry is the node's first
  std::vector<Slot> slots_;               // reverse: the node's entries, decoded forward
  size_t slot_ = 0;                       // reverse: entries left to visit
  StreamID id_;
  std::vector<std::string_view> fv_;
};

}  // namespace docket::storage
