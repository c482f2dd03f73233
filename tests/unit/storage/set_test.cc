// Tests for storage/set: both encodings against a std::set model (random adds, removes and pops),
// intset order and the conversions (non-integer member, more than kMaxIntsetEntries), SSCAN
// coverage, random members, deep copies.
#include "storage/set.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace docket::storage {
namespace {

using Model = std::set<std::string>;

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void CheckSame(SetObject& s, const Model& model) {
  REQUIRE(s.size() == model.size());
  CHECK(Sorted(s.Members()) == std::vector<std::string>(model.begin(), model.end()));
  for (const std::string& m : model) CHECK(s.Contains(m));
}

TEST_CASE("intset: integers in ascending order, canonical forms only") {
  SetObject s;
  CHECK(s.is_intset());
  CHECK(s.EncodingName() == "intset");
  CHECK(s.Add("3"));
  CHECK(s.Add("-7"));
  CHECK(s.Add("9223372036854775807"));
  CHECK(s.Add("-9223372036854775808"));
  CHECK_FALSE(s.Add("3"));
  CHECK(s.Members() ==
        std::vector<std::string>{"-9223372036854775808", "-7", "3", "9223372036854775807"});
  CHECK_FALSE(s.Contains("03"));
  CHECK_FALSE(s.Contains("+3"));
  CHECK_FALSE(s.Remove("03"));
  CHECK_FALSE(s.Remove("x"));
  CHECK(s.is_intset());
  CHECK(s.Remove("3"));
  CHECK(s.size() == 3);
}

TEST_CASE("ForMember picks the encoding of setTypeCreate") {
  CHECK(SetObject::ForMember("12")->is_intset());
  CHECK(SetObject::ForMember("-0")->EncodingName() == "hashtable");
  CHECK(SetObject::ForMember("01")->EncodingName() == "hashtable");
  CHECK(SetObject::ForMember("9223372036854775808")->EncodingName() == "hashtable");
  CHECK(SetObject::ForMember("a")->EncodingName() == "hashtable");
}

TEST_CASE("conversion on a non-integer member keeps every member and never goes back") {
  SetObject s;
  for (int i = 0; i < 100; i++) s.Add(std::to_string(i * 3));
  CHECK(s.Add("x"));
  CHECK(s.EncodingName() == "hashtable");
  CHECK(s.size() == 101);
  CHECK(s.Contains("297"));
  CHECK(s.Remove("x"));
  CHECK(s.EncodingName() == "hashtable");
  CHECK_FALSE(s.Add("297"));
}

TEST_CASE("intset converts past kMaxIntsetEntries") {
  SetObject s;
  for (size_t i = 1; i <= SetObject::kMaxIntsetEntries; i++) s.Add(std::to_string(i));
  CHECK(s.is_intset());
  CHECK_FALSE(s.Add("1"));
  CHECK(s.is_intset());
  CHECK(s.Add("0"));
  CHECK_FALSE(s.is_intset());
  CHECK(s.size() == SetObject::kMaxIntsetEntries + 1);
}

TEST_CASE("random operations match a std::set model in both encodings") {
  for (uint64_t seed = 1; seed <= 6; seed++) {
    std::mt19937_64 rng(seed);
    SetObject s;
    Model model;
    bool strings = seed % 2 == 0;  // odd seeds stay integer-only (and mostly intset)
    for (int step = 0; step < 4000; step++) {
      std::string m = std::to_string(rng() % 700);
      if (strings && rng() % 4 == 0) m = "m" + m;
      switch (rng() % 5) {
        case 0:
        case 1:
          CHECK(s.Add(m) == model.insert(m).second);
          break;
        case 2:
          CHECK(s.Remove(m) == (model.erase(m) == 1));
          break;
        case 3:
          CHECK(s.Contains(m) == (model.count(m) == 1));
          break;
        default:
          if (!model.empty()) {
            std::string popped = s.PopRandom(rng);
            CHECK(model.erase(popped) == 1);
          }
      }
      if (step % 500 == 0) CheckSame(s, model);
    }
    CheckSame(s, model);
    auto copy = s.Clone();
    CheckSame(static_cast<SetObject&>(*copy), model);
    CHECK(copy->EncodingName() == s.EncodingName());
  }
}

TEST_CASE("Random returns members, and every member eventually") {
  std::mt19937_64 rng(7);
  for (bool ints : {true, false}) {
    SetObject s;
    for (int i = 0; i < 20; i++) s.Add(ints ? std::to_string(i) : "k" + std::to_string(i));
    Model seen;
    for (int i = 0; i < 2000; i++) {
      std::string m = s.Random(rng);
      CHECK(s.Contains(m));
      seen.insert(m);
    }
    CHECK(seen.size() == 20);
  }
}

TEST_CASE("Scan: an intset in one step with cursor 0; a hashtable visits every member") {
  SetObject ints;
  for (int i = 0; i < 100; i++) ints.Add(std::to_string(i));
  std::vector<std::string> out;
  CHECK(ints.Scan(12345, 1, &out) == 0);
  CHECK(out.size() == 100);

  SetObject h(false);
  for (int i = 0; i < 1000; i++) h.Add("m" + std::to_string(i));
  Model seen;
  uint64_t cursor = 0;
  int steps = 0;
  do {
    std::vector<std::string> part;
    cursor = h.Scan(cursor, 10, &part);
    seen.insert(part.begin(), part.end());
    steps++;
  } while (cursor != 0);
  CHECK(seen.size() == 1000);
  CHECK(steps > 10);
}

TEST_CASE("binary members in a hashtable") {
  SetObject s(false);
  CHECK(s.Add(std::string_view("\0a", 2)));
  CHECK(s.Add(""));
  CHECK(s.Contains(std::string_view("\0a", 2)));
  CHECK_FALSE(s.Contains("a"));
  CHECK(s.MemoryUsage() > 0);
}

}  // namespace
}  // namespace docket::storage
