// SHA-1 as a 40-character lowercase hex digest: script names (EVAL caches scripts by it) and
// redis.sha1hex(). Depends on the C++ standard library only.
#pragma once

#include <string>
#include <string_view>

namespace docket::server::lua {

std::string Sha1Hex(std::string_view data);

}  // namespace docket::server::lua
