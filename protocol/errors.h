// The catalogue of client-visible error texts, byte for byte as Redis 7.0 sends them (without the
// leading '-' and trailing CRLF; texts without their own code get "ERR " from ReplyWriter::Error).
// Depends on nothing.
#pragma once

#include <string_view>

namespace docket::protocol::errors {

inline constexpr std::string_view kSyntax = "syntax error";
inline constexpr std::string_view kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNotInteger = "value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "value is not a valid float";
inline constexpr std::string_view kOverflow = "increment or decrement would overflow";
inline constexpr std::string_view kNoSuchKey = "no such key";
inline constexpr std::string_view kDbIndexOutOfRange = "DB index is out of range";
inline constexpr std::string_view kInvalidDbIndex = "invalid DB index";
inline constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNotConfigured =
    "AUTH <password> called without any password configured for the default user. Are you sure "
    "your configuration is correct?";
inline constexpr std::string_view kNoProto = "-NOPROTO unsupported protocol version";
inline constexpr std::string_view kInvalidExpire = "invalid expire time in '%s' command";
inline constexpr std::string_view kMaxClients = "max number of clients reached";
inline constexpr std::string_view kTimeoutNotFloat = "timeout is not a float or out of range";
inline constexpr std::string_view kTimeoutNegative = "timeout is negative";
inline constexpr std::string_view kSameObject = "source and destination objects are the same";
inline constexpr std::string_view kStringTooLong =
    "string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kOffsetOutOfRange = "offset is out of range";
inline constexpr std::string_view kMultiNested = "MULTI calls can not be nested";
inline constexpr std::string_view kExecAbort =
    "-EXECABORT Transaction discarded because of previous errors.";
inline constexpr std::string_view kLoading = "-LOADING Redis is loading the dataset in memory";
inline constexpr std::string_view kPubSubContext =
    "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
    "in this context";

}  // namespace docket::protocol::errors
