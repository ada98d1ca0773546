// The Procore client's metrics in the process's Prometheus registry (obs/): requests and statuses, latency,
// retries, 429s, time spent waiting for the rate budget and token requests, by endpoint family.
#pragma once

#include "obs/metrics.h"
#include "procore/metrics.h"

namespace kt::procore {

class ObsClientMetrics final : public ClientMetrics {
 public:
  explicit ObsClientMetrics(obs::Metrics& metrics = obs::DefaultMetrics());
  void OnRequest(std::string_view family, int status, Millis latency) override;
  void OnRetry(std::string_view family, std::string_view reason) override;
  void OnRateLimited(std::string_view family) override;
  void OnBudgetWait(std::string_view family, Millis waited) override;
  void OnTokenRequest(bool ok) override;

 private:
  obs::Metrics& metrics_;
};

}  // namespace kt::procore
