// Tests for storage/stream: ids (successor, predecessor, text), the id rules of Append, the packed
// nodes against a std::map<id, fields> model (random appends, deletes, exact and approximate
// trims, ranges walked both ways), node splits at the entry and byte limits, the first / max
// deleted / entries-added bookkeeping, the lag helpers, and deep copies with groups and PELs.
#include "storage/stream.h"

#include <doctest/doctest.h>

#include <iterator>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace docket::storage {
namespace {

using Fields = std::vector<std::string>;
using Model = std::map<StreamID, Fields>;

StreamID Add(StreamObject& s, const Fields& fv, StreamID id, const StreamLimits& limits = {}) {
  std::vector<std::string_view> views(fv.begin(), fv.end());
  StreamID added;
  REQUIRE(s.Append(views, &id, true, 0, limits, &added) == StreamObject::AppendStatus::kOk);
  CHECK(added == id);
  return added;
}

Model Collect(const StreamObject& s, StreamID start, StreamID end, bool rev) {
  Model out;
  StreamID prev;
  bool first = true;
  for (StreamIterator it(s, start, end, rev); it.Next();) {
    if (!first) CHECK((rev ? it.id() < prev : it.id() > prev));
    first = false;
    prev = it.id();
    auto fv = it.field_values();
    out[it.id()] = Fields(fv.begin(), fv.end());
  }
  return out;
}

Model Slice(const Model& m, StreamID start, StreamID end) {
  Model out;
  for (auto it = m.lower_bound(start); it != m.end() && it->first <= end; ++it) out.insert(*it);
  return out;
}

void CheckSame(const StreamObject& s, const Model& model) {
  REQUIRE(s.length() == model.size());
  CHECK(Collect(s, StreamID::Min(), StreamID::Max(), false) == model);
  CHECK(Collect(s, StreamID::Min(), StreamID::Max(), true) == model);
  if (model.empty()) {
    CHECK(s.first_id() == StreamID::Min());
  } else {
    CHECK(s.first_id() == model.begin()->first);
    StreamID last;
    REQUIRE(s.LastEntryId(&last));
    CHECK(last == model.rbegin()->first);
  }
}

TEST_CASE("stream ids: successor, predecessor, text") {
  StreamID a{5, UINT64_MAX};
  CHECK(a.Incr());
  CHECK(a == StreamID{6, 0});
  CHECK(a.Decr());
  CHECK(a == StreamID{5, UINT64_MAX});
  StreamID max = StreamID::Max();
  CHECK_FALSE(max.Incr());
  CHECK(max == StreamID::Min());
  StreamID min = StreamID::Min();
  CHECK_FALSE(min.Decr());
  CHECK(min == StreamID::Max());
  CHECK(StreamID::Max().ToString() == "18446744073709551615-18446744073709551615");
  CHECK(StreamID{0, 0}.ToString() == "0-0");
  CHECK(StreamID{1526919030474, 55}.ToString() == "1526919030474-55");
  CHECK(StreamID{1, 2} < StreamID{2, 0});
  CHECK(StreamID{1, 2} > StreamID{1, 1});
}

TEST_CASE("stream append: id generation and its errors") {
  StreamObject s;
  std::vector<std::string_view> fv = {"f", "v"};
  StreamLimits limits;
  StreamID id;
  REQUIRE(s.Append(fv, nullptr, true, 1000, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(id == StreamID{1000, 0});
  // The clock going backward (or standing still) never makes ids go backward.
  REQUIRE(s.Append(fv, nullptr, true, 999, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(id == StreamID{1000, 1});
  REQUIRE(s.Append(fv, nullptr, true, 1001, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(id == StreamID{1001, 0});
  // <ms>-*: the next sequence for the same ms, 0 for a later ms.
  StreamID ms_only{1001, 0};
  REQUIRE(s.Append(fv, &ms_only, false, 0, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(id == StreamID{1001, 1});
  ms_only = {2000, 0};
  REQUIRE(s.Append(fv, &ms_only, false, 0, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(id == StreamID{2000, 0});
  ms_only = {1999, 0};
  CHECK(s.Append(fv, &ms_only, false, 0, limits, &id) == StreamObject::AppendStatus::kIdTooSmall);
  StreamID equal{2000, 0};
  CHECK(s.Append(fv, &equal, true, 0, limits, &id) == StreamObject::AppendStatus::kIdTooSmall);
  StreamID top{2000, UINT64_MAX};
  REQUIRE(s.Append(fv, &top, true, 0, limits, &id) == StreamObject::AppendStatus::kOk);
  ms_only = {2000, 0};  // its sequence cannot advance: 7.0.15 answers "Elements are too large"
  CHECK(s.Append(fv, &ms_only, false, 0, limits, &id) == StreamObject::AppendStatus::kTooLarge);
  CHECK(s.length() == 6);
  CHECK(s.entries_added() == 6);
  CHECK(s.last_id() == top);
  // The last possible id: an automatic id cannot follow it.
  StreamID max = StreamID::Max();
  REQUIRE(s.Append(fv, &max, true, 0, limits, &id) == StreamObject::AppendStatus::kOk);
  CHECK(s.Append(fv, nullptr, true, 5000, limits, &id) == StreamObject::AppendStatus::kIdTooSmall);
}

TEST_CASE("stream entries: fields shared with the master entry or not, empty values") {
  StreamObject s;
  Model model;
  std::vector<Fields> shapes = {{"a", "1", "b", "2"}, {"a", "x", "b", ""},  {"b", "1", "a", "2"},
                                {"a", "1"},           {"", "", "a", "123"}, {"a", "-5", "b", "9"}};
  uint64_t ms = 1;
  for (const Fields& fv : shapes) model[Add(s, fv, {ms++, 0})] = fv;
  CheckSame(s, model);
  CHECK(s.node_count() == 1);
}

TEST_CASE("stream nodes split at stream-node-max-entries and -bytes") {
  StreamLimits by_entries{4096, 5};
  StreamObject s;
  for (uint64_t i = 1; i <= 23; i++) Add(s, {"f", "v"}, {i, 0}, by_entries);
  CHECK(s.node_count() == 5);  // 5 + 5 + 5 + 5 + 3
  // Deleted entries still count toward a node's entries, as in Redis.
  CHECK(s.Delete({23, 0}));
  Add(s, {"f", "v"}, {24, 0}, by_entries);
  Add(s, {"f", "v"}, {25, 0}, by_entries);
  CHECK(s.node_count() == 5);
  Add(s, {"f", "v"}, {26, 0}, by_entries);
  CHECK(s.node_count() == 6);

  // Bytes: Redis's listpack for master {f} holding "f"->100-byte values. Header 6 + end 1 +
  // count 1 item (2) + deleted (2) + num-fields (2) + "f" (3) + terminator (2) = 18 bytes; each
  // entry: flags 2 + ms-diff 2 + seq-diff 2 + value (2 + 100 + 1) + lp-count 2 = 111 bytes. A
  // new entry goes to a new node once bytes + 101 >= 1000: after 8 entries (18 + 888 = 906).
  StreamLimits by_bytes{1000, 0};
  StreamObject b;
  std::string value(100, 'x');
  for (uint64_t i = 1; i <= 16; i++) Add(b, {"f", value}, {i, 0}, by_bytes);
  CHECK(b.node_count() == 2);
  Add(b, {"f", value}, {17, 0}, by_bytes);
  CHECK(b.node_count() == 3);
  // 0 means no limit on either side (bytes capped at 1 GiB).
  StreamObject u;
  for (uint64_t i = 1; i <= 500; i++) Add(u, {"f", "v"}, {i, 0}, StreamLimits{0, 0});
  CHECK(u.node_count() == 1);
}

TEST_CASE("stream delete: tombstones, first id, max deleted id, node removal") {
  StreamObject s;
  StreamLimits limits{4096, 3};
  for (uint64_t i = 1; i <= 9; i++) Add(s, {"f", std::to_string(i)}, {i, 0}, limits);
  CHECK(s.node_count() == 3);
  CHECK(s.Delete({1, 0}));
  CHECK_FALSE(s.Delete({1, 0}));
  CHECK_FALSE(s.Delete({100, 0}));
  CHECK_FALSE(s.Delete({0, 5}));
  CHECK(s.first_id() == StreamID{2, 0});
  CHECK(s.max_deleted_entry_id() == StreamID{1, 0});
  CHECK(s.Delete({5, 0}));
  CHECK(s.Delete({4, 0}));
  CHECK(s.max_deleted_entry_id() == StreamID{5, 0});
  CHECK(s.node_count() == 3);
  CHECK(s.Delete({6, 0}));  // the node's last live entry: the node goes
  CHECK(s.node_count() == 2);
  CHECK(s.length() == 5);
  CHECK(s.entries_added() == 9);
  CHECK(s.EntryExists({2, 0}));
  CHECK_FALSE(s.EntryExists({5, 0}));
  StreamID first;
  REQUIRE(s.FirstEntryId(&first, false));
  CHECK(first == StreamID{1, 0});  // with tombstones: the first node's first entry
  for (uint64_t i : {2, 3, 7, 8, 9}) CHECK(s.Delete({i, 0}));
  CHECK(s.length() == 0);
  CHECK(s.node_count() == 0);
  CHECK(s.first_id() == StreamID::Min());
  CHECK(s.last_id() == StreamID{9, 0});
}

TEST_CASE("stream trim: exact and approximate MAXLEN / MINID, LIMIT") {
  StreamLimits limits{4096, 10};
  auto make = [&] {
    auto s = std::make_unique<StreamObject>();
    for (uint64_t i = 1; i <= 95; i++) Add(*s, {"f", "v"}, {i, 0}, limits);
    return s;
  };
  using Strategy = StreamTrimSpec::Strategy;
  auto s = make();
  CHECK(s->Trim({Strategy::kMaxLen, 50, {}, false, 0}) == 45);
  CHECK(s->length() == 50);
  CHECK(s->first_id() == StreamID{46, 0});
  CHECK(s->node_count() == 6);  // 41..50 keeps 5 entries marked deleted
  CHECK(s->max_deleted_entry_id() == StreamID::Min());

  s = make();
  CHECK(s->Trim({Strategy::kMaxLen, 50, {}, true, 0}) == 40);  // whole nodes only
  CHECK(s->length() == 55);
  CHECK(s->first_id() == StreamID{41, 0});

  s = make();
  CHECK(s->Trim({Strategy::kMaxLen, 0, {}, true, 25}) == 20);  // LIMIT stops at a node edge
  s = make();
  CHECK(s->Trim({Strategy::kMinId, 0, {33, 0}, false, 0}) == 32);
  CHECK(s->first_id() == StreamID{33, 0});
  s = make();
  CHECK(s->Trim({Strategy::kMinId, 0, {33, 0}, true, 0}) == 30);
  CHECK(s->first_id() == StreamID{31, 0});
  s = make();
  CHECK(s->Trim({Strategy::kMaxLen, 0, {}, false, 0}) == 95);
  CHECK(s->length() == 0);
  CHECK(s->node_count() == 0);
  CHECK(s->last_id() == StreamID{95, 0});

  // MINID that deletes every live entry of a node whose last (deleted) entry is above it: the
  // node stays, empty, as in Redis.
  StreamObject t;
  for (uint64_t i = 1; i <= 5; i++) Add(t, {"f", "v"}, {i, 0}, limits);
  CHECK(t.Delete({5, 0}));
  CHECK(t.Trim({Strategy::kMinId, 0, {5, 0}, false, 0}) == 4);
  CHECK(t.length() == 0);
  CHECK(t.node_count() == 1);
  CHECK(Collect(t, StreamID::Min(), StreamID::Max(), false).empty());
  Add(t, {"f", "v"}, {6, 0}, limits);
  CHECK(t.first_id() == StreamID{6, 0});
  CHECK(Collect(t, StreamID::Min(), StreamID::Max(), true).size() == 1);
}

// Random operations against the model, with small nodes so that every path crosses nodes.
TEST_CASE("stream model: random appends, deletes, trims and ranges") {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 20; round++) {
    StreamLimits limits{static_cast<int64_t>(64 + rng() % 512), static_cast<int64_t>(rng() % 12)};
    StreamObject s;
    Model model;
    StreamID next{1 + rng() % 1000, rng() % 3};
    for (int op = 0; op < 400; op++) {
      int kind = static_cast<int>(rng() % 10);
      if (kind < 6 || model.empty()) {
        Fields fv;
        size_t n = 1 + rng() % 3;
        for (size_t i = 0; i < n; i++) {
          fv.push_back(rng() % 4 == 0 ? "g" + std::to_string(rng() % 3) : "f" + std::to_string(i));
          fv.push_back(rng() % 3 == 0 ? std::to_string(rng() % 100000)
                                      : std::string(rng() % 40, static_cast<char>('a' + i)));
        }
        model[Add(s, fv, next, limits)] = fv;
        if (rng() % 2) next.ms += 1 + rng() % 100000;
        next.seq = rng() % 2 ? next.seq + 1 + rng() % 5 : rng() % 3;
        if (next <= s.last_id()) next = {s.last_id().ms, s.last_id().seq + 1};
      } else if (kind < 8) {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        StreamID id = it->first;
        CHECK(s.Delete(id));
        model.erase(id);
        CHECK_FALSE(s.Delete(id));
      } else {
        using Strategy = StreamTrimSpec::Strategy;
        bool maxlen = rng() % 2;
        bool approx = rng() % 2;
        StreamTrimSpec spec{maxlen ? Strategy::kMaxLen : Strategy::kMinId,
                            static_cast<int64_t>(rng() % (model.size() + 2)),
                            {},
                            approx,
                            0};
        if (!maxlen) {
          auto it = model.begin();
          std::advance(it, rng() % model.size());
          spec.minid = it->first;
        }
        uint64_t before = s.length();
        int64_t removed = s.Trim(spec);
        CHECK(static_cast<uint64_t>(removed) == before - s.length());
        if (!approx && maxlen) CHECK(s.length() == std::min<uint64_t>(before, spec.maxlen));
        // Trimming removes the oldest entries: drop as many from the model's front.
        for (int64_t i = 0; i < removed; i++) model.erase(model.begin());
        if (!approx && !maxlen) CHECK((model.empty() || model.begin()->first >= spec.minid));
        if (approx && maxlen) CHECK(s.length() >= std::min<uint64_t>(before, spec.maxlen));
      }
      if (op % 25 == 0) CheckSame(s, model);
      // A random range both ways.
      StreamID a{rng() % (next.ms + 2), rng() % 4}, b{rng() % (next.ms + 2), rng() % 4};
      if (b < a) std::swap(a, b);
      Model want = Slice(model, a, b);
      CHECK(Collect(s, a, b, false) == want);
      CHECK(Collect(s, a, b, true) == want);
    }
    CheckSame(s, model);
  }
}

TEST_CASE("stream lag helpers: tombstones and distance from the first entry ever") {
  StreamObject s;
  CHECK(s.EstimateDistanceFromFirstEverEntry({5, 0}) == 0);  // never used
  for (uint64_t i = 1; i <= 5; i++) Add(s, {"f", "v"}, {i, 0});
  CHECK_FALSE(s.RangeHasTombstones());
  CHECK(s.EstimateDistanceFromFirstEverEntry({5, 0}) == 5);
  CHECK(s.EstimateDistanceFromFirstEverEntry({1, 0}) == 1);
  CHECK(s.EstimateDistanceFromFirstEverEntry({0, 5}) == 0);
  CHECK(s.EstimateDistanceFromFirstEverEntry({6, 0}) == kInvalidEntriesRead);
  CHECK(s.EstimateDistanceFromFirstEverEntry({3, 0}) == kInvalidEntriesRead);
  CHECK(s.Delete({3, 0}));
  CHECK(s.RangeHasTombstones());
  CHECK(s.RangeHasTombstones({3, 0}, {3, 0}));
  CHECK_FALSE(s.RangeHasTombstones({4, 0}));
  CHECK(s.EstimateDistanceFromFirstEverEntry({1, 0}) == kInvalidEntriesRead);
  CHECK(s.Delete({1, 0}));
  CHECK(s.Delete({2, 0}));
  // The tombstones are now all before the first entry.
  CHECK_FALSE(s.RangeHasTombstones());
  CHECK(s.EstimateDistanceFromFirstEverEntry({4, 0}) == 4);  // 5 added, 2 left: the 4th
  CHECK(s.EstimateDistanceFromFirstEverEntry({0, 1}) == 3);
  CHECK(s.Delete({4, 0}));
  CHECK(s.Delete({5, 0}));
  CHECK(s.EstimateDistanceFromFirstEverEntry({2, 0}) == 5);  // empty: all entries were read
}

TEST_CASE("stream groups: consumers, PELs and deep copies") {
  StreamObject s;
  for (uint64_t i = 1; i <= 3; i++) Add(s, {"f", std::to_string(i)}, {i, 0});
  StreamGroup* g = s.CreateGroup("g", {0, 0}, kInvalidEntriesRead);
  REQUIRE(g != nullptr);
  CHECK(s.CreateGroup("g", {1, 0}, 0) == nullptr);
  StreamConsumer* alice = g->CreateConsumer("alice", 100);
  REQUIRE(alice != nullptr);
  CHECK(g->CreateConsumer("alice", 200) == nullptr);
  CHECK(g->FindConsumer("alice") == alice);
  CHECK(alice->seen_time_ms == 100);
  for (uint64_t i = 1; i <= 2; i++) {
    auto nack = std::make_unique<StreamNack>(StreamNack{1000 + static_cast<int64_t>(i), i, alice});
    alice->pel[{i, 0}] = nack.get();
    g->pel[{i, 0}] = std::move(nack);
  }
  g->CreateConsumer("bob", 300);

  auto copy = s.Clone();
  auto& c = static_cast<StreamObject&>(*copy);
  CHECK(Collect(c, StreamID::Min(), StreamID::Max(), false) ==
        Collect(s, StreamID::Min(), StreamID::Max(), false));
  StreamGroup* cg = c.FindGroup("g");
  REQUIRE(cg != nullptr);
  CHECK(cg != g);
  StreamConsumer* calice = cg->FindConsumer("alice");
  REQUIRE(calice != nullptr);
  CHECK(calice->pel.size() == 2);
  CHECK(calice->pel.at({2, 0}) == cg->pel.at({2, 0}).get());
  CHECK(cg->pel.at({2, 0})->consumer == calice);
  CHECK(cg->pel.at({2, 0})->delivery_count == 2);
  CHECK(cg->pel.at({1, 0})->delivery_time_ms == 1001);

  CHECK(g->DeleteConsumer(alice) == 2);
  CHECK(g->pel.empty());
  CHECK(g->FindConsumer("alice") == nullptr);
  CHECK(cg->pel.size() == 2);  // the copy is independent
  CHECK(s.DestroyGroup("g"));
  CHECK_FALSE(s.DestroyGroup("g"));
  CHECK(c.FindGroup("g") != nullptr);
  CHECK(s.MemoryUsage() > 0);
  CHECK(s.EncodingName() == "stream");
}

}  // namespace
}  // namespace docket::storage
