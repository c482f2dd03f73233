// Tests for storage/zset: the skiplist and member dict against a std::set<(score, member)> model
// (random sets, score updates and removes), ranks both ways, rank seeks, score and lex range
// seeks, the encoding switch, deep copies, ZSCAN coverage, node reuse on score updates and
// members stored inline.
#include "storage/zset.h"

#include <doctest/doctest.h>

#include <cmath>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace docket::storage {
namespace {

using Model = std::set<std::pair<double, std::string>>;

void CheckSame(ZSetObject& z, const Model& model) {
  REQUIRE(z.size() == model.size());
  auto it = model.begin();
  uint64_t rank = 0;
  const ZSetObject::Node* prev = nullptr;
  for (auto* x = z.First(); x != nullptr; x = x->next(), ++it, ++rank) {
    REQUIRE(it != model.end());
    CHECK(x->score == it->first);
    CHECK(x->member() == it->second);
    CHECK(x->prev() == prev);
    CHECK(z.RankOf(x) == rank);
    CHECK(z.AtRank(rank) == x);
    double s = 0;
    CHECK(z.Score(x->member(), &s));
    CHECK(s == x->score);
    prev = x;
  }
  CHECK(it == model.end());
  CHECK(z.Last() == prev);
}

TEST_CASE("zset: random operations match a std::set model") {
  std::mt19937_64 rng(7);
  ZSetObject z;
  Model model;
  std::map<std::string, double> scores;
  for (int i = 0; i < 5000; i++) {
    std::string m = "m" + std::to_string(rng() % 400);
    double score = static_cast<double>(rng() % 50);
    int op = static_cast<int>(rng() % 3);
    auto found = scores.find(m);
    if (op < 2) {
      bool added = z.Set(m, score);
      CHECK(added == (found == scores.end()));
      if (found != scores.end()) model.erase({found->second, m});
      model.insert({score, m});
      scores[m] = score;
    } else {
      CHECK(z.Remove(m) == (found != scores.end()));
      if (found != scores.end()) {
        model.erase({found->second, m});
        scores.erase(found);
      }
    }
    if (i % 500 == 0) CheckSame(z, model);
  }
  CheckSame(z, model);
  int64_t r = 0;
  for (auto& [s, m] : model) {
    CHECK(z.Rank(m, false) == r);
    CHECK(z.Rank(m, true) == static_cast<int64_t>(model.size()) - 1 - r);
    r++;
  }
  CHECK(z.Rank("nosuch", false) == -1);
  CHECK(z.AtRank(model.size()) == nullptr);
}

TEST_CASE("zset: score range seeks") {
  ZSetObject z;
  Model model;
  for (int i = 0; i < 300; i++) {
    z.Set("m" + std::to_string(i), i / 3);
    model.insert({i / 3, "m" + std::to_string(i)});
  }
  for (int lo = -2; lo < 103; lo += 7) {
    for (int hi = lo - 3; hi < 105; hi += 11) {
      for (int ex = 0; ex < 4; ex++) {
        ZScoreRange r{static_cast<double>(lo), static_cast<double>(hi), (ex & 1) != 0,
                      (ex & 2) != 0};
        const std::pair<double, std::string>* first = nullptr;
        const std::pair<double, std::string>* last = nullptr;
        for (auto& e : model) {
          if (ZSetObject::ValueGteMin(e.first, r) && ZSetObject::ValueLteMax(e.first, r)) {
            if (first == nullptr) first = &e;
            last = &e;
          }
        }
        auto* f = z.FirstInRange(r);
        auto* l = z.LastInRange(r);
        REQUIRE((f == nullptr) == (first == nullptr));
        REQUIRE((l == nullptr) == (last == nullptr));
        if (f != nullptr) {
          CHECK(f->member() == first->second);
          CHECK(l->member() == last->second);
        }
      }
    }
  }
}

TEST_CASE("zset: lex range seeks") {
  ZSetObject z;
  for (char c = 'a'; c <= 'z'; c++) z.Set(std::string(1, c), 0);
  ZLexRange r;
  r.min = "c";
  r.max = "f";
  r.maxex = true;
  CHECK(z.FirstInLex(r)->member() == "c");
  CHECK(z.LastInLex(r)->member() == "e");
  r.min_inf = true;
  CHECK(z.FirstInLex(r)->member() == "a");
  ZLexRange empty;
  empty.min_pinf = true;
  empty.max_inf = true;
  CHECK(z.FirstInLex(empty) == nullptr);
  ZLexRange all;
  all.min_inf = all.max_inf = true;
  CHECK(z.LastInLex(all)->member() == "z");
}

TEST_CASE("zset: lex seeks over a listpack with mixed scores scan like Redis's listpack") {
  // Order by score: b(1.5) d(10) -3(inf) e(inf); members are not in lex order.
  ZSetObject z;
  z.Set("b", 1.5);
  z.Set("d", 10);
  z.Set("-3", INFINITY);
  z.Set("e", INFINITY);
  ZLexRange r;  // (a [d
  r.min = "a";
  r.minex = true;
  r.max = "d";
  REQUIRE(z.FirstInLex(r) != nullptr);
  CHECK(z.FirstInLex(r)->member() == "b");
  // Back from the tail: e > d, then -3 <= d but not > a: none, though b is the first in range
  // (ZLEXCOUNT must not take a rank of the missing last member).
  CHECK(z.LastInLex(r) == nullptr);
  r.max = "e";
  REQUIRE(z.LastInLex(r) != nullptr);
  CHECK(z.LastInLex(r)->member() == "e");
  r.min = "c";  // from the head: b < c, then d
  CHECK(z.FirstInLex(r)->member() == "d");
}

TEST_CASE("zset: a listpack stores -0 as 0, a skiplist keeps it") {
  ZSetObject z;
  CHECK(std::signbit(z.StoredScore(-0.0)) == false);
  CHECK(z.StoredScore(-1.5) == -1.5);
  z.Set("a", 1);
  z.CheckConvert(1, 64);
  z.ConvertToSkiplist();
  CHECK(std::signbit(z.StoredScore(-0.0)) == true);
  ZSetObject small;
  small.Set("a", -0.0);
  small.CheckConvert(128, 64);  // stays a listpack: the stored score becomes 0
  double score = 1;
  REQUIRE(small.Score("a", &score));
  CHECK(std::signbit(score) == false);
}

TEST_CASE("zset: encodings, copies and scan") {
  ZSetObject z;
  CHECK(z.EncodingName() == "listpack");
  for (size_t i = 0; i < ZSetObject::kMaxListpackEntries; i++) {
    z.Set("m" + std::to_string(i), static_cast<double>(i));
    z.CheckConvert(ZSetObject::kMaxListpackEntries, ZSetObject::kMaxListpackValue);
  }
  CHECK(z.EncodingName() == "listpack");
  z.Set("extra", 1.5);
  z.CheckConvert(ZSetObject::kMaxListpackEntries, ZSetObject::kMaxListpackValue);
  CHECK(z.EncodingName() == "skiplist");
  z.Remove("extra");
  CHECK(z.EncodingName() == "skiplist");
  auto copy = z.Clone();
  auto& c = static_cast<ZSetObject&>(*copy);
  CHECK(c.size() == z.size());
  CHECK(c.EncodingName() == "skiplist");
  z.Remove("m0");
  CHECK(c.size() == z.size() + 1);
  std::set<std::string> seen;
  uint64_t cursor = 0;
  do {
    std::vector<std::pair<std::string, double>> out;
    cursor = c.Scan(cursor, 10, &out);
    for (auto& e : out) seen.insert(e.first);
  } while (cursor != 0);
  CHECK(seen.size() == c.size());
  ZSetObject small;
  small.Set(std::string(65, 'x'), 1);
  small.CheckConvert(ZSetObject::kMaxListpackEntries, ZSetObject::kMaxListpackValue);
  CHECK(small.EncodingName() == "skiplist");
}

TEST_CASE("zset: a score update keeps the node, in place or moved, and the index finds it") {
  ZSetObject z;
  z.Set("a", 1);
  z.Set("b", 2);
  z.Set("c", 3);
  ZSetObject::Node* b = z.AtRank(1);
  REQUIRE(b->member() == "b");
  CHECK_FALSE(z.Set("b", 2.5));  // still between its neighbours: updated in place
  CHECK(z.AtRank(1) == b);
  CHECK(b->score == 2.5);
  CHECK_FALSE(z.Set("b", 10));  // moves past "c": the same node is relinked
  CHECK(z.Last() == b);
  CHECK(z.Rank("b", false) == 2);
  CHECK_FALSE(z.Set("c", 1));  // ties order by member: a, c, b
  CheckSame(z, Model{{1, "a"}, {1, "c"}, {10, "b"}});
  std::mt19937_64 rng(1);
  std::set<std::string> drawn;
  for (int i = 0; i < 200; i++) drawn.emplace(z.Random(rng)->member());
  CHECK(drawn == std::set<std::string>{"a", "b", "c"});
  CHECK(z.Remove("b"));
  CHECK(z.Rank("b", false) == -1);
  CheckSame(z, Model{{1, "a"}, {1, "c"}});
}

TEST_CASE("zset: members are stored in the node, binary and of any length") {
  ZSetObject z;
  std::string nul("x\0y", 3);
  std::string longer(1000, '\x80');
  size_t base = z.MemoryUsage();
  z.Set("", 0);
  z.Set(nul, 1);
  z.Set(longer, 2);
  CheckSame(z, Model{{0, ""}, {1, nul}, {2, longer}});
  CHECK(z.MemoryUsage() >= base + longer.size() + nul.size());
  double s = -1;
  CHECK(z.Score(std::string("x\0z", 3), &s) == false);
  CHECK(z.Score(longer, &s));
  CHECK(s == 2);
  size_t with_long = z.MemoryUsage();
  CHECK(z.Remove(longer));
  CHECK(z.MemoryUsage() <= with_long - longer.size());
  CheckSame(z, Model{{0, ""}, {1, nul}});
}

}  // namespace
}  // namespace docket::storage
