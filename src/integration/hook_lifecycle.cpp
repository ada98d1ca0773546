// Creating, reconciling and deleting the company hook and its triggers.
#include "integration/hook_lifecycle.h"

#include <map>
#include <set>

namespace kt::integration {

nlohmann::json HookOutcomeJson(const HookOutcome& o) {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& f : o.failed)
    failed.push_back({{"resource_name", f.trigger.resource_name},
                      {"event_type", f.trigger.event_type},
                      {"error", f.error}});
  return {{"id", o.hook.id},
          {"namespace", o.hook.namespace_name},
          {"destination_url", o.hook.destination_url},
          {"api_version", o.hook.api_version},
          {"triggers", o.triggers_created + o.triggers_kept},
          {"failed_triggers", failed}};
}

procore::ProcoreResult<HookOutcome> EnsureHook(procore::WebhooksApi& api, const procore::HookScope& scope,
                                               const HookPlan& plan, std::optional<int64_t> known_hook_id) {
  HookOutcome out;
  auto hooks = api.ListHooks(scope, kHookNamespace);
  if (!hooks) return tl::unexpected(hooks.error());
  const procore::Hook* found = nullptr;
  for (const auto& h : *hooks)
    if (known_hook_id && h.id == *known_hook_id) found = &h;
  if (!found)
    for (const auto& h : *hooks)
      if (h.destination_url == plan.destination_url) found = &h;

  if (found) {
    procore::HookPatch patch;
    patch.destination_url = plan.destination_url;
    patch.api_version = plan.api_version;
    patch.authorization = plan.authorization;
    auto updated = api.UpdateHook(scope, found->id, patch);
    if (!updated) return tl::unexpected(updated.error());
    out.hook = *updated;
  } else {
    procore::HookSpec spec;
    spec.namespace_name = kHookNamespace;
    spec.destination_url = plan.destination_url;
    spec.api_version = plan.api_version;
    spec.authorization = plan.authorization;
    auto created = api.CreateHook(scope, spec);
    if (!created) return tl::unexpected(created.error());
    out.hook = *created;
    out.created = true;
  }

  auto existing = api.ListTriggers(scope, out.hook.id);
  if (!existing) return tl::unexpected(existing.error());
  std::set<TriggerKey> wanted(plan.triggers.begin(), plan.triggers.end());
  std::set<TriggerKey> have;
  std::vector<int64_t> extra;
  for (const auto& t : *existing) {
    TriggerKey key{t.resource_name, t.event_type};
    if (wanted.count(key) && have.insert(key).second) {
      ++out.triggers_kept;
    } else {
      extra.push_back(t.id);  // not in the settings any more, or a duplicate
    }
  }
  std::vector<procore::TriggerSpec> missing;
  for (const auto& key : wanted)
    if (!have.count(key)) missing.push_back({key.resource_name, key.event_type});
  if (!missing.empty()) {
    auto bulk = api.BulkCreateTriggers(scope, out.hook.id, plan.api_version, missing);
    if (!bulk) return tl::unexpected(bulk.error());
    out.triggers_created = static_cast<int64_t>(bulk->created.size());
    out.failed = bulk->failed;
  }
  if (!extra.empty()) {
    auto removed = api.BulkDeleteTriggers(scope, out.hook.id, extra);
    if (!removed) return tl::unexpected(removed.error());
    out.triggers_deleted = static_cast<int64_t>(removed->deleted.size());
  }
  return out;
}

procore::ProcoreStatus UpdateHookAuthorization(procore::WebhooksApi& api, const procore::HookScope& scope,
                                               int64_t hook_id, const std::string& authorization) {
  procore::HookPatch patch;
  patch.authorization = authorization;
  auto updated = api.UpdateHook(scope, hook_id, patch);
  if (!updated) return tl::unexpected(updated.error());
  return {};
}

procore::ProcoreStatus DeleteHooks(procore::WebhooksApi& api, const procore::HookScope& scope,
                                   std::optional<int64_t> hook_id, const std::string& destination_url) {
  std::set<int64_t> ids;
  if (hook_id) ids.insert(*hook_id);
  auto hooks = api.ListHooks(scope, kHookNamespace);
  if (hooks) {
    for (const auto& h : *hooks)
      if (!destination_url.empty() && h.destination_url == destination_url) ids.insert(h.id);
  } else if (hooks.error().code != procore::ErrorCode::kNotFound) {
    return tl::unexpected(hooks.error());
  }
  for (int64_t id : ids) {
    auto deleted = api.DeleteHook(scope, id);
    if (!deleted && deleted.error().code != procore::ErrorCode::kNotFound) return deleted;
  }
  return {};
}

}  // namespace kt::integration
