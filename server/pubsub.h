// The pub/sub registry: channels, patterns and shard channels with their subscribers in
// subscription order, each client's own subscriptions, and delivery (a message is formatted once
// and appended to every receiver's output). Also Redis's keyspace-event classes and the
// notify-keyspace-events / client-output-buffer-limit parameters. Depends on server/ and storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/config.h"

namespace docket::server {

class Server;
class Client;

// Redis's NOTIFY_* classes (server.h), as bits of Config::notify_keyspace_events.
enum NotifyClass : int {
  kNotifyKeyspace = 1 << 0,  // K
  kNotifyKeyevent = 1 << 1,  // E
  kNotifyGeneric = 1 << 2,   // g
  kNotifyString = 1 << 3,    // $
  kNotifyList = 1 << 4,      // l
  kNotifySet = 1 << 5,       // s
  kNotifyHash = 1 << 6,      // h
  kNotifyZset = 1 << 7,      // z
  kNotifyExpired = 1 << 8,   // x
  kNotifyEvicted = 1 << 9,   // e
  kNotifyStream = 1 << 10,   // t
  kNotifyKeyMiss = 1 << 11,  // m (not part of A)
  kNotifyModule = 1 << 13,   // d
  kNotifyNew = 1 << 14,      // n (not part of A)
  kNotifyAll = kNotifyGeneric | kNotifyString | kNotifyList | kNotifySet | kNotifyHash |
               kNotifyZset | kNotifyExpired | kNotifyEvicted | kNotifyStream | kNotifyModule,
};

// Redis's keyspaceEventsStringToFlags: -1 when a character names no class.
int KeyspaceEventsStringToFlags(std::string_view classes);
// Redis's keyspaceEventsFlagsToString (CONFIG GET's normal form: "AKE", "gxK", ...).
std::string KeyspaceEventsFlagsToString(int flags);
// The class bit of an event type letter as command families pass it ('g', '$', 'x', ...).
int NotifyClassOf(char type);

// CONFIG parameters owned by pub/sub (registered by ConfigRegistry).
ConfigParam NotifyKeyspaceEventsParam();
ConfigParam ClientOutputBufferLimitParam();

class PubsubRegistry {
 public:
  explicit PubsubRegistry(Server* server) : server_(server) {}
  PubsubRegistry(const PubsubRegistry&) = delete;
  PubsubRegistry& operator=(const PubsubRegistry&) = delete;

  // Each returns true when it changed something (a new subscription, an existing one removed).
  bool Subscribe(Client& c, std::string_view channel, bool shard);
  bool Unsubscribe(Client& c, std::string_view channel, bool shard);
  bool PSubscribe(Client& c, std::string_view pattern);
  bool PUnsubscribe(Client& c, std::string_view pattern);
  // c's channels (shard or not) or patterns, in subscription order.
  std::vector<std::string> ChannelsOf(const Client& c, bool shard) const;
  std::vector<std::string> PatternsOf(const Client& c) const;
  // Drops all of c's subscriptions without replies (RESET, disconnect).
  void RemoveClient(Client& c);

  // What SUBSCRIBE / UNSUBSCRIBE replies count: channels + patterns, or shard channels.
  size_t CountFor(const Client& c, bool shard) const;
  size_t channels_of(const Client& c) const;
  size_t patterns_of(const Client& c) const;
  size_t shard_channels_of(const Client& c) const;

  // Delivers message to the subscribers of channel (and, unless shard, of matching patterns).
  // Returns the number of receivers, as PUBLISH replies.
  size_t Publish(std::string_view channel, std::string_view message, bool shard);

  // Introspection (PUBSUB, INFO).
  size_t channel_count() const { return channels_.size(); }
  size_t shard_channel_count() const { return shard_channels_.size(); }
  size_t pattern_count() const { return patterns_.size(); }
  size_t NumSub(std::string_view channel, bool shard) const;
  // Active channels matching pattern (all when pattern is empty and match_all).
  std::vector<std::string_view> Channels(bool shard, std::string_view pattern,
                                         bool match_all) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Subscribers = std::vector<Client*>;
  using ChannelMap = std::unordered_map<std::string, Subscribers, Hash, std::equal_to<>>;
  // A client's subscriptions of one kind: name -> order of subscription.
  using OwnSet = std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>>;
  struct Own {
    OwnSet channels, patterns, shard;
    uint64_t next_seq = 0;
  };
  struct Pattern {
    std::string pattern;
    Subscribers subscribers;
  };

  const Own* OwnOf(const Client& c) const;
  Own* OwnOf(const Client& c);
  Own& OwnFor(Client& c);
  void DropOwnIfEmpty(const Client& c);
  static std::vector<std::string> Ordered(const OwnSet& set);
  static bool RemoveSubscriber(Subscribers& subs, const Client* c);
  void RemovePattern(std::string_view pattern, const Client* c);
  // Appends the RESP2 bytes of a message ('*' first) to c's output, as a push in RESP3.
  void Deliver(Client& c, const std::string& resp2);

  Server* server_;
  ChannelMap channels_;
  ChannelMap shard_channels_;
  std::unordered_map<std::string, std::unique_ptr<Pattern>, Hash, std::equal_to<>> patterns_;
  std::vector<Pattern*> pattern_list_;     // the same patterns, for PUBLISH's scan
  std::unordered_map<uint64_t, Own> own_;  // client id -> its subscriptions
};

}  // namespace docket::server
