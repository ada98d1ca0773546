// Bearer secrets (API tokens, session ids, CSRF tokens): random, shown once, stored only as SHA-256 hashes.
#pragma once

#include <string>
#include <string_view>

namespace kt::crypto {

// API tokens start with this so they are recognisable in configs and by secret scanners.
inline constexpr std::string_view kApiTokenPrefix = "kt_";

// "kt_" + 32 random bytes as base64url.
std::string NewApiToken();
// 32 random bytes as base64url: a browser session id.
std::string NewSessionToken();
// 32 random bytes as base64url: a session's CSRF token.
std::string NewCsrfToken();
// What the database keeps instead of a token: lowercase hex SHA-256. Tokens have 256 bits of entropy, so a
// fast unsalted hash is enough; a leaked table does not yield usable tokens.
std::string HashToken(std::string_view token);

}  // namespace kt::crypto
