// Settings validation, the least permissions they need, and the webhook triggers they select.
#include "integration/settings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "procore/streams.h"
#include "sync/scope.h"

namespace kt::integration {
namespace {

constexpr std::array<DomainInfo, 10> kDomains = {{
    {"directory", "Directory", "company users, vendors (companies) and trades"},
    {"cost_codes", "Cost codes", "cost codes of linked projects"},
    {"budget", "Budget", "budget views and line-item detail rows"},
    {"commitments", "Commitments", "subcontracts, purchase orders and commitment change orders"},
    {"prime_contracts", "Prime contracts", "prime contracts and prime change orders"},
    {"change_events", "Change events", "change events"},
    {"direct_costs", "Direct costs", "direct costs"},
    {"rfis", "RFIs", "RFIs"},
    {"submittals", "Submittals", "submittals"},
    {"daily_logs", "Daily logs", "manpower logs"},
}};

struct DomainTools {
  std::string_view domain;
  ToolScope scope;
  std::vector<std::string_view> tools;
};

// product.md's table: the tools each domain needs, at Read Only.
const std::vector<DomainTools>& DomainToolTable() {
  static const std::vector<DomainTools> kTable = {
      {"directory", ToolScope::kCompany, {"Directory"}},
      {"cost_codes", ToolScope::kProject, {"Admin"}},
      {"budget", ToolScope::kProject, {"Budget"}},
      {"commitments", ToolScope::kProject, {"Commitments", "Change Orders"}},
      {"prime_contracts", ToolScope::kProject, {"Prime Contracts", "Change Orders"}},
      {"change_events", ToolScope::kProject, {"Change Events"}},
      {"direct_costs", ToolScope::kProject, {"Direct Costs"}},
      {"rfis", ToolScope::kProject, {"RFIs"}},
      {"submittals", ToolScope::kProject, {"Submittals"}},
      {"daily_logs", ToolScope::kProject, {"Daily Log"}},
  };
  return kTable;
}

std::vector<std::string> OrderedDomains(const std::set<std::string>& chosen) {
  std::vector<std::string> out;
  for (const auto& d : kDomains)
    if (chosen.count(std::string(d.key))) out.emplace_back(d.key);
  return out;
}

}  // namespace

std::span<const DomainInfo> Domains() {
  return kDomains;
}

bool IsKnownDomain(std::string_view key) {
  return std::any_of(kDomains.begin(), kDomains.end(), [&](const DomainInfo& d) { return d.key == key; });
}

Result<Settings> ParseSettings(const nlohmann::json& body, const Settings& current) {
  Settings out = current;
  if (auto it = body.find("domains"); it != body.end()) {
    if (!it->is_array())
      return Fail(ErrorKind::kInvalidInput, "invalid_field", "'domains' must be a list of domain names.",
                  "Send \"domains\" as a list, e.g. [\"directory\", \"rfis\"].");
    std::set<std::string> chosen;
    for (const auto& d : *it) {
      if (!d.is_string())
        return Fail(ErrorKind::kInvalidInput, "invalid_field", "'domains' must hold domain names as strings.",
                    "Send \"domains\" as a list of strings.");
      const auto& name = d.get_ref<const std::string&>();
      if (name == "projects") continue;  // always synced
      if (!IsKnownDomain(name)) {
        std::string known;
        for (const auto& k : kDomains) known += (known.empty() ? "" : ", ") + std::string(k.key);
        return Fail(ErrorKind::kInvalidInput, "unknown_domain",
                    "'" + name + "' is not a domain KTrack can sync.", "Choose among: " + known + ".");
      }
      chosen.insert(name);
    }
    out.domains = OrderedDomains(chosen);
  } else if (current.domains.empty() && !body.contains("auto_link_projects") &&
             !body.contains("reconcile_interval_s")) {
    return Fail(ErrorKind::kInvalidInput, "invalid_field", "'domains' is required.",
                "Send \"domains\": the list of data to sync (an empty list syncs only projects).");
  }
  if (auto it = body.find("auto_link_projects"); it != body.end()) {
    if (!it->is_boolean())
      return Fail(ErrorKind::kInvalidInput, "invalid_field", "'auto_link_projects' must be true or false.",
                  "Send \"auto_link_projects\": true or false.");
    out.auto_link_projects = it->get<bool>();
  }
  if (auto it = body.find("reconcile_interval_s"); it != body.end()) {
    if (!it->is_number_integer())
      return Fail(ErrorKind::kInvalidInput, "invalid_field",
                  "'reconcile_interval_s' must be a whole number of seconds.",
                  "Send \"reconcile_interval_s\" between " + std::to_string(kMinReconcileIntervalS) +
                      " and " + std::to_string(kMaxReconcileIntervalS) + ".");
    int64_t v = it->get<int64_t>();
    if (v < kMinReconcileIntervalS || v > kMaxReconcileIntervalS)
      return Fail(ErrorKind::kInvalidInput, "reconcile_interval_out_of_range",
                  "The reconciliation interval must be between 5 minutes and 7 days (" +
                      std::to_string(kMinReconcileIntervalS) + " to " +
                      std::to_string(kMaxReconcileIntervalS) + " seconds); " + std::to_string(v) + " is not.",
                  "Choose an interval between " + std::to_string(kMinReconcileIntervalS) + " and " +
                      std::to_string(kMaxReconcileIntervalS) +
                      " seconds; 3600 (an hour) suits most companies.");
    out.reconcile_interval_s = v;
  }
  if (auto it = body.find("webhook_payload_version"); it != body.end()) {
    if (!it->is_string() || (*it != "v2.0" && *it != "v4.0"))
      return Fail(ErrorKind::kInvalidInput, "invalid_field",
                  "'webhook_payload_version' must be \"v2.0\" or \"v4.0\".", "Leave it out to use v2.0.");
    out.webhook_payload_version = it->get<std::string>();
  }
  return out;
}

nlohmann::json SettingsJson(const Settings& s) {
  return {{"domains", s.domains},
          {"auto_link_projects", s.auto_link_projects},
          {"reconcile_interval_s", s.reconcile_interval_s},
          {"webhook_payload_version", s.webhook_payload_version}};
}

Settings SettingsFromJson(const nlohmann::json& j) {
  Settings s;
  if (!j.is_object()) return s;
  std::set<std::string> chosen;
  if (auto it = j.find("domains"); it != j.end() && it->is_array())
    for (const auto& d : *it)
      if (d.is_string() && IsKnownDomain(d.get<std::string>())) chosen.insert(d.get<std::string>());
  s.domains = OrderedDomains(chosen);
  s.auto_link_projects = j.value("auto_link_projects", false);
  s.reconcile_interval_s = j.value("reconcile_interval_s", kDefaultReconcileIntervalS);
  s.webhook_payload_version = j.value("webhook_payload_version", std::string("v2.0"));
  return s;
}

std::string_view ToolScopeName(ToolScope scope) {
  return scope == ToolScope::kCompany ? "company" : "project";
}

int LevelRank(std::string_view level) {
  std::string l;
  for (char c : level)
    if (c != ' ' && c != '_' && c != '-')
      l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (l == "admin") return 3;
  if (l == "standard") return 2;
  if (l == "readonly" || l == "read") return 1;
  return 0;
}

std::vector<Requirement> Requirements(const Settings& settings) {
  std::vector<Requirement> out;
  auto add = [&](ToolScope scope, std::string_view tool, std::string_view level, std::string_view why) {
    for (auto& r : out) {
      if (r.scope == scope && r.tool == tool) {
        if (LevelRank(level) > LevelRank(r.level)) r.level = std::string(level);
        if (std::find(r.needed_for.begin(), r.needed_for.end(), why) == r.needed_for.end())
          r.needed_for.emplace_back(why);
        return;
      }
    }
    out.push_back({scope, std::string(tool), std::string(level), {std::string(why)}});
  };
  add(ToolScope::kCompany, "Admin", "Read Only", "projects");
  for (const auto& d : DomainToolTable())
    if (d.scope == ToolScope::kCompany &&
        std::find(settings.domains.begin(), settings.domains.end(), d.domain) != settings.domains.end())
      for (auto t : d.tools) add(d.scope, t, "Read Only", d.domain);
  add(ToolScope::kCompany, "Webhooks API", "Standard", "webhooks");
  for (const auto& d : DomainToolTable())
    if (d.scope == ToolScope::kProject &&
        std::find(settings.domains.begin(), settings.domains.end(), d.domain) != settings.domains.end())
      for (auto t : d.tools) add(d.scope, t, "Read Only", d.domain);
  return out;
}

nlohmann::json RequirementJson(const Requirement& r) {
  return {
      {"scope", ToolScopeName(r.scope)}, {"tool", r.tool}, {"level", r.level}, {"needed_for", r.needed_for}};
}

std::vector<TriggerKey> TriggersFor(const Settings& settings) {
  auto streams = sync::StreamsForDomains(settings.domains);
  std::vector<std::string> keys = streams.company_streams;
  keys.insert(keys.end(), streams.project_streams.begin(), streams.project_streams.end());
  std::set<TriggerKey> out;
  for (const auto& key : keys) {
    const procore::StreamEndpoint* s = procore::FindStream(key);
    if (!s || s->webhook_resource.empty()) continue;
    for (const char* type : {"create", "update", "delete"})
      out.insert({std::string(s->webhook_resource), type});
  }
  return {out.begin(), out.end()};
}

}  // namespace kt::integration
