// The emulator's Webhooks API (v1.0 hooks, triggers, deliveries, resources) and its delivery engine.
//
// The core of the emulator owns authentication, companies, projects and data; it hands this service
// (1) a callback that authenticates a webhooks API request and (2) every resource change as a ResourceEvent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "emulator/emulated_clock.h"
#include "http/router.h"

namespace procore_emulator {

// One change to one Procore resource, as Procore would announce it to hooks.
struct ResourceEvent {
  int64_t company_id = 0;
  // None for company-level resources (Company Users, Company Vendors, ...).
  std::optional<int64_t> project_id;
  std::string resource_name;  // Procore's resource name, e.g. "RFIs", "Company Users"
  std::string event_type;     // "create" | "update" | "delete"
  int64_t resource_id = 0;
  int64_t user_id = 0;                // who made the change (Procore user id)
  std::string source_application_id;  // client_id of the app that made the change, or empty
  int64_t at_ms = 0;                  // emulated time of the change
};

// Who is calling the webhooks API: resolved by the core from the bearer token and Procore-Company-Id.
struct WebhookCaller {
  std::string client_id;  // the app
  int64_t company_id = 0;
  int64_t user_id = 0;  // the app's service-account user
};

// Returns the caller, or the exact error response Procore would give (401, 403 without the
// "Webhooks API" tool at Standard, "Missing Procore-Company-Id header!", rate limited, ...).
// `company_id`/`project_id` are the scope named in the request's query or body.
using WebhookAuthenticator =
    std::function<std::variant<WebhookCaller, kt::http::Response>(kt::http::Request& request)>;

struct WebhookFaults {
  double duplicate_rate = 0.0;  // share of deliveries sent twice
  double failure_rate = 0.0;    // share of deliveries the emulator pretends failed (before sending)
  double reorder_rate = 0.0;    // share of deliveries that overtake the one queued before them
};

class WebhookService {
 public:
  virtual ~WebhookService() = default;
  // Adds the /rest/v1.0/webhooks/... routes.
  virtual void RegisterRoutes(kt::http::Router& router, WebhookAuthenticator authenticate) = 0;
  // Called by the core for every change; matching hooks' triggers queue deliveries.
  virtual void Publish(const ResourceEvent& event) = 0;
  virtual void SetFaults(const WebhookFaults& faults) = 0;
  // {"attempted", "succeeded", "failed", "discarded", "duplicated", "reordered", "queued"} and per-hook
  // figures.
  virtual nlohmann::json Stats() const = 0;
  virtual void ResetStats() = 0;
  // Forgets all hooks, triggers and deliveries (control API reset).
  virtual void Reset() = 0;
  virtual void Start() = 0;  // starts the delivery threads
  virtual void Stop() = 0;
};

std::unique_ptr<WebhookService> MakeWebhookService(EmulatedClock& clock, uint64_t seed);

}  // namespace procore_emulator
