// Password hashing with Argon2id (libsodium's crypto_pwhash_str), verification and rehash checks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/error.h"

namespace kt::crypto {

struct PasswordHashOptions {
  // libsodium's INTERACTIVE limits (2 passes, 64 MiB): about 50-100 ms per hash on a server core.
  unsigned long long ops_limit;
  size_t mem_limit;

  PasswordHashOptions();
  // The lowest limits libsodium allows (1 pass, 8 KiB): for tests only, where hundreds of hashes run.
  static PasswordHashOptions Fastest();
};

// An encoded "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string with a random salt. Fails only when the system
// cannot allocate the memory limit (kUnavailable "password_hash_failed").
Result<std::string> HashPassword(std::string_view password, const PasswordHashOptions& options = {});
// True when the password matches the stored hash; false for a wrong password or a malformed hash.
bool VerifyPassword(std::string_view stored_hash, std::string_view password);
// True when the stored hash used other limits (or another algorithm) than options: hash again on next
// sign-in.
bool PasswordNeedsRehash(std::string_view stored_hash, const PasswordHashOptions& options = {});

}  // namespace kt::crypto
