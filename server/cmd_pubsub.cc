// Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, SSUBSCRIBE,
// SUNSUBSCRIBE, SPUBLISH and PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB /
// HELP, with Redis 7.0's replies (arrays in RESP2, pushes in RESP3). Depends on server/pubsub.h.
#include <string>
#include <string_view>
#include <vector>

#include "server/client.h"
#include "server/cmd_server.h"
#include "server/command.h"
#include "server/pubsub.h"
#include "server/server.h"

namespace docket::server {
namespace {

// A (un)subscribe confirmation, as Redis's addReplyPubsub(Un)Subscribed: an array, a push in
// RESP3. Redis 7.0 sends it even under CLIENT REPLY OFF / SKIP, so a muted client gets it in its
// output directly. name nullptr: a nil channel.
void Confirm(CommandContext& ctx, std::string_view kind, const std::string_view* name,
             size_t count) {
  Client& c = ctx.client;
  bool muted = c.Has(kClientReplyOff) || c.Has(kClientReplySkip);
  protocol::ReplyWriter w(muted ? &c.out() : ctx.reply.buffer(), c.resp());
  w.PushHeader(3);
  w.Bulk(kind);
  if (name != nullptr) {
    w.Bulk(*name);
  } else {
    w.NullBulk();
  }
  w.Integer(static_cast<int64_t>(count));
}

size_t TotalSubscriptions(PubsubRegistry& pubsub, const Client& c) {
  return pubsub.CountFor(c, false) + pubsub.CountFor(c, true);
}

// Leaves the pub/sub context once nothing is left, as Redis's (P|S)UNSUBSCRIBE.
void UpdatePubsubFlag(CommandContext& ctx) {
  if (TotalSubscriptions(ctx.server.pubsub(), ctx.client) == 0) ctx.client.Clear(kClientPubsub);
}

// SUBSCRIBE and SSUBSCRIBE. A client that must get one reply per command (inside EXEC or a
// script) may not subscribe; Redis lets SUBSCRIBE through inside MULTI, not SSUBSCRIBE.
void SubscribeChannels(CommandContext& ctx, bool shard) {
  Client& c = ctx.client;
  if (c.Has(kClientDenyBlocking) && (shard || !c.Has(kClientMulti))) {
    return ctx.reply.Error(std::string(shard ? "SSUBSCRIBE" : "SUBSCRIBE") +
                           " isn't allowed for a DENY BLOCKING client");
  }
  PubsubRegistry& pubsub = ctx.server.pubsub();
  for (size_t j = 1; j < ctx.argc(); j++) {
    std::string_view channel = ctx.arg(j);
    pubsub.Subscribe(c, channel, shard);
    Confirm(ctx, shard ? "ssubscribe" : "subscribe", &channel, pubsub.CountFor(c, shard));
  }
  c.Set(kClientPubsub);
}

// UNSUBSCRIBE and SUNSUBSCRIBE: the named channels, or all of them (one reply each, or a single
// nil reply when there were none).
void UnsubscribeChannels(CommandContext& ctx, bool shard) {
  Client& c = ctx.client;
  PubsubRegistry& pubsub = ctx.server.pubsub();
  std::string_view kind = shard ? "sunsubscribe" : "unsubscribe";
  if (ctx.argc() == 1) {
    std::vector<std::string> channels = pubsub.ChannelsOf(c, shard);
    for (const std::string& name : channels) {
      std::string_view channel = name;
      pubsub.Unsubscribe(c, channel, shard);
      Confirm(ctx, kind, &channel, pubsub.CountFor(c, shard));
    }
    if (channels.empty()) Confirm(ctx, kind, nullptr, pubsub.CountFor(c, shard));
  } else {
    for (size_t j = 1; j < ctx.argc(); j++) {
      std::string_view channel = ctx.arg(j);
      pubsub.Unsubscribe(c, channel, shard);
      Confirm(ctx, kind, &channel, pubsub.CountFor(c, shard));
    }
  }
  UpdatePubsubFlag(ctx);
}

// SUBSCRIBE channel [channel ...]
void CmdSubscribe(CommandContext& ctx) { SubscribeChannels(ctx, false); }

// SSUBSCRIBE shardchannel [shardchannel ...]
void CmdSsubscribe(CommandContext& ctx) { SubscribeChannels(ctx, true); }

// UNSUBSCRIBE [channel [channel ...]]
void CmdUnsubscribe(CommandContext& ctx) { UnsubscribeChannels(ctx, false); }

// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
void CmdSunsubscribe(CommandContext& ctx) { UnsubscribeChannels(ctx, true); }

// PSUBSCRIBE pattern [pattern ...]
void CmdPsubscribe(CommandContext& ctx) {
  Client& c = ctx.client;
  if (c.Has(kClientDenyBlocking) && !c.Has(kClientMulti)) {
    return ctx.reply.Error("PSUBSCRIBE isn't allowed for a DENY BLOCKING client");
  }
  PubsubRegistry& pubsub = ctx.server.pubsub();
  for (size_t j = 1; j < ctx.argc(); j++) {
    std::string_view pattern = ctx.arg(j);
    pubsub.PSubscribe(c, pattern);
    Confirm(ctx, "psubscribe", &pattern, pubsub.CountFor(c, false));
  }
  c.Set(kClientPubsub);
}

// PUNSUBSCRIBE [pattern [pattern ...]]
void CmdPunsubscribe(CommandContext& ctx) {
  Client& c = ctx.client;
  PubsubRegistry& pubsub = ctx.server.pubsub();
  if (ctx.argc() == 1) {
    std::vector<std::string> patterns = pubsub.PatternsOf(c);
    for (const std::string& name : patterns) {
      std::string_view pattern = name;
      pubsub.PUnsubscribe(c, pattern);
      Confirm(ctx, "punsubscribe", &pattern, pubsub.CountFor(c, false));
    }
    if (patterns.empty()) Confirm(ctx, "punsubscribe", nullptr, pubsub.CountFor(c, false));
  } else {
    for (size_t j = 1; j < ctx.argc(); j++) {
      std::string_view pattern = ctx.arg(j);
      pubsub.PUnsubscribe(c, pattern);
      Confirm(ctx, "punsubscribe", &pattern, pubsub.CountFor(c, false));
    }
  }
  UpdatePubsubFlag(ctx);
}

// PUBLISH channel message
void CmdPublish(CommandContext& ctx) {
  size_t receivers = ctx.server.pubsub().Publish(ctx.arg(1), ctx.arg(2), false);
  ctx.reply.Integer(static_cast<int64_t>(receivers));
}

// SPUBLISH shardchannel message
void CmdSpublish(CommandContext& ctx) {
  size_t receivers = ctx.server.pubsub().Publish(ctx.arg(1), ctx.arg(2), true);
  ctx.reply.Integer(static_cast<int64_t>(receivers));
}

void ReplyChannelList(CommandContext& ctx, bool shard) {
  if (ctx.argc() > 3) return ReplySubcommandSyntaxError(ctx);
  bool all = ctx.argc() == 2;
  std::vector<std::string_view> channels =
      ctx.server.pubsub().Channels(shard, all ? std::string_view() : ctx.arg(2), all);
  ctx.reply.ArrayHeader(channels.size());
  for (std::string_view channel : channels) ctx.reply.Bulk(channel);
}

void ReplyNumSub(CommandContext& ctx, bool shard) {
  ctx.reply.ArrayHeader((ctx.argc() - 2) * 2);
  for (size_t j = 2; j < ctx.argc(); j++) {
    ctx.reply.Bulk(ctx.arg(j));
    ctx.reply.Integer(static_cast<int64_t>(ctx.server.pubsub().NumSub(ctx.arg(j), shard)));
  }
}

// PUBSUB CHANNELS [pattern]
void CmdPubsubChannels(CommandContext& ctx) { ReplyChannelList(ctx, false); }

// PUBSUB SHARDCHANNELS [pattern]
void CmdPubsubShardChannels(CommandContext& ctx) { ReplyChannelList(ctx, true); }

// PUBSUB NUMSUB [channel [channel ...]]
void CmdPubsubNumSub(CommandContext& ctx) { ReplyNumSub(ctx, false); }

// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
void CmdPubsubShardNumSub(CommandContext& ctx) { ReplyNumSub(ctx, true); }

// PUBSUB NUMPAT
void CmdPubsubNumPat(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.pubsub().pattern_count()));
}

// PUBSUB HELP
void CmdPubsubHelp(CommandContext& ctx) {
  ReplyHelp(ctx,
            {"CHANNELS [<pattern>]",
             "    Return the currently active channels matching a <pattern> (default: '*').",
             "NUMPAT", "    Return number of subscriptions to patterns.", "NUMSUB [<channel> ...]",
             "    Return the number of subscribers for the specified channels, excluding",
             "    pattern subscriptions(default: no channels).", "SHARDCHANNELS [<pattern>]",
             "    Return the currently active shard level channels matching a <pattern> "
             "(default: '*').",
             "SHARDNUMSUB [<shardchannel> ...]",
             "    Return the number of subscribers for the specified shard level channel(s)"});
}

}  // namespace

void RegisterPubsubCommands(CommandTable& table) {
  table.Register("subscribe", CmdSubscribe);
  table.Register("unsubscribe", CmdUnsubscribe);
  table.Register("psubscribe", CmdPsubscribe);
  table.Register("punsubscribe", CmdPunsubscribe);
  table.Register("publish", CmdPublish);
  table.Register("ssubscribe", CmdSsubscribe);
  table.Register("sunsubscribe", CmdSunsubscribe);
  table.Register("spublish", CmdSpublish);
  table.Register("pubsub|channels", CmdPubsubChannels);
  table.Register("pubsub|numsub", CmdPubsubNumSub);
  table.Register("pubsub|numpat", CmdPubsubNumPat);
  table.Register("pubsub|shardchannels", CmdPubsubShardChannels);
  table.Register("pubsub|shardnumsub", CmdPubsubShardNumSub);
  table.Register("pubsub|help", CmdPubsubHelp);
}

}  // namespace docket::server
