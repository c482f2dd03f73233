// Tests for storage/compact_table.h: CompactSet and CompactMap against std models (inserts,
// overwrites of equal and other lengths, erasures) while the table grows, shrinks and rehashes;
// the varint length boundaries and binary bytes; exact entry accounting; the SCAN guarantee under
// churn; Random's reach, mid-rehash included.
#include "storage/compact_table.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace docket::storage {
namespace {

std::string Member(uint64_t i) { return "m" + std::to_string(i); }

std::map<std::string, std::string> Contents(const CompactMap& m) {
  std::map<std::string, std::string> out;
  m.ForEach([&](const CompactMap::Entry& e) {
    CHECK(out.emplace(std::string(e.key()), std::string(e.value())).second);
  });
  return out;
}

std::set<std::string> Contents(const CompactSet& s) {
  std::set<std::string> out;
  s.ForEach([&](const CompactSet::Entry& e) { CHECK(out.emplace(e.key()).second); });
  return out;
}

// Entry bytes as the layout defines them: link, varint lengths, key, value.
size_t VarintBytes(size_t n) { return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4; }
size_t MapEntryBytes(size_t k, size_t v) {
  return sizeof(void*) + VarintBytes(k) + VarintBytes(v) + k + v;
}

TEST_CASE("compact set: empty table") {
  CompactSet s;
  CHECK(s.empty());
  CHECK_FALSE(s.Contains("a"));
  CHECK_FALSE(s.Erase("a"));
  CHECK(s.Scan(0, [](const CompactSet::Entry&) { FAIL("no entry expected"); }) == 0);
  std::mt19937_64 rng(1);
  CHECK(s.Random(rng) == nullptr);
  CHECK_FALSE(s.Rehash(5));
  CHECK(s.MemoryUsage() == 0);
}

TEST_CASE("compact set: random inserts and erasures match a std::set model") {
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    SetHashSeed(seed * 0x9e3779b97f4a7c15ULL);
    std::mt19937_64 rng(seed);
    CompactSet s;
    std::set<std::string> model;
    bool grew = false, shrank = false;
    size_t settled = 0;
    for (int op = 0; op < 80000; op++) {
      // Phases of 20000 operations: inserts over 4000 keys, then fewer inserts over 200 keys
      // and more erasures over all 4000, so the table grows to thousands of buckets and
      // shrinks back.
      bool small = (op / 20000) % 2 == 1;
      std::string k = Member(rng() % 4000);
      uint64_t r = rng() % 7;
      if (r < (small ? 1u : 3u)) {
        if (small) k = Member(rng() % 200);
        CHECK(s.Insert(k) == model.insert(k).second);
      } else if (r < (small ? 6u : 5u)) {
        CHECK(s.Erase(k) == (model.erase(k) == 1));
      } else if (r == 5) {
        CHECK(s.Contains(k) == (model.count(k) == 1));
      } else {
        s.ShrinkIfNeeded();
        s.Rehash(rng() % 3);
      }
      REQUIRE(s.size() == model.size());
      if (!s.rehashing()) {
        grew |= s.buckets() > settled && settled != 0;
        shrank |= s.buckets() < settled;
        settled = s.buckets();
      }
      if (op % 5000 == 0) CHECK(Contents(s) == model);
    }
    CHECK(Contents(s) == model);
    CHECK(grew);
    CHECK(shrank);
  }
}

TEST_CASE("compact map: sets, overwrites of every length and erasures match a std::map model") {
  SetHashSeed(5);
  std::mt19937_64 rng(5);
  CompactMap m;
  std::map<std::string, std::string> model;
  for (int op = 0; op < 40000; op++) {
    std::string k = Member(rng() % 1500);
    if (rng() % 4 != 0) {
      // Values of 0..20 bytes: overwrites hit both the in-place and the reallocating path.
      std::string v(rng() % 21, static_cast<char>('a' + rng() % 26));
      bool created = model.count(k) == 0;
      CHECK(m.Set(k, v) == created);
      model[k] = v;
      const CompactMap::Entry* e = m.Find(k);
      REQUIRE(e != nullptr);
      CHECK(e->key() == k);
      CHECK(e->value() == v);
    } else {
      CHECK(m.Erase(k) == (model.erase(k) == 1));
      CHECK(m.Find(k) == nullptr);
    }
    if (op % 7 == 0) m.ShrinkIfNeeded();
    REQUIRE(m.size() == model.size());
  }
  CHECK(Contents(m) == model);
  size_t bytes = 0;
  for (auto& [k, v] : model) bytes += MapEntryBytes(k.size(), v.size());
  CHECK(m.MemoryUsage() == m.buckets() * sizeof(void*) + bytes);
}

TEST_CASE("compact map: an equal-length overwrite is in place, another length reallocates") {
  CompactMap m;
  m.Set("field", "12345678");
  const CompactMap::Entry* e = m.Find("field");
  REQUIRE(e != nullptr);
  std::string_view before = e->value();
  CHECK_FALSE(m.Set("field", "abcdefgh"));
  CHECK(m.Find("field") == e);
  CHECK(before == "abcdefgh");  // the same bytes, rewritten
  CHECK_FALSE(m.Set("field", "short"));
  CHECK(m.Find("field")->value() == "short");
  CHECK_FALSE(m.Set("field", ""));
  CHECK(m.Find("field")->value().empty());
  CHECK(m.size() == 1);
  CHECK(m.MemoryUsage() == m.buckets() * sizeof(void*) + MapEntryBytes(5, 0));
}

TEST_CASE("compact map: lengths across the varint boundaries and binary bytes") {
  SetHashSeed(9);
  CompactMap m;
  std::map<std::string, std::string> model;
  int i = 0;
  for (size_t klen : {0, 1, 127, 128, 129, 16383, 16384, 70000}) {
    for (size_t vlen : {0, 1, 127, 128, 16384}) {
      std::string k(klen, static_cast<char>(0x80 | i));
      if (klen > 0) k[0] = static_cast<char>(i);  // distinct keys of one length
      std::string v(vlen, '\0');
      if (vlen > 0) v.back() = '\xff';
      if (klen == 0 && model.count(k)) continue;
      CHECK(m.Set(k, v));
      model[k] = v;
      i++;
    }
  }
  std::string nul("a\0b", 3);
  CHECK(m.Set(nul, std::string("\0", 1)));
  model[nul] = std::string("\0", 1);
  CHECK(m.Find(std::string("a\0c", 3)) == nullptr);
  for (auto& [k, v] : model) {
    const CompactMap::Entry* e = m.Find(k);
    REQUIRE(e != nullptr);
    CHECK(e->key() == k);
    CHECK(e->value() == v);
  }
  CHECK(Contents(m) == model);
  size_t bytes = 0;
  for (auto& [k, v] : model) bytes += MapEntryBytes(k.size(), v.size());
  CHECK(m.MemoryUsage() == m.buckets() * sizeof(void*) + bytes);
  for (auto& [k, v] : model) CHECK(m.Erase(k));
  CHECK(m.empty());
  CHECK(m.MemoryUsage() == m.buckets() * sizeof(void*));
}

TEST_CASE("compact set: one allocation of link + length + bytes per member") {
  CompactSet s;
  s.Insert(std::string(16, 'x'));
  s.Insert(std::string(200, 'y'));
  CHECK(s.MemoryUsage() == s.buckets() * sizeof(void*) + (8 + 1 + 16) + (8 + 2 + 200));
}

// The SCAN guarantee: `stable` members stay for the whole scan while others come and go in
// numbers that grow, shrink and rehash the table between calls.
void ScanUnderChurn(uint64_t seed) {
  CAPTURE(seed);
  SetHashSeed(seed * 131 + 7);
  std::mt19937_64 rng(seed);
  CompactSet s;
  std::set<std::string> stable;
  for (int i = 0; i < 300; i++) {
    stable.insert("s" + std::to_string(i));
    s.Insert("s" + std::to_string(i));
  }
  std::vector<std::string> churn;
  uint64_t next_churn = 0;
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  bool grew = false, shrank = false, mid_rehash = false;
  size_t settled = s.buckets();
  do {
    cursor = s.Scan(cursor, [&](const CompactSet::Entry& e) { seen.emplace(e.key()); });
    calls++;
    mid_rehash |= s.rehashing();
    bool growing = (calls / 20) % 2 == 0;
    for (int i = static_cast<int>(rng() % 512); i > 0; i--) {
      if (growing && churn.size() < 6000) {
        churn.push_back("c" + std::to_string(next_churn++));
        s.Insert(churn.back());
      } else if (!growing && !churn.empty()) {
        size_t pick = rng() % churn.size();
        s.Erase(churn[pick]);
        churn[pick] = churn.back();
        churn.pop_back();
      }
    }
    s.ShrinkIfNeeded();
    if (rng() % 3 == 0) s.Rehash(rng() % 4);
    if (!s.rehashing()) {
      grew |= s.buckets() > settled;
      shrank |= s.buckets() < settled;
      settled = s.buckets();
    }
  } while (cursor != 0 && calls < 1000000);
  CHECK(cursor == 0);
  for (const std::string& k : stable) {
    CAPTURE(k);
    CHECK(seen.count(k) == 1);
  }
  CHECK(grew);
  CHECK(shrank);
  CHECK(mid_rehash);
}

TEST_CASE("compact set: SCAN returns every member present for the whole scan") {
  for (uint64_t seed = 1; seed <= 8; seed++) ScanUnderChurn(seed);
}

TEST_CASE("compact map: a scan without changes returns every pair exactly once") {
  SetHashSeed(21);
  CompactMap m;
  for (int i = 0; i < 1000; i++) m.Set(Member(i), std::to_string(i));
  while (m.Rehash(100)) {
  }
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = m.Scan(cursor, [&](const CompactMap::Entry& e) {
      CHECK(e.value() == e.key().substr(1));
      seen.emplace(e.key());
    });
  } while (cursor != 0);
  CHECK(seen.size() == 1000);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 1000);
}

TEST_CASE("compact set: Random reaches every member, on tiny, sparse and rehashing tables") {
  SetHashSeed(33);
  std::mt19937_64 rng(4);
  CompactSet s;
  s.Insert("only");
  for (int i = 0; i < 10; i++) CHECK(s.Random(rng)->key() == "only");
  for (int i = 0; i < 63; i++) s.Insert(Member(i));
  while (s.Rehash(100)) {
  }
  REQUIRE(s.buckets() == 64);
  s.Insert("x1");  // 64 of 64 buckets used: this grows the table
  s.Insert("x2");
  REQUIRE(s.rehashing());
  std::set<std::string> seen;
  for (int i = 0; i < 30000 && seen.size() < 66; i++) seen.emplace(s.Random(rng)->key());
  CHECK(seen.size() == 66);

  for (int i = 0; i < 63; i++) s.Erase(Member(i));
  while (s.Rehash(100)) {
  }
  for (int i = 0; i < 5; i++) {
    std::string_view k = s.Random(rng)->key();
    CHECK((k == "only" || k == "x1" || k == "x2"));
  }
}

TEST_CASE("compact tables: move and swap carry entries and accounting") {
  CompactMap a;
  a.Set("k", "v");
  size_t bytes = a.MemoryUsage();
  CompactMap b(std::move(a));
  CHECK(a.empty());
  CHECK(a.MemoryUsage() == 0);
  CHECK(b.MemoryUsage() == bytes);
  CHECK(b.Find("k")->value() == "v");
  CompactMap c;
  c.Set("other", "x");
  c = std::move(b);
  CHECK(c.size() == 1);
  CHECK(c.Find("other") == nullptr);
  CHECK(c.Find("k")->value() == "v");
  c.Clear();
  CHECK(c.empty());
  CHECK(c.MemoryUsage() == 0);
}

}  // namespace
}  // namespace docket::storage
