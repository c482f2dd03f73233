// Tests for the WATCH registry without sockets (Redis 7.0's touchWatchedKey,
// touchAllWatchedKeysInDb and isWatchedKeyExpired rules, including keys already expired when
// watched) and for the EXEC propagation buffer. Depends on server/ and doctest.
#include "server/transaction.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "server/client.h"
#include "server/config.h"
#include "server/server.h"

namespace docket::server {
namespace {

struct Fixture {
  ConfigRegistry config;
  Server server{&config};
  storage::Keyspace& keyspace = server.keyspace();
  storage::Database& db0 = keyspace.db(0);
  storage::Database& db1 = keyspace.db(1);
  WatchRegistry watches;
  Client a{&server, -1, 1}, b{&server, -1, 2};

  Fixture() { keyspace.set_now_ms(1000); }
  ~Fixture() {
    watches.UnwatchAll(a);
    watches.UnwatchAll(b);
  }
  void Set(storage::Database& db, std::string_view key, int64_t expire_ms = -1) {
    db.Set(key, storage::Value::String("v"));
    if (expire_ms != -1) db.SetExpire(key, expire_ms);
  }
};

TEST_CASE_FIXTURE(Fixture, "a touched key makes its watchers dirty and unwatches them") {
  watches.Watch(a, db0, "k");
  watches.Watch(a, db0, "k");  // once per key
  watches.Watch(a, db0, "other");
  watches.Watch(b, db0, "k");
  CHECK(watches.watched_keys(a) == 2);
  watches.Touch(db1, "k");  // another database
  CHECK_FALSE(a.Has(kClientDirtyCas));
  Set(db0, "k");
  watches.Touch(db0, "k");
  CHECK(a.Has(kClientDirtyCas));
  CHECK(b.Has(kClientDirtyCas));
  CHECK(watches.watched_keys(a) == 0);
  CHECK(watches.empty());
}

TEST_CASE_FIXTURE(Fixture,
                  "a key expired when watched: its deletion is no change, a new value is") {
  Set(db0, "k", 500);  // already expired at now = 1000
  watches.Watch(a, db0, "k");
  CHECK_FALSE(watches.AnyExpired(a, keyspace));
  db0.Delete("k");
  watches.Touch(db0, "k");
  CHECK_FALSE(a.Has(kClientDirtyCas));
  Set(db0, "k");
  watches.Touch(db0, "k");
  CHECK(a.Has(kClientDirtyCas));
}

TEST_CASE_FIXTURE(Fixture, "the expire hook touches a key still stored but expired") {
  Set(db0, "k", 2000);
  watches.Watch(a, db0, "k");
  keyspace.set_now_ms(3000);
  CHECK(watches.AnyExpired(a, keyspace));
  watches.Touch(db0, "k");  // before the deletion, as the hook runs
  CHECK(a.Has(kClientDirtyCas));
}

TEST_CASE_FIXTURE(Fixture, "flush and swap touch only keys that exist on either side") {
  Set(db0, "here");
  watches.Watch(a, db0, "here");
  watches.Watch(b, db0, "missing");
  watches.TouchAllInDb(db0, nullptr);
  CHECK(a.Has(kClientDirtyCas));
  CHECK_FALSE(b.Has(kClientDirtyCas));

  Set(db1, "missing");  // SWAPDB brings it into db0
  watches.TouchAllInDb(db0, &db1);
  CHECK(b.Has(kClientDirtyCas));
}

TEST_CASE_FIXTURE(Fixture, "swapping in an expired key marks the watch expired, not dirty") {
  watches.Watch(a, db0, "k");
  Set(db1, "k", 500);
  watches.TouchAllInDb(db0, &db1);
  CHECK_FALSE(a.Has(kClientDirtyCas));
  db0.Swap(db1);
  CHECK_FALSE(watches.AnyExpired(a, keyspace));  // expired already: ignored at EXEC
}

TEST_CASE_FIXTURE(Fixture, "swapping a live key over one expired when watched is a change") {
  Set(db0, "k", 500);
  watches.Watch(a, db0, "k");
  Set(db1, "k");
  watches.TouchAllInDb(db0, &db1);
  CHECK(a.Has(kClientDirtyCas));

  Set(db0, "gone", 500);  // expired on both sides: still expired, no change
  Set(db1, "gone", 600);
  watches.Watch(b, db0, "gone");
  watches.TouchAllInDb(db0, &db1);
  CHECK_FALSE(b.Has(kClientDirtyCas));
}

TEST_CASE("the propagation buffer keeps commands while collecting") {
  PropagationBuffer buffer;
  CHECK_FALSE(buffer.collecting());
  buffer.Begin();
  std::string_view set[] = {"SET", "k", "v"};
  buffer.Add(3, set);
  CHECK(buffer.collecting());
  std::vector<PropagationBuffer::Op> ops = buffer.Finish();
  CHECK_FALSE(buffer.collecting());
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].db == 3);
  CHECK(ops[0].argv == std::vector<std::string>{"SET", "k", "v"});
  CHECK(buffer.Finish().empty());
}

}  // namespace
}  // namespace docket::server
