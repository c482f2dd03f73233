// Shared pieces of the string command family: the LCS handler (cmd_string_lcs.cc), registered by
// cmd_string.cc. Depends on server/command.h.
#pragma once

#include <string_view>

#include "server/command.h"

namespace docket::server::string_family {

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]  (cmd_string_lcs.cc)
void CmdLcs(CommandContext& ctx);

}  // namespace docket::server::string_family
