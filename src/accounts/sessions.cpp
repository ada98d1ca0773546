// Browser sessions with sliding expiry, and the CSRF check.
#include "accounts/sessions.h"

#include <algorithm>

#include "crypto/tokens.h"
#include "util/hash.h"

namespace kt::accounts {

namespace {

tl::unexpected<Error> NotSignedIn() {
  return Fail(ErrorKind::kUnauthenticated, "not_signed_in",
              "You are not signed in, or your session has ended.", "Sign in again.");
}

}  // namespace

Sessions::Sessions(store::Store& store, Clock& clock, SessionPolicy policy)
    : store_(store), clock_(clock), policy_(policy) {}

Result<IssuedSession> Sessions::Create(int64_t user_id) {
  const int64_t now = clock_.NowUnixMs();
  IssuedSession issued{crypto::NewSessionToken(), crypto::NewCsrfToken(),
                       now + std::min(policy_.idle_timeout, policy_.max_lifetime).count()};
  auto r = store_.Exec(
      "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, "
      "$5)",
      {crypto::HashToken(issued.token), user_id, issued.csrf_token, now, issued.expires_at});
  if (!r) {
    if (r.error().code == store::kConstraintViolation) {
      return Fail(ErrorKind::kNotFound, "user_not_found", "There is no such user.", {}, r.error().detail);
    }
    return tl::unexpected(r.error());
  }
  return issued;
}

Result<Session> Sessions::Lookup(std::string_view token) {
  if (token.empty() || token.size() > 200) return NotSignedIn();
  const std::string id_hash = crypto::HashToken(token);
  auto rows = store_.Query(
      "SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = $1", {id_hash});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return NotSignedIn();
  const store::Row& row = rows->rows.front();
  Session session{row.Int("user_id"), row.Text("csrf_token"), row.Int("created_at"), row.Int("expires_at")};
  const int64_t now = clock_.NowUnixMs();
  if (session.expires_at <= now) {
    (void)store_.Exec("DELETE FROM sessions WHERE id_hash = $1", {id_hash});
    return NotSignedIn();
  }
  const int64_t slid =
      std::min(now + policy_.idle_timeout.count(), session.created_at + policy_.max_lifetime.count());
  if (slid - session.expires_at >= policy_.extend_granularity.count()) {
    auto updated = store_.Exec("UPDATE sessions SET expires_at = $1 WHERE id_hash = $2", {slid, id_hash});
    if (!updated) return tl::unexpected(updated.error());
    session.expires_at = slid;
  }
  return session;
}

Status Sessions::Destroy(std::string_view token) {
  auto r = store_.Exec("DELETE FROM sessions WHERE id_hash = $1", {crypto::HashToken(token)});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<int64_t> Sessions::DestroyAllForUser(int64_t user_id) {
  return store_.Exec("DELETE FROM sessions WHERE user_id = $1", {user_id});
}

Result<int64_t> Sessions::PurgeExpired() {
  return store_.Exec("DELETE FROM sessions WHERE expires_at <= $1", {clock_.NowUnixMs()});
}

Status CheckCsrf(const Session& session, std::string_view submitted) {
  if (submitted.empty() || session.csrf_token.empty() || !ConstantTimeEquals(submitted, session.csrf_token)) {
    return Fail(ErrorKind::kForbidden, "csrf_token_invalid",
                "This form has expired or did not come from KTrack.", "Reload the page and try again.");
  }
  return {};
}

}  // namespace kt::accounts
