// Limits failed sign-ins per email and per remote address, so passwords cannot be guessed at speed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

struct SignInThrottlePolicy {
  // Failures allowed in one window before further attempts are refused until the window ends.
  int64_t max_failures_per_email = 5;
  // Higher, because an office behind one NAT address shares it.
  int64_t max_failures_per_address = 20;
  Millis window{std::chrono::minutes(15)};
};

// Fixed windows counted in sign_in_attempts: a window starts at the first failure and the count resets once
// it has passed. Keys are "email:<normalised email>" and "addr:<remote address>".
class SignInThrottle {
 public:
  SignInThrottle(store::Store& store, Clock& clock, SignInThrottlePolicy policy = {});

  // kRateLimited "sign_in_locked" ("Try again in N minutes.") while either key is locked.
  Status Check(std::string_view email, std::string_view remote_address);
  Status RecordFailure(std::string_view email, std::string_view remote_address);
  // Clears the email's count. The address keeps its count, so one good account cannot reset an attacker's
  // budget.
  Status RecordSuccess(std::string_view email);
  // Deletes counts whose window has passed (they no longer lock anything); returns how many.
  Result<int64_t> PurgeExpired();

 private:
  Status Increment(const std::string& key);

  store::Store& store_;
  Clock& clock_;
  SignInThrottlePolicy policy_;
};

}  // namespace kt::accounts
