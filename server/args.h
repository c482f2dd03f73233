// Reading command arguments the way Redis does: ASCII case-insensitive comparison, and options
// compared as C strings (Redis's strcasecmp on argv stops at the first NUL byte). Depends on std.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace docket::server {

// strcasecmp over the whole of both byte strings.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The argument as Redis's C-string functions see it: up to its first NUL.
inline std::string_view CString(std::string_view s) { return s.substr(0, s.find('\0')); }

// An option keyword as Redis matches it: strcasecmp(argv[i]->ptr, "name").
inline bool OptionIs(std::string_view arg, std::string_view name) {
  return EqualsIgnoreCase(CString(arg), name);
}

inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace docket::server
