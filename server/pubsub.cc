// The pub/sub registry and delivery (Redis 7.0's pubsub.c), keyspace-event classes (notify.c) and
// the notify-keyspace-events / client-output-buffer-limit parameters (config.c).
#include "server/pubsub.h"

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>

#include "server/client.h"
#include "server/server.h"
#include "storage/glob.h"

namespace docket::server {
namespace {

void AppendBulk(std::string& out, std::string_view s) {
  char buf[24];
  buf[0] = '$';
  char* end = std::to_chars(buf + 1, buf + sizeof(buf), s.size()).ptr;
  out.append(buf, end - buf);
  out.append("\r\n");
  out.append(s);
  out.append("\r\n");
}

// The RESP2 form of a message; a RESP3 receiver gets the same bytes with '>' for '*'.
std::string FormatMessage(std::string_view kind, std::string_view channel,
                          std::string_view message) {
  std::string out;
  out.reserve(40 + channel.size() + message.size());
  out.append("*3\r\n");
  AppendBulk(out, kind);
  AppendBulk(out, channel);
  AppendBulk(out, message);
  return out;
}

std::string FormatPatternMessage(std::string_view pattern, std::string_view channel,
                                 std::string_view message) {
  std::string out;
  out.reserve(48 + pattern.size() + channel.size() + message.size());
  out.append("*4\r\n$8\r\npmessage\r\n");
  AppendBulk(out, pattern);
  AppendBulk(out, channel);
  AppendBulk(out, message);
  return out;
}

// Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb unit (any case), no sign.
bool MemToUll(const std::string& text, uint64_t* out) {
  size_t digits = 0;
  if (!text.empty() && text[0] == '-') return false;
  while (digits < text.size() && isdigit(static_cast<unsigned char>(text[digits]))) digits++;
  std::string unit = text.substr(digits);
  static const struct {
    const char* name;
    uint64_t mul;
  } kUnits[] = {{"", 1},           {"b", 1},           {"k", 1000},
                {"kb", 1024},      {"m", 1000 * 1000}, {"mb", 1024 * 1024},
                {"g", 1000000000}, {"gb", 1ULL << 30}};
  uint64_t mul = 0;
  for (const auto& u : kUnits) {
    if (strcasecmp(unit.c_str(), u.name) == 0) mul = u.mul;
  }
  if (mul == 0 || digits >= 128) return false;
  // strtoull as Redis calls it: no digits reads 0, overflow saturates.
  uint64_t value = strtoull(text.substr(0, digits).c_str(), nullptr, 10);
  if (value > ULLONG_MAX / mul) return false;
  *out = value * mul;
  return true;
}

// Redis's updateClientOutputBufferLimit: <class> <hard> <soft> <soft_seconds>, repeated; all
// classes are checked before any is changed.
std::string SetClientOutputBufferLimit(Config& config, const std::vector<std::string>& args) {
  if (args.size() % 4 != 0) return "Wrong number of arguments in buffer limit configuration.";
  ClientOutputLimit values[kObufClasses];
  bool set[kObufClasses] = {};
  for (size_t j = 0; j < args.size(); j += 4) {
    int cls = -1;
    if (strcasecmp(args[j].c_str(), "normal") == 0) cls = kObufNormal;
    if (strcasecmp(args[j].c_str(), "slave") == 0 || strcasecmp(args[j].c_str(), "replica") == 0) {
      cls = kObufReplica;
    }
    if (strcasecmp(args[j].c_str(), "pubsub") == 0) cls = kObufPubsub;
    if (cls < 0) return "Invalid client class specified in buffer limit configuration.";
    uint64_t hard = 0, soft = 0;
    bool ok = MemToUll(args[j + 1], &hard) && MemToUll(args[j + 2], &soft);
    char* end = nullptr;
    // Redis stores strtoll's result in an int: larger values wrap.
    int seconds = static_cast<int>(strtoll(args[j + 3].c_str(), &end, 10));
    if (!ok || seconds < 0 || *end != '\0') {
      return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    }
    values[cls] = {hard, soft, seconds};
    set[cls] = true;
  }
  for (int cls = 0; cls < kObufClasses; cls++) {
    if (set[cls]) config.client_obuf_limits[cls] = values[cls];
  }
  return "";
}

// sdssplitlen(value, " "): CONFIG SET's value is split at every single space.
std::vector<std::string> SplitAtSpaces(const std::string& value) {
  std::vector<std::string> out;
  if (value.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t sp = value.find(' ', start);
    out.push_back(value.substr(start, sp == std::string::npos ? std::string::npos : sp - start));
    if (sp == std::string::npos) return out;
    start = sp + 1;
  }
}

}  // namespace

int KeyspaceEventsStringToFlags(std::string_view classes) {
  int flags = 0;
  for (char c : classes) {
    if (c == '\0') break;  // Redis reads the value as a C string
    if (c == 'A') {
      flags |= kNotifyAll;
    } else if (c == 'K') {
      flags |= kNotifyKeyspace;
    } else if (c == 'E') {
      flags |= kNotifyKeyevent;
    } else {
      int bit = NotifyClassOf(c);
      if (bit == 0) return -1;
      flags |= bit;
    }
  }
  return flags;
}

std::string KeyspaceEventsFlagsToString(int flags) {
  static const std::pair<int, char> kOrder[] = {
      {kNotifyGeneric, 'g'}, {kNotifyString, '$'}, {kNotifyList, 'l'},    {kNotifySet, 's'},
      {kNotifyHash, 'h'},    {kNotifyZset, 'z'},   {kNotifyExpired, 'x'}, {kNotifyEvicted, 'e'},
      {kNotifyStream, 't'},  {kNotifyModule, 'd'}, {kNotifyNew, 'n'}};
  std::string out;
  if ((flags & kNotifyAll) == kNotifyAll) {
    out += 'A';  // as Redis, 'n' is not shown next to 'A' (the flag itself stays on)
  } else {
    for (auto [bit, letter] : kOrder) {
      if (flags & bit) out += letter;
    }
  }
  if (flags & kNotifyKeyspace) out += 'K';
  if (flags & kNotifyKeyevent) out += 'E';
  if (flags & kNotifyKeyMiss) out += 'm';
  return out;
}

int NotifyClassOf(char type) {
  switch (type) {
    case 'g':
      return kNotifyGeneric;
    case '$':
      return kNotifyString;
    case 'l':
      return kNotifyList;
    case 's':
      return kNotifySet;
    case 'h':
      return kNotifyHash;
    case 'z':
      return kNotifyZset;
    case 'x':
      return kNotifyExpired;
    case 'e':
      return kNotifyEvicted;
    case 't':
      return kNotifyStream;
    case 'm':
      return kNotifyKeyMiss;
    case 'd':
      return kNotifyModule;
    case 'n':
      return kNotifyNew;
    default:
      return 0;
  }
}

ConfigParam NotifyKeyspaceEventsParam() {
  ConfigParam p;
  p.name = "notify-keyspace-events";
  p.quoted = true;
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    int flags = KeyspaceEventsStringToFlags(v[0]);
    if (flags == -1) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
    c.notify_keyspace_events = flags;
    return "";
  };
  p.get = [](const Config& c) { return KeyspaceEventsFlagsToString(c.notify_keyspace_events); };
  return p;
}

ConfigParam ClientOutputBufferLimitParam() {
  ConfigParam p;
  p.name = "client-output-buffer-limit";
  p.multi_arg = true;
  p.set = [](Config& c, const std::vector<std::string>& v) -> std::string {
    // CONFIG SET passes one string; a config-file line passes its words.
    return SetClientOutputBufferLimit(c, v.size() == 1 ? SplitAtSpaces(v[0]) : v);
  };
  p.get = [](const Config& c) {
    static const char* kNames[kObufClasses] = {"normal", "slave", "pubsub"};
    std::string out;
    for (int cls = 0; cls < kObufClasses; cls++) {
      const ClientOutputLimit& l = c.client_obuf_limits[cls];
      if (!out.empty()) out += ' ';
      out += std::string(kNames[cls]) + " " + std::to_string(l.hard_bytes) + " " +
             std::to_string(l.soft_bytes) + " " + std::to_string(l.soft_seconds);
    }
    return out;
  };
  return p;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

const PubsubRegistry::Own* PubsubRegistry::OwnOf(const Client& c) const {
  auto it = own_.find(c.id());
  return it == own_.end() ? nullptr : &it->second;
}

PubsubRegistry::Own* PubsubRegistry::OwnOf(const Client& c) {
  auto it = own_.find(c.id());
  return it == own_.end() ? nullptr : &it->second;
}

PubsubRegistry::Own& PubsubRegistry::OwnFor(Client& c) { return own_[c.id()]; }

void PubsubRegistry::DropOwnIfEmpty(const Client& c) {
  auto it = own_.find(c.id());
  if (it == own_.end()) return;
  const Own& own = it->second;
  if (own.channels.empty() && own.patterns.empty() && own.shard.empty()) own_.erase(it);
}

std::vector<std::string> PubsubRegistry::Ordered(const OwnSet& set) {
  std::vector<std::pair<uint64_t, const std::string*>> items;
  items.reserve(set.size());
  for (const auto& [name, seq] : set) items.emplace_back(seq, &name);
  std::sort(items.begin(), items.end());
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back(*item.second);
  return out;
}

bool PubsubRegistry::RemoveSubscriber(Subscribers& subs, const Client* c) {
  auto it = std::find(subs.begin(), subs.end(), c);
  if (it == subs.end()) return false;
  subs.erase(it);
  return true;
}

bool PubsubRegistry::Subscribe(Client& c, std::string_view channel, bool shard) {
  Own& own = OwnFor(c);
  OwnSet& set = shard ? own.shard : own.channels;
  if (set.find(channel) != set.end()) return false;
  set.emplace(std::string(channel), own.next_seq++);
  ChannelMap& map = shard ? shard_channels_ : channels_;
  auto it = map.find(channel);
  if (it == map.end()) it = map.emplace(std::string(channel), Subscribers()).first;
  it->second.push_back(&c);
  return true;
}

bool PubsubRegistry::Unsubscribe(Client& c, std::string_view channel, bool shard) {
  Own* own = OwnOf(c);
  if (own == nullptr) return false;
  OwnSet& set = shard ? own->shard : own->channels;
  auto mine = set.find(channel);
  if (mine == set.end()) return false;
  ChannelMap& map = shard ? shard_channels_ : channels_;
  auto it = map.find(channel);
  if (it != map.end() && RemoveSubscriber(it->second, &c) && it->second.empty()) map.erase(it);
  set.erase(mine);  // last: channel may point into this entry
  DropOwnIfEmpty(c);
  return true;
}

bool PubsubRegistry::PSubscribe(Client& c, std::string_view pattern) {
  Own& own = OwnFor(c);
  if (own.patterns.find(pattern) != own.patterns.end()) return false;
  own.patterns.emplace(std::string(pattern), own.next_seq++);
  auto it = patterns_.find(pattern);
  if (it == patterns_.end()) {
    auto p = std::make_unique<Pattern>();
    p->pattern = std::string(pattern);
    pattern_list_.push_back(p.get());
    it = patterns_.emplace(p->pattern, std::move(p)).first;
  }
  it->second->subscribers.push_back(&c);
  return true;
}

void PubsubRegistry::RemovePattern(std::string_view pattern, const Client* c) {
  auto it = patterns_.find(pattern);
  if (it == patterns_.end()) return;
  Pattern* p = it->second.get();
  if (!RemoveSubscriber(p->subscribers, c) || !p->subscribers.empty()) return;
  std::erase(pattern_list_, p);
  patterns_.erase(it);
}

bool PubsubRegistry::PUnsubscribe(Client& c, std::string_view pattern) {
  Own* own = OwnOf(c);
  if (own == nullptr) return false;
  auto mine = own->patterns.find(pattern);
  if (mine == own->patterns.end()) return false;
  RemovePattern(pattern, &c);
  own->patterns.erase(mine);
  DropOwnIfEmpty(c);
  return true;
}

std::vector<std::string> PubsubRegistry::ChannelsOf(const Client& c, bool shard) const {
  const Own* own = OwnOf(c);
  if (own == nullptr) return {};
  return Ordered(shard ? own->shard : own->channels);
}

std::vector<std::string> PubsubRegistry::PatternsOf(const Client& c) const {
  const Own* own = OwnOf(c);
  return own == nullptr ? std::vector<std::string>() : Ordered(own->patterns);
}

void PubsubRegistry::RemoveClient(Client& c) {
  auto it = own_.find(c.id());
  if (it == own_.end()) return;
  Own& own = it->second;
  for (auto* map : {&channels_, &shard_channels_}) {
    for (const auto& [name, seq] : map == &channels_ ? own.channels : own.shard) {
      auto ch = map->find(name);
      if (ch != map->end() && RemoveSubscriber(ch->second, &c) && ch->second.empty()) {
        map->erase(ch);
      }
    }
  }
  for (const auto& [name, seq] : own.patterns) RemovePattern(name, &c);
  own_.erase(it);
}

size_t PubsubRegistry::channels_of(const Client& c) const {
  const Own* own = OwnOf(c);
  return own == nullptr ? 0 : own->channels.size();
}

size_t PubsubRegistry::patterns_of(const Client& c) const {
  const Own* own = OwnOf(c);
  return own == nullptr ? 0 : own->patterns.size();
}

size_t PubsubRegistry::shard_channels_of(const Client& c) const {
  const Own* own = OwnOf(c);
  return own == nullptr ? 0 : own->shard.size();
}

size_t PubsubRegistry::CountFor(const Client& c, bool shard) const {
  const Own* own = OwnOf(c);
  if (own == nullptr) return 0;
  return shard ? own->shard.size() : own->channels.size() + own->patterns.size();
}

// ---------------------------------------------------------------------------------------------
// Delivery and introspection

void PubsubRegistry::Deliver(Client& c, const std::string& resp2) {
  // As Redis's prepareClientToWrite: a client on its way out gets nothing more (but counts).
  if (c.flags() & (kClientCloseAsap | kClientCloseAfterReply)) return;
  // The reply buffer, so a message to a client inside EXEC lands among EXEC's replies as in
  // Redis; muted replies (CLIENT REPLY OFF / SKIP) do not mute pushes in Redis 7.0.
  bool muted = c.flags() & (kClientReplyOff | kClientReplySkip);
  std::string& out = muted ? c.out() : *c.reply().buffer();
  if (c.resp() == 2) {
    out.append(resp2);
  } else {
    out.push_back('>');
    out.append(resp2, 1, std::string::npos);
  }
  server_->QueueWrite(c);  // also enforces client-output-buffer-limit
}

size_t PubsubRegistry::Publish(std::string_view channel, std::string_view message, bool shard) {
  size_t receivers = 0;
  ChannelMap& map = shard ? shard_channels_ : channels_;
  if (auto it = map.find(channel); it != map.end()) {
    std::string msg = FormatMessage(shard ? "smessage" : "message", channel, message);
    for (Client* c : it->second) Deliver(*c, msg);
    receivers += it->second.size();
  }
  if (shard) return receivers;  // shard channels ignore patterns
  for (Pattern* p : pattern_list_) {
    if (!storage::GlobMatch(p->pattern, channel)) continue;
    std::string msg = FormatPatternMessage(p->pattern, channel, message);
    for (Client* c : p->subscribers) Deliver(*c, msg);
    receivers += p->subscribers.size();
  }
  return receivers;
}

size_t PubsubRegistry::NumSub(std::string_view channel, bool shard) const {
  const ChannelMap& map = shard ? shard_channels_ : channels_;
  auto it = map.find(channel);
  return it == map.end() ? 0 : it->second.size();
}

std::vector<std::string_view> PubsubRegistry::Channels(bool shard, std::string_view pattern,
                                                       bool match_all) const {
  std::vector<std::string_view> out;
  for (const auto& [name, subs] : shard ? shard_channels_ : channels_) {
    if (match_all || storage::GlobMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

}  // namespace docket::server
