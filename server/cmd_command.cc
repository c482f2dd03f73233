// COMMAND, COMMAND COUNT / LIST / INFO / DOCS / GETKEYS / GETKEYSANDFLAGS / HELP. Replies are
// built from Redis's own bytes (command_meta) for the commands Docket registered: a container
// lists only the subcommands that have a handler. Depends on server/ and storage/glob.
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "server/cmd_server.h"
#include "server/command_keys.h"
#include "server/command_meta.h"
#include "server/server.h"
#include "storage/glob.h"

namespace docket::server {
namespace {

namespace errors = protocol::errors;

// The subcommands of spec that have a handler, by name.
std::vector<const CommandSpec*> RegisteredSubcommands(const CommandSpec& spec) {
  std::vector<const CommandSpec*> out;
  for (const auto& [name, sub] : spec.subcommands) {
    if (sub->handler != nullptr) out.push_back(sub.get());
  }
  return out;
}

// A command COMMAND reports: it has a handler, or (a container) a subcommand that has one.
bool Listed(const CommandSpec& spec) {
  return spec.handler != nullptr || !RegisteredSubcommands(spec).empty();
}

std::vector<const CommandSpec*> ListedCommands(const CommandTable& table) {
  std::vector<const CommandSpec*> out;
  for (const auto& [name, spec] : table.all()) {
    if (Listed(*spec)) out.push_back(spec.get());
  }
  return out;
}

// Redis's lookupCommandBySds: "name" or "container|sub", case-insensitive, listed only.
const CommandSpec* FindByFullName(const CommandTable& table, std::string_view name) {
  std::string lower = AsciiToLower(name);
  size_t bar = lower.find('|');
  const CommandSpec* base = table.Find(lower.substr(0, bar));
  if (base == nullptr || !Listed(*base)) return nullptr;
  if (bar == std::string::npos) return base;
  auto it = base->subcommands.find(std::string_view(lower).substr(bar + 1));
  if (it == base->subcommands.end() || it->second->handler == nullptr) return nullptr;
  return it->second.get();
}

// Redis's command flag names, in the order COMMAND INFO prints them.
struct FlagName {
  CommandFlag flag;
  std::string_view name;
};
constexpr FlagName kInfoFlags[] = {
    {kCmdWrite, "write"},
    {kCmdReadonly, "readonly"},
    {kCmdDenyOom, "denyoom"},
    {kCmdAdmin, "admin"},
    {kCmdPubsub, "pubsub"},
    {kCmdNoscript, "noscript"},
    {kCmdBlocking, "blocking"},
    {kCmdLoading, "loading"},
    {kCmdStale, "stale"},
    {kCmdSkipMonitor, "skip_monitor"},
    {kCmdSkipSlowlog, "skip_slowlog"},
    {kCmdFast, "fast"},
    {kCmdNoAuth, "no_auth"},
    {kCmdMayReplicate, "may_replicate"},
    {kCmdNoMulti, "no_multi"},
    {kCmdMovableKeys, "movablekeys"},
    {kCmdAllowBusy, "allow_busy"},
};

// COMMAND INFO elements 1..9 for a command Docket adds (no Redis metadata): name, arity,
// flags, no key range, no ACL categories, tips or key specs.
void ReplyCustomInfo(protocol::ReplyWriter& r, const CommandSpec& spec) {
  r.Bulk(spec.fullname);
  r.Integer(spec.arity);
  size_t n = 0;
  for (const FlagName& f : kInfoFlags) n += spec.Has(f.flag) ? 1 : 0;
  r.SetHeader(n);
  for (const FlagName& f : kInfoFlags) {
    if (spec.Has(f.flag)) r.Simple(f.name);
  }
  for (int i = 0; i < 3; i++) r.Integer(0);
  for (int i = 0; i < 3; i++) r.SetHeader(0);
}

void ReplyCommandInfo(protocol::ReplyWriter& r, const CommandSpec& spec) {
  bool resp3 = r.resp() == 3;
  r.Raw("*10\r\n");
  if (spec.meta != nullptr) {
    r.Raw(resp3 ? spec.meta->info_resp3 : spec.meta->info_resp2);
  } else {
    ReplyCustomInfo(r, spec);
  }
  std::vector<const CommandSpec*> subs = RegisteredSubcommands(spec);
  if (subs.empty()) {
    r.Raw(resp3 ? kEmptySubcommandsResp3 : kEmptySubcommandsResp2);
    return;
  }
  r.ArrayHeader(subs.size());  // an array in both protocols, as Redis sends it
  for (const CommandSpec* sub : subs) ReplyCommandInfo(r, *sub);
}

void ReplyCommandDocs(protocol::ReplyWriter& r, const CommandSpec& spec) {
  bool resp3 = r.resp() == 3;
  std::vector<const CommandSpec*> subs = RegisteredSubcommands(spec);
  if (spec.meta == nullptr) {
    r.MapHeader(3 + (subs.empty() ? 0 : 1));
    r.Bulk("summary");
    r.Bulk("");
    r.Bulk("since");
    r.Bulk(kDocketVersion);
    r.Bulk("group");
    r.Bulk("generic");
  } else {
    r.MapHeader(spec.meta->docs_pairs + (subs.empty() ? 0 : 1));
    r.Raw(resp3 ? spec.meta->docs_resp3 : spec.meta->docs_resp2);
  }
  if (subs.empty()) return;
  r.Bulk("subcommands");
  r.MapHeader(subs.size());
  for (const CommandSpec* sub : subs) {
    r.Bulk(sub->fullname);
    ReplyCommandDocs(r, *sub);
  }
}

// COMMAND
void CmdCommand(CommandContext& ctx) {
  std::vector<const CommandSpec*> all = ListedCommands(ctx.server.commands());
  ctx.reply.ArrayHeader(all.size());
  for (const CommandSpec* spec : all) ReplyCommandInfo(ctx.reply, *spec);
}

// COMMAND COUNT
void CmdCommandCount(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ListedCommands(ctx.server.commands()).size()));
}

// COMMAND INFO [command-name ...]
void CmdCommandInfo(CommandContext& ctx) {
  if (ctx.argc() == 2) return CmdCommand(ctx);
  ctx.reply.ArrayHeader(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); i++) {
    const CommandSpec* spec = FindByFullName(ctx.server.commands(), ctx.arg(i));
    if (spec == nullptr) {
      ctx.reply.NullBulk();
    } else {
      ReplyCommandInfo(ctx.reply, *spec);
    }
  }
}

// COMMAND DOCS [command-name ...]
void CmdCommandDocs(CommandContext& ctx) {
  std::vector<const CommandSpec*> found;
  if (ctx.argc() == 2) {
    found = ListedCommands(ctx.server.commands());
  } else {
    for (size_t i = 2; i < ctx.argc(); i++) {
      const CommandSpec* spec = FindByFullName(ctx.server.commands(), ctx.arg(i));
      if (spec != nullptr) found.push_back(spec);
    }
  }
  ctx.reply.MapHeader(found.size());
  for (const CommandSpec* spec : found) {
    ctx.reply.Bulk(spec->fullname);
    ReplyCommandDocs(ctx.reply, *spec);
  }
}

// Redis's ACL category names (without '@'), for COMMAND LIST FILTERBY ACLCAT.
constexpr std::string_view kAclCategories[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};

bool HasAclCategory(const CommandSpec& spec, const std::string& at_category) {
  if (spec.meta == nullptr) return false;
  std::string_view cats = spec.meta->acl_categories;
  while (!cats.empty()) {
    size_t sp = cats.find(' ');
    if (cats.substr(0, sp) == at_category) return true;
    if (sp == std::string_view::npos) break;
    cats.remove_prefix(sp + 1);
  }
  return false;
}

enum class ListFilter { kNone, kModule, kAclCat, kPattern };

bool PassesFilter(const CommandSpec& spec, ListFilter filter, std::string_view arg) {
  switch (filter) {
    case ListFilter::kNone:
      return true;
    case ListFilter::kModule:
      return false;  // Docket loads no modules
    case ListFilter::kAclCat: {
      std::string cat = AsciiToLower(arg);
      for (std::string_view known : kAclCategories) {
        if (known == cat) return HasAclCategory(spec, "@" + cat);
      }
      return false;
    }
    case ListFilter::kPattern:
      return storage::GlobMatch(arg, spec.fullname, true);
  }
  return false;
}

// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
void CmdCommandList(CommandContext& ctx) {
  ListFilter filter = ListFilter::kNone;
  std::string_view arg;
  for (size_t i = 2; i < ctx.argc(); i += 3) {
    if (!EqualsIgnoreCase(ctx.arg(i), "filterby") || ctx.argc() - 1 - i != 2) {
      return ctx.reply.Error(errors::kSyntax);
    }
    std::string_view type = ctx.arg(i + 1);
    if (EqualsIgnoreCase(type, "module")) {
      filter = ListFilter::kModule;
    } else if (EqualsIgnoreCase(type, "aclcat")) {
      filter = ListFilter::kAclCat;
    } else if (EqualsIgnoreCase(type, "pattern")) {
      filter = ListFilter::kPattern;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
    arg = ctx.arg(i + 2);
  }
  std::vector<std::string_view> names;
  for (const CommandSpec* spec : ListedCommands(ctx.server.commands())) {
    if (PassesFilter(*spec, filter, arg)) names.push_back(spec->fullname);
    for (const CommandSpec* sub : RegisteredSubcommands(*spec)) {
      if (PassesFilter(*sub, filter, arg)) names.push_back(sub->fullname);
    }
  }
  ctx.reply.ArrayHeader(names.size());
  for (std::string_view name : names) ctx.reply.Bulk(name);
}

// The shared part of GETKEYS and GETKEYSANDFLAGS, in Redis's getKeysSubcommandImpl order.
void GetKeysImpl(CommandContext& ctx, bool with_flags) {
  std::span<const std::string_view> argv = ctx.argv.subspan(2);
  bool sub_unknown = false;
  const CommandSpec* spec = ctx.server.commands().Lookup(argv, &sub_unknown);
  if (spec == nullptr || sub_unknown || !Listed(*spec)) {
    return ctx.reply.Error("Invalid command specified");
  }
  if (spec->meta == nullptr || !CommandHasKeys(*spec->meta)) {
    return ctx.reply.Error("The command has no key arguments");
  }
  if (!spec->ArityOk(argv.size())) {
    return ctx.reply.Error("Invalid number of arguments specified for command");
  }
  std::vector<int> positions;
  std::vector<std::string_view> flags;
  bool found = with_flags ? GetKeysAndFlagsFromSpecs(*spec->meta, argv, &positions, &flags)
                          : GetKeysFromSpecs(*spec->meta, argv, &positions);
  if (!found || positions.empty()) {
    if (spec->meta->flags.find("no_mandatory_keys") != std::string_view::npos) {
      return ctx.reply.ArrayHeader(0);
    }
    return ctx.reply.Error("Invalid arguments specified for command");
  }
  ctx.reply.ArrayHeader(positions.size());
  for (size_t i = 0; i < positions.size(); i++) {
    if (!with_flags) {
      ctx.reply.Bulk(argv[positions[i]]);
      continue;
    }
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(argv[positions[i]]);
    std::vector<std::string_view> words;
    std::string_view rest = flags[i];
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      words.push_back(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
    ctx.reply.SetHeader(words.size());
    for (std::string_view w : words) ctx.reply.Simple(w);
  }
}

// COMMAND GETKEYS command [arg ...]
void CmdCommandGetKeys(CommandContext& ctx) { GetKeysImpl(ctx, false); }

// COMMAND GETKEYSANDFLAGS command [arg ...]
void CmdCommandGetKeysAndFlags(CommandContext& ctx) { GetKeysImpl(ctx, true); }

// COMMAND HELP
void CmdCommandHelp(CommandContext& ctx) {
  ReplyHelp(ctx, {
                     "(no subcommand)",
                     "    Return details about all Redis commands.",
                     "COUNT",
                     "    Return the total number of commands in this Redis server.",
                     "LIST",
                     "    Return a list of all commands in this Redis server.",
                     "INFO [<command-name> ...]",
                     "    Return details about multiple Redis commands.",
                     "    If no command names are given, documentation details for all",
                     "    commands are returned.",
                     "DOCS [<command-name> ...]",
                     "    Return documentation details about multiple Redis commands.",
                     "    If no command names are given, documentation details for all",
                     "    commands are returned.",
                     "GETKEYS <full-command>",
                     "    Return the keys from a full Redis command.",
                     "GETKEYSANDFLAGS <full-command>",
                     "    Return the keys and the access flags from a full Redis command.",
                 });
}

}  // namespace

void RegisterCommandCommands(CommandTable& table) {
  table.Register("command", CmdCommand);
  table.Register("command|count", CmdCommandCount);
  table.Register("command|info", CmdCommandInfo);
  table.Register("command|docs", CmdCommandDocs);
  table.Register("command|list", CmdCommandList);
  table.Register("command|getkeys", CmdCommandGetKeys);
  table.Register("command|getkeysandflags", CmdCommandGetKeysAndFlags);
  table.Register("command|help", CmdCommandHelp);
}

}  // namespace docket::server
