// Domains to streams and webhook resources to streams, over the procore module's stream table.
#include "sync/scope.h"

#include <algorithm>
#include <array>
#include <utility>

#include "procore/streams.h"
#include "util/strings.h"

namespace kt::sync {
namespace {

struct DomainEntry {
  std::string_view domain;
  std::array<std::string_view, 3> streams;
};

// product.md's settings table.
constexpr std::array<DomainEntry, 10> kDomains = {{
    {"directory", {"company_users", "vendors", "trades"}},
    {"cost_codes", {"cost_codes"}},
    {"budget", {"budget_detail_rows"}},
    {"commitments", {"work_order_contracts", "purchase_order_contracts", "commitment_change_orders"}},
    {"prime_contracts", {"prime_contracts", "prime_change_orders"}},
    {"change_events", {"change_events"}},
    {"direct_costs", {"direct_costs"}},
    {"rfis", {"rfis"}},
    {"submittals", {"submittals"}},
    {"daily_logs", {"manpower_logs"}},
}};

// Resource names beside the stream table's own: the directory fan-out resources (procore-api.md §5.5), and
// the change-order resources that some Procore companies (and the emulator) announce although the Webhooks
// API's resource list has no trigger for them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kExtraResources = {{
    {"Project Users", "company_users"},
    {"Project Vendors", "vendors"},
    {"Commitment Change Orders", "commitment_change_orders"},
    {"Prime Change Orders", "prime_change_orders"},
}};

}  // namespace

DomainStreams StreamsForDomains(const std::vector<std::string>& domains) {
  std::vector<std::string_view> wanted = {"projects"};
  for (const auto& domain : domains) {
    for (const auto& entry : kDomains) {
      if (entry.domain != domain) continue;
      for (auto s : entry.streams) {
        if (!s.empty()) wanted.push_back(s);
      }
    }
  }
  DomainStreams out;
  for (const auto& endpoint : procore::StreamEndpoints()) {
    if (std::find(wanted.begin(), wanted.end(), endpoint.key) == wanted.end()) continue;
    if (endpoint.scope == procore::Scope::kCompany) {
      out.company_streams.emplace_back(endpoint.key);
    } else {
      out.project_streams.emplace_back(endpoint.key);
    }
  }
  return out;
}

std::optional<std::string> StreamForWebhookResource(std::string_view resource_name) {
  for (const auto& endpoint : procore::StreamEndpoints()) {
    if (!endpoint.webhook_resource.empty() && IEquals(endpoint.webhook_resource, resource_name)) {
      return std::string(endpoint.key);
    }
  }
  for (const auto& [name, stream] : kExtraResources) {
    if (IEquals(name, resource_name)) return std::string(stream);
  }
  return std::nullopt;
}

bool IsDirectoryFanOutResource(std::string_view resource_name) {
  return IEquals(resource_name, "Project Users") || IEquals(resource_name, "Project Vendors");
}

bool IsCompanyStream(std::string_view stream) {
  const procore::StreamEndpoint* endpoint = procore::FindStream(stream);
  return endpoint && endpoint->scope == procore::Scope::kCompany;
}

}  // namespace kt::sync
