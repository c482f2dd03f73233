// Tests for storage/keyspace: lazy expiry driven by the command clock (set_now_ms), the expire
// hook, paused expiry, active-expire sampling, Persist, Swap, FlushAll, SCAN over a database
// and RandomKey when keys have expired.
#include "storage/keyspace.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace docket::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// A keyspace whose expire hook records (db, key) of every expired key.
struct Fixture {
  Keyspace ks{4};
  std::vector<std::pair<int, std::string>> expired;
  Fixture() {
    ks.set_now_ms(kNow);
    ks.set_expire_hook([this](int db, std::string_view key) {
      // The key is still there when the hook runs (so it can be propagated as DEL).
      CHECK(ks.db(db).keys().Find(key) != nullptr);
      expired.emplace_back(db, std::string(key));
    });
  }
  Database& db(int i = 0) { return ks.db(i); }
};

Value Str(std::string_view s) { return Value::String(s); }

TEST_CASE("lazy expiry follows the command clock") {
  Fixture f;
  f.db().Set("k", Str("v"));
  f.db().SetExpire("k", kNow + 100);
  f.db().Set("plain", Str("p"));
  CHECK(f.db().GetExpire("k") == kNow + 100);
  CHECK(f.db().GetExpire("plain") == -1);
  f.ks.set_now_ms(kNow + 99);
  REQUIRE(f.db().Lookup("k") != nullptr);
  CHECK(f.db().Lookup("k")->str() == "v");
  CHECK_FALSE(f.db().IsExpired("k"));
  f.ks.set_now_ms(kNow + 100);  // due at exactly its time
  CHECK(f.db().IsExpired("k"));
  CHECK(f.db().size() == 2);  // still stored until touched
  CHECK(f.db().Lookup("k") == nullptr);
  CHECK(f.db().size() == 1);
  CHECK(f.db().expires_size() == 0);
  REQUIRE(f.expired.size() == 1);
  CHECK(f.expired[0] == std::make_pair(0, std::string("k")));
  CHECK(f.ks.expired_keys() == 1);
  CHECK(f.db().Lookup("k") == nullptr);
  CHECK(f.expired.size() == 1);  // the hook runs once
  CHECK(f.db().Lookup("plain") != nullptr);
}

TEST_CASE("Peek, Exists and Lookup expire; only Lookup touches the access clock") {
  Fixture f;
  f.db().Set("a", Str("1"));
  uint32_t created = f.db().Peek("a")->access_time();
  CHECK(created == kNow / 1000);
  f.ks.set_now_ms(kNow + 5000);
  CHECK(f.db().Peek("a")->access_time() == created);
  CHECK(f.db().Exists("a"));
  CHECK(f.db().Peek("a")->access_time() == created);
  CHECK(f.db().Lookup("a")->access_time() == created + 5);
  f.db().SetExpire("a", kNow);
  CHECK_FALSE(f.db().Exists("a"));
  CHECK(f.db().size() == 0);
  CHECK(f.expired.size() == 1);
}

TEST_CASE("paused expiry reports keys absent without deleting them") {
  Fixture f;
  f.db().Set("k", Str("v"));
  f.db().SetExpire("k", kNow - 1);
  f.ks.set_expire_paused(true);
  CHECK(f.db().Lookup("k") == nullptr);
  CHECK(f.db().Peek("k") == nullptr);
  CHECK(f.db().size() == 1);
  CHECK(f.expired.empty());
  int stale = -1;
  CHECK(f.db().ActiveExpireSample(20, &stale) == 0);
  CHECK(f.db().size() == 1);
  std::vector<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = f.db().Scan(cursor, [&](Database::Entry& e) { seen.push_back(e.key); });
  } while (cursor != 0);
  CHECK(seen.empty());
  CHECK(f.db().size() == 1);  // SCAN does not delete while paused either
  f.ks.set_expire_paused(false);
  CHECK(f.db().Lookup("k") == nullptr);
  CHECK(f.db().size() == 0);
  CHECK(f.expired.size() == 1);
}

TEST_CASE("Set clears the TTL unless keep_ttl; Add, Delete and Take drop it") {
  Fixture f;
  f.db().Set("k", Str("1"));
  f.db().SetExpire("k", kNow + 1000);
  f.db().Set("k", Str("2"), /*keep_ttl=*/true);
  CHECK(f.db().GetExpire("k") == kNow + 1000);
  f.db().Set("k", Str("3"));
  CHECK(f.db().GetExpire("k") == -1);
  CHECK(f.db().Lookup("k")->str() == "3");
  f.db().SetExpire("k", kNow + 1000);
  CHECK(f.db().Delete("k"));
  CHECK_FALSE(f.db().Delete("k"));
  CHECK(f.db().expires_size() == 0);
  f.db().Add("k", Str("4"));
  CHECK(f.db().GetExpire("k") == -1);
  f.db().SetExpire("k", kNow + 1000);
  auto e = f.db().Take("k");
  REQUIRE(e != nullptr);
  CHECK(e->value.str() == "4");
  CHECK(f.db().expires_size() == 0);
  CHECK(f.db().Take("k") == nullptr);
}

TEST_CASE("Persist") {
  Fixture f;
  f.db().Set("k", Str("v"));
  CHECK_FALSE(f.db().Persist("k"));
  f.db().SetExpire("k", kNow + 10);
  CHECK(f.db().Persist("k"));
  CHECK(f.db().GetExpire("k") == -1);
  CHECK_FALSE(f.db().Persist("k"));
  f.ks.set_now_ms(kNow + 1000);
  CHECK(f.db().Lookup("k") != nullptr);  // no longer expires
  CHECK_FALSE(f.db().Persist("missing"));
}

TEST_CASE("active expiry samples keys with a TTL and removes only due ones") {
  Fixture f;
  for (int i = 0; i < 1000; i++) {
    std::string k = "due" + std::to_string(i);
    f.db().Set(k, Str("v"));
    f.db().SetExpire(k, kNow - 1);
  }
  for (int i = 0; i < 1000; i++) {
    std::string k = "later" + std::to_string(i);
    f.db().Set(k, Str("v"));
    f.db().SetExpire(k, kNow + 100000);
  }
  for (int i = 0; i < 500; i++) f.db().Set("plain" + std::to_string(i), Str("v"));
  int stale = 0;
  size_t first = f.db().ActiveExpireSample(20, &stale);
  CHECK(first > 0);
  CHECK(first <= 20);
  CHECK(stale > 10);  // about half of the sampled keys are due
  size_t total = first;
  for (int round = 0; round < 2000 && f.db().expires_size() > 1000; round++) {
    total += f.db().ActiveExpireSample(20, &stale);
  }
  CHECK(total == 1000);
  CHECK(f.db().size() == 1500);
  CHECK(f.db().expires_size() == 1000);
  CHECK(f.expired.size() == 1000);
  CHECK(f.ks.expired_keys() == 1000);
  for (auto& [db, key] : f.expired) CHECK(key.rfind("due", 0) == 0);
  f.db().ActiveExpireSample(20, &stale);
  CHECK(stale == 0);
  // No key with a TTL: nothing sampled.
  CHECK(f.db(1).ActiveExpireSample(20, &stale) == 0);
  CHECK(stale == 0);
}

TEST_CASE("active expiry on a tiny database does not sample forever") {
  Fixture f;
  f.db().Set("a", Str("v"));
  f.db().SetExpire("a", kNow - 5);
  int stale = 0;
  CHECK(f.db().ActiveExpireSample(20, &stale) == 1);
  CHECK(stale > 0);
  CHECK(f.db().size() == 0);
}

TEST_CASE("Swap exchanges keys and TTLs; indexes stay") {
  Fixture f;
  f.db(0).Set("a", Str("0"));
  f.db(0).SetExpire("a", kNow + 50);
  f.db(1).Set("b", Str("1"));
  f.ks.Swap(0, 1);
  CHECK(f.db(0).index() == 0);
  CHECK(f.db(1).index() == 1);
  CHECK(f.db(0).Lookup("a") == nullptr);
  CHECK(f.db(0).Lookup("b")->str() == "1");
  CHECK(f.db(1).Lookup("a")->str() == "0");
  CHECK(f.db(1).GetExpire("a") == kNow + 50);
  CHECK(f.db(0).expires_size() == 0);
  f.ks.set_now_ms(kNow + 50);
  CHECK(f.db(1).Lookup("a") == nullptr);
  REQUIRE(f.expired.size() == 1);
  CHECK(f.expired[0].first == 1);  // expired in the database it now lives in
  f.ks.Swap(2, 2);
  CHECK(f.db(2).size() == 0);
}

TEST_CASE("FlushAll and Clear") {
  Fixture f;
  for (int i = 0; i < 4; i++) {
    f.db(i).Set("k", Str("v"));
    f.db(i).SetExpire("k", kNow + 10);
  }
  f.db(2).Clear();
  CHECK(f.db(2).size() == 0);
  CHECK(f.db(2).expires_size() == 0);
  CHECK(f.db(3).size() == 1);
  f.ks.FlushAll();
  for (int i = 0; i < 4; i++) {
    CHECK(f.db(i).size() == 0);
    CHECK(f.db(i).expires_size() == 0);
  }
  CHECK(f.expired.empty());  // flushing is not expiring
}

TEST_CASE("Database::Scan skips and deletes expired keys") {
  Fixture f;
  for (int i = 0; i < 100; i++) {
    std::string k = "k" + std::to_string(i);
    f.db().Set(k, Str("v"));
    if (i % 2 == 0) f.db().SetExpire(k, kNow - 1);
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = f.db().Scan(cursor, [&](Database::Entry& e) { seen.insert(e.key); });
  } while (cursor != 0);
  CHECK(seen.size() == 50);
  for (const std::string& k : seen) CHECK((std::stoi(k.substr(1)) % 2) == 1);
  CHECK(f.db().size() == 50);
  CHECK(f.expired.size() == 50);
}

TEST_CASE("RandomKey") {
  Fixture f;
  std::string key;
  CHECK_FALSE(f.db().RandomKey(&key));
  f.db().Set("one", Str("v"));
  REQUIRE(f.db().RandomKey(&key));
  CHECK(key == "one");
}

TEST_CASE("RandomKey when every key has expired deletes them all and finds none") {
  Fixture f;
  for (int i = 0; i < 500; i++) {
    std::string k = "k" + std::to_string(i);
    f.db().Set(k, Str("v"));
    f.db().SetExpire(k, kNow - 1);
  }
  std::string key = "untouched";
  CHECK_FALSE(f.db().RandomKey(&key));
  CHECK(key == "untouched");
  CHECK(f.db().size() == 0);
  CHECK(f.expired.size() == 500);
}

TEST_CASE("RandomKey finds the one live key among many expired ones") {
  for (int round = 0; round < 5; round++) {
    Fixture f;
    for (int i = 0; i < 5000; i++) {
      std::string k = "k" + std::to_string(i);
      f.db().Set(k, Str("v"));
      f.db().SetExpire(k, kNow - 1);
    }
    f.db().Set("live", Str("v"));
    std::string key;
    REQUIRE(f.db().RandomKey(&key));
    CHECK(key == "live");
  }
}

TEST_CASE("RandomKey with expiry paused gives up after bounded tries") {
  Fixture f;
  for (int i = 0; i < 50; i++) {
    std::string k = "k" + std::to_string(i);
    f.db().Set(k, Str("v"));
    f.db().SetExpire(k, kNow - 1);
  }
  f.ks.set_expire_paused(true);
  std::string key;
  // As Redis on a replica: after 100 expired picks, an (expired) name rather than a hang.
  REQUIRE(f.db().RandomKey(&key));
  CHECK(key.rfind("k", 0) == 0);
  CHECK(f.db().size() == 50);
  CHECK(f.expired.empty());
}

}  // namespace
}  // namespace docket::storage
