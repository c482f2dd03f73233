// Shared pieces of the string command family (cmd_string.cc, cmd_string_lcs.cc): option matching
// with Redis's C-string rules and the LCS handler. Depends on server/command.h.
#pragma once

#include <string_view>

#include "server/command.h"

namespace docket::server::string_family {

// An argument as Redis's C-string option checks see it: up to the first NUL byte.
std::string_view CString(std::string_view s);

// ASCII case-insensitive equality (strcasecmp == 0 on equal lengths).
bool EqualsNoCase(std::string_view a, std::string_view b);

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]  (cmd_string_lcs.cc)
void CmdLcs(CommandContext& ctx);

}  // namespace docket::server::string_family
