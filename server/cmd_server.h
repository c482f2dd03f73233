// Shared pieces of the server command family (cmd_server.cc, cmd_config.cc, cmd_command.cc,
// cmd_slowlog.cc): the sub-family registrations and Redis's HELP and subcommand-error replies.
// Depends on server/command.h.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "server/args.h"
#include "server/command.h"

namespace docket::server {

void RegisterConfigCommands(CommandTable& table);   // CONFIG
void RegisterCommandCommands(CommandTable& table);  // COMMAND
void RegisterSlowlogCommands(CommandTable& table);  // SLOWLOG, then LATENCY
void RegisterLatencyCommands(CommandTable& table);  // LATENCY

// Redis's addReplyHelp: "<ARGV[0]> <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
// the lines, then "HELP" / "    Prints this help.", all as simple strings.
void ReplyHelp(CommandContext& ctx, std::initializer_list<std::string_view> lines);

// Redis's addReplySubcommandSyntaxError: "unknown subcommand or wrong number of arguments for
// '<argv[1]>'. Try <ARGV[0]> HELP."
void ReplySubcommandSyntaxError(CommandContext& ctx);

std::string AsciiToLower(std::string_view s);
std::string AsciiToUpper(std::string_view s);

}  // namespace docket::server
