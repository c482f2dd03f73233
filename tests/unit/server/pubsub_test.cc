// Tests for the pub/sub registry without sockets (subscription order, counts, removal, delivery
// bytes in RESP2 and RESP3, receivers) and for the keyspace-event class strings, whose expected
// forms are what redis-server 7.0.15 reports with CONFIG GET. Depends on server/ and doctest.
#include "server/pubsub.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/client.h"
#include "server/config.h"
#include "server/server.h"

namespace docket::server {
namespace {

struct Fixture {
  ConfigRegistry config;
  Server server{&config};
  PubsubRegistry& pubsub = server.pubsub();
  Client a{&server, -1, 1}, b{&server, -1, 2};
  ~Fixture() {
    pubsub.RemoveClient(a);
    pubsub.RemoveClient(b);
  }
};

std::string Normalized(std::string_view classes) {
  int flags = KeyspaceEventsStringToFlags(classes);
  return flags < 0 ? "<error>" : KeyspaceEventsFlagsToString(flags);
}

}  // namespace

TEST_CASE("keyspace event classes parse and print as Redis's") {
  CHECK(Normalized("") == "");
  CHECK(Normalized("KEA") == "AKE");
  CHECK(Normalized("Ag") == "A");
  CHECK(Normalized("Kgx") == "gxK");
  CHECK(Normalized("$lshzxetdnm") == "$lshzxetdnm");
  CHECK(Normalized("g$lshzxetd") == "A");
  CHECK(Normalized("KEmn") == "nKEm");
  CHECK(Normalized("An") == "A");  // Redis hides 'n' next to 'A'
  CHECK(Normalized("Ad") == "A");
  CHECK(Normalized("q") == "<error>");
  CHECK(Normalized("KEA ") == "<error>");
  CHECK(Normalized(std::string_view("K\0q", 3)) == "K");  // read as a C string
  CHECK((KeyspaceEventsStringToFlags("An") & kNotifyNew) != 0);
  CHECK(NotifyClassOf('$') == kNotifyString);
  CHECK(NotifyClassOf('?') == 0);
}

TEST_CASE("registry: subscriptions, counts and order") {
  Fixture f;
  CHECK(f.pubsub.Subscribe(f.a, "c2", false));
  CHECK(f.pubsub.Subscribe(f.a, "c1", false));
  CHECK_FALSE(f.pubsub.Subscribe(f.a, "c2", false));
  CHECK(f.pubsub.Subscribe(f.a, "c1", true));  // shard channels are a separate namespace
  CHECK(f.pubsub.PSubscribe(f.a, "c*"));
  CHECK_FALSE(f.pubsub.PSubscribe(f.a, "c*"));
  CHECK(f.pubsub.CountFor(f.a, false) == 3);
  CHECK(f.pubsub.CountFor(f.a, true) == 1);
  CHECK(f.pubsub.ChannelsOf(f.a, false) == std::vector<std::string>{"c2", "c1"});
  CHECK(f.pubsub.Subscribe(f.b, "c1", false));
  CHECK(f.pubsub.PSubscribe(f.b, "c*"));
  CHECK(f.pubsub.NumSub("c1", false) == 2);
  CHECK(f.pubsub.NumSub("c1", true) == 1);
  CHECK(f.pubsub.pattern_count() == 1);
  CHECK(f.pubsub.channel_count() == 2);
  CHECK(f.pubsub.Channels(false, "*1", false) == std::vector<std::string_view>{"c1"});
  CHECK_FALSE(f.pubsub.Unsubscribe(f.b, "c2", false));
  CHECK(f.pubsub.Unsubscribe(f.a, "c2", false));
  CHECK(f.pubsub.channel_count() == 1);
  f.pubsub.RemoveClient(f.a);
  CHECK(f.pubsub.CountFor(f.a, false) == 0);
  CHECK(f.pubsub.NumSub("c1", false) == 1);
  CHECK(f.pubsub.NumSub("c1", true) == 0);
  CHECK(f.pubsub.shard_channel_count() == 0);
  CHECK(f.pubsub.pattern_count() == 1);
  CHECK(f.pubsub.PUnsubscribe(f.b, "c*"));
  CHECK(f.pubsub.pattern_count() == 0);
}

TEST_CASE("registry: delivery bytes and receivers") {
  Fixture f;
  f.b.set_resp(3);
  f.pubsub.Subscribe(f.a, "news", false);
  f.pubsub.PSubscribe(f.a, "n*");
  f.pubsub.Subscribe(f.b, "news", false);
  f.pubsub.Subscribe(f.b, "news", true);
  CHECK(f.pubsub.Publish("news", "hi", false) == 3);
  CHECK(f.a.out() ==
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
  CHECK(f.b.out() == ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
  f.b.out().clear();
  CHECK(f.pubsub.Publish("news", std::string_view("\0", 1), true) == 1);
  CHECK(f.b.out() == std::string(">3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$1\r\n\0\r\n", 35));
  CHECK(f.pubsub.Publish("other", "x", false) == 0);
  CHECK(f.pubsub.Publish("", "x", false) == 0);  // "n*" and even "*" never match ""
}

}  // namespace docket::server
