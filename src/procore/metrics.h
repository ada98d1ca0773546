// What the Procore client reports about its traffic, by endpoint family. An interface so obs/ (Prometheus)
// can be wired in by the composition root without the client depending on it.
#pragma once

#include <string>
#include <string_view>

#include "util/clock.h"

namespace kt::procore {

class ClientMetrics {
 public:
  virtual ~ClientMetrics() = default;
  // One HTTP exchange; status 0 when no response arrived.
  virtual void OnRequest(std::string_view family, int status, Millis latency) {}
  // A request is about to be sent again; reason is "429", "5xx", "network" or "401".
  virtual void OnRetry(std::string_view family, std::string_view reason) {}
  virtual void OnRateLimited(std::string_view family) {}
  // Time a request waited for the rate budget before it was sent.
  virtual void OnBudgetWait(std::string_view family, Millis waited) {}
  // A token was requested from /oauth/token (ok or not).
  virtual void OnTokenRequest(bool ok) {}
};

// A metrics sink that drops everything.
ClientMetrics& NoMetrics();

// The family of an endpoint, for metric labels: "/rest/v1.0/projects/5/rfis/9" -> "rfis",
// "/rest/v1.0/webhooks/hooks/3/triggers" -> "webhooks", "/oauth/token" -> "oauth".
std::string EndpointFamily(std::string_view path);

}  // namespace kt::procore
