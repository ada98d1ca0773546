// Random bearer tokens and their stored hashes.
#include "crypto/tokens.h"

#include "util/hash.h"

namespace kt::crypto {

namespace {
constexpr size_t kTokenBytes = 32;
}  // namespace

std::string NewApiToken() {
  return std::string(kApiTokenPrefix) + RandomToken(kTokenBytes);
}
std::string NewSessionToken() {
  return RandomToken(kTokenBytes);
}
std::string NewCsrfToken() {
  return RandomToken(kTokenBytes);
}
std::string HashToken(std::string_view token) {
  return Sha256Hex(token);
}

}  // namespace kt::crypto
