// Client-credentials access tokens, cached per app and renewed ahead of expiry or after a 401, with one
// renewal in flight per app however many threads need it. Tokens and secrets are never logged.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "procore/environment.h"
#include "procore/errors.h"
#include "procore/metrics.h"
#include "procore/retry.h"
#include "procore/transport.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt::procore {

// One Procore app as KTrack uses it: its environment and OAuth client credentials.
struct AppCredentials {
  EnvironmentUrls urls;
  std::string client_id;
  std::string client_secret;
};

struct AccessToken {
  std::string value;
  SysTime obtained_at{};
  SysTime expires_at{};
  SysTime renew_at{};  // when to fetch the next one, ahead of expiry
};

struct TokenPolicy {
  // Renew when this share of the lifetime is left, but never more than `max_lead` before expiry:
  // a 5,400 s token is renewed 5 minutes early, a 60 s one 12 s early.
  double renew_lead_share = 0.2;
  Millis max_lead{300'000};
  // Used when a token response carries no expires_in (never hard-code Procore's lifetime otherwise).
  Millis assumed_lifetime{900'000};
  Millis timeout{15'000};
  Millis connect_timeout{5'000};
  RetryPolicy retry{.max_attempts = 4,
                    .base_delay = Millis(500),
                    .max_delay = Millis(5'000),
                    .max_total = Millis(30'000),
                    .hint_jitter = Millis(250)};
};

class TokenCache {
 public:
  TokenCache(Transport& transport, Clock& clock, Random& random, TokenPolicy policy = {},
             ClientMetrics* metrics = nullptr);

  // A usable token for the app: the cached one, or a new one when it is due for renewal. While one thread
  // renews a token that is still valid, the others keep using it; when it has expired, they wait.
  ProcoreResult<std::string> Get(const AppCredentials& app);
  // After Procore refused `rejected` with a 401: renews once, unless another thread already has (then its
  // token is returned). Threads that wait on a renewal share its outcome.
  ProcoreResult<std::string> RenewAfterRejection(const AppCredentials& app, const std::string& rejected);
  // Drops the app's cached token (credentials changed or removed).
  void Forget(const AppCredentials& app);
  // Requests a token from Procore without touching the cache (verifying newly entered credentials).
  ProcoreResult<AccessToken> Fetch(const AppCredentials& app);
  // How many tokens have been requested from Procore (tests, metrics).
  int64_t fetch_count() const;

 private:
  struct Slot {
    std::optional<AccessToken> token;
    std::optional<uint64_t> secret_fingerprint;  // the token belongs to these credentials (SecretFingerprint)
    bool renewing = false;
    uint64_t generation = 0;  // bumped by every finished renewal
    std::optional<ProcoreError> last_error;
  };

  // Runs one renewal for the slot (the caller holds `lock` and has set renewing).
  ProcoreResult<std::string> Renew(std::unique_lock<std::mutex>& lock, Slot& slot, const AppCredentials& app);
  // Waits for the renewal in flight and returns its outcome.
  ProcoreResult<std::string> AwaitRenewal(std::unique_lock<std::mutex>& lock, Slot& slot);
  static std::string SlotKey(const AppCredentials& app);

  Transport& transport_;
  Clock& clock_;
  Random& random_;
  TokenPolicy policy_;
  ClientMetrics& metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::unique_ptr<Slot>> slots_;
  int64_t fetches_ = 0;
};

}  // namespace kt::procore
