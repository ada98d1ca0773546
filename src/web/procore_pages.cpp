// Page handlers of the Procore integration: admin-only shells with the data procore.js needs in data-*
// attributes.
#include "web/procore_pages.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "integration/settings.h"
#include "sync/scope.h"
#include "util/hash.h"
#include "util/strings.h"
#include "web/pages.h"
#include "web/render.h"

namespace kt::web {

namespace {

// One Additional Configuration Setting as the pages explain it: what it brings, the tools it needs, its
// streams.
struct DomainView {
  std::string key;
  std::string label;
  std::string gets;
  std::vector<integration::Requirement> tools;
  std::vector<std::string> streams;
};

// "company users, vendors and trades" -> "Company users, vendors and trades."
std::string Sentence(std::string_view words) {
  std::string s(words);
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (!s.empty() && s.back() != '.') s += '.';
  return s;
}

bool NeededFor(const integration::Requirement& r, std::string_view why) {
  return std::find(r.needed_for.begin(), r.needed_for.end(), why) != r.needed_for.end();
}

// Projects (always on, with the Webhooks API the hooks need), then the integration's domains, each with the
// requirements and streams the integration and sync modules derive for it alone: one table, theirs.
const std::vector<DomainView>& Domains() {
  static const std::vector<DomainView> kDomains = [] {
    std::vector<DomainView> out;
    DomainView projects{
        "projects", "Projects", "The company's projects and their status (always synced).", {}, {}};
    for (auto& r : integration::Requirements(integration::Settings{}))
      if (NeededFor(r, "projects") || NeededFor(r, "webhooks")) projects.tools.push_back(r);
    projects.streams = sync::StreamsForDomains({}).company_streams;
    out.push_back(std::move(projects));
    for (const auto& d : integration::Domains()) {
      // "RFIs: RFIs." says nothing: a domain whose label already says what it brings shows no sentence.
      std::string gets = Sentence(d.brings);
      if (ToLower(gets.substr(0, gets.size() - 1)) == ToLower(d.label)) gets.clear();
      DomainView view{std::string(d.key), std::string(d.label), std::move(gets), {}, {}};
      integration::Settings only;
      only.domains = {view.key};
      for (auto& r : integration::Requirements(only))
        if (NeededFor(r, d.key)) view.tools.push_back(r);
      auto streams = sync::StreamsForDomains(only.domains);
      auto base = sync::StreamsForDomains({});
      for (const auto& list : {streams.company_streams, streams.project_streams})
        for (const auto& key : list)
          if (std::find(base.company_streams.begin(), base.company_streams.end(), key) ==
              base.company_streams.end())
            view.streams.push_back(key);
      out.push_back(std::move(view));
    }
    return out;
  }();
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

// The reconciliation intervals offered, in seconds, with the default first chosen.
constexpr std::pair<int, std::string_view> kReconcileIntervals[] = {
    {900, "Every 15 minutes"}, {3600, "Every hour"}, {6 * 3600, "Every 6 hours"}, {24 * 3600, "Once a day"}};

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
      tools += t.tool + " (" + std::string(integration::ToolScopeName(t.scope)) + ")";
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
    list.push_back({{"seconds", seconds},
                    {"label", label},
                    {"selected", seconds == integration::kDefaultReconcileIntervalS}});
  return list;
}

}  // namespace

nlohmann::json ProcoreSettingsCatalog() {
  nlohmann::json domains = nlohmann::json::array();
  for (const auto& d : Domains()) {
    nlohmann::json tools = nlohmann::json::array();
    for (const auto& t : d.tools)
      tools.push_back({{"scope", integration::ToolScopeName(t.scope)}, {"tool", t.tool}, {"level", t.level}});
    domains.push_back({{"key", d.key}, {"label", d.label}, {"tools", tools}, {"streams", d.streams}});
  }
  nlohmann::json stream_labels = nlohmann::json::object();
  for (const auto& [key, label] : kStreamLabels) stream_labels[std::string(key)] = label;
  return {{"domains", domains},
          {"stream_labels", stream_labels},
          {"default_reconcile_interval_s", integration::kDefaultReconcileIntervalS}};
}

void RegisterProcorePages(http::Router& router, ProcorePagesDeps deps) {
  auto d = std::make_shared<ProcorePagesDeps>(deps);
  // The catalog never changes while the server runs: serialise it once.
  auto catalog = std::make_shared<const std::string>(ProcoreSettingsCatalog().dump());

  auto page = [d, catalog](const std::string& template_name, const std::string& title,
                           const std::string& page_name, bool admin_required = true) {
    return [d, catalog, template_name, title, page_name, admin_required](http::Request& r) {
      auto opened = OpenClientPage(r, d->access, d->clients, admin_required);
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
  // A KTrack project: the Procore project linked to it, that project's streams and their records. Every
  // member of the client may read it; only admins see its actions (reconcile) and the links to the
  // integration's pages.
  router.Get("/clients/{client_id}/projects/{ktrack_project_id}",
             page("procore_ktrack_project", "KTrack project", "ktrack_project", /*admin_required=*/false));
}

}  // namespace kt::web
