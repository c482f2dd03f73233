// Tests for storage/dict.h and the IntrusiveTable under it: random inserts and erasures against a
// std::unordered_map model, the SCAN guarantee (every key present for a whole scan is returned,
// while the table grows, shrinks and rehashes between calls), Random on tiny, sparse and
// rehashing tables, and rehash steps.
#include "storage/dict.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace docket::storage {
namespace {

std::string Key(uint64_t i) { return "key:" + std::to_string(i); }

// Every entry of d, by key (checks there is no duplicate).
std::map<std::string, int> Contents(Dict<int>& d) {
  std::map<std::string, int> out;
  d.ForEach([&](Dict<int>::Entry& e) { CHECK(out.emplace(e.key, e.value).second); });
  return out;
}

// A full SCAN of d with nothing changing: every key exactly once or more.
std::multiset<std::string> ScanAll(Dict<int>& d) {
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = d.Scan(cursor, [&](Dict<int>::Entry& e) { seen.insert(e.key); });
  } while (cursor != 0);
  return seen;
}

bool IsPowerOfTwo(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

TEST_CASE("empty dict") {
  Dict<int> d;
  CHECK(d.size() == 0);
  CHECK(d.empty());
  CHECK(d.Find("a") == nullptr);
  CHECK_FALSE(d.Erase("a"));
  CHECK(d.Detach("a") == nullptr);
  CHECK(d.Scan(0, [](Dict<int>::Entry&) { FAIL("no entry expected"); }) == 0);
  CHECK(d.Scan(12345, [](Dict<int>::Entry&) { FAIL("no entry expected"); }) == 0);
  std::mt19937_64 rng(1);
  CHECK(d.Random(rng) == nullptr);
  CHECK_FALSE(d.Rehash(10));  // not rehashing: nothing to do, no out-of-range access
  d.ShrinkIfNeeded();
  CHECK(d.buckets() == 0);
}

TEST_CASE("insert, find, detach, binary keys") {
  Dict<int> d;
  auto [e, created] = d.Insert("a");
  CHECK(created);
  e->value = 1;
  auto [e2, created2] = d.Insert("a");
  CHECK_FALSE(created2);
  CHECK(e2 == e);
  CHECK(e2->value == 1);
  std::string bin("\0\xff\0", 3);
  d.Insert(bin).first->value = 2;
  d.Insert("").first->value = 3;
  CHECK(d.size() == 3);
  REQUIRE(d.Find(bin) != nullptr);
  CHECK(d.Find(bin)->value == 2);
  CHECK(d.Find(std::string("\0\xff", 2)) == nullptr);
  REQUIRE(d.Find("") != nullptr);
  CHECK(d.Find("")->value == 3);
  auto taken = d.Detach("a");
  REQUIRE(taken != nullptr);
  CHECK(taken->key == "a");
  CHECK(taken->value == 1);
  CHECK(taken->next == nullptr);
  CHECK(d.Find("a") == nullptr);
  CHECK(d.size() == 2);
}

TEST_CASE("random inserts and erasures match an unordered_map model") {
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    SetHashSeed(seed * 0x9e3779b97f4a7c15ULL);
    std::mt19937_64 rng(seed);
    Dict<int> d;
    std::unordered_map<std::string, int> model;
    for (int op = 0; op < 60000; op++) {
      // The key space drifts between small and large so the table grows and shrinks.
      uint64_t space = (op / 10000) % 2 == 0 ? 4000 : 200;
      std::string k = Key(rng() % space);
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2: {
          int v = static_cast<int>(rng() % 1000);
          auto [e, created] = d.Insert(k);
          CHECK(created == (model.count(k) == 0));
          e->value = v;
          model[k] = v;
          break;
        }
        case 3:
        case 4:
        case 5:
          CHECK(d.Erase(k) == (model.erase(k) == 1));
          break;
        case 6: {
          auto* e = d.Find(k);
          auto it = model.find(k);
          REQUIRE((e != nullptr) == (it != model.end()));
          if (e != nullptr) CHECK(e->value == it->second);
          break;
        }
        default:
          d.ShrinkIfNeeded();  // as the cron does
          d.Rehash(rng() % 3);
      }
      REQUIRE(d.size() == model.size());
      if (op % 5000 == 0) {
        auto contents = Contents(d);
        CHECK(contents == std::map<std::string, int>(model.begin(), model.end()));
      }
    }
    auto contents = Contents(d);
    CHECK(contents == std::map<std::string, int>(model.begin(), model.end()));
    auto seen = ScanAll(d);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == model.size());
  }
}

TEST_CASE("grow: rehash moves buckets step by step and every key stays findable") {
  SetHashSeed(7);
  Dict<int> d;
  for (int i = 0; i < 4; i++) d.Insert(Key(i)).first->value = i;
  CHECK_FALSE(d.rehashing());
  CHECK(d.buckets() == 4);
  d.Insert(Key(4)).first->value = 4;  // used == size: this insert starts a grow to 8
  REQUIRE(d.rehashing());
  CHECK(d.buckets() == 4 + 8);
  d.Insert(Key(5)).first->value = 5;
  for (int i = 0; i < 6; i++) {
    auto* e = d.Find(Key(i));  // each Find also moves one bucket
    REQUIRE(e != nullptr);
    CHECK(e->value == i);
  }
  while (d.Rehash(1)) {
  }
  CHECK_FALSE(d.rehashing());
  CHECK(d.buckets() == 8);
  CHECK(d.size() == 6);
  CHECK_FALSE(d.Rehash(1));

  // A large grow, finished by explicit steps; keys inserted mid-rehash land in the new table.
  for (int i = 6; i < 5000; i++) {
    d.Insert(Key(i)).first->value = i;
    CHECK(IsPowerOfTwo(d.rehashing() ? d.buckets() - d.buckets() / 3 : d.buckets()));
  }
  while (d.Rehash(100)) {
  }
  CHECK(IsPowerOfTwo(d.buckets()));
  CHECK(d.buckets() >= d.size());
  for (int i = 0; i < 5000; i++) CHECK(d.Find(Key(i))->value == i);
}

TEST_CASE("shrink: a sparse table shrinks to a power of two that fits") {
  SetHashSeed(11);
  Dict<int> d;
  for (int i = 0; i < 4096; i++) d.Insert(Key(i));
  while (d.Rehash(100)) {
  }
  size_t big = d.buckets();
  for (int i = 0; i < 4096; i++) {
    if (i % 64 != 0) d.Erase(Key(i));
  }
  while (d.Rehash(100)) {
  }
  CHECK(d.buckets() == big);  // only the cron shrinks
  d.ShrinkIfNeeded();
  REQUIRE(d.rehashing());
  while (d.Rehash(1)) {
  }
  CHECK(d.buckets() == 64);
  CHECK(d.size() == 64);
  for (int i = 0; i < 4096; i += 64) CHECK(d.Find(Key(i)) != nullptr);
  d.ShrinkIfNeeded();
  CHECK_FALSE(d.rehashing());  // 100% full: no further shrink
}

TEST_CASE("Rehash bounds the empty buckets it visits per step") {
  SetHashSeed(13);
  Dict<int> d;
  for (int i = 0; i < 2048; i++) d.Insert(Key(i));
  while (d.Rehash(100)) {
  }
  REQUIRE(d.buckets() == 2048);
  // Keep one key whose bucket is far from the start, so reaching it crosses many empty buckets.
  int kept = -1;
  for (int i = 0; i < 2048 && kept < 0; i++) {
    if ((HashKey(Key(i)) & 2047) >= 1500) kept = i;
  }
  REQUIRE(kept >= 0);
  for (int i = 0; i < 2048; i++) {
    if (i != kept) d.Erase(Key(i));
  }
  d.ShrinkIfNeeded();
  REQUIRE(d.rehashing());
  // One step visits at most 10 empty buckets.
  int steps = 0;
  while (d.Rehash(1)) steps++;
  CHECK(steps >= 1500 / 10 - 1);
  CHECK(d.buckets() == 4);
  CHECK(d.Find(Key(kept)) != nullptr);
}

TEST_CASE("SCAN visits every key once per table state without changes") {
  SetHashSeed(17);
  for (int n : {1, 3, 4, 5, 100, 1000}) {
    CAPTURE(n);
    Dict<int> d;
    for (int i = 0; i < n; i++) d.Insert(Key(i));
    auto seen = ScanAll(d);
    CHECK(seen.size() == static_cast<size_t>(n));  // no duplicates without resizes
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == static_cast<size_t>(n));
  }
  // Mid-rehash, too (duplicates allowed then, no misses).
  Dict<int> d;
  for (int i = 0; i < 513; i++) d.Insert(Key(i));
  REQUIRE(d.rehashing());
  auto seen = ScanAll(d);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 513);
}

// The SCAN guarantee under churn: `stable` keys stay for the whole scan, other keys come and go
// in numbers that make the table grow, shrink and rehash between calls.
void ScanUnderChurn(uint64_t seed, int stable_count, int churn_peak) {
  CAPTURE(seed);
  SetHashSeed(seed * 31 + 5);
  std::mt19937_64 rng(seed);
  Dict<int> d;
  std::set<std::string> stable;
  for (int i = 0; i < stable_count; i++) {
    stable.insert("s" + std::to_string(i));
    d.Insert("s" + std::to_string(i));
  }
  std::vector<std::string> churn;
  uint64_t next_churn = 0;
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  bool grew = false, shrank = false, mid_rehash_scan = false;
  size_t settled = d.buckets();  // table size when no rehash is in progress
  do {
    cursor = d.Scan(cursor, [&](Dict<int>::Entry& e) { seen.insert(e.key); });
    calls++;
    mid_rehash_scan |= d.rehashing();
    // Phase by call count: grow the churn set, then drop it, then grow again.
    bool growing = (calls / 20) % 2 == 0;
    int batch = static_cast<int>(rng() % 512);
    for (int i = 0; i < batch; i++) {
      if (growing && churn.size() < static_cast<size_t>(churn_peak)) {
        churn.push_back("c" + std::to_string(next_churn++));
        d.Insert(churn.back());
      } else if (!growing && !churn.empty()) {
        size_t pick = rng() % churn.size();
        d.Erase(churn[pick]);
        churn[pick] = churn.back();
        churn.pop_back();
      }
    }
    d.ShrinkIfNeeded();
    if (rng() % 3 == 0) d.Rehash(rng() % 4);
    if (!d.rehashing()) {
      grew |= d.buckets() > settled;
      shrank |= d.buckets() < settled;
      settled = d.buckets();
    }
  } while (cursor != 0 && calls < 1000000);
  CHECK(cursor == 0);
  for (const std::string& k : stable) {
    CAPTURE(k);
    CHECK(seen.count(k) == 1);
  }
  CHECK(grew);
  CHECK(shrank);
  CHECK(mid_rehash_scan);
}

TEST_CASE("SCAN returns every key present for the whole scan while the table grows and shrinks") {
  for (uint64_t seed = 1; seed <= 12; seed++) ScanUnderChurn(seed, 200, 5000);
  ScanUnderChurn(99, 3, 3000);  // almost all keys come and go
}

TEST_CASE("SCAN guarantee when the table shrinks while the cursor is deep") {
  SetHashSeed(23);
  Dict<int> d;
  std::set<std::string> stable;
  for (int i = 0; i < 4000; i++) d.Insert(Key(i));
  for (int i = 0; i < 4000; i += 97) stable.insert(Key(i));
  while (d.Rehash(100)) {
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    cursor = d.Scan(cursor, [&](Dict<int>::Entry& e) { seen.insert(e.key); });
    if (++calls == 500) {
      // Drop every non-stable key and shrink, leaving the rehash half done.
      for (int i = 0; i < 4000; i++) {
        if (stable.count(Key(i)) == 0) d.Erase(Key(i));
      }
      d.ShrinkIfNeeded();
      REQUIRE(d.rehashing());
      d.Rehash(5);
    }
  } while (cursor != 0);
  for (const std::string& k : stable) CHECK(seen.count(k) == 1);
}

TEST_CASE("Random on tiny tables returns every key") {
  SetHashSeed(29);
  std::mt19937_64 rng(5);
  Dict<int> d;
  d.Insert("only");
  for (int i = 0; i < 10; i++) CHECK(d.Random(rng)->key == "only");
  d.Insert("two");
  d.Insert("three");
  std::set<std::string> seen;
  for (int i = 0; i < 300; i++) seen.insert(d.Random(rng)->key);
  CHECK(seen == std::set<std::string>{"only", "two", "three"});
}

TEST_CASE("Random on a huge sparse table and mid-rehash") {
  SetHashSeed(31);
  std::mt19937_64 rng(9);
  Dict<int> d;
  for (int i = 0; i < 100000; i++) d.Insert(Key(i));
  while (d.Rehash(1000)) {
  }
  for (int i = 0; i < 100000; i++) {
    if (i != 4242) d.Erase(Key(i));
  }
  CHECK(d.buckets() >= 100000);  // not shrunk: one entry among >100k buckets
  for (int i = 0; i < 5; i++) CHECK(d.Random(rng)->key == Key(4242));

  // During a grow, both tables are candidates; every key is reachable.
  Dict<int> g;
  for (int i = 0; i < 64; i++) g.Insert(Key(i));
  while (g.Rehash(100)) {
  }
  g.Insert(Key(64));
  g.Insert(Key(65));
  REQUIRE(g.rehashing());
  std::set<std::string> seen;
  for (int i = 0; i < 20000 && seen.size() < 66; i++) {
    auto* e = g.Random(rng);
    REQUIRE(e != nullptr);
    seen.insert(e->key);
  }
  CHECK(seen.size() == 66);
}

TEST_CASE("Random is roughly fair over a large table") {
  SetHashSeed(37);
  std::mt19937_64 rng(3);
  Dict<int> d;
  for (int i = 0; i < 1000; i++) d.Insert(Key(i));
  std::unordered_map<std::string, int> hits;
  for (int i = 0; i < 100000; i++) hits[d.Random(rng)->key]++;
  CHECK(hits.size() > 990);
  for (auto& [k, n] : hits) CHECK(n < 1000);  // mean 100; chains make it uneven, not wild
}

TEST_CASE("Swap, move and Clear") {
  SetHashSeed(41);
  Dict<int> a, b;
  for (int i = 0; i < 100; i++) a.Insert(Key(i)).first->value = i;
  b.Insert("b").first->value = -1;
  a.Swap(b);
  CHECK(a.size() == 1);
  CHECK(b.size() == 100);
  CHECK(a.Find("b")->value == -1);
  CHECK(b.Find(Key(50))->value == 50);
  Dict<int> c(std::move(b));
  CHECK(b.size() == 0);
  CHECK(b.Find(Key(50)) == nullptr);
  CHECK(c.size() == 100);
  b = std::move(c);
  CHECK(b.size() == 100);
  CHECK(c.empty());
  b.Clear();
  CHECK(b.empty());
  CHECK(b.buckets() == 0);
  CHECK_FALSE(b.rehashing());
  b.Insert("again");
  CHECK(b.size() == 1);
}

// SINTER k k, ZINTER 2 k k: iterating a table while looking its own keys up must visit every
// key once; lookups do not move rehash buckets while a ForEach runs.
TEST_CASE("lookups in the same table during ForEach do not rehash under it") {
  SetHashSeed(11);
  Dict<int> d;
  for (int i = 0; i < 5; i++) d.Insert(Key(i)).first->value = i;
  REQUIRE(d.rehashing());
  int visited = 0, found = 0;
  d.ForEach([&](const Dict<int>::Entry& e) {
    visited++;
    for (int j = 0; j < 5; j++) found += d.Find(Key(j)) != nullptr;
    found += d.Find(e.key) != nullptr ? 0 : -100;
  });
  CHECK(visited == 5);
  CHECK(found == 25);
  CHECK(d.rehashing());  // paused, not finished, by the lookups
  d.Find(Key(0));
  while (d.Rehash(1)) {
  }
  CHECK_FALSE(d.rehashing());
}

}  // namespace
}  // namespace docket::storage
