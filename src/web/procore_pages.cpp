// Page handlers of the Procore integration: admin-only shells with the data procore.js needs in data-*
// attributes.
#include "web/procore_pages.h"

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "util/hash.h"
#include "web/pages.h"
#include "web/render.h"

namespace kt::web {

namespace {

struct ToolNeed {
  std::string_view scope;  // "company" or "project"
  std::string_view tool;   // Procore's tool name, as in the permissions matrix
  std::string_view level;  // the least level a read-only sync needs
};

struct DomainInfo {
  std::string_view key;
  std::string_view label;
  std::string_view gets;  // what KTrack gets, in the customer's words
  std::vector<ToolNeed> tools;
  std::vector<std::string_view> streams;
};

// product.md's settings table. Projects are always synced; creating the webhooks needs the Webhooks API tool.
const std::vector<DomainInfo>& Domains() {
  static const std::vector<DomainInfo> kDomains = {
      {"projects",
       "Projects",
       "The company's projects and their status (always synced).",
       {{"company", "Admin", "read_only"}, {"company", "Webhooks API", "standard"}},
       {"projects"}},
      {"directory",
       "Directory",
       "Company users, vendors (companies) and trades.",
       {{"company", "Directory", "read_only"}},
       {"company_users", "vendors", "trades"}},
      {"cost_codes",
       "Cost codes",
       "Cost codes of linked projects.",
       {{"project", "Admin", "read_only"}},
       {"cost_codes"}},
      {"budget",
       "Budget",
       "Budget views and line-item detail rows.",
       {{"project", "Budget", "read_only"}},
       {"budget_detail_rows"}},
      {"commitments",
       "Commitments",
       "Subcontracts, purchase orders and commitment change orders.",
       {{"project", "Commitments", "read_only"}, {"project", "Change Orders", "read_only"}},
       {"work_order_contracts", "purchase_order_contracts", "commitment_change_orders"}},
      {"prime_contracts",
       "Prime contracts",
       "Prime contracts and prime change orders.",
       {{"project", "Prime Contracts", "read_only"}, {"project", "Change Orders", "read_only"}},
       {"prime_contracts", "prime_change_orders"}},
      {"change_events",
       "Change events",
       "Change events.",
       {{"project", "Change Events", "read_only"}},
       {"change_events"}},
      {"direct_costs",
       "Direct costs",
       "Direct costs.",
       {{"project", "Direct Costs", "read_only"}},
       {"direct_costs"}},
      {"rfis", "RFIs", "Requests for information.", {{"project", "RFIs", "read_only"}}, {"rfis"}},
      {"submittals", "Submittals", "Submittals.", {{"project", "Submittals", "read_only"}}, {"submittals"}},
      {"daily_logs",
       "Daily logs",
       "Manpower logs from the Daily Log.",
       {{"project", "Daily Log", "read_only"}},
       {"manpower_logs"}},
  };
  return kDomains;
}

constexpr std::pair<std::string_view, std::string_view> kStreamLabels[] = {
    {"projects", "Projects"},
    {"company_users", "Company users"},
    {"vendors", "Vendors"},
    {"trades", "Trades"},
    {"cost_codes", "Cost codes"},
    {"budget_detail_rows", "Budget detail rows"},
    {"work_order_contracts", "Subcontracts"},
    {"purchase_order_contracts", "Purchase orders"},
    {"commitment_change_orders", "Commitment change orders"},
    {"prime_contracts", "Prime contracts"},
    {"prime_change_orders", "Prime change orders"},
    {"change_events", "Change events"},
    {"direct_costs", "Direct costs"},
    {"rfis", "RFIs"},
    {"submittals", "Submittals"},
    {"manpower_logs", "Manpower logs"},
};

constexpr std::pair<std::string_view, std::string_view> kLevelLabels[] = {
    {"none", "None"}, {"read_only", "Read Only"}, {"standard", "Standard"}, {"admin", "Admin"}};

// The reconciliation intervals offered, in seconds, with the default first chosen.
constexpr std::pair<int, std::string_view> kReconcileIntervals[] = {
    {900, "Every 15 minutes"}, {3600, "Every hour"}, {6 * 3600, "Every 6 hours"}, {24 * 3600, "Once a day"}};
constexpr int kDefaultReconcileIntervalS = 3600;

// /static/<name>?v=<content hash>: pages pick up a new build's script at once while the asset stays
// cacheable.
std::string VersionedAsset(const std::string& name) {
  const std::string* asset = StaticAsset(name);
  return "/static/" + name + (asset ? "?v=" + Sha256Hex(*asset).substr(0, 12) : "");
}

nlohmann::json DomainsContext() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : Domains()) {
    std::string tools;
    for (const auto& t : d.tools) {
      if (!tools.empty()) tools += ", ";
      tools += std::string(t.tool) + " (" + std::string(t.scope) + ")";
    }
    list.push_back({{"key", d.key},
                    {"label", d.label},
                    {"gets", d.gets},
                    {"tools", tools},
                    {"always", d.key == "projects"}});
  }
  return list;
}

nlohmann::json ReconcileContext() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [seconds, label] : kReconcileIntervals)
    list.push_back(
        {{"seconds", seconds}, {"label", label}, {"selected", seconds == kDefaultReconcileIntervalS}});
  return list;
}

}  // namespace

nlohmann::json ProcoreSettingsCatalog() {
  nlohmann::json domains = nlohmann::json::array();
  for (const auto& d : Domains()) {
    nlohmann::json tools = nlohmann::json::array();
    for (const auto& t : d.tools) tools.push_back({{"scope", t.scope}, {"tool", t.tool}, {"level", t.level}});
    nlohmann::json streams = nlohmann::json::array();
    for (auto s : d.streams) streams.push_back(s);
    domains.push_back({{"key", d.key}, {"label", d.label}, {"tools", tools}, {"streams", streams}});
  }
  nlohmann::json stream_labels = nlohmann::json::object();
  for (const auto& [key, label] : kStreamLabels) stream_labels[std::string(key)] = label;
  nlohmann::json level_labels = nlohmann::json::object();
  for (const auto& [key, label] : kLevelLabels) level_labels[std::string(key)] = label;
  return {{"domains", domains},
          {"stream_labels", stream_labels},
          {"level_labels", level_labels},
          {"default_reconcile_interval_s", kDefaultReconcileIntervalS}};
}

void RegisterProcorePages(http::Router& router, ProcorePagesDeps deps) {
  auto d = std::make_shared<ProcorePagesDeps>(deps);
  // The catalog never changes while the server runs: serialise it once.
  auto catalog = std::make_shared<const std::string>(ProcoreSettingsCatalog().dump());

  auto page = [d, catalog](std::string template_name, std::string title, std::string page_name) {
    return [d, catalog, template_name, title, page_name](http::Request& r) {
      auto opened = OpenClientPage(r, d->access, d->clients, /*admin_required=*/true);
      if (!opened) return std::move(opened.error());
      nlohmann::json context = ClientPageContext(*opened, title);
      context["page"] = page_name;
      context["wide"] = page_name != "integrate";  // room for the permission grid and the stream table
      context["procore_js"] = VersionedAsset("procore.js");
      context["allow_custom_urls"] = d->allow_custom_urls;
      context["marketplace_app"] = d->marketplace_app;
      context["catalog_json"] = *catalog;  // HTML-escaped into a data-* attribute by the template
      context["domains"] = DomainsContext();
      context["reconcile_intervals"] = ReconcileContext();
      return HtmlPage(200, template_name, std::move(context));
    };
  };
  router.Get("/clients/{client_id}/procore/integrate",
             page("procore_integrate", "Integrate with Procore", "integrate"));
  router.Get("/clients/{client_id}/procore/setup", page("procore_setup", "Connect Procore", "setup"));
  router.Get("/clients/{client_id}/procore", page("procore_details", "Procore integration", "details"));
  router.Get("/clients/{client_id}/procore/projects",
             page("procore_projects", "Procore projects", "projects"));
}

}  // namespace kt::web
