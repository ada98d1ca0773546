// Argon2id password hashes on libsodium.
#include "crypto/password.h"

#include <sodium.h>

#include <algorithm>
#include <iterator>

#include "crypto/sodium_init.h"

namespace kt::crypto {

namespace {
// libsodium wants the encoded hash as a NUL-terminated buffer of crypto_pwhash_STRBYTES.
bool ToHashBuffer(std::string_view stored_hash, char (&buf)[crypto_pwhash_STRBYTES]) {
  if (stored_hash.empty() || stored_hash.size() >= sizeof buf) return false;
  std::fill(std::begin(buf), std::end(buf), '\0');
  std::copy(stored_hash.begin(), stored_hash.end(), buf);
  return true;
}

}  // namespace

PasswordHashOptions::PasswordHashOptions()
    : ops_limit(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE),
      mem_limit(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) {}

PasswordHashOptions PasswordHashOptions::Fastest() {
  PasswordHashOptions options;
  options.ops_limit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  options.mem_limit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  return options;
}

Result<std::string> HashPassword(std::string_view password, const PasswordHashOptions& options) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), options.ops_limit,
                                 options.mem_limit) != 0) {
    return Fail(ErrorKind::kUnavailable, "password_hash_failed", "The password could not be hashed just now.",
                "Try again in a moment.", "crypto_pwhash_argon2id_str failed (out of memory?)");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view stored_hash, std::string_view password) {
  EnsureSodium();
  char buf[crypto_pwhash_STRBYTES];
  if (!ToHashBuffer(stored_hash, buf)) return false;
  return crypto_pwhash_argon2id_str_verify(buf, password.data(), password.size()) == 0;
}

bool PasswordNeedsRehash(std::string_view stored_hash, const PasswordHashOptions& options) {
  EnsureSodium();
  char buf[crypto_pwhash_STRBYTES];
  if (!ToHashBuffer(stored_hash, buf)) return true;
  // 1: other limits; -1: not an Argon2id hash at all. Either way a fresh hash is due.
  return crypto_pwhash_argon2id_str_needs_rehash(buf, options.ops_limit, options.mem_limit) != 0;
}

}  // namespace kt::crypto
