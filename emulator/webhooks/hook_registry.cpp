// Hooks and triggers: validation, scoping and event matching.
#include "emulator/webhooks/hook_registry.h"

#include "emulator/webhooks/event_payload.h"
#include "emulator/webhooks/resources.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

tl::unexpected<kt::Error> HookNotFound(int64_t hook_id) {
  return kt::Fail(kt::ErrorKind::kNotFound, "not_found",
                  "Webhooks hook " + std::to_string(hook_id) + " not found");
}

// Checks the fields present in `change`; `creating` also requires the mandatory ones.
kt::Status ValidateHookChange(const HookChange& change, bool creating) {
  if (creating && !change.api_version) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "hook[api_version] is required");
  }
  if (change.api_version && NormalizePayloadVersion(*change.api_version).empty()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                    "hook[api_version] must be one of v2.0, v3.0, v4.0");
  }
  if (creating && !change.namespace_name) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "hook[namespace] is required");
  }
  if (change.namespace_name && !IsValidNamespace(*change.namespace_name)) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                    "hook[namespace] may contain only lowercase letters a-z, digits 0-9 and '-'");
  }
  if (creating && !change.destination_url) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "hook[destination_url] is required");
  }
  if (change.destination_url && !kt::StartsWith(*change.destination_url, "http://") &&
      !kt::StartsWith(*change.destination_url, "https://")) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                    "hook[destination_url] must be an http(s) URL");
  }
  return {};
}

void ApplyHookChange(const HookChange& change, Hook& hook) {
  if (change.api_version) hook.api_version = NormalizePayloadVersion(*change.api_version);
  if (change.namespace_name) hook.namespace_name = *change.namespace_name;
  if (change.destination_url) hook.destination_url = *change.destination_url;
  if (change.authorization) hook.authorization = *change.authorization;
}

}  // namespace

bool IsValidNamespace(const std::string& namespace_name) {
  if (namespace_name.empty()) return false;
  for (char c : namespace_name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

kt::Result<Hook> HookRegistry::CreateHook(const WebhookScope& scope, const WebhookCaller& caller,
                                          const HookChange& change) {
  if (auto valid = ValidateHookChange(change, true); !valid) return kt::Fail(valid.error());
  std::lock_guard lock(mu_);
  Hook hook;
  hook.id = next_hook_id_++;
  hook.scope = scope;
  ApplyHookChange(change, hook);
  hook.owned_by_company_id = scope.kind == WebhookScope::Kind::kCompany ? scope.id : caller.company_id;
  if (scope.kind == WebhookScope::Kind::kProject) hook.owned_by_project_id = scope.id;
  hook.owned_by_user_id = caller.user_id;
  hooks_[hook.id] = hook;
  return hook;
}

std::vector<Hook> HookRegistry::ListHooks(const WebhookScope& scope, const std::string& namespace_filter,
                                          const std::string& api_version_filter) const {
  std::lock_guard lock(mu_);
  std::vector<Hook> out;
  for (const auto& [id, hook] : hooks_) {
    if (!(hook.scope == scope)) continue;
    if (!namespace_filter.empty() && namespace_filter != "*" && hook.namespace_name != namespace_filter)
      continue;
    if (!api_version_filter.empty() && hook.api_version != api_version_filter) continue;
    out.push_back(hook);
  }
  return out;
}

kt::Result<Hook*> HookRegistry::FindInScope(const WebhookScope& scope, int64_t hook_id) {
  auto it = hooks_.find(hook_id);
  // Procore answers 404 for a hook in another scope, as for one that does not exist.
  if (it == hooks_.end() || !(it->second.scope == scope)) return HookNotFound(hook_id);
  return &it->second;
}

kt::Result<Hook> HookRegistry::GetHook(const WebhookScope& scope, int64_t hook_id) const {
  std::lock_guard lock(mu_);
  auto it = hooks_.find(hook_id);
  if (it == hooks_.end() || !(it->second.scope == scope)) return HookNotFound(hook_id);
  return it->second;
}

kt::Result<Hook> HookRegistry::UpdateHook(const WebhookScope& scope, int64_t hook_id,
                                          const HookChange& change) {
  if (auto valid = ValidateHookChange(change, false); !valid) return kt::Fail(valid.error());
  std::lock_guard lock(mu_);
  auto hook = FindInScope(scope, hook_id);
  if (!hook) return kt::Fail(hook.error());
  ApplyHookChange(change, **hook);
  return **hook;
}

kt::Status HookRegistry::DeleteHook(const WebhookScope& scope, int64_t hook_id) {
  std::lock_guard lock(mu_);
  auto hook = FindInScope(scope, hook_id);
  if (!hook) return kt::Fail(hook.error());
  hooks_.erase(hook_id);
  std::erase_if(triggers_, [&](const auto& entry) { return entry.second.hook_id == hook_id; });
  return {};
}

kt::Result<Trigger> HookRegistry::CreateTrigger(const WebhookScope& scope, int64_t hook_id,
                                                const WebhookCaller& caller, const std::string& resource_name,
                                                const std::string& event_type) {
  const std::string normalized_event = NormalizeEventType(event_type);
  if (resource_name.empty()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "trigger[resource_name] is required");
  }
  if (normalized_event.empty()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                    "trigger[event_type] must be one of create, update, delete");
  }
  std::lock_guard lock(mu_);
  auto hook = FindInScope(scope, hook_id);
  if (!hook) return kt::Fail(hook.error());
  if (!FindWebhookResource(resource_name)) {
    return kt::Fail(kt::ErrorKind::kUnprocessable, "unprocessable_entity",
                    "Unknown webhook resource '" + resource_name + "'",
                    "List the valid names with GET /rest/v1.0/webhooks/resources");
  }
  for (const auto& [id, trigger] : triggers_) {
    if (trigger.hook_id == hook_id && trigger.resource_name == resource_name &&
        trigger.event_type == normalized_event) {
      return kt::Fail(
          kt::ErrorKind::kUnprocessable, "unprocessable_entity",
          "A trigger for " + resource_name + " " + normalized_event + " already exists on this hook");
    }
  }
  Trigger trigger;
  trigger.id = next_trigger_id_++;
  trigger.hook_id = hook_id;
  trigger.resource_name = resource_name;
  trigger.event_type = normalized_event;
  trigger.company_id = (*hook)->owned_by_company_id;
  trigger.project_id = (*hook)->owned_by_project_id;
  trigger.user_id = caller.user_id;
  triggers_[trigger.id] = trigger;
  return trigger;
}

kt::Result<std::vector<Trigger>> HookRegistry::ListTriggers(const WebhookScope& scope,
                                                            int64_t hook_id) const {
  std::lock_guard lock(mu_);
  auto it = hooks_.find(hook_id);
  if (it == hooks_.end() || !(it->second.scope == scope)) return HookNotFound(hook_id);
  std::vector<Trigger> out;
  for (const auto& [id, trigger] : triggers_) {
    if (trigger.hook_id == hook_id) out.push_back(trigger);
  }
  return out;
}

kt::Status HookRegistry::DeleteTrigger(const WebhookScope& scope, int64_t hook_id, int64_t trigger_id) {
  std::lock_guard lock(mu_);
  auto hook = FindInScope(scope, hook_id);
  if (!hook) return kt::Fail(hook.error());
  auto it = triggers_.find(trigger_id);
  if (it == triggers_.end() || it->second.hook_id != hook_id) {
    return kt::Fail(kt::ErrorKind::kNotFound, "not_found",
                    "Webhooks trigger " + std::to_string(trigger_id) + " not found");
  }
  triggers_.erase(it);
  return {};
}

std::vector<HookTarget> HookRegistry::Match(const ResourceEvent& event) const {
  std::lock_guard lock(mu_);
  std::vector<HookTarget> out;
  for (const auto& [trigger_id, trigger] : triggers_) {
    if (trigger.resource_name != event.resource_name || trigger.event_type != event.event_type) continue;
    auto it = hooks_.find(trigger.hook_id);
    if (it == hooks_.end()) continue;
    const Hook& hook = it->second;
    // A company hook hears the company's events, project ones included (Procore leaves this unconfirmed; the
    // emulator takes the reading that makes one company hook enough). A project hook hears only its project.
    bool in_scope = hook.scope.kind == WebhookScope::Kind::kCompany
                        ? hook.scope.id == event.company_id
                        : event.project_id && hook.scope.id == *event.project_id;
    // Triggers are unique per (hook, resource, event type), so a hook is listed at most once.
    if (in_scope) out.push_back({hook.id, hook.api_version, hook.destination_url});
  }
  return out;
}

std::optional<Hook> HookRegistry::FindHook(int64_t hook_id) const {
  std::lock_guard lock(mu_);
  auto it = hooks_.find(hook_id);
  if (it == hooks_.end()) return std::nullopt;
  return it->second;
}

void HookRegistry::Clear() {
  std::lock_guard lock(mu_);
  // Ids keep counting up, so a client holding ids from before a reset never finds someone else's hook.
  hooks_.clear();
  triggers_.clear();
}

}  // namespace procore_emulator
