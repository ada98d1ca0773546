// The company's Procore projects and their links to KTrack projects (issue 8's JSON side).
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "integration/integration_service.h"
#include "util/json_fields.h"
#include "util/strings.h"

namespace kt::integration {
namespace {

struct ProcoreProjectRow {
  int64_t id = 0;
  std::string name;
  std::string display_name;
  std::string project_number;
  std::string stage;
  bool active = true;
  bool listed = true;  // false: Procore's list for the app no longer has it (KTrack marked it deleted)
};

// The projects Procore lists for the app, as the projects stream last synced them; with `with_unlisted`,
// also the ones it listed once and no longer does.
Result<std::vector<ProcoreProjectRow>> SyncedProjects(store::Store& store, int64_t client_id,
                                                      bool with_unlisted = false) {
  auto r = store.Query(
      std::string("SELECT procore_id, name, display_name, project_number, stage, active, deleted FROM "
                  "procore_projects WHERE client_id = $1") +
          (with_unlisted ? "" : " AND deleted = 0") + " ORDER BY name, procore_id",
      {client_id});
  if (!r) return tl::unexpected(r.error());
  std::vector<ProcoreProjectRow> out;
  for (const auto& row : r->rows)
    out.push_back({row.Int("procore_id"), row.Text("name"), row.Text("display_name"),
                   row.Text("project_number"), row.Text("stage"), row.Int("active") != 0,
                   row.Int("deleted") == 0});
  return out;
}

// What stopped a linked project's streams: the error most of its failed streams share, and how many share it.
struct ProjectSyncError {
  sync::StreamError error;
  int64_t streams = 0;
};

std::map<int64_t, ProjectSyncError> SyncErrorsByProject(const std::vector<sync::StreamStatus>& streams) {
  std::map<int64_t, std::map<std::tuple<std::string, std::string, std::string>, int64_t>> tally;
  for (const auto& s : streams)
    if (s.project_id && s.status == "error" && s.error)
      ++tally[*s.project_id][{s.error->code, s.error->message, s.error->fix}];
  std::map<int64_t, ProjectSyncError> out;
  for (const auto& [project, counts] : tally) {
    auto most = std::max_element(counts.begin(), counts.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    const auto& [code, message, fix] = most->first;
    out[project] = {{code, message, fix}, most->second};
  }
  return out;
}

// The worst status among a project's streams, as one badge.
// Streams paused because the settings no longer select them are left out (they say nothing about the
// project); a project with nothing else shows "paused".
std::string StreamsBadge(const std::map<int64_t, std::vector<std::string>>& by_project, int64_t project) {
  auto it = by_project.find(project);
  if (it == by_project.end()) return "";
  const auto& statuses = it->second;
  if (statuses.empty()) return "paused";
  static const std::vector<std::string> kOrder = {"error",   "rate_limited", "paused",
                                                  "syncing", "pending",      "synced"};
  for (const auto& s : kOrder)
    if (std::find(statuses.begin(), statuses.end(), s) != statuses.end()) return s;
  return statuses.front();
}

bool Contains(std::string_view hay, std::string_view needle) {
  return ToLower(hay).find(ToLower(needle)) != std::string::npos;
}

}  // namespace

Result<nlohmann::json> IntegrationService::Projects(int64_t client_id, const ProjectsQuery& query) {
  auto record = Load(client_id);
  if (!record) return tl::unexpected(record.error());
  if (!record->company_id || !record->credentials_verified_at)
    return Fail(ErrorKind::kConflict, "invalid_state",
                "Verify the credentials and choose the company before listing projects.",
                std::string(NextStep(record->status)));
  auto rows = SyncedProjects(store_, client_id, /*with_unlisted=*/true);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    // Before the first sync: ask Procore.
    auto client = clients_.ForIntegration(*record);
    if (!client) return tl::unexpected(client.error());
    auto live = (*client)->ListProjects(*record->company_id);
    if (!live) return Fail(VerificationError(live.error()));
    for (const auto& p : *live)
      rows->push_back({p.id, p.name, p.display_name, p.project_number, "", p.active});
  }
  std::map<int64_t, ProjectLink> links;
  std::map<int64_t, std::string> ktrack_names;
  std::map<int64_t, int64_t> unlinked;  // Procore project → the KTrack project an admin unlinked it from
  auto read = store_.Transact([&](store::Tx& tx) -> Status {
    links.clear();
    ktrack_names.clear();
    auto list = ListProjectLinks(tx, client_id);
    if (!list) return tl::unexpected(list.error());
    for (const auto& l : *list) links[l.procore_project_id] = l;
    auto marks = ListUnlinkedByAdmin(tx, client_id);
    if (!marks) return tl::unexpected(marks.error());
    unlinked = std::move(*marks);
    auto names = tx.Query("SELECT id, name FROM ktrack_projects WHERE client_id = $1", {client_id});
    if (!names) return tl::unexpected(names.error());
    for (const auto& row : names->rows) ktrack_names[row.Int("id")] = row.Text("name");
    return {};
  });
  if (!read) return tl::unexpected(read.error());
  // A project Procore stopped listing stays on the page while it is linked (no longer permitted, or deleted
  // in Procore): its streams stop, and the admin must see why and be able to unlink it.
  std::erase_if(*rows, [&](const ProcoreProjectRow& p) { return !p.listed && !links.count(p.id); });
  std::set<int64_t> on_page;
  for (const auto& p : *rows) on_page.insert(p.id);
  for (const auto& [procore_id, l] : links)
    if (!on_page.count(procore_id))
      rows->push_back({procore_id, l.project_name, l.project_name, "", "", true, false});
  std::stable_sort(rows->begin(), rows->end(),
                   [](const ProcoreProjectRow& a, const ProcoreProjectRow& b) { return a.name < b.name; });
  std::map<int64_t, std::string> not_permitted_fix;
  std::set<int64_t> checked;  // projects the last permission check reached (it samples a large company)
  if (record->last_permission_check.is_object())
    for (const auto& c : record->last_permission_check.value("checks", nlohmann::json::array())) {
      if (!c.value("project_id", nlohmann::json()).is_number_integer()) continue;
      checked.insert(c["project_id"].get<int64_t>());
      if (c.value("status", "") == kCheckProjectNotPermitted)
        not_permitted_fix[c["project_id"].get<int64_t>()] =
            c.value("fix", nlohmann::json()).is_string() ? c["fix"].get<std::string>() : "";
    }
  // Linked projects whose permissions drifted: their streams are paused, the fix shown with the project.
  const auto drift = ProjectDrift(record->last_permission_check);
  std::map<int64_t, std::vector<std::string>> stream_statuses;
  std::map<int64_t, ProjectSyncError> sync_errors;
  if (auto streams = sync_.ListStreams(client_id); streams) {
    for (const auto& s : *streams)
      // Paused for a permissions drift, a stream carries the fix; paused otherwise, it is out of the
      // settings.
      if (s.project_id) {
        auto& list = stream_statuses[*s.project_id];
        if (s.status != "paused" || s.error) list.push_back(s.status);
      }
    sync_errors = SyncErrorsByProject(*streams);
    // The permission check samples a large company's projects; the sync reads every linked one, and
    // Procore's refusal there says as much about the project's access.
    for (const auto& [project, e] : sync_errors)
      if (e.error.code == kCheckProjectNotPermitted && !not_permitted_fix.count(project))
        not_permitted_fix[project] = e.error.fix;
  }

  std::set<int64_t> linked_ktrack;
  for (const auto& [procore_id, l] : links) linked_ktrack.insert(l.ktrack_project_id);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& p : *rows) {
    auto link = links.find(p.id);
    const bool linked = link != links.end();
    if (query.linked && *query.linked != linked) continue;
    if (query.active && *query.active != p.active) continue;
    if (!query.search.empty() && !Contains(p.name, query.search) && !Contains(p.display_name, query.search) &&
        !Contains(p.project_number, query.search))
      continue;
    auto fix = not_permitted_fix.find(p.id);
    nlohmann::json j = {
        {"id", p.id},
        {"name", p.name},
        {"display_name", p.display_name},
        {"project_number", p.project_number},
        {"stage", p.stage},
        {"active", p.active},
        {"permitted", fix == not_permitted_fix.end()},
        {"linked_ktrack_project_id",
         linked ? nlohmann::json(link->second.ktrack_project_id) : nlohmann::json(nullptr)},
        {"ktrack_project_name",
         linked ? nlohmann::json(ktrack_names[link->second.ktrack_project_id]) : nlohmann::json(nullptr)},
        {"sync_status",
         linked ? nlohmann::json(StreamsBadge(stream_statuses, p.id)) : nlohmann::json(nullptr)}};
    if (fix != not_permitted_fix.end()) j["fix"] = fix->second;
    j["listed"] = p.listed;
    // Whether `permitted` is known: from the last check, or from the sync's reads being refused.
    j["permission_checked"] = checked.count(p.id) > 0 || fix != not_permitted_fix.end();
    auto failed = sync_errors.find(p.id);
    j["sync_error"] = linked && failed != sync_errors.end()
                          ? nlohmann::json{{"code", failed->second.error.code},
                                           {"message", failed->second.error.message},
                                           {"fix", failed->second.error.fix},
                                           {"streams", failed->second.streams}}
                          : nlohmann::json(nullptr);
    // Linking it again offers the KTrack project it left, while no other Procore project has taken it.
    j["previous_ktrack_project_id"] = nullptr;
    if (auto was = unlinked.find(p.id); !linked && was != unlinked.end() && ktrack_names.count(was->second) &&
                                        !linked_ktrack.count(was->second))
      j["previous_ktrack_project_id"] = was->second;
    auto drifted = drift.find(p.id);
    j["drift"] = linked && drifted != drift.end() ? nlohmann::json{{"code", drifted->second.code},
                                                                   {"message", drifted->second.message},
                                                                   {"fix", drifted->second.fix}}
                                                  : nlohmann::json(nullptr);
    all.push_back(std::move(j));
  }
  const int64_t per_page = std::clamp<int64_t>(query.per_page, 1, 1000);
  const int64_t page = std::max<int64_t>(query.page, 1);
  nlohmann::json out = nlohmann::json::array();
  const int64_t from = PageOffset(page, per_page);
  for (int64_t i = from; i < static_cast<int64_t>(all.size()) && i - from < per_page; ++i)
    out.push_back(all[static_cast<size_t>(i)]);
  return nlohmann::json{{"projects", out}, {"total", all.size()}, {"page", page}, {"per_page", per_page}};
}

Result<nlohmann::json> IntegrationService::LinkProject(int64_t client_id, int64_t user_id,
                                                       int64_t procore_project_id,
                                                       const nlohmann::json& body) {
  auto record = Load(client_id);
  if (!record) return tl::unexpected(record.error());
  if (record->status != IntegrationStatus::kActive && record->status != IntegrationStatus::kCompleting &&
      record->status != IntegrationStatus::kError)
    return Fail(ErrorKind::kConflict, "invalid_state", "Complete the integration before linking projects.",
                std::string(NextStep(record->status)));
  auto create_asked = OptionalBool(body, "create", false);
  if (!create_asked) return tl::unexpected(create_asked.error());
  const bool create = *create_asked;
  auto ktrack_project = OptionalInt(body, "ktrack_project_id");
  if (!ktrack_project) return tl::unexpected(ktrack_project.error());
  const std::optional<int64_t> ktrack_id = *ktrack_project;
  if (!create && !ktrack_id)
    return Fail(ErrorKind::kInvalidInput, "invalid_field", "Say which KTrack project to link.",
                "Send {\"ktrack_project_id\": <id>} or {\"create\": true}.");

  // The project must be one Procore shows the app.
  std::optional<ProcoreProjectRow> project;
  if (auto rows = SyncedProjects(store_, client_id); rows)
    for (const auto& p : *rows)
      if (p.id == procore_project_id) project = p;
  auto client = clients_.ForIntegration(*record);
  if (!client) return tl::unexpected(client.error());
  if (!project) {
    auto live = (*client)->ListProjects(*record->company_id);
    if (!live) return Fail(VerificationError(live.error()));
    for (const auto& p : *live)
      if (p.id == procore_project_id)
        project = ProcoreProjectRow{p.id, p.name, p.display_name, p.project_number, "", p.active};
  }
  if (!project)
    return Fail(ErrorKind::kNotFound, "procore_project_not_found",
                "Procore project " + std::to_string(procore_project_id) + " is not one KTrack's app can see.",
                "In Procore, open Company Admin → App Management → KTrack → Permitted Projects and add it.");

  const int64_t now = clock_.NowUnixMs();
  int64_t linked_to = 0;
  std::string ktrack_name;
  auto done = store_.Transact([&](store::Tx& tx) -> Status {
    auto links = ListProjectLinks(tx, client_id);
    if (!links) return tl::unexpected(links.error());
    for (const auto& l : *links) {
      if (l.procore_project_id == procore_project_id) {
        if (ktrack_id && l.ktrack_project_id == *ktrack_id) {
          linked_to = l.ktrack_project_id;
          return {};
        }
        return Fail(ErrorKind::kConflict, "already_linked",
                    "Procore project '" + project->name + "' is already linked to another KTrack project.",
                    "Unlink it first, then link it again.");
      }
      if (ktrack_id && l.ktrack_project_id == *ktrack_id)
        return Fail(ErrorKind::kConflict, "ktrack_project_already_linked",
                    "That KTrack project is already linked to Procore project '" + l.project_name + "'.",
                    "Choose another KTrack project, or create a new one.");
    }
    if (create) {
      auto created = CreateKtrackProject(tx, client_id, project->name, project->project_number, now);
      if (!created) return tl::unexpected(created.error());
      linked_to = *created;
      ktrack_name = project->name;
    } else {
      auto found = FindKtrackProject(tx, client_id, *ktrack_id);
      if (!found) return tl::unexpected(found.error());
      if (!*found)
        return Fail(ErrorKind::kNotFound, "ktrack_project_not_found",
                    "There is no such KTrack project in this client.",
                    "Pick an existing KTrack project, or send {\"create\": true}.");
      linked_to = (*found)->id;
      ktrack_name = (*found)->name;
    }
    auto ins = tx.Exec(
        "INSERT INTO procore_project_links (client_id, procore_project_id, ktrack_project_id, project_name, "
        "linked_by, "
        "linked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        {client_id, procore_project_id, linked_to, project->name, user_id, now});
    if (!ins) return tl::unexpected(ins.error());
    if (auto cleared = ClearUnlinkedByAdmin(tx, client_id, procore_project_id); !cleared) return cleared;
    return audit_.Record(
        tx, client_id, user_id, "integration.project_linked",
        {{"procore_project_id", procore_project_id}, {"ktrack_project_id", linked_to}, {"created", create}});
  });
  if (!done) return tl::unexpected(done.error());

  // The project-level check for the chosen settings, shown with the link.
  nlohmann::json permissions = nullptr;
  PermissionCheckOptions one = options_.permissions;
  one.max_projects = 1;
  auto report = CheckPermissions(**client, *record->company_id, record->settings.value_or(Settings{}),
                                 {{procore_project_id, project->name}}, one);
  if (report) {
    nlohmann::json checks = nlohmann::json::array();
    bool ok = true;
    for (const auto& c : report->checks)
      if (c.project_id && *c.project_id == procore_project_id) {
        checks.push_back(PermissionCheckJson(c));
        ok = ok && c.status == kCheckOk;
      }
    permissions = {{"ok", ok}, {"checks", checks}};
    // The integration's last check now knows this project: a gap pauses its streams with the fix at once,
    // and the projects page says what the check found rather than guessing.
    auto merged = Mutate(client_id, [&](store::Tx&, IntegrationRecord& r) -> Status {
      if (!r.last_permission_check.is_object()) return {};
      nlohmann::json kept = nlohmann::json::array();
      bool all_ok = true;
      for (const auto& c : r.last_permission_check.value("checks", nlohmann::json::array()))
        if (c.value("project_id", nlohmann::json()) != nlohmann::json(procore_project_id)) kept.push_back(c);
      for (const auto& c : checks) kept.push_back(c);
      for (const auto& c : kept)
        all_ok = all_ok && (c.value("status", "") == kCheckOk || !c.value("needed", true));
      r.last_permission_check["checks"] = std::move(kept);
      r.last_permission_check["ok"] = all_ok;
      // A gap: the whole check runs at the next maintenance pass, which says it as the integration's error.
      if (!all_ok) r.last_permission_check["recheck_soon"] = true;
      return {};
    });
    if (!merged) return tl::unexpected(merged.error());
  }
  if (auto applied = ApplySyncScope(client_id); !applied) return tl::unexpected(applied.error());
  return nlohmann::json{{"procore_project_id", procore_project_id},
                        {"ktrack_project_id", linked_to},
                        {"ktrack_project_name", ktrack_name},
                        {"permissions", permissions}};
}

Result<nlohmann::json> IntegrationService::KtrackProjects(int64_t client_id) {
  auto rows = store_.Query(
      "SELECT k.id, k.name, k.number, l.procore_project_id, l.project_name FROM ktrack_projects k LEFT JOIN "
      "procore_project_links l ON l.client_id = k.client_id AND l.ktrack_project_id = k.id WHERE k.client_id "
      "= $1 "
      "ORDER BY k.name, k.id",
      {client_id});
  if (!rows) return tl::unexpected(rows.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows->rows) {
    auto procore = row.OptInt("procore_project_id");
    out.push_back({{"id", row.Int("id")},
                   {"name", row.Text("name")},
                   {"project_number", row.Text("number")},
                   {"procore_project_id", procore ? nlohmann::json(*procore) : nlohmann::json(nullptr)},
                   {"procore_project_name",
                    procore ? nlohmann::json(row.Text("project_name")) : nlohmann::json(nullptr)}});
  }
  return out;
}

Result<nlohmann::json> IntegrationService::UnlinkProject(int64_t client_id, int64_t user_id,
                                                         int64_t procore_project_id, bool purge_data) {
  auto record = Load(client_id);
  if (!record) return tl::unexpected(record.error());
  auto done = store_.Transact([&](store::Tx& tx) -> Status {
    auto removed = tx.Query(
        "DELETE FROM procore_project_links WHERE client_id = $1 AND procore_project_id = $2 RETURNING "
        "ktrack_project_id",
        {client_id, procore_project_id});
    if (!removed) return tl::unexpected(removed.error());
    if (removed->empty())
      return Fail(ErrorKind::kNotFound, "not_linked", "That Procore project is not linked.",
                  "Reload the projects list.");
    // Auto-link (at completion and in maintenance) must not undo the admin's choice.
    if (auto marked = MarkUnlinkedByAdmin(tx, client_id, procore_project_id, removed->rows[0].Int(0), user_id,
                                          clock_.NowUnixMs());
        !marked)
      return marked;
    return audit_.Record(tx, client_id, user_id, "integration.project_unlinked",
                         {{"procore_project_id", procore_project_id}, {"purge_data", purge_data}});
  });
  if (!done) return tl::unexpected(done.error());
  // Applied only while the integration runs (ApplySyncScope checks in its own transaction).
  if (auto applied = ApplySyncScope(client_id); !applied) return tl::unexpected(applied.error());
  if (purge_data)
    if (auto purged = sync_.PurgeProject(client_id, procore_project_id); !purged)
      return tl::unexpected(purged.error());
  return nlohmann::json{
      {"procore_project_id", procore_project_id}, {"unlinked", true}, {"purge_data", purge_data}};
}

}  // namespace kt::integration
