// The Additional Configuration Settings (product.md): which domains to sync and the options, the Procore
// tools and levels they need, and the webhook triggers they select.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace kt::integration {

inline constexpr int64_t kMinReconcileIntervalS = 300;                 // 5 minutes
inline constexpr int64_t kMaxReconcileIntervalS = int64_t{7} * 86400;  // a week
inline constexpr int64_t kDefaultReconcileIntervalS = 3600;

struct Settings {
  std::vector<std::string> domains;  // product.md's domains, in kDomains order, without duplicates
  bool auto_link_projects = false;
  int64_t reconcile_interval_s = kDefaultReconcileIntervalS;
  std::string webhook_payload_version = "v2.0";  // the hook's api_version: "v2.0" or "v4.0"
};

// A domain the customer can choose, with what it brings (for pages and messages).
struct DomainInfo {
  std::string_view key;
  std::string_view label;
  std::string_view brings;
};
std::span<const DomainInfo> Domains();
bool IsKnownDomain(std::string_view key);

// Reads the settings of PUT /settings (domains, auto_link_projects, reconcile_interval_s,
// webhook_payload_version; absent options keep `current`'s). An unknown domain is a 400 naming it.
Result<Settings> ParseSettings(const nlohmann::json& body, const Settings& current = {});
nlohmann::json SettingsJson(const Settings& settings);
// The stored form; lenient (unknown domains are dropped).
Settings SettingsFromJson(const nlohmann::json& j);

enum class ToolScope { kCompany, kProject };
std::string_view ToolScopeName(ToolScope scope);

// One Procore tool at the least level KTrack needs, and the settings that need it.
struct Requirement {
  ToolScope scope = ToolScope::kCompany;
  std::string tool;  // Procore's name, as in the permissions matrix ("RFIs", "Change Orders", "Webhooks API")
  std::string level;                    // "Read Only" or "Standard"
  std::vector<std::string> needed_for;  // "projects", "webhooks" or domain keys
};
// Procore's levels in order; a level satisfies a requirement when it is at least as high.
int LevelRank(std::string_view level);

// What the settings need, least first: Admin (company) for projects always, the Webhooks API (company,
// Standard) for webhooks, and each chosen domain's tools (product.md's table). Company requirements first.
std::vector<Requirement> Requirements(const Settings& settings);
nlohmann::json RequirementJson(const Requirement& r);

// The webhook triggers the settings select: create, update and delete of each chosen stream's resource.
struct TriggerKey {
  std::string resource_name;
  std::string event_type;
  // clang-tidy 14 reports the defaulted comparison's generated code (a 0 literal) as wanting nullptr.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  auto operator<=>(const TriggerKey&) const = default;
};
std::vector<TriggerKey> TriggersFor(const Settings& settings);

}  // namespace kt::integration
