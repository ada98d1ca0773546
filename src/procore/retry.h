// Retry policy: which failures are retried, and exponential backoff with full jitter.
#pragma once

#include "util/clock.h"
#include "util/random.h"

namespace kt::procore {

struct RetryPolicy {
  int max_attempts = 8;       // attempts in all, the first included
  Millis base_delay{500};     // ceiling of the first retry's delay
  Millis max_delay{30'000};   // the ceiling never grows past this
  Millis max_total{120'000};  // give up when the next wait would end later than this after the start
  Millis hint_jitter{250};    // spread added on top of a server's Retry-After, so callers don't stampede
};

// The ceiling for retry number `retry` (0 = the first retry): min(max_delay, base_delay * 2^retry).
Millis BackoffCeiling(const RetryPolicy& policy, int retry);
// Full jitter: uniform in [0, BackoffCeiling(retry)].
Millis BackoffDelay(const RetryPolicy& policy, int retry, Random& random);
// The wait before retrying when the server named a time: at least the hint, plus a little jitter.
Millis HintedDelay(const RetryPolicy& policy, Millis hint, Random& random);

}  // namespace kt::procore
