// Users: email and Argon2id password, and sign-in with a throttle on failures.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "accounts/sign_in_throttle.h"
#include "crypto/password.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

struct User {
  int64_t id = 0;
  std::string email;  // normalised: trimmed, lower case
  int64_t created_at = 0;
};

struct UsersOptions {
  crypto::PasswordHashOptions password;  // tests use PasswordHashOptions::Fastest()
  SignInThrottlePolicy throttle;
  size_t min_password_length = 8;
};

// Trimmed and lower-cased; nullopt unless it looks like one address ("name@domain", at most 254 bytes).
std::optional<std::string> NormalizeEmail(std::string_view email);

// Users and sign-in. Hashing a password takes tens of milliseconds: call Create, SetPassword and Authenticate
// from the blocking pool, never from an I/O thread.
class Users {
 public:
  Users(store::Store& store, Clock& clock, UsersOptions options = {});

  // kInvalidInput "invalid_email" / "password_too_short" / "password_too_long"; kConflict "email_taken".
  Result<User> Create(std::string_view email, std::string_view password);
  // nullopt when no user has that email.
  Result<std::optional<User>> FindByEmail(std::string_view email);
  // kNotFound "user_not_found".
  Result<User> Get(int64_t user_id);
  // Replaces the password (kNotFound "user_not_found"). Sessions and tokens stay; end them with
  // Sessions::DestroyAllForUser if the password was compromised.
  Status SetPassword(int64_t user_id, std::string_view password);

  // Signs in. kUnauthenticated "invalid_sign_in" for an unknown email or a wrong password (one answer for
  // both, taking about the same time); kRateLimited "sign_in_locked" after too many failures for the email or
  // the address. A hash made with older limits is replaced on success.
  Result<User> Authenticate(std::string_view email, std::string_view password,
                            std::string_view remote_address);

 private:
  Status CheckPassword(std::string_view password) const;
  // A hash of a random password with the current limits: verified against for unknown emails so they cost the
  // same time as known ones.
  const std::string& DummyHash();

  store::Store& store_;
  Clock& clock_;
  UsersOptions options_;
  SignInThrottle throttle_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;
};

}  // namespace kt::accounts
