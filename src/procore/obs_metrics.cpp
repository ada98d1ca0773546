// Procore client metrics on obs::Metrics.
#include "procore/obs_metrics.h"

#include <string>

namespace kt::procore {
namespace {

double Seconds(Millis d) {
  return static_cast<double>(d.count()) / 1000.0;
}

}  // namespace

ObsClientMetrics::ObsClientMetrics(obs::Metrics& metrics) : metrics_(metrics) {}

void ObsClientMetrics::OnRequest(std::string_view family, int status, Millis latency) {
  // status 0: no response (timeout, connection refused).
  metrics_
      .Counter("procore_requests_total",
               {{"family", std::string(family)}, {"status", std::to_string(status)}},
               "Requests KTrack sent to Procore, by endpoint family and status (0: no response)")
      .Increment();
  metrics_
      .Histogram("procore_request_duration_seconds", {{"family", std::string(family)}},
                 obs::Metrics::LatencyBuckets(), "Time Procore took to answer, by endpoint family")
      .Observe(Seconds(latency));
}

void ObsClientMetrics::OnRetry(std::string_view family, std::string_view reason) {
  metrics_
      .Counter("procore_retries_total", {{"family", std::string(family)}, {"reason", std::string(reason)}},
               "Requests to Procore sent again, by endpoint family and reason (429, 5xx, network, 401)")
      .Increment();
}

void ObsClientMetrics::OnRateLimited(std::string_view family) {
  metrics_
      .Counter("procore_rate_limited_total", {{"family", std::string(family)}},
               "429 answers from Procore, by endpoint family")
      .Increment();
}

void ObsClientMetrics::OnBudgetWait(std::string_view family, Millis waited) {
  metrics_
      .Counter("procore_budget_wait_seconds_total", {{"family", std::string(family)}},
               "Time requests waited for the Procore rate budget before they were sent, by endpoint family")
      .Increment(Seconds(waited));
}

void ObsClientMetrics::OnTokenRequest(bool ok) {
  metrics_
      .Counter("procore_token_requests_total", {{"outcome", ok ? "ok" : "failed"}},
               "Access tokens requested from Procore's /oauth/token")
      .Increment();
}

}  // namespace kt::procore
