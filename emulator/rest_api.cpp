// Procore's REST API as the streams need it: identity, companies, permissions, projects and the sixteen
// streams, with Procore's pagination (page, per_page, Total, Per-Page, Link), filters and sorts.
#include <algorithm>
#include <cmath>

#include "emulator/emulator.h"
#include "emulator/names.h"
#include "emulator/records.h"
#include "emulator/rest_support.h"
#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {

constexpr int64_t kDayMs = 86'400'000;

// Where the project of a project-level endpoint comes from.
std::optional<int64_t> ProjectParam(const Request& req) {
  std::string from_path = req.PathParam("project_id");
  if (!from_path.empty()) return kt::ParseInt64(from_path);
  if (auto q = req.Query("project_id")) return kt::ParseInt64(*q);
  return std::nullopt;
}

// Rewrites a v1 answer in REST v2's shape.
Response ToV2(Response v1) {
  auto body = nlohmann::json::parse(v1.body, nullptr, false);
  if (v1.status != 200) {
    static const std::map<int, std::string> codes = {{400, "BAD_REQUEST"},
                                                     {401, "UNAUTHORIZED"},
                                                     {403, "FORBIDDEN"},
                                                     {404, "NOT_FOUND"},
                                                     {429, "TOO_MANY_REQUESTS"}};
    auto code = codes.count(v1.status) ? codes.at(v1.status) : std::string("INTERNAL_SERVER_ERROR");
    std::string message =
        body.is_object() && body.contains("errors") ? body["errors"].get<std::string>() : v1.body;
    v1.body = nlohmann::json{{"error",
                              {{"code", code}, {"message", message}, {"details", nlohmann::json::array()}}}}
                  .dump();
    return v1;
  }
  // v2 sends every id as a string.
  std::function<void(nlohmann::json&)> stringify = [&](nlohmann::json& j) {
    if (j.is_array()) {
      for (auto& e : j) stringify(e);
    } else if (j.is_object()) {
      for (auto& [k, v] : j.items()) {
        bool id_key = k == "id" || (k.size() > 3 && k.compare(k.size() - 3, 3, "_id") == 0);
        if (id_key && v.is_number_integer())
          v = std::to_string(v.get<int64_t>());
        else
          stringify(v);
      }
    }
  };
  stringify(body);
  v1.body = nlohmann::json{{"data", body}}.dump();
  return v1;
}

std::string LevelNeeded(std::string_view tool, std::string_view scope) {
  return "You do not have access to the " + std::string(tool) + " tool " + std::string(scope) +
         " (Read Only or higher is needed).";
}

}  // namespace

std::optional<Response> CompanyToolAccess(const Emulator::Call& call, std::string_view tool) {
  if (call.install->CompanyLevel(tool) < Level::kReadOnly)
    return Errors(403, LevelNeeded(tool, "for this company"));
  return std::nullopt;
}

std::variant<ProjectRef, Response> ProjectAccess(const World& world, const Access& access,
                                                 const Emulator::Call& call,
                                                 std::optional<int64_t> project_id,
                                                 std::initializer_list<std::string_view> tools) {
  if (!project_id) return Errors(400, "project_id is required");
  auto ref = world.FindProject(*project_id);
  if (!ref || ref->company_slot != call.company->slot) return Errors(404, "Project not found");
  if (!call.install->Permits(*project_id))
    return Errors(403, "This project is not one of the app's permitted projects.");
  for (std::string_view tool : tools)
    if (!tool.empty() && !access.ToolActive(*project_id, tool))
      return Errors(403, "The " + std::string(tool) + " tool is not active on this project.");
  for (std::string_view tool : tools)
    if (!tool.empty() && call.install->ProjectLevel(tool) < Level::kReadOnly)
      return Errors(403, LevelNeeded(tool, "on this project"));
  return *ref;
}

std::optional<Response> CompanyPathCheck(const Emulator::Call& call, const std::string& param) {
  std::string text = call.req.PathParam(param);
  if (text.empty()) {
    auto q = call.req.Query(param);
    if (!q) return Errors(400, param + " is required");
    text = *q;
  }
  auto id = kt::ParseInt64(text);
  if (!id) return Errors(400, param + " must be an integer");
  if (*id != call.company_id)
    return Errors(400, "The company " + text + " does not match the Procore-Company-Id header (" +
                           std::to_string(call.company_id) + ")");
  return std::nullopt;
}

void Emulator::AddRestRoutes(kt::http::Router& router) {
  // ---- identity and companies ----
  Api(router, "GET", "/rest/v1.0/me", [this](Call& call) {
    nlohmann::json me = {{"id", call.app->user_id},
                         {"login", "dmsa+" + call.app->client_id.substr(0, 12) + "@procore-service.example"},
                         {"name", call.app->name}};
    return Response::Json(200, me);
  });

  Api(router, "GET", "/rest/v1.0/companies",
      [this](Call& call) {
        std::vector<const CompanyData*> installed;
        for (const auto& c : world_->Companies())
          if (access_.FindInstall(c.id, call.app->client_id)) installed.push_back(&c);
        auto paging = ParsePaging(call.req, 100, 1000);
        if (!paging) return Errors(400, paging.error().message);
        std::string body;
        JsonWriter w(body);
        w.BeginArray();
        const int64_t from = kt::PageOffset(paging->page, paging->per_page);
        for (int64_t i = from; i < static_cast<int64_t>(installed.size()) && i - from < paging->per_page;
             ++i) {
          const CompanyData& c = *installed[static_cast<size_t>(i)];
          w.BeginObject();
          w.Field("id", c.id);
          w.Field("name", c.name);
          w.Field("is_active", true);
          w.FieldNull("logo_url");
          w.Field("pcn_business_experience", false);
          w.Field("my_company", false);
          w.EndObject();
        }
        w.EndArray();
        return PagedResponse(call.req, std::move(body), static_cast<int64_t>(installed.size()), *paging);
      },
      {.installed = false});

  Api(router, "GET", "/rest/v1.0/company_base_url", [](Call& call) {
    std::string host = call.req.Header("Host").value_or("127.0.0.1");
    return Response::Json(200, {{"zone", "us01"}, {"web_base_url", "http://" + host}});
  });

  for (const char* version : {"v1.0", "v1.1", "v1.2", "v1.3"}) {
    Api(router, "GET", std::string("/rest/") + version + "/companies/{company_id}/me", [this](Call& call) {
      if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
      std::string body;
      JsonWriter w(body);
      WriteServiceAccountUser(w, *call.app, *call.company, call.install->installed_at_ms);
      return Response::Text(200, std::move(body), "application/json; charset=utf-8");
    });
  }

  // ---- permissions ----
  Api(router, "GET", "/rest/v1.0/settings/permissions", [this](Call& call) {
    auto project_q = call.req.Query("project_id");
    auto company_q = call.req.Query("company_id");
    if (!project_q && !company_q)
      return Response::Json(
          400, {{"error", {{"code", "bad_request"}, {"message", "company_id or project_id is required"}}}});
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Key("tools");
    w.BeginArray();
    auto tool = [&](const ToolInfo& t, Level level, const std::string& url) {
      w.BeginObject();
      w.Field("id", t.id);
      w.Field("name", t.engine_name);
      w.Field("friendly_name", t.name);
      w.Field("domain_id", t.domain_id);
      w.Field("tab_group", t.tab_group);
      w.Field("available_for_user", level > Level::kNone);
      w.Field("url", url);
      w.Key("user_access_level");
      w.BeginObject();
      w.Field("id", static_cast<int64_t>(level));
      w.Field("name", LevelName(level));
      w.EndObject();
      w.Key("permitted_actions");
      w.BeginArray();
      w.EndArray();
      w.Field("can_create", level >= Level::kStandard);
      w.Field("create_url", url + "/new");
      w.Field("trial", false);
      w.EndObject();
    };
    if (project_q) {
      auto project_id = kt::ParseInt64(*project_q);
      auto ref = project_id ? world_->FindProject(*project_id) : std::nullopt;
      if (!ref || ref->company_slot != call.company->slot) return Errors(404, "Project not found");
      if (!call.install->Permits(*project_id))
        return Errors(403, "This project is not one of the app's permitted projects.");
      for (const auto& t : Tools()) {
        // Tools switched off in the project are not part of its manifest.
        if (!t.project_scope || !access_.ToolActive(*project_id, t.name)) continue;
        tool(t, call.install->ProjectLevel(t.name),
             "/" + std::to_string(*project_id) + "/project/" + std::string(t.engine_name));
      }
    } else {
      if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
      for (const auto& t : Tools()) {
        if (!t.company_scope) continue;
        tool(t, call.install->CompanyLevel(t.name),
             "/" + std::to_string(call.company_id) + "/company/" + std::string(t.engine_name));
      }
    }
    w.EndArray();
    w.EndObject();
    return Response::Text(200, std::move(body), "application/json; charset=utf-8");
  });

  Api(router, "GET", "/rest/v1.0/projects/{project_id}/tools", [this](Call& call) {
    auto access = ProjectAccess(*world_, access_, call, ProjectParam(call.req), {});
    if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
    int64_t project_id = *ProjectParam(call.req);
    std::optional<bool> only_active;
    if (auto f = call.req.Query("filters[is_active]")) only_active = *f == "true";
    std::string body;
    JsonWriter w(body);
    w.BeginArray();
    int64_t position = 0;
    for (const auto& t : Tools()) {
      if (!t.project_scope) continue;
      bool active = access_.ToolActive(project_id, t.name);
      ++position;
      if (only_active && *only_active != active) continue;
      w.BeginObject();
      w.Field("id", t.id);
      w.Field("engine_name", t.engine_name);
      w.Field("title", t.name);
      w.Field("is_active", active);
      w.Field("position", position);
      w.Field("required", t.name == "Admin" || t.name == "Directory");
      w.EndObject();
    }
    w.EndArray();
    return Response::Text(200, std::move(body), "application/json; charset=utf-8");
  });

  Api(router, "GET", "/rest/v1.0/companies/{company_id}/permission_templates", [this](Call& call) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    nlohmann::json templates = nlohmann::json::array();
    const char* names[] = {"Project Manager", "Superintendent", "Subcontractor", "Owner / Client",
                           "Architect"};
    for (int i = 0; i < 5; ++i)
      templates.push_back({{"id", 10'000 + i},
                           {"name", names[i]},
                           {"project_specific", false},
                           {"type", "global"},
                           {"category", i < 2 ? "internal" : "external"}});
    return Response::Json(200, templates);
  });

  // ---- projects ----
  auto list_projects = [this](Call& call, int64_t max_per_page) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Admin")) return std::move(*denied);
    StreamKey key{call.company->slot, Stream::kProjects, -1};
    auto filter = ParseListFilter(call.req, Info(Stream::kProjects));
    if (!filter) return Errors(400, filter.error().message);
    if (auto status = call.req.Query("filters[by_status]"); status && *status == "Inactive") {
      filter->ids = {-1};  // every emulated project is active
    }
    std::set<int64_t> visible = VisibleProjects(*call.company, *call.install);
    if (static_cast<int>(visible.size()) != world_->ProjectCount(call.company->slot)) {
      if (filter->ids.empty()) {
        filter->ids.assign(visible.begin(), visible.end());
        if (filter->ids.empty()) filter->ids = {-1};
      } else {
        std::erase_if(filter->ids, [&](int64_t id) { return !visible.count(id); });
        if (filter->ids.empty()) filter->ids = {-1};
      }
    }
    ListSpec spec{100, max_per_page, SortKind::kName};
    return ListStream(call.req, *world_, key, *filter, spec);
  };
  Api(router, "GET", "/rest/v1.0/projects",
      [list_projects](Call& call) { return list_projects(call, 1000); });
  Api(router, "GET", "/rest/v1.1/projects", [list_projects](Call& call) { return list_projects(call, 300); });

  Api(router, "GET", "/rest/v1.0/projects/{id}", [this](Call& call) {
    if (call.req.Query("company_id"))
      if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    auto id = kt::ParseInt64(call.req.PathParam("id"));
    auto ref = id ? world_->FindProject(*id) : std::nullopt;
    // Procore answers 404, not 403, for a project the user cannot see.
    if (!ref || ref->company_slot != call.company->slot ||
        !VisibleProjects(*call.company, *call.install).count(*id))
      return Errors(404, "Project not found");
    if (auto denied = CompanyToolAccess(call, "Admin")) return std::move(*denied);
    StreamKey key{call.company->slot, Stream::kProjects, -1};
    call.record = "projects:" + std::to_string(*id);
    return ShowRecord(*world_, key, *id, RecordView::kShow);
  });

  // ---- directory ----
  for (const char* version : {"v1.0", "v1.1", "v1.2", "v1.3"}) {
    std::string base = std::string("/rest/") + version + "/companies/{company_id}/users";
    Api(router, "GET", base, [this](Call& call) {
      if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
      if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
      auto filter = ParseListFilter(call.req, Info(Stream::kCompanyUsers));
      if (!filter) return Errors(400, filter.error().message);
      return ListStream(call.req, *world_, {call.company->slot, Stream::kCompanyUsers, -1}, *filter,
                        {100, 1000, SortKind::kName});
    });
    Api(router, "GET", base + "/{id}", [this](Call& call) {
      if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
      if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
      auto id = kt::ParseInt64(call.req.PathParam("id"));
      if (!id) return Errors(404, "Not Found");
      call.record = "company_users:" + std::to_string(*id);
      return ShowRecord(*world_, {call.company->slot, Stream::kCompanyUsers, -1}, *id, RecordView::kShow,
                        true);
    });
  }
  Api(router, "GET", "/rest/v1.0/companies/{company_id}/users/inactive", [this](Call& call) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    ListFilter filter;
    filter.deleted = ListFilter::Deleted::kOnly;
    return ListStream(call.req, *world_, {call.company->slot, Stream::kCompanyUsers, -1}, filter,
                      {100, 1000, SortKind::kName});
  });

  auto vendors_list = [this](Call& call, const std::string& company_param) {
    if (auto bad = CompanyPathCheck(call, company_param)) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    auto filter = ParseListFilter(call.req, Info(Stream::kVendors));
    if (!filter) return Errors(400, filter.error().message);
    return ListStream(call.req, *world_, {call.company->slot, Stream::kVendors, -1}, *filter,
                      {100, 1000, SortKind::kName});
  };
  auto vendor_show = [this](Call& call, const std::string& company_param) {
    if (auto bad = CompanyPathCheck(call, company_param)) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    auto id = kt::ParseInt64(call.req.PathParam("id"));
    if (!id) return Errors(404, "Not Found");
    call.record = "vendors:" + std::to_string(*id);
    return ShowRecord(*world_, {call.company->slot, Stream::kVendors, -1}, *id, RecordView::kShow, true);
  };
  Api(router, "GET", "/rest/v1.0/vendors",
      [vendors_list](Call& call) { return vendors_list(call, "company_id"); });
  Api(router, "GET", "/rest/v1.0/companies/{company_id}/vendors",
      [vendors_list](Call& call) { return vendors_list(call, "company_id"); });
  Api(router, "GET", "/rest/v1.0/vendors/{id}",
      [vendor_show](Call& call) { return vendor_show(call, "company_id"); });
  Api(router, "GET", "/rest/v1.0/companies/{company_id}/vendors/{id}",
      [vendor_show](Call& call) { return vendor_show(call, "company_id"); });
  Api(router, "GET", "/rest/v1.0/companies/{company_id}/vendors/inactive", [this](Call& call) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    ListFilter filter;
    filter.deleted = ListFilter::Deleted::kOnly;
    return ListStream(call.req, *world_, {call.company->slot, Stream::kVendors, -1}, filter,
                      {100, 1000, SortKind::kName});
  });

  Api(router, "GET", "/rest/v1.0/companies/{company_id}/trades", [this](Call& call) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    auto filter = ParseListFilter(call.req, Info(Stream::kTrades));
    if (!filter) return Errors(400, filter.error().message);
    return ListStream(call.req, *world_, {call.company->slot, Stream::kTrades, -1}, *filter,
                      {100, 1000, SortKind::kNone});
  });
  Api(router, "GET", "/rest/v1.0/companies/{company_id}/trades/{id}", [this](Call& call) {
    if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
    if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
    auto id = kt::ParseInt64(call.req.PathParam("id"));
    if (!id) return Errors(404, "Not Found");
    call.record = "trades:" + std::to_string(*id);
    return ShowRecord(*world_, {call.company->slot, Stream::kTrades, -1}, *id, RecordView::kShow);
  });

  // Project directories: the company users and vendors assigned to the project.
  for (Stream s : {Stream::kCompanyUsers, Stream::kVendors}) {
    std::string path = s == Stream::kCompanyUsers ? "/rest/v1.0/projects/{project_id}/users"
                                                  : "/rest/v1.0/projects/{project_id}/vendors";
    Api(router, "GET", path, [this, s](Call& call) {
      auto access = ProjectAccess(*world_, access_, call, ProjectParam(call.req), {"Directory"});
      if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
      ProjectRef ref = std::get<ProjectRef>(access);
      StreamKey key{ref.company_slot, s, -1};
      ListFilter filter;
      if (auto parsed = ParseListFilter(call.req, Info(s)); parsed) filter = *parsed;
      for (int32_t i = 0; i < world_->Extent(key); ++i) {
        auto projects = world_->AssignedProjects(ref.company_slot, s, i);
        if (std::binary_search(projects.begin(), projects.end(), ref.index))
          filter.ids.push_back(world_->IdFor(key, i));
      }
      if (filter.ids.empty()) filter.ids = {-1};
      return ListStream(call.req, *world_, key, filter, {100, 1000, SortKind::kName});
    });
  }

  Api(router, "GET", "/rest/v1.0/companies/{company_id}/users/{user_id}/project_assignments",
      [this](Call& call) {
        if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
        if (auto denied = CompanyToolAccess(call, "Directory")) return std::move(*denied);
        StreamKey key{call.company->slot, Stream::kCompanyUsers, -1};
        auto user_id = kt::ParseInt64(call.req.PathParam("user_id"));
        auto user = user_id ? world_->Get(key, *user_id) : std::nullopt;
        if (!user || user->gone) return Errors(404, "User not found");
        auto assigned = world_->AssignedProjects(call.company->slot, Stream::kCompanyUsers, user->index);
        auto paging = ParsePaging(call.req, 100, 1000);
        if (!paging) return Errors(400, paging.error().message);
        int n = world_->ProjectCount(call.company->slot);
        std::string body;
        JsonWriter w(body);
        w.BeginArray();
        const int64_t from = kt::PageOffset(paging->page, paging->per_page);
        for (int64_t p = from; p < n && p - from < paging->per_page; ++p) {
          bool is_assigned = std::binary_search(assigned.begin(), assigned.end(), static_cast<int>(p));
          const City& city = ProjectCity(world_->Seed(), call.company->slot, p);
          w.BeginObject();
          w.Field("project_id", world_->ProjectId(call.company->slot, static_cast<int>(p)));
          w.Field("name", ProjectName(world_->Seed(), call.company->slot, p));
          w.Field("project_number", std::to_string(100 + p));
          w.Field("address", std::string(city.city) + ", " + std::string(city.state_code));
          w.Field("stage", "Course of Construction");
          w.Field("is_assigned", is_assigned);
          w.Field("active", true);
          w.Key("roles");
          w.BeginArray();
          if (is_assigned) w.String("Project Engineer");
          w.EndArray();
          w.FieldOrNull("permission_template_name", is_assigned ? "Project Manager" : "");
          w.FieldNull("region");
          w.FieldNull("program");
          w.FieldNull("project_type");
          w.EndObject();
        }
        w.EndArray();
        return PagedResponse(call.req, std::move(body), n, *paging);
      });

  // ---- project streams ----
  struct ProjectStreamRoute {
    Stream stream;
    std::vector<std::string> list_paths;
    std::vector<std::string> show_paths;
    ListSpec spec;
  };
  const std::vector<ProjectStreamRoute> routes = {
      {Stream::kCostCodes,
       {"/rest/v1.0/cost_codes"},
       {"/rest/v1.0/cost_codes/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kWorkOrderContracts,
       {"/rest/v1.0/work_order_contracts"},
       {"/rest/v1.0/work_order_contracts/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kPurchaseOrderContracts,
       {"/rest/v1.0/purchase_order_contracts"},
       {"/rest/v1.0/purchase_order_contracts/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kCommitmentChangeOrders,
       {"/rest/v1.0/projects/{project_id}/commitment_change_orders"},
       {"/rest/v1.0/projects/{project_id}/commitment_change_orders/{id}"},
       {100, 1000, SortKind::kIdCreated}},
      {Stream::kPrimeContracts,
       {"/rest/v1.0/prime_contracts"},
       {"/rest/v1.0/prime_contract/{id}", "/rest/v1.0/prime_contracts/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kPrimeChangeOrders,
       {"/rest/v1.0/projects/{project_id}/prime_change_orders"},
       {"/rest/v1.0/projects/{project_id}/prime_change_orders/{id}"},
       {100, 1000, SortKind::kIdCreated}},
      {Stream::kChangeEvents,
       {"/rest/v1.0/change_events", "/rest/v1.1/change_events"},
       {"/rest/v1.0/change_events/{id}", "/rest/v1.1/change_events/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kDirectCosts,
       {"/rest/v1.0/projects/{project_id}/direct_costs", "/rest/v1.1/projects/{project_id}/direct_costs"},
       {"/rest/v1.0/projects/{project_id}/direct_costs/{id}",
        "/rest/v1.1/projects/{project_id}/direct_costs/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kRfis,
       {"/rest/v1.0/projects/{project_id}/rfis"},
       {"/rest/v1.0/projects/{project_id}/rfis/{id}"},
       {100, 1000, SortKind::kRfi}},
      {Stream::kSubmittals,
       {"/rest/v1.0/projects/{project_id}/submittals", "/rest/v1.1/projects/{project_id}/submittals"},
       {"/rest/v1.0/projects/{project_id}/submittals/{id}",
        "/rest/v1.1/projects/{project_id}/submittals/{id}"},
       {100, 1000, SortKind::kNone}},
      {Stream::kManpowerLogs,
       {"/rest/v1.0/projects/{project_id}/manpower_logs"},
       {"/rest/v1.0/projects/{project_id}/manpower_logs/{id}"},
       {100, 1000, SortKind::kNone}},
  };
  for (const auto& route : routes) {
    const StreamInfo& info = Info(route.stream);
    for (const auto& path : route.list_paths) {
      Api(router, "GET", path, [this, &info, spec = route.spec](Call& call) {
        auto access =
            ProjectAccess(*world_, access_, call, ProjectParam(call.req), {info.tool, info.second_tool});
        if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
        ProjectRef ref = std::get<ProjectRef>(access);
        auto filter = ParseListFilter(call.req, info);
        if (!filter) return Errors(400, filter.error().message);
        if (info.stream == Stream::kManpowerLogs) {
          auto dates = ParseLogDates(call.req, clock_.NowMs() / kDayMs);
          if (!dates) return Errors(400, dates.error().message);
          filter->created_from_day = dates->first;
          filter->created_to_day = dates->second;
        }
        return ListStream(call.req, *world_, {ref.company_slot, info.stream, ref.index}, *filter, spec);
      });
    }
    for (const auto& path : route.show_paths) {
      Api(router, "GET", path, [this, &info](Call& call) {
        auto access =
            ProjectAccess(*world_, access_, call, ProjectParam(call.req), {info.tool, info.second_tool});
        if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
        ProjectRef ref = std::get<ProjectRef>(access);
        auto id = kt::ParseInt64(call.req.PathParam("id"));
        if (!id) return Errors(404, "Not Found");
        call.record = std::string(info.key) + ":" + std::to_string(*id);
        return ShowRecord(*world_, {ref.company_slot, info.stream, ref.index}, *id, RecordView::kShow);
      });
    }
  }

  // Budget: one view per project; its detail rows are the budget_detail_rows stream.
  Api(router, "GET", "/rest/v1.0/budget_views", [this](Call& call) {
    auto access = ProjectAccess(*world_, access_, call, ProjectParam(call.req), {"Budget"});
    if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
    ProjectRef ref = std::get<ProjectRef>(access);
    int64_t view_id = BudgetViewId(*world_, ref.company_slot, ref.index);
    int64_t project_id = world_->ProjectId(ref.company_slot, ref.index);
    std::string links = "/rest/v1.0/budget_views/" + std::to_string(view_id);
    std::string body;
    JsonWriter w(body);
    w.BeginArray();
    w.BeginObject();
    w.Field("id", view_id);
    w.Field("name", "Procore Standard Budget");
    w.Field("description", "The standard budget view with original budget, modifications and forecast.");
    w.Field("role", "standard");
    w.Field("created_at", TimeOf(World::kBaseStartMs));
    w.Field("updated_at", TimeOf(World::kBaseStartMs));
    w.Key("created_by");
    w.BeginObject();
    w.Field("id", world_->IdFor({ref.company_slot, Stream::kCompanyUsers, -1}, 0));
    w.Field("name", PersonFirstName(world_->Seed(), ref.company_slot, 0) + " " +
                        PersonLastName(world_->Seed(), ref.company_slot, 0));
    w.Field("login", "admin@ridgeline-builders.example");
    w.EndObject();
    w.Key("links");
    w.BeginObject();
    w.Field("detail_rows", links + "/detail_rows?project_id=" + std::to_string(project_id));
    w.Field("summary_rows", links + "/summary_rows?project_id=" + std::to_string(project_id));
    w.EndObject();
    w.EndObject();
    w.EndArray();
    kt::http::Response res = Response::Text(200, std::move(body), "application/json; charset=utf-8");
    res.headers.Set("Total", "1");
    res.headers.Set("Per-Page", "100");
    return res;
  });
  Api(router, "GET", "/rest/v1.0/budget_views/{budget_view_id}/detail_rows", [this](Call& call) {
    auto access = ProjectAccess(*world_, access_, call, ProjectParam(call.req), {"Budget"});
    if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
    ProjectRef ref = std::get<ProjectRef>(access);
    auto view_id = kt::ParseInt64(call.req.PathParam("budget_view_id"));
    if (!view_id || *view_id != BudgetViewId(*world_, ref.company_slot, ref.index))
      return Errors(404, "Budget View not found");
    ListFilter filter;
    for (const auto& [k, v] : call.req.query) {
      if (k != "budget_line_item_id[]" && k != "budget_line_item_id") continue;
      for (const auto& part : kt::Split(v, ',')) {
        auto id = kt::ParseInt64(kt::Trim(part));
        if (!id) return Errors(400, "budget_line_item_id[] must be integers");
        filter.ids.push_back(*id);
      }
    }
    return ListStream(call.req, *world_, {ref.company_slot, Stream::kBudgetDetailRows, ref.index}, filter,
                      {100, 1000, SortKind::kNone});
  });

  // REST v2 shapes (procore-api.md §7.2): company and project in the path, {"data": [...]}, ids as strings,
  // 10 per page by default and 100 at most, and the v2 error format.
  for (Stream stream : {Stream::kSubmittals, Stream::kPrimeContracts}) {
    const StreamInfo& info = Info(stream);
    std::string path = "/rest/v2.0/companies/{company_id}/projects/{project_id}/" + std::string(info.key);
    Api(router, "GET", path, [this, &info](Call& call) {
      Response v1 = [&] {
        if (auto bad = CompanyPathCheck(call, "company_id")) return std::move(*bad);
        auto access = ProjectAccess(*world_, access_, call, ProjectParam(call.req), {info.tool});
        if (auto* denied = std::get_if<Response>(&access)) return std::move(*denied);
        ProjectRef ref = std::get<ProjectRef>(access);
        auto filter = ParseListFilter(call.req, info);
        if (!filter) return Errors(400, filter.error().message);
        return ListStream(call.req, *world_, {ref.company_slot, info.stream, ref.index}, *filter, {10, 100});
      }();
      return ToV2(std::move(v1));
    });
  }

  // Any other /rest path: Procore's 404 (after the same authentication and company checks as real endpoints).
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    Api(router, method, "/rest/*", [](Call&) { return Errors(404, "404 Not Found"); });
}

}  // namespace procore_emulator
