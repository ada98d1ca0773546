// Permission checks: manifest and project tools first, a per_page=1 read where they cannot tell.
#include "integration/permissions.h"

#include <algorithm>
#include <set>

#include "procore/pagination.h"
#include "procore/streams.h"
#include "procore/webhooks.h"

namespace kt::integration {
namespace {

std::string ProjectWords(const PermissionCheck& c) {
  if (!c.project_name.empty()) return "project '" + c.project_name + "'";
  return "project " + std::to_string(c.project_id.value_or(0));
}

std::string ProjectTitle(const PermissionCheck& c) {
  if (!c.project_name.empty()) return "Project '" + c.project_name + "'";
  return "Project " + std::to_string(c.project_id.value_or(0));
}

const procore::ToolPermission* FindTool(const std::vector<procore::ToolPermission>& manifest,
                                        std::string_view tool) {
  for (const auto& t : manifest)
    if (procore::SameTool(t.friendly_name, tool) || procore::SameTool(t.name, tool)) return &t;
  return nullptr;
}

const procore::ProjectTool* FindProjectTool(const std::vector<procore::ProjectTool>& tools,
                                            std::string_view tool) {
  for (const auto& t : tools)
    if (procore::SameTool(t.title, tool) || procore::SameTool(t.engine_name, tool)) return &t;
  return nullptr;
}

PermissionCheck Judge(const Requirement& r, std::optional<int64_t> project_id,
                      const std::string& project_name, const procore::ToolPermission* granted) {
  PermissionCheck c;
  c.scope = r.scope;
  c.project_id = project_id;
  c.project_name = project_name;
  c.tool = r.tool;
  c.required = r.level;
  if (granted) {
    c.actual = procore::IsNoAccess(granted->level) ? "None" : granted->level;
    c.status = LevelRank(c.actual) >= LevelRank(r.level) ? kCheckOk : kCheckMissing;
  }
  c.fix = FixFor(c);
  return c;
}

// A cheap read that needs the tool: one record of a stream the tool guards (or the hooks, for the Webhooks
// API).
procore::ProcoreStatus Probe(procore::Client& client, int64_t company_id, const PermissionCheck& check) {
  const procore::Scope scope =
      check.scope == ToolScope::kCompany ? procore::Scope::kCompany : procore::Scope::kProject;
  if (procore::SameTool(check.tool, "Webhooks API")) {
    procore::WebhooksApi api(client);
    auto hooks = api.ListHooks({company_id, 0}, "*");
    if (!hooks) return tl::unexpected(hooks.error());
    return {};
  }
  for (const auto& stream : procore::StreamEndpoints()) {
    if (stream.scope != scope || !procore::SameTool(stream.tool, check.tool)) continue;
    if (stream.needs_parent) {
      auto views = client.ListBudgetViews(company_id, check.project_id.value_or(0));
      if (!views) return tl::unexpected(views.error());
      return {};
    }
    procore::StreamListOptions options;
    options.company_id = company_id;
    options.project_id = check.project_id.value_or(0);
    options.project_name = check.project_name;
    options.priority = procore::Priority::kInteractive;
    options.per_page = 1;
    auto request = procore::StreamListRequest(stream, options, client.clock().Now());
    if (!request) return tl::unexpected(request.error());
    procore::Pager pager(client, std::move(*request));
    auto read = pager.Next();
    if (!read) return tl::unexpected(read.error());
    return {};
  }
  // No endpoint to probe: call it missing rather than guess it is granted.
  procore::CallContext context;
  context.tool = check.tool;
  return procore::FailWith(procore::ErrorCode::kMissingPermission, context);
}

// Settles a check the manifest could not decide. Errors other than permission ones end the whole check.
procore::ProcoreStatus SettleByProbe(procore::Client& client, int64_t company_id, PermissionCheck& c) {
  c.probed = true;
  auto probed = Probe(client, company_id, c);
  if (probed) {
    c.status = kCheckOk;
    c.actual = c.required + " or more";
  } else {
    switch (probed.error().code) {
      case procore::ErrorCode::kMissingPermission:
      case procore::ErrorCode::kNotFound:
        c.status = kCheckMissing;
        c.actual = "None";
        break;
      case procore::ErrorCode::kToolDisabled:
        c.status = kCheckToolDisabled;
        break;
      case procore::ErrorCode::kProjectNotPermitted:
        c.status = kCheckProjectNotPermitted;
        break;
      default:
        return tl::unexpected(probed.error());
    }
  }
  c.fix = FixFor(c);
  return {};
}

}  // namespace

nlohmann::json PermissionCheckJson(const PermissionCheck& c) {
  nlohmann::json j = {{"scope", ToolScopeName(c.scope)},
                      {"project_id", c.project_id ? nlohmann::json(*c.project_id) : nlohmann::json(nullptr)},
                      {"project_name", c.project_name},
                      {"tool", c.tool},
                      {"required", c.required},
                      {"actual", c.actual},
                      {"status", c.status},
                      {"fix", c.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.fix)},
                      {"probed", c.probed},
                      {"needed", c.needed}};
  return j;
}

nlohmann::json PermissionReportJson(const PermissionReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : report.checks) checks.push_back(PermissionCheckJson(c));
  return {{"ok", report.ok},
          {"checks", std::move(checks)},
          {"projects_checked", report.projects_checked},
          {"projects_total", report.projects_total}};
}

std::string FixFor(const PermissionCheck& c) {
  const std::string where =
      c.scope == ToolScope::kCompany ? std::string(" at company level") : " for " + ProjectWords(c);
  if (c.status == kCheckMissing)
    return "In Procore, open Company Admin → App Management → KTrack → Permissions and set " + c.tool +
           " to " + c.required + where + ".";
  if (c.status == kCheckToolDisabled)
    return "In Procore, open " + ProjectTitle(c) + " → Admin → Project Tools, turn on " + c.tool + ".";
  if (c.status == kCheckProjectNotPermitted) {
    std::string name =
        c.project_name.empty() ? std::to_string(c.project_id.value_or(0)) : "'" + c.project_name + "'";
    return "In Procore, open Company Admin → App Management → KTrack → Permitted Projects, add " + name + ".";
  }
  return {};
}

std::vector<PermissionCheck> EvaluateCompany(const std::vector<Requirement>& requirements,
                                             const std::vector<procore::ToolPermission>& manifest) {
  std::vector<PermissionCheck> out;
  for (const auto& r : requirements)
    if (r.scope == ToolScope::kCompany) out.push_back(Judge(r, std::nullopt, "", FindTool(manifest, r.tool)));
  return out;
}

std::vector<PermissionCheck> EvaluateProject(const std::vector<Requirement>& requirements,
                                             const ProjectRef& project,
                                             const std::vector<procore::ToolPermission>& manifest,
                                             const std::vector<procore::ProjectTool>& tools) {
  std::vector<PermissionCheck> out;
  for (const auto& r : requirements) {
    if (r.scope != ToolScope::kProject) continue;
    PermissionCheck c = Judge(r, project.id, project.name, FindTool(manifest, r.tool));
    if (c.status.empty()) {
      // Procore leaves switched-off tools out of the project's manifest.
      const procore::ProjectTool* t = FindProjectTool(tools, r.tool);
      if (t && !t->is_active) {
        c.status = kCheckToolDisabled;
        c.fix = FixFor(c);
      }
    } else if (c.status == kCheckOk) {
      const procore::ProjectTool* t = FindProjectTool(tools, r.tool);
      if (t && !t->is_active) {
        c.status = kCheckToolDisabled;
        c.fix = FixFor(c);
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<PermissionCheck> NotPermitted(const std::vector<Requirement>& requirements,
                                          const ProjectRef& project) {
  std::vector<PermissionCheck> out;
  for (const auto& r : requirements) {
    if (r.scope != ToolScope::kProject) continue;
    PermissionCheck c;
    c.scope = r.scope;
    c.project_id = project.id;
    c.project_name = project.name;
    c.tool = r.tool;
    c.required = r.level;
    c.status = kCheckProjectNotPermitted;
    c.fix = FixFor(c);
    out.push_back(std::move(c));
  }
  return out;
}

procore::ProcoreResult<PermissionReport> CheckPermissions(procore::Client& client, int64_t company_id,
                                                          const Settings& settings,
                                                          const std::vector<ProjectRef>& known_projects,
                                                          const PermissionCheckOptions& options) {
  const std::vector<Requirement> requirements = Requirements(settings);
  PermissionReport report;

  auto manifest = client.GetPermissions(company_id, procore::Scope::kCompany);
  if (!manifest) return tl::unexpected(manifest.error());
  for (auto& c : EvaluateCompany(requirements, *manifest)) {
    if (c.status.empty())
      if (auto settled = SettleByProbe(client, company_id, c); !settled)
        return tl::unexpected(settled.error());
    report.checks.push_back(std::move(c));
  }

  const bool needs_projects = std::any_of(requirements.begin(), requirements.end(), [](const Requirement& r) {
    return r.scope == ToolScope::kProject;
  });
  if (needs_projects) {
    std::vector<ProjectRef> projects = known_projects;
    std::set<int64_t> seen;
    for (const auto& p : projects) seen.insert(p.id);
    auto listed = client.ListProjects(company_id);
    if (!listed) {
      // Without Admin on the company, the list itself is refused: the company check above already says so.
      if (listed.error().code != procore::ErrorCode::kMissingPermission)
        return tl::unexpected(listed.error());
    } else {
      for (const auto& p : *listed)
        if (seen.insert(p.id).second) projects.push_back({p.id, p.name.empty() ? p.display_name : p.name});
    }
    report.projects_total = static_cast<int64_t>(projects.size());
    const size_t checked = options.max_projects + std::min(options.known_first, known_projects.size());
    if (projects.size() > checked) projects.resize(checked);

    for (const auto& project : projects) {
      ++report.projects_checked;
      auto project_manifest = client.GetPermissions(company_id, procore::Scope::kProject, project.id);
      if (!project_manifest) {
        switch (project_manifest.error().code) {
          case procore::ErrorCode::kProjectNotPermitted:
          case procore::ErrorCode::kMissingPermission:
          case procore::ErrorCode::kNotFound:
            for (auto& c : NotPermitted(requirements, project)) report.checks.push_back(std::move(c));
            continue;
          default:
            return tl::unexpected(project_manifest.error());
        }
      }
      std::vector<procore::ProjectTool> tools;
      if (auto listed_tools = client.ListProjectTools(company_id, project.id); listed_tools) {
        tools = std::move(*listed_tools);
      } else if (listed_tools.error().code == procore::ErrorCode::kProcoreUnavailable ||
                 listed_tools.error().code == procore::ErrorCode::kRateLimited) {
        return tl::unexpected(listed_tools.error());
      }
      for (auto& c : EvaluateProject(requirements, project, *project_manifest, tools)) {
        if (c.status.empty())
          if (auto settled = SettleByProbe(client, company_id, c); !settled)
            return tl::unexpected(settled.error());
        report.checks.push_back(std::move(c));
      }
    }
  }
  if (!options.every_project_needed) {
    std::set<int64_t> known;
    for (const auto& p : known_projects) known.insert(p.id);
    for (auto& c : report.checks)
      if (c.status == kCheckProjectNotPermitted && c.project_id && !known.count(*c.project_id))
        c.needed = false;
  }
  report.ok = std::all_of(report.checks.begin(), report.checks.end(),
                          [](const PermissionCheck& c) { return !IsGap(c); });
  return report;
}

}  // namespace kt::integration
