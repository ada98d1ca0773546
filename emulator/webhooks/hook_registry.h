// Hooks and triggers as the Webhooks API v1.0 manages them, and which hooks a resource event reaches.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "emulator/webhooks/webhooks.h"
#include "util/error.h"

namespace procore_emulator {

// A request's scope: a company or a project. A hook, its triggers and its deliveries live in one scope.
struct WebhookScope {
  enum class Kind { kCompany, kProject };
  Kind kind = Kind::kCompany;
  int64_t id = 0;
  bool operator==(const WebhookScope&) const = default;
};

struct Hook {
  int64_t id = 0;
  WebhookScope scope;
  std::string api_version;  // normalized payload version: "v2.0", "v3.0" or "v4.0"
  std::string namespace_name;
  std::string destination_url;
  std::string authorization;  // sent as the Authorization header; empty for none
  int64_t owned_by_company_id = 0;
  std::optional<int64_t> owned_by_project_id;
  int64_t owned_by_user_id = 0;
};

struct Trigger {
  int64_t id = 0;
  int64_t hook_id = 0;
  std::string resource_name;
  std::string event_type;  // lower case
  int64_t company_id = 0;
  std::optional<int64_t> project_id;
  int64_t user_id = 0;
};

// The fields a create or update names; absent fields stay as they are (on create, required ones must be
// present).
struct HookChange {
  std::optional<std::string> api_version;
  std::optional<std::string> namespace_name;
  std::optional<std::string> destination_url;
  std::optional<std::string> authorization;  // "" removes the header
};

// Where one event goes: a hook, its payload version and endpoint.
struct HookTarget {
  int64_t hook_id = 0;
  std::string api_version;
  std::string destination_url;
};

// Thread-safe store of hooks and triggers with Procore's validation rules.
class HookRegistry {
 public:
  kt::Result<Hook> CreateHook(const WebhookScope& scope, const WebhookCaller& caller,
                              const HookChange& change);
  // namespace_filter "*" or empty: every namespace; api_version_filter empty: every version.
  std::vector<Hook> ListHooks(const WebhookScope& scope, const std::string& namespace_filter,
                              const std::string& api_version_filter) const;
  kt::Result<Hook> GetHook(const WebhookScope& scope, int64_t hook_id) const;
  kt::Result<Hook> UpdateHook(const WebhookScope& scope, int64_t hook_id, const HookChange& change);
  kt::Status DeleteHook(const WebhookScope& scope, int64_t hook_id);

  kt::Result<Trigger> CreateTrigger(const WebhookScope& scope, int64_t hook_id, const WebhookCaller& caller,
                                    const std::string& resource_name, const std::string& event_type);
  kt::Result<std::vector<Trigger>> ListTriggers(const WebhookScope& scope, int64_t hook_id) const;
  kt::Status DeleteTrigger(const WebhookScope& scope, int64_t hook_id, int64_t trigger_id);

  // Hooks in scope of the event with a trigger for its resource and event type.
  std::vector<HookTarget> Match(const ResourceEvent& event) const;
  // The hook's destination, whatever its scope (the delivery engine resolves it at send time).
  std::optional<Hook> FindHook(int64_t hook_id) const;
  void Clear();

 private:
  kt::Result<Hook*> FindInScope(const WebhookScope& scope, int64_t hook_id);

  mutable std::mutex mu_;
  std::map<int64_t, Hook> hooks_;
  std::map<int64_t, Trigger> triggers_;
  int64_t next_hook_id_ = 1;
  int64_t next_trigger_id_ = 1;
};

// Lower-case letters, digits and '-' only, and not empty.
bool IsValidNamespace(const std::string& namespace_name);

}  // namespace procore_emulator
