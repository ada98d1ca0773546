// The sign-in throttle on the sign_in_attempts table.
#include "accounts/sign_in_throttle.h"

#include <algorithm>

#include "util/strings.h"

namespace kt::accounts {

namespace {

constexpr std::string_view kEmailPrefix = "email:";
constexpr std::string_view kAddressPrefix = "addr:";

// Bounded so that junk input cannot grow the table's keys without limit.
std::string EmailKey(std::string_view email) {
  return std::string(kEmailPrefix) + ToLower(Trim(email)).substr(0, 320);
}
std::string AddressKey(std::string_view address) {
  return std::string(kAddressPrefix) + std::string(Trim(address).substr(0, 100));
}

}  // namespace

SignInThrottle::SignInThrottle(store::Store& store, Clock& clock, SignInThrottlePolicy policy)
    : store_(store), clock_(clock), policy_(policy) {}

Status SignInThrottle::Check(std::string_view email, std::string_view remote_address) {
  const int64_t now = clock_.NowUnixMs();
  const int64_t window = policy_.window.count();
  auto rows = store_.Query("SELECT key, window_start, failures FROM sign_in_attempts WHERE key IN ($1, $2)",
                           {EmailKey(email), AddressKey(remote_address)});
  if (!rows) return tl::unexpected(rows.error());
  int64_t locked_for_ms = 0;
  for (const store::Row& row : rows->rows) {
    const int64_t ends = row.Int("window_start") + window;
    if (ends <= now) continue;
    const bool is_email = StartsWith(row.Text("key"), kEmailPrefix);
    const int64_t limit = is_email ? policy_.max_failures_per_email : policy_.max_failures_per_address;
    if (row.Int("failures") >= limit) locked_for_ms = std::max(locked_for_ms, ends - now);
  }
  if (locked_for_ms == 0) return {};
  const int64_t minutes = std::max<int64_t>(1, (locked_for_ms + 59'999) / 60'000);
  return Fail(ErrorKind::kRateLimited, "sign_in_locked",
              "Too many failed sign-ins. Try again in " + std::to_string(minutes) +
                  (minutes == 1 ? " minute." : " minutes."),
              "Wait, or ask an admin of your client to reset your password.");
}

Status SignInThrottle::Increment(const std::string& key) {
  const int64_t now = clock_.NowUnixMs();
  const int64_t expired_before = now - policy_.window.count();
  // One statement, so concurrent failures all count: a window that has passed starts over at 1.
  auto r = store_.Exec(
      "INSERT INTO sign_in_attempts (key, window_start, failures) VALUES ($1, $2, 1) "
      "ON CONFLICT (key) DO UPDATE SET "
      "window_start = CASE WHEN sign_in_attempts.window_start <= $3 THEN $2 ELSE "
      "sign_in_attempts.window_start END, "
      "failures = CASE WHEN sign_in_attempts.window_start <= $3 THEN 1 ELSE sign_in_attempts.failures + 1 "
      "END",
      {key, now, expired_before});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status SignInThrottle::RecordFailure(std::string_view email, std::string_view remote_address) {
  if (auto s = Increment(EmailKey(email)); !s) return s;
  if (!Trim(remote_address).empty()) return Increment(AddressKey(remote_address));
  return {};
}

Status SignInThrottle::RecordSuccess(std::string_view email) {
  auto r = store_.Exec("DELETE FROM sign_in_attempts WHERE key = $1", {EmailKey(email)});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<int64_t> SignInThrottle::PurgeExpired() {
  return store_.Exec("DELETE FROM sign_in_attempts WHERE window_start <= $1",
                     {clock_.NowUnixMs() - policy_.window.count()});
}

}  // namespace kt::accounts
