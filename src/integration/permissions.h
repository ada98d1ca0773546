// The permission check of step 7: for the chosen settings, each tool at company level and on each permitted
// project, as Procore reports it (permission manifest, project tools, cheap probes), with the fix for each
// gap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/settings.h"
#include "procore/client.h"

namespace kt::integration {

inline constexpr char kCheckOk[] = "ok";
inline constexpr char kCheckMissing[] = "missing";
inline constexpr char kCheckToolDisabled[] = "tool_disabled";
inline constexpr char kCheckProjectNotPermitted[] = "project_not_permitted";

struct PermissionCheck {
  ToolScope scope = ToolScope::kCompany;
  std::optional<int64_t> project_id;
  std::string project_name;
  std::string tool;
  std::string required;  // "Read Only", "Standard"
  std::string actual;    // what Procore reports ("None", "Read Only", ...; "" when unknown)
  std::string status;    // ok, missing, tool_disabled, project_not_permitted
  std::string fix;       // empty when ok
  bool probed = false;   // decided by a per_page=1 read because the manifest could not tell
  // False for a project outside the app's permitted projects that KTrack neither links nor would link
  // (auto-link off): the customer may leave it out on purpose, so it is shown but is not a failure.
  bool needed = true;
};
nlohmann::json PermissionCheckJson(const PermissionCheck& check);
// A check that fails the report: not OK, and about something KTrack needs.
inline bool IsGap(const PermissionCheck& c) {
  return c.status != kCheckOk && c.needed;
}

struct PermissionReport {
  bool ok = true;
  std::vector<PermissionCheck> checks;
  int64_t projects_checked = 0;
  int64_t projects_total = 0;  // projects Procore lists for the app (and linked ones it no longer lists)
};
nlohmann::json PermissionReportJson(const PermissionReport& report);

// The project a check is about, for messages: "project 'Tower A'".
struct ProjectRef {
  int64_t id = 0;
  std::string name;
};

// --- Pure evaluation (no I/O) ---
// Company-level requirements against the company's permission manifest.
std::vector<PermissionCheck> EvaluateCompany(const std::vector<Requirement>& requirements,
                                             const std::vector<procore::ToolPermission>& manifest);
// Project-level requirements against a project's manifest and tools. Tools the manifest leaves out and the
// project shows as inactive are tool_disabled; those it leaves out otherwise come back with status ""
// (unknown: to be probed).
std::vector<PermissionCheck> EvaluateProject(const std::vector<Requirement>& requirements,
                                             const ProjectRef& project,
                                             const std::vector<procore::ToolPermission>& manifest,
                                             const std::vector<procore::ProjectTool>& tools);
// Every project requirement refused because the project is not among the app's permitted projects.
std::vector<PermissionCheck> NotPermitted(const std::vector<Requirement>& requirements,
                                          const ProjectRef& project);

// The fix for a failed check, in Procore's words.
std::string FixFor(const PermissionCheck& check);

struct PermissionCheckOptions {
  // Projects checked at most (linked ones first); a company with 1,000 projects is sampled, not walked.
  size_t max_projects = 25;
  // The first this many known projects are checked besides the max_projects sampled after them: the caller
  // puts first the linked projects whose streams stopped on a permission, which a sample must not leave
  // unexplained.
  size_t known_first = 0;
  // Whether every project Procore lists matters (auto-link on), or only the known (linked) ones.
  bool every_project_needed = true;
};

// Runs the whole check against Procore. `known_projects` are projects KTrack knows of (linked ones) that
// Procore's list may no longer show; they are checked first. Fails only when the company itself cannot be
// read (credentials, app not installed, Procore unreachable).
procore::ProcoreResult<PermissionReport> CheckPermissions(procore::Client& client, int64_t company_id,
                                                          const Settings& settings,
                                                          const std::vector<ProjectRef>& known_projects,
                                                          const PermissionCheckOptions& options = {});

}  // namespace kt::integration
