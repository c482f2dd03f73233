// Tests for storage/hash: random operations against a std::map model (with an insertion-order
// model while the hash is a listpack), the one-way conversion at both limits, full scans across
// table growth, random sampling (distinct, listpack order) and deep copies.
#include "storage/hash.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace docket::storage {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Contents(HashObject& h) {
  Pairs out;
  h.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  return out;
}

std::map<std::string, std::string> AsMap(HashObject& h) {
  Pairs p = Contents(h);
  return {p.begin(), p.end()};
}

TEST_CASE("hash: set, get, delete, insertion order while a listpack") {
  HashObject h;
  CHECK(h.empty());
  CHECK(h.EncodingName() == "listpack");
  CHECK(h.Set("b", "1"));
  CHECK(h.Set("a", "2"));
  CHECK(h.Set("c", "3"));
  CHECK_FALSE(h.Set("a", "two"));  // overwrite keeps the position
  CHECK(Contents(h) == Pairs{{"b", "1"}, {"a", "two"}, {"c", "3"}});
  CHECK(*h.Get("a") == "two");
  CHECK_FALSE(h.Get("zz").has_value());
  CHECK(h.Delete("b"));
  CHECK_FALSE(h.Delete("b"));
  CHECK(h.Set("b", "again"));  // re-added at the end
  CHECK(Contents(h) == Pairs{{"a", "two"}, {"c", "3"}, {"b", "again"}});
  CHECK(h.Set(std::string("\0x", 2), std::string("v\0", 2)));
  CHECK(*h.Get(std::string("\0x", 2)) == std::string("v\0", 2));
  CHECK_FALSE(h.Get("x").has_value());
  CHECK(h.size() == 4);
}

TEST_CASE("hash: packed lengths across the varint boundaries") {
  HashObject h(HashLimits{512, 100000});
  std::map<std::string, std::string> model;
  for (size_t n : {0, 1, 126, 127, 128, 129, 255, 16383, 16384, 70000}) {
    std::string f = "f" + std::to_string(n);
    std::string v(n, 'x');
    h.Set(f, v);
    model[f] = v;
  }
  CHECK(h.is_listpack());
  CHECK(AsMap(h) == model);
  h.Set("f128", "short");              // shrinks the entry in place
  h.Set("f1", std::string(300, 'y'));  // grows it
  model["f128"] = "short";
  model["f1"] = std::string(300, 'y');
  CHECK(AsMap(h) == model);
  CHECK(h.Delete("f16383"));
  model.erase("f16383");
  CHECK(AsMap(h) == model);
  CHECK(Contents(h).front().first == "f0");
}

TEST_CASE("hash: converts past max entries or a long field or value, never back") {
  HashLimits limits{4, 8};
  SUBCASE("entries") {
    HashObject h(limits);
    for (int i = 0; i < 4; i++) h.Set("f" + std::to_string(i), "v");
    CHECK(h.is_listpack());
    h.Set("f4", "v");
    CHECK_FALSE(h.is_listpack());
    CHECK(h.EncodingName() == "hashtable");
    for (int i = 0; i < 5; i++) h.Delete("f" + std::to_string(i));
    CHECK(h.empty());
    CHECK_FALSE(h.is_listpack());
  }
  SUBCASE("value length") {
    HashObject h(limits);
    h.Set("f", "12345678");
    CHECK(h.is_listpack());
    h.Set("g", "123456789");
    CHECK_FALSE(h.is_listpack());
    CHECK(AsMap(h) == std::map<std::string, std::string>{{"f", "12345678"}, {"g", "123456789"}});
  }
  SUBCASE("field length and TryConversion") {
    HashObject h(limits);
    h.Set("123456789", "v");
    CHECK_FALSE(h.is_listpack());
    HashObject k(limits);
    std::string_view args[] = {"f", "short", "g", "far too long"};
    k.TryConversion(args);
    CHECK_FALSE(k.is_listpack());
    HashObject m(limits);
    std::string_view ok[] = {"f", "short"};
    m.TryConversion(ok);
    CHECK(m.is_listpack());
  }
  SUBCASE("a lowered limit applies on the next write") {
    HashObject h;
    for (int i = 0; i < 10; i++) h.Set("f" + std::to_string(i), "v");
    h.set_limits(limits);
    CHECK(h.is_listpack());
    h.Set("f0", "w");  // an overwrite checks too
    CHECK_FALSE(h.is_listpack());
    CHECK(h.size() == 10);
  }
}

TEST_CASE("hash: random operations match a std::map model") {
  for (uint64_t seed = 1; seed <= 6; seed++) {
    std::mt19937_64 rng(seed);
    HashLimits limits{seed % 2 == 0 ? 512u : 16u, 64};
    HashObject h(limits);
    std::map<std::string, std::string> model;
    Pairs order;  // insertion order, valid while h is a listpack
    size_t keyspace = seed * 200;
    for (int op = 0; op < 6000; op++) {
      std::string f = "field:" + std::to_string(rng() % keyspace);
      if (rng() % 3 != 0) {
        std::string v(rng() % (seed == 5 ? 70 : 20), static_cast<char>('a' + rng() % 26));
        bool created = model.count(f) == 0;
        CHECK(h.Set(f, v) == created);
        model[f] = v;
        auto it = std::find_if(order.begin(), order.end(), [&](auto& p) { return p.first == f; });
        if (it == order.end()) {
          order.emplace_back(f, v);
        } else {
          it->second = v;
        }
      } else {
        bool present = model.erase(f) != 0;
        CHECK(h.Delete(f) == present);
        std::erase_if(order, [&](auto& p) { return p.first == f; });
      }
      REQUIRE(h.size() == model.size());
      std::optional<std::string_view> got = h.Get(f);
      auto it = model.find(f);
      CHECK(got.has_value() == (it != model.end()));
      if (got && it != model.end()) CHECK(*got == it->second);
    }
    CHECK(AsMap(h) == model);
    if (h.is_listpack()) CHECK(Contents(h) == order);
    if (seed % 2 == 1) CHECK_FALSE(h.is_listpack());
  }
}

TEST_CASE("hash: a full HSCAN visits every field once while the table grows") {
  HashObject h(HashLimits{1, 64});
  std::set<std::string> all;
  for (int i = 0; i < 300; i++) {
    h.Set("k" + std::to_string(i), "v");
    all.insert("k" + std::to_string(i));
  }
  REQUIRE_FALSE(h.is_listpack());
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int steps = 0, extra = 300;
  do {
    cursor =
        h.Scan(cursor, [&](std::string_view f, std::string_view) { seen.insert(std::string(f)); });
    // Grow the table mid-scan: fields present throughout must still be seen.
    if (++steps % 10 == 0) h.Set("new" + std::to_string(extra++), "v");
  } while (cursor != 0);
  for (const std::string& f : all) CHECK(seen.count(f) >= 1);
}

TEST_CASE("hash: random pairs and distinct sampling") {
  std::mt19937_64 rng(42);
  for (size_t n : {5, 600}) {
    HashObject h;
    for (size_t i = 0; i < n; i++) h.Set("f" + std::to_string(i), "v" + std::to_string(i));
    CHECK(h.is_listpack() == (n <= 512));
    for (int i = 0; i < 50; i++) {
      auto [f, v] = h.Random(rng);
      CHECK(*h.Get(f) == v);
    }
    for (size_t count : {size_t{1}, size_t{2}, n / 2, n - 1}) {
      auto picked = h.RandomDistinct(rng, count);
      REQUIRE(picked.size() == count);
      std::set<std::string> fields;
      for (auto [f, v] : picked) {
        fields.insert(std::string(f));
        CHECK(*h.Get(f) == v);
      }
      CHECK(fields.size() == count);
      if (h.is_listpack()) {  // listpack order: the field numbers ascend
        for (size_t i = 1; i < picked.size(); i++) {
          CHECK(std::stoi(std::string(picked[i - 1].first.substr(1))) <
                std::stoi(std::string(picked[i].first.substr(1))));
        }
      }
    }
  }
}

TEST_CASE("hash: Clone is deep and keeps encoding and order") {
  for (size_t n : {3, 700}) {
    HashObject h;
    for (size_t i = 0; i < n; i++) h.Set("f" + std::to_string(n - i), std::to_string(i));
    auto copy_obj = h.Clone();
    auto& copy = static_cast<HashObject&>(*copy_obj);
    CHECK(copy.is_listpack() == h.is_listpack());
    CHECK(AsMap(copy) == AsMap(h));
    if (h.is_listpack()) CHECK(Contents(copy) == Contents(h));
    copy.Set("f1", "changed");
    CHECK(*h.Get("f1") != "changed");
    CHECK(h.MemoryUsage() > n * 2);
  }
}

}  // namespace
}  // namespace docket::storage
