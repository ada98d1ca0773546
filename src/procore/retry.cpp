// Backoff arithmetic.
#include "procore/retry.h"

#include <algorithm>

namespace kt::procore {

Millis BackoffCeiling(const RetryPolicy& policy, int retry) {
  int64_t ceiling = policy.base_delay.count();
  for (int i = 0; i < retry && ceiling < policy.max_delay.count(); ++i) ceiling *= 2;
  return Millis(std::min(ceiling, policy.max_delay.count()));
}

Millis BackoffDelay(const RetryPolicy& policy, int retry, Random& random) {
  int64_t ceiling = BackoffCeiling(policy, retry).count();
  if (ceiling <= 0) return Millis(0);
  return Millis(random.UniformInt(0, ceiling));
}

Millis HintedDelay(const RetryPolicy& policy, Millis hint, Random& random) {
  int64_t jitter = policy.hint_jitter.count() > 0 ? random.UniformInt(0, policy.hint_jitter.count()) : 0;
  return hint + Millis(jitter);
}

}  // namespace kt::procore
