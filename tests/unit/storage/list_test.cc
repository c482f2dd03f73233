// Tests for storage/list: every encoding (integers at their width limits, string length
// boundaries, elements bigger than a node), random operations against a std::deque model with
// many seeds and sizes, node bounds and memory per element, deep copies, and queue patterns.
#include "storage/list.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace docket::storage {
namespace {

using Model = std::deque<std::string>;

std::vector<std::string> Contents(const ListObject& l) {
  std::vector<std::string> out;
  l.Walk(true, [&](size_t i, std::string_view v) {
    CHECK(i == out.size());
    out.emplace_back(v);
    return true;
  });
  return out;
}

// Full comparison with the model: size, both walks, Range, Get at both signs.
void Compare(const ListObject& l, const Model& m) {
  std::string problem;
  INFO(problem);
  REQUIRE(l.CheckInvariants(&problem));
  REQUIRE(l.size() == m.size());
  std::vector<std::string> fwd = Contents(l);
  REQUIRE(std::equal(fwd.begin(), fwd.end(), m.begin(), m.end()));
  size_t expect = m.size();
  l.Walk(false, [&](size_t i, std::string_view v) {
    CHECK(i == expect - 1);
    expect = i;
    CHECK(v == m[i]);
    return true;
  });
  CHECK(expect == 0);
  if (m.empty()) {
    std::string s;
    CHECK_FALSE(l.Get(0, &s));
    CHECK_FALSE(l.Get(-1, &s));
    return;
  }
  size_t k = 0;
  l.Range(0, m.size() - 1, [&](std::string_view v) { CHECK(v == m[k++]); });
  CHECK(k == m.size());
}

// Values: small strings, integers (canonical and not), length boundaries, big ones.
class ValueGen {
 public:
  explicit ValueGen(uint32_t seed) : rng_(seed) {}
  std::string Next() {
    int kind = Pick(100);
    if (kind < 30) return pool_[Pick(pool_.size())];
    if (kind < 55) return std::string(Pick(20), static_cast<char>('a' + Pick(26)));
    if (kind < 75) return std::to_string(static_cast<int64_t>(rng_()) >> Pick(64));
    if (kind < 80) return "0" + std::to_string(Pick(1000));  // not canonical
    if (kind < 95) return std::string(100 + Pick(300), 'm');
    if (kind < 98) return std::string(4000 + Pick(4400), 'L');
    return std::string(8100 + Pick(12000), 'B');
  }
  size_t Pick(size_t n) { return n == 0 ? 0 : rng_() % n; }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> pool_ = {"", "a", "x", "0", "-1", "42", "hello", "-0", "+1", "7 "};
};

// One random operation on both the list and the model.
void RandomOp(ListObject& l, Model& m, ValueGen& g, int bias_pushes) {
  int op = static_cast<int>(g.Pick(100));
  int64_t n = static_cast<int64_t>(m.size());
  auto rand_index = [&](int64_t slack) {
    return static_cast<int64_t>(g.Pick(static_cast<size_t>(2 * (n + slack) + 1))) - n - slack;
  };
  if (op < bias_pushes) {
    std::string v = g.Next();
    if (g.Pick(2)) {
      l.PushFront(v);
      m.push_front(v);
    } else {
      l.PushBack(v);
      m.push_back(v);
    }
  } else if (op < bias_pushes + 15) {
    if (m.empty()) return;
    if (g.Pick(2)) {
      CHECK(l.PopFront() == m.front());
      m.pop_front();
    } else {
      CHECK(l.PopBack() == m.back());
      m.pop_back();
    }
  } else if (op < bias_pushes + 25) {
    int64_t i = rand_index(2);
    std::string got;
    bool in = i >= -n && i < n;
    REQUIRE(l.Get(i, &got) == in);
    if (in) CHECK(got == m[static_cast<size_t>(i < 0 ? i + n : i)]);
  } else if (op < bias_pushes + 33) {
    int64_t i = rand_index(2);
    std::string v = g.Next();
    bool in = i >= -n && i < n;
    REQUIRE(l.Set(i, v) == in);
    if (in) m[static_cast<size_t>(i < 0 ? i + n : i)] = v;
  } else if (op < bias_pushes + 41) {
    std::string pivot = m.empty() || g.Pick(4) == 0 ? g.Next() : m[g.Pick(m.size())];
    std::string v = g.Next();
    bool before = g.Pick(2);
    auto it = std::find(m.begin(), m.end(), pivot);
    REQUIRE(l.Insert(pivot, v, before) == (it != m.end()));
    if (it != m.end()) m.insert(before ? it : it + 1, v);
  } else if (op < bias_pushes + 48) {
    std::string v = m.empty() || g.Pick(4) == 0 ? g.Next() : m[g.Pick(m.size())];
    int64_t count = static_cast<int64_t>(g.Pick(7)) - 3;
    size_t removed = 0;
    if (count >= 0) {
      for (auto it = m.begin(); it != m.end() && (count == 0 || removed < size_t(count));) {
        if (*it == v) {
          it = m.erase(it);
          removed++;
        } else {
          ++it;
        }
      }
    } else {
      for (size_t i = m.size(); i > 0 && removed < size_t(-count); i--) {
        if (m[i - 1] == v) {
          m.erase(m.begin() + static_cast<int64_t>(i - 1));
          removed++;
        }
      }
    }
    CHECK(l.Remove(v, count) == removed);
  } else if (op < bias_pushes + 52) {
    // LTRIM's own index handling, as ltrimCommand does it.
    int64_t start = rand_index(3), stop = rand_index(3);
    if (g.Pick(8) == 0) start = 0;
    if (g.Pick(8) == 0) stop = -1;
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    if (start < 0) start = 0;
    if (start > stop || start >= n) {
      m.clear();
    } else {
      if (stop >= n) stop = n - 1;
      m.erase(m.begin() + stop + 1, m.end());
      m.erase(m.begin(), m.begin() + start);
    }
    l.Trim(start, stop);
  } else if (!m.empty()) {
    size_t a = g.Pick(m.size()), b = g.Pick(m.size());
    if (a > b) std::swap(a, b);
    size_t k = a;
    l.Range(a, b, [&](std::string_view v) { CHECK(v == m[k++]); });
    CHECK(k == b + 1);
  }
}

TEST_CASE("empty list") {
  ListObject l;
  CHECK(l.empty());
  CHECK(l.node_count() == 0);
  CHECK(l.EncodingName() == "quicklist");
  std::string s;
  CHECK_FALSE(l.Get(0, &s));
  CHECK_FALSE(l.Set(-1, "x"));
  CHECK_FALSE(l.Insert("a", "b", true));
  CHECK(l.Remove("a", 0) == 0);
  l.Trim(0, -1);
  int calls = 0;
  l.Walk(true, [&](size_t, std::string_view) { return ++calls, true; });
  l.Walk(false, [&](size_t, std::string_view) { return ++calls, true; });
  CHECK(calls == 0);
  CHECK(l.CheckInvariants());
}

TEST_CASE("every encoding round-trips") {
  std::vector<std::string> values = {"",
                                     "0",
                                     "-1",
                                     "1",
                                     "127",
                                     "128",
                                     "-128",
                                     "-129",
                                     "255",
                                     "32767",
                                     "32768",
                                     "-32768",
                                     "-32769",
                                     "8388607",
                                     "8388608",
                                     "-8388608",
                                     "-8388609",
                                     "2147483647",
                                     "2147483648",
                                     "-2147483648",
                                     "-2147483649",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "9223372036854775808",
                                     "-9223372036854775809",
                                     "-0",
                                     "00",
                                     "01",
                                     "+1",
                                     " 1",
                                     "1 ",
                                     "1.5",
                                     "-",
                                     "12345678901234567890123",
                                     std::string(127, 'a'),
                                     std::string(128, 'b'),
                                     std::string(16383, 'c'),
                                     std::string(16384, 'd'),
                                     std::string(70000, 'e'),
                                     std::string("\0\x80\xff", 3)};
  ListObject l;
  Model m;
  for (const std::string& v : values) {
    l.PushBack(v);
    m.push_back(v);
    l.PushFront(v);
    m.push_front(v);
  }
  Compare(l, m);
  for (const std::string& v : values) {
    CHECK(l.Remove(v, 1) == 1);
    CHECK(l.Remove(v, -1) == 1);
    CHECK(l.Remove(v, 0) == 0);
  }
  CHECK(l.empty());
  CHECK(l.node_count() == 0);
}

TEST_CASE("integers compare by value of their text only") {
  ListObject l;
  l.PushBack("10");
  l.PushBack("010");
  l.PushBack("10");
  CHECK(l.Remove("010", 0) == 1);
  CHECK(l.Remove("10", 0) == 2);
  CHECK(l.empty());
}

TEST_CASE("random operations against a deque") {
  for (uint32_t seed = 1; seed <= 60; seed++) {
    CAPTURE(seed);
    ValueGen g(seed);
    ListObject l;
    Model m;
    // Alternate growing and shrinking phases so lists pass through many sizes.
    int steps = seed % 3 == 0 ? 6000 : 1500;
    for (int step = 0; step < steps; step++) {
      int bias = (step / 500) % 2 == 0 ? 45 : 20;
      RandomOp(l, m, g, bias);
      if (step % 97 == 0 || m.size() < 20) Compare(l, m);
    }
    Compare(l, m);
  }
}

TEST_CASE("random operations on small strings keep nodes full") {
  for (uint32_t seed = 100; seed < 110; seed++) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    ListObject l;
    Model m;
    for (int i = 0; i < 20000; i++) {
      std::string v = "v" + std::to_string(rng() % 50);
      l.PushBack(v);
      m.push_back(v);
    }
    for (int step = 0; step < 3000; step++) {
      std::string v = "v" + std::to_string(rng() % 50);
      switch (rng() % 5) {
        case 0: {
          int64_t i = static_cast<int64_t>(rng() % m.size());
          std::string w = std::string(rng() % 40, 'w');
          l.Set(i, w);
          m[static_cast<size_t>(i)] = w;
          break;
        }
        case 1: {
          auto it = std::find(m.begin(), m.end(), v);
          CHECK(l.Insert(v, "ins", true) == (it != m.end()));
          if (it != m.end()) m.insert(it, "ins");
          break;
        }
        case 2: {
          size_t removed = 0;
          for (auto it = m.begin(); it != m.end() && removed < 30;) {
            it = *it == v ? (removed++, m.erase(it)) : it + 1;
          }
          CHECK(l.Remove(v, 30) == removed);
          break;
        }
        default: {
          l.PushBack(v);
          m.push_back(v);
        }
      }
    }
    Compare(l, m);
  }
}

TEST_CASE("big elements get nodes of their own") {
  ListObject l;
  std::string big(20000, 'x');
  l.PushBack("a");
  l.PushBack(big);
  l.PushBack("b");
  CHECK(l.node_count() == 3);
  l.PushFront(big);
  l.PushFront("c");
  CHECK(l.node_count() == 5);
  CHECK(l.Insert("a", big, false));  // between "a" and the big one
  CHECK(l.node_count() == 6);
  CHECK(l.Set(0, big));
  CHECK(l.Set(0, "small"));
  CHECK(l.Insert(big, "d", true));
  Model m = {"small", "d", big, "a", big, big, "b"};
  Compare(l, m);
  CHECK(l.Remove(big, 0) == 3);
  m = {"small", "d", "a", "b"};
  Compare(l, m);
  CHECK(l.node_count() == 1);
}

TEST_CASE("nodes stay bounded and memory per element is small") {
  ListObject l;
  std::string v(16, 'x');
  const size_t kCount = 100000;
  for (size_t i = 0; i < kCount; i++) {
    v[0] = static_cast<char>('a' + i % 26);
    l.PushBack(v);
  }
  CHECK(l.CheckInvariants());
  // 17 bytes an element, about 479 to a node.
  CHECK(l.node_count() <= kCount / 470 + 1);
  double per_element = static_cast<double>(l.MemoryUsage()) / kCount;
  CHECK(per_element < 17.3);
  // The same from the front.
  ListObject f;
  for (size_t i = 0; i < kCount; i++) f.PushFront(v);
  CHECK(f.node_count() <= kCount / 470 + 1);
  CHECK(static_cast<double>(f.MemoryUsage()) / kCount < 17.3);
  // Small integers take fewer bytes.
  ListObject ints;
  for (size_t i = 0; i < kCount; i++) ints.PushBack(std::to_string(i % 30000));
  CHECK(static_cast<double>(ints.MemoryUsage()) / kCount < 3.2);
  // Removing most elements merges nodes back together.
  ListObject r;
  for (size_t i = 0; i < kCount; i++) r.PushBack(i % 10 == 0 ? "keep-me-please" : "drop");
  CHECK(r.Remove("drop", 0) == kCount - kCount / 10);
  CHECK(r.CheckInvariants());
  CHECK(r.node_count() <= (kCount / 10) * 15 / 8152 + 2);
  CHECK(static_cast<double>(r.MemoryUsage()) / (kCount / 10) < 17);
}

TEST_CASE("queues drain at both ends") {
  ListObject l;
  Model m;
  std::mt19937 rng(7);
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 30000; i++) {
      std::string v = std::to_string(rng() % 100000) + "-job";
      if (round % 2 == 0) {
        l.PushFront(v);
        m.push_front(v);
      } else {
        l.PushBack(v);
        m.push_back(v);
      }
      // LPUSH + RPOP and RPUSH + LPOP with a backlog that comes and goes.
      if (i % 3 == 0 || (i > 15000 && i % 3 != 2)) {
        if (round % 2 == 0) {
          CHECK(l.PopBack() == m.back());
          m.pop_back();
        } else {
          CHECK(l.PopFront() == m.front());
          m.pop_front();
        }
      }
    }
    Compare(l, m);
  }
  while (!m.empty()) {
    CHECK(l.PopBack() == m.back());
    m.pop_back();
  }
  CHECK(l.empty());
  CHECK(l.node_count() == 0);
  CHECK(l.MemoryUsage() < 4096);
}

TEST_CASE("capped list: LPUSH then LTRIM 0 N") {
  ListObject l;
  Model m;
  for (int i = 0; i < 20000; i++) {
    std::string v = "event:" + std::to_string(i);
    l.PushFront(v);
    m.push_front(v);
    l.Trim(0, 999);
    if (m.size() > 1000) m.pop_back();
  }
  Compare(l, m);
  CHECK(l.node_count() <= 4);
}

TEST_CASE("walk stops early in both directions") {
  ListObject l;
  for (int i = 0; i < 3000; i++) l.PushBack(std::to_string(i));
  std::vector<size_t> seen;
  l.Walk(true, [&](size_t i, std::string_view v) {
    CHECK(v == std::to_string(i));
    seen.push_back(i);
    return i < 1000;
  });
  CHECK(seen.size() == 1001);
  seen.clear();
  l.Walk(false, [&](size_t i, std::string_view v) {
    CHECK(v == std::to_string(i));
    seen.push_back(i);
    return i > 2000;
  });
  REQUIRE(seen.size() == 1000);
  CHECK(seen.front() == 2999);
  CHECK(seen.back() == 2000);
}

TEST_CASE("clone is deep") {
  ListObject l;
  for (int i = 0; i < 5000; i++) l.PushBack("e" + std::to_string(i));
  l.PopBack();  // builds the tail index, which the copy must not share
  auto copy_obj = l.Clone();
  auto& copy = static_cast<ListObject&>(*copy_obj);
  CHECK(copy.CheckInvariants());
  CHECK(Contents(copy) == Contents(l));
  copy.Set(0, "changed");
  copy.PopBack();
  copy.PushFront("new");
  std::string s;
  REQUIRE(l.Get(0, &s));
  CHECK(s == "e0");
  CHECK(l.size() == 4999);
  CHECK(l.PopBack() == "e4998");
  CHECK(copy.PopBack() == "e4997");
  CHECK(copy.MemoryUsage() <= l.MemoryUsage() + 64);
}

TEST_CASE("lists from one to a hundred thousand elements") {
  std::mt19937_64 rng(3);
  for (size_t n : {1, 2, 3, 478, 479, 480, 481, 1000, 9999, 100000}) {
    CAPTURE(n);
    ListObject l;
    Model m;
    for (size_t i = 0; i < n; i++) {
      std::string v(rng() % 24, static_cast<char>('a' + i % 26));
      l.PushBack(v);
      m.push_back(v);
    }
    Compare(l, m);
    for (int k = 0; k < 200; k++) {
      int64_t i = static_cast<int64_t>(rng() % (2 * n + 4)) - static_cast<int64_t>(n) - 2;
      std::string got;
      bool in = i >= -static_cast<int64_t>(n) && i < static_cast<int64_t>(n);
      REQUIRE(l.Get(i, &got) == in);
      if (in) CHECK(got == m[static_cast<size_t>(i < 0 ? i + static_cast<int64_t>(n) : i)]);
    }
    size_t a = rng() % n, b = rng() % n;
    l.Trim(static_cast<int64_t>(std::min(a, b)), static_cast<int64_t>(std::max(a, b)));
    m.erase(m.begin() + static_cast<int64_t>(std::max(a, b)) + 1, m.end());
    m.erase(m.begin(), m.begin() + static_cast<int64_t>(std::min(a, b)));
    Compare(l, m);
  }
}

}  // namespace
}  // namespace docket::storage
