// StreamObject: packed entry nodes and consumer groups. A node's buffer holds its master fields
// and then its entries; each entry is a header varint (2 flag bits, then the ms delta to the
// previous entry), a sequence varint, and the values (length-prefixed), with field names only
// when they differ from the master fields. Node boundaries follow Redis's listpack sizes.
#include "storage/stream.h"

#include <algorithm>
#include <cstring>

#include "storage/number.h"

namespace docket::storage {

namespace {

constexpr uint8_t kFlagDeleted = 1;
constexpr uint8_t kFlagSameFields = 2;
constexpr int64_t kListpackMaxSize = int64_t{1} << 30;  // STREAM_LISTPACK_MAX_SIZE

void PutVarint(std::string& b, uint64_t v) {
  while (v >= 0x80) {
    b.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<char>(v));
}

uint64_t GetVarint(const std::string& b, size_t* off) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    auto byte = static_cast<uint8_t>(b[(*off)++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
}

// The entry header: flags in bits 0-1 of the first byte, the ms delta in bits 2-6 and in the
// varint that follows when bit 7 is set. The flags byte is therefore always the first byte, and
// deleting an entry flips one bit in place.
void PutHeader(std::string& b, uint8_t flags, uint64_t ms_delta) {
  uint8_t first = flags | static_cast<uint8_t>((ms_delta & 0x1f) << 2);
  if (ms_delta >> 5 == 0) {
    b.push_back(static_cast<char>(first));
    return;
  }
  b.push_back(static_cast<char>(first | 0x80));
  PutVarint(b, ms_delta >> 5);
}

uint64_t GetHeader(const std::string& b, size_t* off, uint8_t* flags) {
  auto first = static_cast<uint8_t>(b[(*off)++]);
  *flags = first & 3;
  uint64_t ms_delta = (first >> 2) & 0x1f;
  if (first & 0x80) ms_delta |= GetVarint(b, off) << 5;
  return ms_delta;
}

void PutString(std::string& b, std::string_view s) {
  PutVarint(b, s.size());
  b.append(s);
}

std::string_view GetString(const std::string& b, size_t* off) {
  uint64_t len = GetVarint(b, off);
  std::string_view s(b.data() + *off, len);
  *off += len;
  return s;
}

// --- listpack sizes (listpack.c), so nodes split where Redis's would -------------------------

size_t LpBacklenSize(size_t l) {
  if (l <= 127) return 1;
  if (l < 16383) return 2;
  if (l < 2097151) return 3;
  if (l < 268435455) return 4;
  return 5;
}

size_t LpIntSize(int64_t v) {
  if (v >= 0 && v <= 127) return 2;
  if (v >= -4096 && v <= 4095) return 3;
  if (v >= -32768 && v <= 32767) return 4;
  if (v >= -8388608 && v <= 8388607) return 5;
  if (v >= INT32_MIN && v <= INT32_MAX) return 6;
  return 10;
}

size_t LpStringSize(std::string_view s) {
  int64_t v;
  if (StringToInt64(s, &v)) return LpIntSize(v);
  size_t enc = s.size() < 64 ? 1 + s.size() : s.size() < 4096 ? 2 + s.size() : 5 + s.size();
  return enc + LpBacklenSize(enc);
}

}  // namespace

// --- StreamID --------------------------------------------------------------------------------

bool StreamID::Incr() {
  if (seq != UINT64_MAX) {
    seq++;
    return true;
  }
  if (ms == UINT64_MAX) {
    ms = seq = 0;
    return false;
  }
  ms++;
  seq = 0;
  return true;
}

bool StreamID::Decr() {
  if (seq != 0) {
    seq--;
    return true;
  }
  if (ms == 0) {
    ms = seq = UINT64_MAX;
    return false;
  }
  ms--;
  seq = UINT64_MAX;
  return true;
}

size_t StreamID::Format(char* buf) const {
  char* p = buf;
  auto put = [&p](uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
  };
  put(ms);
  *p++ = '-';
  put(seq);
  return static_cast<size_t>(p - buf);
}

std::string StreamID::ToString() const {
  char buf[kMaxChars];
  return std::string(buf, Format(buf));
}

// --- Node ------------------------------------------------------------------------------------

struct StreamObject::Node {
  std::string buf;          // master fields, then entries
  StreamID last_id;         // the last entry written (live or deleted)
  uint32_t count = 0;       // live entries
  uint32_t deleted = 0;     // entries marked deleted
  uint32_t entries_at = 0;  // offset of the first entry
  uint32_t master_fields = 0;
  int64_t lp_rest = 0;  // Redis's listpack bytes for this node, minus the count/deleted items

  int64_t ListpackBytes() const { return lp_rest + LpIntSize(count) + LpIntSize(deleted); }
};

namespace {

using Node = StreamObject::Node;

// Decodes the header of the entry at *off (prev is the previous entry's id, first says there is
// none: the entry's id is then the node key). Leaves *off at the entry's values.
StreamID ReadEntryId(const Node& n, StreamID key, StreamID prev, bool first, size_t* off,
                     uint8_t* flags) {
  uint64_t ms_delta = GetHeader(n.buf, off, flags);
  uint64_t seq_field = GetVarint(n.buf, off);
  if (first) return {key.ms + ms_delta, key.seq + seq_field};
  if (ms_delta == 0) return {prev.ms, prev.seq + 1 + seq_field};
  return {prev.ms + ms_delta, seq_field};
}

// Skips the values of an entry whose header was just read.
void SkipBody(const Node& n, uint8_t flags, size_t* off) {
  uint64_t items = n.master_fields;
  if (!(flags & kFlagSameFields)) items = GetVarint(n.buf, off) * 2;
  for (uint64_t i = 0; i < items; i++) *off += GetVarint(n.buf, off);
}

// Finds the entry with id in node n: its offset, or SIZE_MAX.
size_t FindInNode(const Node& n, StreamID key, StreamID id, uint8_t* flags) {
  size_t off = n.entries_at;
  StreamID prev;
  bool first = true;
  while (off < n.buf.size()) {
    size_t at = off;
    StreamID cur = ReadEntryId(n, key, prev, first, &off, flags);
    if (cur == id) return at;
    if (cur > id) break;
    SkipBody(n, *flags, &off);
    prev = cur;
    first = false;
  }
  return SIZE_MAX;
}

// The id of a new entry (streamAppendItem): from the clock when use_id is null (never going
// backward), else use_id, or with !seq_given its ms with the next free sequence. False when it
// would not be above last; *overflow when that sequence cannot advance (7.0.15 then returns
// C_ERR without setting errno, so XADD answers with its other error, "Elements are too large").
bool NewEntryId(StreamID last, const StreamID* use_id, bool seq_given, int64_t now_ms, StreamID* id,
                bool* overflow) {
  if (use_id == nullptr) {
    auto ms = static_cast<uint64_t>(now_ms);
    *id = ms > last.ms ? StreamID{ms, 0} : last;
    if (ms <= last.ms) id->Incr();
  } else if (seq_given || last.ms != use_id->ms) {
    *id = *use_id;
  } else {
    if (last.seq == UINT64_MAX) {
      *overflow = true;
      return false;
    }
    *id = {last.ms, last.seq + 1};
  }
  return *id > last;
}

// A node whose master fields are those of fv, without entries yet.
std::unique_ptr<Node> NewNode(std::span<const std::string_view> fv) {
  auto node = std::make_unique<Node>();
  size_t numfields = fv.size() / 2;
  PutVarint(node->buf, numfields);
  node->lp_rest = 7 + LpIntSize(static_cast<int64_t>(numfields)) + LpIntSize(0);
  for (size_t i = 0; i < numfields; i++) {
    PutString(node->buf, fv[2 * i]);
    node->lp_rest += static_cast<int64_t>(LpStringSize(fv[2 * i]));
  }
  node->entries_at = static_cast<uint32_t>(node->buf.size());
  node->master_fields = static_cast<uint32_t>(numfields);
  return node;
}

// Whether fv has the node's master fields, in order.
bool SameFields(const Node& n, std::span<const std::string_view> fv) {
  if (fv.size() / 2 != n.master_fields) return false;
  size_t off = 0;
  GetVarint(n.buf, &off);
  for (size_t i = 0; i < n.master_fields; i++) {
    if (GetString(n.buf, &off) != fv[2 * i]) return false;
  }
  return true;
}

// Encodes an entry at the end of node n (master is the node key), counting what Redis's listpack
// entry would take: flags, ms and seq deltas to the master, [num-fields, fields,] values, lp-count.
void AppendToNode(Node& n, StreamID master, StreamID id, bool same,
                  std::span<const std::string_view> fv) {
  uint8_t flags = same ? kFlagSameFields : 0;
  if (n.count + n.deleted == 0) {
    PutHeader(n.buf, flags, 0);
    PutVarint(n.buf, 0);
  } else if (id.ms == n.last_id.ms) {
    PutHeader(n.buf, flags, 0);
    PutVarint(n.buf, id.seq - n.last_id.seq - 1);
  } else {
    PutHeader(n.buf, flags, id.ms - n.last_id.ms);
    PutVarint(n.buf, id.seq);
  }
  auto numfields = static_cast<int64_t>(fv.size() / 2);
  int64_t lp = LpIntSize(flags) + LpIntSize(static_cast<int64_t>(id.ms - master.ms)) +
               LpIntSize(static_cast<int64_t>(id.seq - master.seq));
  if (!same) {
    PutVarint(n.buf, fv.size() / 2);
    lp += LpIntSize(numfields);
  }
  for (size_t i = 0; i < fv.size(); i++) {
    if (same && i % 2 == 0) continue;
    PutString(n.buf, fv[i]);
    lp += static_cast<int64_t>(LpStringSize(fv[i]));
  }
  int64_t lp_count = numfields + 3 + (same ? 0 : numfields + 1);
  n.lp_rest += lp + LpIntSize(lp_count);
  n.count++;
  n.last_id = id;
}

// streamTrim's partial step: marks entries deleted from the front of node n (keyed key) until
// the trim is satisfied; the node stays even when no live entry is left. Returns how many.
int64_t TrimNodeFront(Node& n, StreamID key, const StreamTrimSpec& spec, uint64_t length) {
  bool maxlen = spec.strategy == StreamTrimSpec::Strategy::kMaxLen;
  auto target = static_cast<uint64_t>(std::max<int64_t>(spec.maxlen, 0));
  int64_t deleted = 0;
  size_t off = n.entries_at;
  StreamID prev;
  bool first = true;
  while (off < n.buf.size()) {
    size_t at = off;
    uint8_t flags;
    StreamID cur = ReadEntryId(n, key, prev, first, &off, &flags);
    if (maxlen ? length - deleted <= target : cur >= spec.minid) break;
    SkipBody(n, flags, &off);
    prev = cur;
    first = false;
    if (flags & kFlagDeleted) continue;
    n.buf[at] = static_cast<char>(n.buf[at] | kFlagDeleted);
    n.count--;
    n.deleted++;
    deleted++;
  }
  return deleted;
}
}  // namespace

// --- StreamObject: entries -------------------------------------------------------------------

StreamObject::StreamObject() = default;
StreamObject::~StreamObject() = default;

StreamObject::Node* StreamObject::TailNodeFor(std::span<const std::string_view> fv,
                                              const StreamLimits& limits) {
  if (nodes_.empty()) return nullptr;
  Node* tail = nodes_.rbegin()->second.get();
  int64_t max_bytes = limits.node_max_bytes;
  if (max_bytes <= 0 || max_bytes > kListpackMaxSize) max_bytes = kListpackMaxSize;
  int64_t totelelen = 0;
  for (std::string_view s : fv) totelelen += static_cast<int64_t>(s.size());
  bool full = tail->ListpackBytes() + totelelen >= max_bytes;
  if (!full && limits.node_max_entries > 0) {
    full = static_cast<int64_t>(tail->count) + tail->deleted >= limits.node_max_entries;
  }
  if (!full) return tail;
  tail->buf.shrink_to_fit();  // sealed: no spare capacity kept
  return nullptr;
}

StreamObject::AppendStatus StreamObject::Append(std::span<const std::string_view> fv,
                                                const StreamID* use_id, bool seq_given,
                                                int64_t now_ms, const StreamLimits& limits,
                                                StreamID* added) {
  StreamID id;
  bool overflow = false;
  if (!NewEntryId(last_id_, use_id, seq_given, now_ms, &id, &overflow)) {
    return overflow ? AppendStatus::kTooLarge : AppendStatus::kIdTooSmall;
  }
  size_t totelelen = 0;
  for (std::string_view s : fv) totelelen += s.size();
  if (totelelen > static_cast<size_t>(kListpackMaxSize)) return AppendStatus::kTooLarge;
  Node* node = TailNodeFor(fv, limits);
  bool same = true;
  if (node == nullptr) {
    node = nodes_.emplace(id, NewNode(fv)).first->second.get();
  } else {
    same = SameFields(*node, fv);
  }
  AppendToNode(*node, nodes_.rbegin()->first, id, same, fv);
  length_++;
  entries_added_++;
  last_id_ = id;
  if (length_ == 1) first_id_ = id;
  *added = id;
  return AppendStatus::kOk;
}

void StreamObject::MarkDeleted(NodeMap::iterator it, size_t offset) {
  Node& n = *it->second;
  n.buf[offset] = static_cast<char>(n.buf[offset] | kFlagDeleted);
  length_--;
  if (n.count == 1) {
    nodes_.erase(it);
    return;
  }
  n.count--;
  n.deleted++;
}

bool StreamObject::Delete(StreamID id) {
  auto it = nodes_.upper_bound(id);
  if (it == nodes_.begin()) return false;
  --it;
  uint8_t flags;
  size_t offset = FindInNode(*it->second, it->first, id, &flags);
  if (offset == SIZE_MAX || (flags & kFlagDeleted)) return false;
  MarkDeleted(it, offset);
  if (id > max_deleted_entry_id_) max_deleted_entry_id_ = id;
  if (length_ == 0) {
    first_id_ = StreamID::Min();
  } else if (id == first_id_) {
    RefreshFirstId();
  }
  return true;
}

bool StreamObject::EntryExists(StreamID id) const {
  auto it = nodes_.upper_bound(id);
  if (it == nodes_.begin()) return false;
  --it;
  uint8_t flags;
  return FindInNode(*it->second, it->first, id, &flags) != SIZE_MAX && !(flags & kFlagDeleted);
}

void StreamObject::RefreshFirstId() {
  if (length_ == 0 || !FirstEntryId(&first_id_)) first_id_ = StreamID::Min();
}

bool StreamObject::FirstEntryId(StreamID* id, bool skip_tombstones) const {
  if (!skip_tombstones) {
    if (nodes_.empty()) return false;
    *id = nodes_.begin()->first;
    return true;
  }
  StreamIterator it(*this);
  if (!it.Next()) return false;
  *id = it.id();
  return true;
}

bool StreamObject::LastEntryId(StreamID* id, bool skip_tombstones) const {
  if (!skip_tombstones) {
    if (nodes_.empty()) return false;
    *id = nodes_.rbegin()->second->last_id;
    return true;
  }
  StreamIterator it(*this, StreamID::Min(), StreamID::Max(), true);
  if (!it.Next()) return false;
  *id = it.id();
  return true;
}

int64_t StreamObject::Trim(const StreamTrimSpec& spec) {
  using Strategy = StreamTrimSpec::Strategy;
  if (spec.strategy == Strategy::kNone) return 0;
  bool maxlen = spec.strategy == Strategy::kMaxLen;
  auto target = static_cast<uint64_t>(std::max<int64_t>(spec.maxlen, 0));
  int64_t deleted = 0;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (maxlen && length_ <= target) break;
    Node& n = *it->second;
    int64_t entries = n.count;
    if (spec.limit != 0 && deleted + entries > spec.limit) break;
    if (maxlen ? length_ - entries >= target : n.last_id < spec.minid) {
      length_ -= entries;
      deleted += entries;
      it = nodes_.erase(it);
      continue;
    }
    if (!spec.approx) {
      int64_t marked = TrimNodeFront(n, it->first, spec, length_);
      length_ -= marked;
      deleted += marked;
    }
    break;  // a node that cannot go whole ends the trim
  }
  RefreshFirstId();
  return deleted;
}

// --- lag helpers -----------------------------------------------------------------------------

bool StreamObject::RangeHasTombstones(StreamID start, StreamID end) const {
  if (length_ == 0 || max_deleted_entry_id_.IsZero()) return false;
  if (first_id_ > max_deleted_entry_id_) return false;
  return start <= max_deleted_entry_id_ && max_deleted_entry_id_ <= end;
}

int64_t StreamObject::EstimateDistanceFromFirstEverEntry(StreamID id) const {
  if (entries_added_ == 0) return 0;
  if (length_ == 0 && id <= last_id_) return static_cast<int64_t>(entries_added_);
  if (id == last_id_) return static_cast<int64_t>(entries_added_);
  if (id > last_id_) return kInvalidEntriesRead;
  if (max_deleted_entry_id_.IsZero() || max_deleted_entry_id_ < first_id_) {
    if (id < first_id_) return static_cast<int64_t>(entries_added_ - length_);
    if (id == first_id_) return static_cast<int64_t>(entries_added_ - length_ + 1);
  }
  return kInvalidEntriesRead;
}

// --- consumer groups -------------------------------------------------------------------------

StreamConsumer* StreamGroup::FindConsumer(std::string_view name) const {
  auto it = consumers.find(name);
  return it == consumers.end() ? nullptr : it->second.get();
}

StreamConsumer* StreamGroup::CreateConsumer(std::string_view name, int64_t now_ms) {
  auto [it, added] = consumers.try_emplace(std::string(name));
  if (!added) return nullptr;
  it->second = std::make_unique<StreamConsumer>();
  it->second->name = std::string(name);
  it->second->seen_time_ms = now_ms;
  return it->second.get();
}

size_t StreamGroup::DeleteConsumer(StreamConsumer* consumer) {
  size_t pending = consumer->pel.size();
  for (auto& [id, nack] : consumer->pel) pel.erase(id);
  consumers.erase(consumer->name);
  return pending;
}

StreamGroup* StreamObject::FindGroup(std::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : it->second.get();
}

StreamGroup* StreamObject::CreateGroup(std::string_view name, StreamID last_id,
                                       int64_t entries_read) {
  auto [it, added] = groups_.try_emplace(std::string(name));
  if (!added) return nullptr;
  it->second = std::make_unique<StreamGroup>();
  it->second->last_id = last_id;
  it->second->entries_read = entries_read;
  return it->second.get();
}

bool StreamObject::DestroyGroup(std::string_view name) {
  auto it = groups_.find(name);
  if (it == groups_.end()) return false;
  groups_.erase(it);
  return true;
}

// --- TypedObject -----------------------------------------------------------------------------

std::unique_ptr<TypedObject> StreamObject::Clone() const {
  auto copy = std::make_unique<StreamObject>();
  for (const auto& [key, node] : nodes_) copy->nodes_.emplace(key, std::make_unique<Node>(*node));
  copy->length_ = length_;
  copy->last_id_ = last_id_;
  copy->first_id_ = first_id_;
  copy->max_deleted_entry_id_ = max_deleted_entry_id_;
  copy->entries_added_ = entries_added_;
  for (const auto& [name, group] : groups_) {
    StreamGroup* g = copy->CreateGroup(name, group->last_id, group->entries_read);
    for (const auto& [id, nack] : group->pel) {
      g->pel.emplace(id, std::make_unique<StreamNack>(*nack));
    }
    for (const auto& [cname, consumer] : group->consumers) {
      StreamConsumer* c = g->CreateConsumer(cname, consumer->seen_time_ms);
      for (const auto& [id, nack] : consumer->pel) {
        StreamNack* n = g->pel.at(id).get();
        n->consumer = c;
        c->pel.emplace(id, n);
      }
    }
  }
  return copy;
}

size_t StreamObject::MemoryUsage() const {
  constexpr size_t kMapNode = 48;  // red-black node header plus key
  size_t total = sizeof(*this);
  for (const auto& [key, node] : nodes_) total += kMapNode + sizeof(Node) + node->buf.capacity();
  for (const auto& [name, group] : groups_) {
    total += kMapNode + name.size() + sizeof(StreamGroup);
    total += group->pel.size() * (kMapNode + sizeof(StreamNack) + kMapNode);
    for (const auto& [cname, c] : group->consumers) {
      total += kMapNode + sizeof(StreamConsumer) + 2 * cname.size();
    }
  }
  return total;
}

// --- StreamIterator --------------------------------------------------------------------------

StreamIterator::StreamIterator(const StreamObject& s, StreamID start, StreamID end, bool rev)
    : s_(&s), start_(start), end_(end), rev_(rev) {
  const auto& nodes = s.nodes();
  if (start > end) {
    done_ = true;
    return;
  }
  // The node that may hold the first id to visit: the last one keyed at or below it.
  node_it_ = nodes.upper_bound(rev ? end : start);
  if (node_it_ != nodes.begin()) {
    --node_it_;
  } else if (rev) {
    done_ = true;  // every node starts after end
  }
}

bool StreamIterator::EnterNode() {
  const auto& nodes = s_->nodes();
  if (node_it_ == nodes.end()) return false;
  const Node& n = *node_it_->second;
  master_.clear();
  size_t off = 0;
  GetVarint(n.buf, &off);
  for (uint32_t i = 0; i < n.master_fields; i++) master_.push_back(GetString(n.buf, &off));
  off_ = n.entries_at;
  first_ = true;
  if (rev_) {
    slots_.clear();
    StreamID prev;
    while (off_ < n.buf.size()) {
      Slot slot{static_cast<uint32_t>(off_), 0, {}};
      slot.id = ReadEntryId(n, node_it_->first, prev, first_, &off_, &slot.flags);
      SkipBody(n, slot.flags, &off_);
      slots_.push_back(slot);
      prev = slot.id;
      first_ = false;
    }
    slot_ = slots_.size();
  }
  in_node_ = true;
  return true;
}

void StreamIterator::ReadBody(size_t offset, uint8_t flags) {
  const Node& n = *node_it_->second;
  fv_.clear();
  if (flags & kFlagSameFields) {
    for (std::string_view f : master_) {
      fv_.push_back(f);
      fv_.push_back(GetString(n.buf, &offset));
    }
    return;
  }
  uint64_t fields = GetVarint(n.buf, &offset);
  for (uint64_t i = 0; i < 2 * fields; i++) fv_.push_back(GetString(n.buf, &offset));
}

bool StreamIterator::NextForward() {
  while (true) {
    if (!in_node_ && !EnterNode()) return false;
    const Node& n = *node_it_->second;
    while (off_ < n.buf.size()) {
      uint8_t flags;
      StreamID cur = ReadEntryId(n, node_it_->first, prev_, first_, &off_, &flags);
      prev_ = cur;
      first_ = false;
      if (cur > end_) return false;
      if ((flags & kFlagDeleted) || cur < start_) {
        SkipBody(n, flags, &off_);
        continue;
      }
      size_t body = off_;
      SkipBody(n, flags, &off_);
      id_ = cur;
      ReadBody(body, flags);
      return true;
    }
    ++node_it_;
    in_node_ = false;
  }
}

bool StreamIterator::NextReverse() {
  while (true) {
    if (!in_node_ && !EnterNode()) return false;
    const Node& n = *node_it_->second;
    while (slot_ > 0) {
      const Slot& slot = slots_[--slot_];
      if (slot.id < start_) return false;
      if ((slot.flags & kFlagDeleted) || slot.id > end_) continue;
      size_t off = slot.offset;
      uint8_t flags;
      GetHeader(n.buf, &off, &flags);
      GetVarint(n.buf, &off);
      id_ = slot.id;
      ReadBody(off, slot.flags);
      return true;
    }
    if (node_it_ == s_->nodes().begin()) return false;
    --node_it_;
    in_node_ = false;
  }
}

bool StreamIterator::Next() {
  if (done_) return false;
  bool found = rev_ ? NextReverse() : NextForward();
  if (!found) done_ = true;
  return found;
}

}  // namespace docket::storage
