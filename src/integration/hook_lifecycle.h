// The company hook's lifecycle in Procore: find or create it in KTrack's namespace, make its triggers match
// the settings (bulk, 207 partial success kept), point it at the current secret, delete it on disconnect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/settings.h"
#include "procore/webhooks.h"

namespace kt::integration {

inline constexpr char kHookNamespace[] = "ktrack";

struct HookPlan {
  std::string destination_url;  // {public_base_url}/webhooks/procore/{integration_key}
  std::string api_version = "v2.0";
  std::string authorization;  // "Bearer <webhook secret>"
  std::vector<TriggerKey> triggers;
};

struct HookOutcome {
  procore::Hook hook;
  bool created = false;
  int64_t triggers_created = 0;
  int64_t triggers_deleted = 0;
  int64_t triggers_kept = 0;
  std::vector<procore::FailedTrigger> failed;
};
// What GET / shows of the hook (no secret): {"id", "namespace", "destination_url", "api_version", "triggers",
// ...}.
nlohmann::json HookOutcomeJson(const HookOutcome& outcome);

// Finds the hook (by id, else by destination in KTrack's namespace) or creates it; sets its destination,
// payload version and Authorization; then adds missing triggers in bulk and deletes those the plan no longer
// has. Running it again changes nothing.
procore::ProcoreResult<HookOutcome> EnsureHook(procore::WebhooksApi& api, const procore::HookScope& scope,
                                               const HookPlan& plan, std::optional<int64_t> known_hook_id);

// Points the hook at a new Authorization (secret rotation).
procore::ProcoreStatus UpdateHookAuthorization(procore::WebhooksApi& api, const procore::HookScope& scope,
                                               int64_t hook_id, const std::string& authorization);

// Deletes the hook (and any other hook of KTrack's namespace sending to the same destination). A hook that is
// already gone is fine.
procore::ProcoreStatus DeleteHooks(procore::WebhooksApi& api, const procore::HookScope& scope,
                                   std::optional<int64_t> hook_id, const std::string& destination_url);

}  // namespace kt::integration
