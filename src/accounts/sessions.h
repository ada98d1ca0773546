// Browser sessions (a random token in an HttpOnly cookie, stored hashed) and their CSRF tokens.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

// Where a state-changing request carries the CSRF token: a hidden form field or, from scripts, a header.
inline constexpr std::string_view kCsrfFormField = "_csrf";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

struct SessionPolicy {
  // A session unused this long ends; each use pushes the end out again.
  Millis idle_timeout{std::chrono::hours(12)};
  // However active, a session ends this long after sign-in.
  Millis max_lifetime{std::chrono::hours(24 * 14)};
  // Sliding writes the new expiry only when it moves by at least this much, so most requests only read.
  Millis extend_granularity{std::chrono::minutes(5)};
};

// What sign-in hands to the browser. The token is shown only here; the database keeps its hash.
struct IssuedSession {
  std::string token;       // the cookie value
  std::string csrf_token;  // rendered into forms
  int64_t expires_at = 0;  // unix ms
};

struct Session {
  int64_t user_id = 0;
  std::string csrf_token;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

class Sessions {
 public:
  Sessions(store::Store& store, Clock& clock, SessionPolicy policy = {});

  // A new session (always a fresh token, so a token planted before sign-in is worthless).
  Result<IssuedSession> Create(int64_t user_id);
  // kUnauthenticated "not_signed_in" for an unknown, ended or expired token. Slides the expiry.
  Result<Session> Lookup(std::string_view token);
  // Signs out. Unknown tokens are fine.
  Status Destroy(std::string_view token);
  // Ends every session of a user (password change, removal); returns how many.
  Result<int64_t> DestroyAllForUser(int64_t user_id);
  // Deletes expired sessions; returns how many.
  Result<int64_t> PurgeExpired();

 private:
  store::Store& store_;
  Clock& clock_;
  SessionPolicy policy_;
};

// kForbidden "csrf_token_invalid" unless submitted (the form field or the header) equals the session's token.
// Compared in constant time.
Status CheckCsrf(const Session& session, std::string_view submitted);

}  // namespace kt::accounts
