// Procore projects (issue 8) end to end: permissions drift pauses a linked project's streams with the fix and
// its repair resumes them to truth; auto-link picks up projects that appear after completion; the projects
// list pages, searches and filters server-side for a company with hundreds of projects. `ktrack serve` runs
// with short maintenance and re-check intervals ([integration] config) so a re-check happens within seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.h"
#include "http/client.h"
#include "process.h"
#include "util/strings.h"

namespace kt::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr int kRecheckSeconds = 2;

struct App {
  std::string client_id;
  std::string client_secret;
};

// One emulator and one `ktrack serve` for the suite, with short maintenance and re-check intervals.
class ProjectsTest : public EmulatorServeTest {
 protected:
  static void Start(const std::string& preset) {
    StartSuite(preset, 7,
               {{"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", "1"},
                {"KTRACK_INTEGRATION_PERMISSION_RECHECK_INTERVAL_S", std::to_string(kRecheckSeconds)}});
  }

  static json Permissions(const std::string& company_admin) {
    return {{"company", {{"Admin", company_admin}, {"Directory", "read_only"}, {"Webhooks API", "standard"}}},
            {"project", {{"Admin", "read_only"}, {"Budget", "read_only"}, {"RFIs", "read_only"}}}};
  }
  static App NewApp(const std::string& name, const json& permissions, const json& permitted) {
    auto a = Call("POST", emu_ + "/_emulator/apps", {{"name", name}, {"kind", "dmsa"}});
    EXPECT_EQ(a.status, 200) << a.text;
    App app{a.body["client_id"], a.body["client_secret"]};
    auto i =
        Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/installs",
             {{"client_id", app.client_id}, {"permissions", permissions}, {"permitted_projects", permitted}});
    EXPECT_LT(i.status, 300) << i.text;
    return app;
  }
  static void Permit(const App& app, const json& permitted) {
    auto a = Call("PATCH",
                  emu_ + "/_emulator/companies/" + std::to_string(company_) + "/installs/" + app.client_id,
                  {{"permitted_projects", permitted}});
    ASSERT_EQ(a.status, 200) << a.text;
  }

  // Credentials, company, settings, permissions and completion; waits for the integration to run.
  static void Connect(const Tenant& t, const App& app, const json& settings) {
    ASSERT_EQ(As(t, "PUT", "/credentials",
                 {{"client_id", app.client_id},
                  {"client_secret", app.client_secret},
                  {"environment", "custom"},
                  {"login_url", emu_},
                  {"api_url", emu_}})
                  .status,
              200);
    auto v = As(t, "POST", "/credentials/verify", {{"company_id", company_}});
    ASSERT_EQ(v.status, 200) << v.text;
    json s = settings;
    s["company_id"] = company_;
    auto saved = As(t, "PUT", "/settings", s);
    ASSERT_EQ(saved.status, 200) << saved.text;
    auto p = As(t, "POST", "/permissions/verify", json::object());
    ASSERT_EQ(p.status, 200) << p.text;
    ASSERT_TRUE(p.body["ok"].get<bool>()) << p.text;
    ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
    ASSERT_TRUE(WaitUntil([&] { return As(t, "GET", "").body["status"] == "active"; }, seconds(60)))
        << As(t, "GET", "").text;
  }

  // The project's stream as GET /streams shows it (null when there is none).
  static json StreamOf(const Tenant& t, const std::string& stream, int64_t project) {
    for (const auto& s : As(t, "GET", "/streams").body)
      if (s["stream"] == stream && s["project_id"] == project) return s;
    return nullptr;
  }
  static json Truth(const std::string& stream, int64_t project) {
    auto t = Call("GET", emu_ + "/_emulator/truth?company_id=" + std::to_string(company_) +
                             "&stream=" + stream + "&project_id=" + std::to_string(project));
    EXPECT_EQ(t.status, 200) << t.text;
    return t.body["streams"].at(0);
  }
  // Synced with Procore's truth: the same count and checksum.
  static bool AtTruth(const Tenant& t, const std::string& stream, int64_t project) {
    json s = StreamOf(t, stream, project);
    if (s.is_null() || s["status"] != "synced") return false;
    json truth = Truth(stream, project);
    return s["count"] == truth["count"] && s["checksum"] == truth["checksum"];
  }
  // A tenant connected with the RFIs domain and `project` linked, its RFIs synced to truth.
  static Tenant ConnectedWithLinkedProject(const std::string& name, const App& app, int64_t project) {
    Tenant t = NewTenant(name, dir_->path());
    Connect(t, app, {{"domains", {"rfis"}}});
    auto linked = As(t, "POST", "/projects/" + std::to_string(project) + "/link", {{"create", true}});
    EXPECT_EQ(linked.status, 200) << linked.text;
    EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", project); }, seconds(60)))
        << As(t, "GET", "/streams").text;
    return t;
  }
  static json ProjectRow(const Tenant& t, int64_t project) {
    for (const auto& p : As(t, "GET", "/projects?per_page=1000").body)
      if (p["id"] == project) return p;
    return nullptr;
  }
};

class ProjectDriftTest : public ProjectsTest {
 protected:
  static void SetUpTestSuite() { Start("small"); }
  static void TearDownTestSuite() { StopSuite(); }
};

TEST_F(ProjectDriftTest, ProjectRemovedFromPermittedProjectsPausesWithTheFixAndResumesToTruthWhenRestored) {
  Tenant t = NewTenant("Drift Co", dir_->path());
  App app = NewApp("KTrack drift", Permissions("admin"), "all");
  Connect(t, app, {{"domains", {"rfis"}}});
  const int64_t drifting = projects_[0], steady = projects_[1];
  for (int64_t p : {drifting, steady}) {
    auto linked = As(t, "POST", "/projects/" + std::to_string(p) + "/link", {{"create", true}});
    ASSERT_EQ(linked.status, 200) << linked.text;
  }
  ASSERT_TRUE(
      WaitUntil([&] { return AtTruth(t, "rfis", drifting) && AtTruth(t, "rfis", steady); }, seconds(60)))
      << As(t, "GET", "/streams").text;

  // In Procore, the project leaves the app's permitted projects.
  Permit(app, json{steady, projects_[2]});
  const auto removed_at = std::chrono::steady_clock::now();
  json paused;
  ASSERT_TRUE(WaitUntil(
      [&] {
        paused = StreamOf(t, "rfis", drifting);
        return paused["status"] == "paused";
      },
      seconds(kRecheckSeconds + 20)))
      << paused.dump();
  const double seconds_to_pause =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - removed_at).count();
  EXPECT_LE(seconds_to_pause, kRecheckSeconds + 5.0) << "within one re-check (plus the maintenance tick)";
  ASSERT_TRUE(paused["error"].is_object()) << paused.dump();
  EXPECT_EQ(paused["error"]["code"], "permissions_drift");
  EXPECT_NE(paused["error"]["message"].get<std::string>().find("not one of KTrack's permitted projects"),
            std::string::npos)
      << paused.dump();
  EXPECT_NE(paused["error"]["fix"].get<std::string>().find("Permitted Projects"), std::string::npos)
      << paused.dump();

  // The integration and the project show the drift with its fix; the other project keeps syncing.
  auto described = As(t, "GET", "");
  EXPECT_EQ(described.body["status"], "active");
  EXPECT_EQ(described.body["last_error"]["code"], "permissions_drift") << described.text;
  EXPECT_NE(described.body["last_error"]["fix"].get<std::string>().find("Permitted Projects"),
            std::string::npos);
  json row = ProjectRow(t, drifting);
  EXPECT_FALSE(row["permitted"].get<bool>()) << row.dump();
  EXPECT_EQ(row["sync_status"], "paused");
  EXPECT_EQ(row["drift"]["code"], "permissions_drift") << row.dump();
  EXPECT_FALSE(row["drift"]["fix"].get<std::string>().empty());
  EXPECT_EQ(StreamOf(t, "rfis", steady)["status"], "synced");
  EXPECT_TRUE(ProjectRow(t, steady)["drift"].is_null());
  // The client's home says so beside the integration's badge.
  auto home = Call("GET", base_ + "/clients/" + std::to_string(t.client_id), nullptr,
                   {{"Authorization", "Bearer " + t.admin_token}});
  ASSERT_EQ(home.status, 200) << home.text.substr(0, 300);
  EXPECT_NE(home.text.find(">1 stream needs attention<"), std::string::npos) << home.text;

  // Paused, not failing in a loop: across further re-checks it stays paused with the same fix.
  std::this_thread::sleep_for(seconds(kRecheckSeconds * 2 + 1));
  json still = StreamOf(t, "rfis", drifting);
  EXPECT_EQ(still["status"], "paused");
  EXPECT_EQ(still["error"], paused["error"]);

  // Changes meanwhile, then the fix in Procore: the streams resume by themselves and catch up to truth.
  auto changes = Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/changes",
                      {{"count", 20}, {"streams", {"rfis"}}, {"seed", 11}});
  ASSERT_EQ(changes.status, 200) << changes.text;
  Permit(app, "all");
  ASSERT_TRUE(
      WaitUntil([&] { return AtTruth(t, "rfis", drifting) && AtTruth(t, "rfis", steady); }, seconds(60)))
      << As(t, "GET", "/streams").text;
  EXPECT_TRUE(StreamOf(t, "rfis", drifting)["error"].is_null());
  EXPECT_TRUE(WaitUntil([&] { return As(t, "GET", "").body["last_error"].is_null(); }, seconds(10)))
      << As(t, "GET", "").text;
  EXPECT_TRUE(ProjectRow(t, drifting)["drift"].is_null());
  std::set<std::string> actions;
  for (const auto& e : As(t, "GET", "/audit").body) actions.insert(e["action"]);
  EXPECT_TRUE(actions.count("integration.permissions_drift"));
  EXPECT_TRUE(actions.count("integration.permissions_restored"));
}

TEST_F(ProjectDriftTest, ReconcileNowBringsBackWhatNoWebhookDeliveredAndSaysWhatItCannotReconcile) {
  Tenant t = NewTenant("Reconcile Co", dir_->path());
  App app = NewApp("KTrack reconcile", Permissions("admin"), "all");
  auto early = As(t, "POST", "/streams/reconcile", json::object());
  EXPECT_EQ(early.status, 409) << early.text;
  EXPECT_EQ(early.body["error"]["code"], "invalid_state");
  EXPECT_FALSE(early.body["error"]["fix"].get<std::string>().empty());

  Connect(t, app, {{"domains", {"rfis"}}});
  const int64_t project = projects_[0], other = projects_[1];
  auto linked = As(t, "POST", "/projects/" + std::to_string(project) + "/link", {{"create", true}});
  ASSERT_EQ(linked.status, 200) << linked.text;
  ASSERT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", project); }, seconds(60)))
      << As(t, "GET", "/streams").text;

  // Each request that cannot be reconciled says why, and queues nothing.
  auto unknown = As(t, "POST", "/streams/reconcile", {{"stream", "timesheets"}});
  EXPECT_EQ(unknown.status, 400) << unknown.text;
  EXPECT_EQ(unknown.body["error"]["code"], "unknown_stream");
  EXPECT_NE(unknown.body["error"]["fix"].get<std::string>().find("rfis"), std::string::npos) << unknown.text;
  auto wrong_type = As(t, "POST", "/streams/reconcile", {{"stream", 7}});
  EXPECT_EQ(wrong_type.status, 400) << wrong_type.text;
  EXPECT_NE(wrong_type.body["error"]["message"].get<std::string>().find("'stream'"), std::string::npos);
  auto zero = As(t, "POST", "/streams/reconcile", {{"project_id", 0}});
  EXPECT_EQ(zero.status, 400) << zero.text;
  EXPECT_NE(zero.body["error"]["message"].get<std::string>().find("'project_id'"), std::string::npos);
  auto not_linked = As(t, "POST", "/streams/reconcile", {{"stream", "rfis"}, {"project_id", other}});
  EXPECT_EQ(not_linked.status, 404) << not_linked.text;
  EXPECT_EQ(not_linked.body["error"]["code"], "no_such_streams");
  EXPECT_NE(not_linked.body["error"]["message"].get<std::string>().find(std::to_string(other)),
            std::string::npos)
      << not_linked.text;

  // Procore changes records while its webhooks cannot reach KTrack: KTrack falls behind, and the next
  // reconciliation by the interval is an hour away.
  ASSERT_EQ(Call("PUT", emu_ + "/_emulator/faults", {{"webhook_failure_rate", 1.0}}).status, 200);
  auto changes = Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/changes",
                      {{"count", 30}, {"streams", {"rfis"}}, {"seed", 23}});
  ASSERT_EQ(changes.status, 200) << changes.text;
  std::this_thread::sleep_for(seconds(2));
  EXPECT_FALSE(AtTruth(t, "rfis", project)) << "nothing but a reconciliation brings these changes";

  auto asked = As(t, "POST", "/streams/reconcile", {{"stream", "rfis"}, {"project_id", project}});
  EXPECT_EQ(asked.status, 202) << asked.text;
  EXPECT_EQ(asked.body["queued"], 1) << asked.text;
  EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", project); }, seconds(60)))
      << As(t, "GET", "/streams").text << " truth " << Truth("rfis", project).dump();
  ASSERT_EQ(Call("PUT", emu_ + "/_emulator/faults", {{"webhook_failure_rate", 0.0}}).status, 200);

  // Every stream at once: the company's projects stream and the project's RFIs.
  auto all = As(t, "POST", "/streams/reconcile", json::object());
  EXPECT_EQ(all.status, 202) << all.text;
  EXPECT_EQ(all.body["queued"].get<int64_t>(), static_cast<int64_t>(As(t, "GET", "/streams").body.size()));
  int requests = 0;
  for (const auto& e : As(t, "GET", "/audit").body)
    if (e["action"] == "integration.reconcile_requested") ++requests;
  EXPECT_EQ(requests, 2) << "each accepted request is in the audit log, refusals are not";

  // A paused project's streams wait for the fix instead.
  Permit(app, json{other});
  ASSERT_TRUE(WaitUntil([&] { return StreamOf(t, "rfis", project)["status"] == "paused"; },
                        seconds(kRecheckSeconds + 20)))
      << As(t, "GET", "/streams").text;
  auto paused = As(t, "POST", "/streams/reconcile", {{"project_id", project}});
  EXPECT_EQ(paused.status, 409) << paused.text;
  EXPECT_EQ(paused.body["error"]["code"], "streams_paused");
  EXPECT_NE(paused.body["error"]["fix"].get<std::string>().find("Permissions"), std::string::npos);
  Permit(app, "all");
}

TEST_F(ProjectDriftTest, DataKeptAtDisconnectCanBeDeletedLater) {
  const int64_t project = projects_[0];
  Tenant t =
      ConnectedWithLinkedProject("Keeper Co", NewApp("KTrack keeper", Permissions("admin"), "all"), project);
  if (HasFailure()) return;
  const std::string records = "/records?stream=rfis&project_id=" + std::to_string(project);
  ASSERT_FALSE(As(t, "GET", records).body["records"].empty()) << As(t, "GET", records).text;

  // Disconnected with the data kept: it stays, read-only.
  ASSERT_EQ(As(t, "DELETE", "", {{"purge_data", false}}).status, 200);
  EXPECT_FALSE(As(t, "GET", records).body["records"].empty());
  auto again = As(t, "DELETE", "", {{"purge_data", false}});
  EXPECT_EQ(again.status, 409) << again.text;
  EXPECT_NE(again.body["error"]["message"].get<std::string>().find("purge_data"), std::string::npos)
      << again.text;

  // Later, the admin deletes it: records, streams and links go; the audit log says who.
  auto deleted = As(t, "DELETE", "", {{"purge_data", true}});
  ASSERT_EQ(deleted.status, 200) << deleted.text;
  EXPECT_TRUE(deleted.body["kept_data_deleted"].get<bool>());
  EXPECT_EQ(As(t, "GET", "").body["status"], "disconnected");
  EXPECT_TRUE(As(t, "GET", records).body["records"].empty()) << As(t, "GET", records).text;
  EXPECT_TRUE(As(t, "GET", "/streams").body.empty()) << As(t, "GET", "/streams").text;
  bool audited = false;
  for (const auto& e : As(t, "GET", "/audit").body) audited |= e["action"] == "integration.kept_data_deleted";
  EXPECT_TRUE(audited);
}

// Without Admin on the company, Procore lists only the app's permitted projects: a linked project taken out
// of them drops out of Procore's list. It stays on KTrack's projects page, saying why, until the admin
// unlinks it.
TEST_F(ProjectDriftTest, ALinkedProjectProcoreNoLongerListsStaysOnThePageWithWhyUntilUnlinked) {
  const int64_t leaving = projects_[0], staying = projects_[1];
  Tenant t = NewTenant("Unlisted Co", dir_->path());
  App app = NewApp("KTrack unlisted", Permissions("read_only"), json{leaving, staying});
  Connect(t, app, {{"domains", {"rfis"}}});
  for (int64_t p : {leaving, staying})
    ASSERT_EQ(As(t, "POST", "/projects/" + std::to_string(p) + "/link", {{"create", true}}).status, 200);
  ASSERT_TRUE(
      WaitUntil([&] { return AtTruth(t, "rfis", leaving) && AtTruth(t, "rfis", staying); }, seconds(60)))
      << As(t, "GET", "/streams").text;
  const std::string name = ProjectRow(t, leaving)["name"];

  Permit(app, json{staying});
  ASSERT_EQ(As(t, "POST", "/streams/reconcile", {{"stream", "projects"}}).status, 202);
  json row;
  ASSERT_TRUE(WaitUntil(
      [&] {
        row = ProjectRow(t, leaving);
        return !row.is_null() && row["listed"] == false && row["sync_status"] == "paused";
      },
      seconds(kRecheckSeconds + 30)))
      << "the linked project left the page, or stayed listed: " << row.dump();
  EXPECT_EQ(row["name"], name) << "named as KTrack last saw it";
  EXPECT_FALSE(row["linked_ktrack_project_id"].is_null()) << row.dump();
  EXPECT_FALSE(row["permitted"].get<bool>()) << row.dump();
  EXPECT_NE(row["fix"].get<std::string>().find("Permitted Projects"), std::string::npos) << row.dump();
  EXPECT_EQ(ProjectRow(t, staying)["listed"], true);
  // The integration's error names the one project and counts nothing else: each tool's refusal is the same
  // cause.
  EXPECT_EQ(As(t, "GET", "").body["last_error"]["message"],
            "KTrack's app lacks permissions the settings need: project '" + name +
                "' is not one of the app's permitted projects.");

  ASSERT_EQ(As(t, "DELETE", "/projects/" + std::to_string(leaving) + "/link", json::object()).status, 200);
  EXPECT_TRUE(ProjectRow(t, leaving).is_null())
      << "unlinked, and Procore does not list it: gone from the page";
}

TEST_F(ProjectDriftTest, ToolSwitchedOffOnALinkedProjectPausesItsStreamsUntilSwitchedOn) {
  const int64_t project = projects_[2];
  Tenant t =
      ConnectedWithLinkedProject("Tool Co", NewApp("KTrack tools", Permissions("admin"), "all"), project);
  if (HasFailure()) return;

  auto off = Call("PUT", emu_ + "/_emulator/projects/" + std::to_string(project) + "/tools/RFIs",
                  {{"active", false}});
  ASSERT_EQ(off.status, 200) << off.text;
  json paused;
  ASSERT_TRUE(WaitUntil(
      [&] {
        paused = StreamOf(t, "rfis", project);
        return paused["status"] == "paused";
      },
      seconds(kRecheckSeconds + 20)))
      << paused.dump();
  EXPECT_NE(paused["error"]["message"].get<std::string>().find("RFIs tool is turned off"), std::string::npos)
      << paused.dump();
  EXPECT_NE(paused["error"]["fix"].get<std::string>().find("turn on RFIs"), std::string::npos)
      << paused.dump();
  // The integration's next step is the fix, not "Nothing to do".
  const json integration = As(t, "GET", "").body;
  EXPECT_NE(integration["next_step"].get<std::string>().find("turn on RFIs"), std::string::npos)
      << integration["next_step"];

  auto on = Call("PUT", emu_ + "/_emulator/projects/" + std::to_string(project) + "/tools/RFIs",
                 {{"active", true}});
  ASSERT_EQ(on.status, 200) << on.text;
  EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", project); }, seconds(60)))
      << StreamOf(t, "rfis", project).dump();
}

TEST_F(ProjectDriftTest, AutoLinkLinksAndSyncsAProjectCreatedInProcoreAfterCompletion) {
  Tenant t = NewTenant("Later Co", dir_->path());
  App app = NewApp("KTrack later", Permissions("admin"), "all");
  Connect(t, app, {{"domains", {"rfis"}}, {"auto_link_projects", true}});
  auto linked_ids = [&] {
    std::set<int64_t> ids;
    for (const auto& p : As(t, "GET", "/projects?linked=true&per_page=1000").body)
      ids.insert(p["id"].get<int64_t>());
    return ids;
  };
  ASSERT_TRUE(WaitUntil([&] { return linked_ids().size() >= projects_.size(); }, seconds(30)));

  // Someone creates a project in Procore; nobody touches KTrack.
  auto created =
      Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/projects", json::object());
  ASSERT_EQ(created.status, 201) << created.text;
  const int64_t fresh = created.body["id"];
  EXPECT_EQ(linked_ids().count(fresh), 0u);

  ASSERT_TRUE(WaitUntil([&] { return linked_ids().count(fresh) == 1; }, seconds(60)))
      << "the Projects create webhook (or reconciliation) brings the project, auto-link links it";
  EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", fresh); }, seconds(60)))
      << StreamOf(t, "rfis", fresh).dump();
  json row = ProjectRow(t, fresh);
  EXPECT_FALSE(row["ktrack_project_name"].get<std::string>().empty()) << row.dump();
  EXPECT_EQ(row["sync_status"], "synced");
  bool audited = false;
  for (const auto& e : As(t, "GET", "/audit").body)
    if (e["action"] == "integration.project_linked" && e["detail"]["procore_project_id"] == fresh &&
        e["detail"]["auto"] == true)
      audited = true;
  EXPECT_TRUE(audited) << "linked by KTrack itself, not by a user";
}

TEST_F(ProjectDriftTest, AProjectTheAdminUnlinkedStaysUnlinkedThroughAutoLinkAndASettingsChange) {
  Tenant t = NewTenant("Unlink Co", dir_->path());
  App app = NewApp("KTrack unlink", Permissions("admin"), "all");
  Connect(t, app, {{"domains", {"rfis"}}, {"auto_link_projects", true}});
  auto linked = [&](int64_t id) { return !ProjectRow(t, id)["linked_ktrack_project_id"].is_null(); };
  const int64_t chosen = projects_.at(0);
  ASSERT_TRUE(WaitUntil([&] { return linked(chosen); }, seconds(30)));
  const json ktrack_project = ProjectRow(t, chosen)["linked_ktrack_project_id"];

  ASSERT_EQ(As(t, "DELETE", "/projects/" + std::to_string(chosen) + "/link", json::object()).status, 200);
  EXPECT_FALSE(linked(chosen));
  EXPECT_EQ(ProjectRow(t, chosen)["previous_ktrack_project_id"], ktrack_project)
      << "offered when linking again";
  // Saving the settings runs completion again, and maintenance runs every second: both auto-link. Each
  // maintenance pass re-checks the permissions after auto-linking, so two new check times mean at least one
  // whole pass since the unlink.
  auto checked_at = [&] { return As(t, "GET", "").body["permissions"].value("checked_at", std::string()); };
  auto saved = As(t, "PUT", "/settings", {{"domains", {"rfis"}}, {"auto_link_projects", true}});
  ASSERT_EQ(saved.status, 200) << saved.text;
  ASSERT_TRUE(WaitUntil([&] { return As(t, "GET", "").body["status"] == "active"; }, seconds(60)));
  for (int pass = 0; pass < 2; ++pass) {
    const std::string before = checked_at();
    ASSERT_TRUE(WaitUntil([&] { return checked_at() != before; }, seconds(30))) << "no maintenance pass ran";
  }
  EXPECT_FALSE(linked(chosen)) << "auto-link undid the admin's unlink: " << ProjectRow(t, chosen).dump();

  // Linking it again by hand, to the KTrack project it left, works and clears the mark.
  auto relinked =
      As(t, "POST", "/projects/" + std::to_string(chosen) + "/link", {{"ktrack_project_id", ktrack_project}});
  ASSERT_EQ(relinked.status, 200) << relinked.text;
  json row = ProjectRow(t, chosen);
  EXPECT_EQ(row["linked_ktrack_project_id"], ktrack_project) << row.dump();
  EXPECT_TRUE(row["previous_ktrack_project_id"].is_null()) << row.dump();
}

// A permission check samples one project here, as it samples 25 of a large company's: the projects whose
// streams stopped on a permission are checked first, and all of them, so none is left unexplained.
class SampledDriftTest : public ProjectsTest {
 protected:
  static void SetUpTestSuite() {
    StartSuite("small", 7,
               {{"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", "1"},
                {"KTRACK_INTEGRATION_PERMISSION_RECHECK_INTERVAL_S", std::to_string(kRecheckSeconds)},
                {"KTRACK_INTEGRATION_PERMISSION_CHECK_PROJECTS", "1"}});
  }
  static void TearDownTestSuite() { StopSuite(); }
};

TEST_F(SampledDriftTest, ProjectsWhoseStreamsStoppedOnAPermissionAreCheckedBeyondTheSample) {
  ASSERT_GE(projects_.size(), 3u);
  Tenant t = NewTenant("Sampled Co", dir_->path());
  App app = NewApp("KTrack sampled", Permissions("admin"), "all");
  Connect(t, app, {{"domains", {"rfis"}}});
  // The one-project sample reached one project; the page says the others' access is not known yet.
  int checked = 0;
  for (const auto& p : As(t, "GET", "/projects?per_page=1000").body) {
    checked += p["permission_checked"].get<bool>() ? 1 : 0;
    EXPECT_TRUE(p["permitted"].get<bool>()) << p.dump();
  }
  EXPECT_EQ(checked, 1);
  const int64_t kept = projects_[0];
  const std::vector<int64_t> leaving = {projects_[1], projects_[2]};
  for (int64_t p : {kept, leaving[0], leaving[1]})
    ASSERT_EQ(As(t, "POST", "/projects/" + std::to_string(p) + "/link", {{"create", true}}).status, 200);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return AtTruth(t, "rfis", kept) && AtTruth(t, "rfis", leaving[0]) && AtTruth(t, "rfis", leaving[1]);
      },
      seconds(60)))
      << As(t, "GET", "/streams").text;

  // Two linked projects leave the permitted projects; the sync's next reads are refused. The check's
  // one-project sample would see only the first linked project; the stopped ones go first, both of them.
  Permit(app, json{kept});
  ASSERT_EQ(As(t, "POST", "/streams/reconcile", {{"stream", "rfis"}}).status, 202);
  auto paused = [&](int64_t p) {
    json s = StreamOf(t, "rfis", p);
    return s["status"] == "paused" && s["error"].is_object() && s["error"]["code"] == "permissions_drift";
  };
  EXPECT_TRUE(WaitUntil([&] { return paused(leaving[0]) && paused(leaving[1]); }, seconds(30)))
      << "a project left in error, never checked: " << As(t, "GET", "/streams").text;
  EXPECT_EQ(As(t, "GET", "").body["last_error"]["message"],
            "KTrack's app lacks permissions the settings need: 2 projects are not among the app's permitted "
            "projects ('" +
                ProjectRow(t, leaving[0])["name"].get<std::string>() + "' and 1 other project).")
      << As(t, "GET", "").text;

  // Permitted again: both resume and catch up.
  Permit(app, "all");
  EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", leaving[0]) && AtTruth(t, "rfis", leaving[1]); },
                        seconds(60)))
      << As(t, "GET", "/streams").text;
}

// Permission re-checks a quarter-hour apart, as by default; maintenance every second.
class LinkCheckTest : public ProjectsTest {
 protected:
  static void SetUpTestSuite() {
    StartSuite("small", 7, {{"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", "1"}});
  }
  static void TearDownTestSuite() { StopSuite(); }
};

// A project left out of the permitted projects holds nothing up while unlinked; linked, Procore refuses it.
// The link's own check pauses its streams, and the integration says so at the next maintenance pass, not at
// the next quarter-hourly re-check.
TEST_F(LinkCheckTest, LinkingAProjectProcoreRefusesMakesTheIntegrationSaySoWithinAMinute) {
  ASSERT_GE(projects_.size(), 3u);
  Tenant t = NewTenant("Refused Co", dir_->path());
  App app = NewApp("KTrack refused", Permissions("admin"), json{projects_[0], projects_[1]});
  Connect(t, app, {{"domains", {"rfis"}}});
  EXPECT_TRUE(As(t, "GET", "").body["last_error"].is_null());

  const int64_t refused = projects_[2];
  auto linked = As(t, "POST", "/projects/" + std::to_string(refused) + "/link", {{"create", true}});
  ASSERT_EQ(linked.status, 200) << linked.text;
  EXPECT_FALSE(linked.body["permissions"]["ok"].get<bool>()) << linked.text;
  json error;
  EXPECT_TRUE(WaitUntil(
      [&] {
        error = As(t, "GET", "").body["last_error"];
        return error.is_object();
      },
      seconds(15)))
      << "the integration's error waited for the quarter-hourly re-check";
  EXPECT_EQ(error.value("code", ""), "permissions_drift") << error.dump();
  EXPECT_NE(error.value("message", "").find("is not one of the app's permitted projects"), std::string::npos)
      << error.dump();
  EXPECT_EQ(StreamOf(t, "rfis", refused)["status"], "paused");
}

// The admin adds a refused project to the permitted projects and has KTrack read Procore's project list again
// (the projects page's button): the list now has the project, so its streams resume at once, not at the next
// quarter-hourly re-check.
TEST_F(LinkCheckTest, AProjectPermittedAgainResumesOnceProcoresListShowsIt) {
  ASSERT_GE(projects_.size(), 3u);
  Tenant t = NewTenant("Permitted Again Co", dir_->path());
  App app = NewApp("KTrack permitted again", Permissions("admin"), json{projects_[0], projects_[1]});
  Connect(t, app, {{"domains", {"rfis"}}});
  const int64_t refused = projects_[2];
  ASSERT_EQ(As(t, "POST", "/projects/" + std::to_string(refused) + "/link", {{"create", true}}).status, 200);
  ASSERT_TRUE(WaitUntil([&] { return As(t, "GET", "").body["last_error"].is_object(); }, seconds(15)));
  ASSERT_EQ(StreamOf(t, "rfis", refused)["status"], "paused");

  Permit(app, "all");
  auto asked = As(t, "POST", "/streams/reconcile", {{"stream", "projects"}});
  ASSERT_EQ(asked.status, 202) << asked.text;
  EXPECT_TRUE(WaitUntil([&] { return AtTruth(t, "rfis", refused); }, seconds(30)))
      << StreamOf(t, "rfis", refused).dump();
  EXPECT_TRUE(WaitUntil([&] { return As(t, "GET", "").body["last_error"].is_null(); }, seconds(10)))
      << As(t, "GET", "").text;
  json row = ProjectRow(t, refused);
  EXPECT_TRUE(row["permitted"].get<bool>()) << row.dump();
  EXPECT_TRUE(row["drift"].is_null()) << row.dump();
}

// The large preset's first company has 600 projects; 400 more are created in Procore to make 1,000.
class ThousandProjectsTest : public ProjectsTest {
 protected:
  static void SetUpTestSuite() {
    Start("large");
    while (projects_.size() < 1000) {
      auto created = Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/projects",
                          json::object());
      ASSERT_EQ(created.status, 201) << created.text;
      projects_.push_back(created.body["id"].get<int64_t>());
    }
  }
  static void TearDownTestSuite() { StopSuite(); }
};

TEST_F(ThousandProjectsTest, ProjectsArePagedSearchedAndFilteredOnTheServerQuickly) {
  Tenant t = NewTenant("Big Co", dir_->path());
  App app = NewApp("KTrack big", Permissions("admin"), "all");
  Connect(t, app, {{"domains", {"rfis"}}});
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& s : As(t, "GET", "/streams").body)
          if (s["stream"] == "projects") return s["status"] == "synced" && s["count"] == 1000;
        return false;
      },
      seconds(120)))
      << As(t, "GET", "/streams").text;
  for (int64_t p : {projects_[10], projects_[990]})
    ASSERT_EQ(As(t, "POST", "/projects/" + std::to_string(p) + "/link", {{"create", true}}).status, 200);

  double slowest_ms = 0;
  auto list = [&](const std::string& query) {
    const auto started = std::chrono::steady_clock::now();
    auto a = As(t, "GET", "/projects" + query);
    slowest_ms = std::max(
        slowest_ms,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    EXPECT_EQ(a.status, 200) << query << ": " << a.text.substr(0, 300);
    return a;
  };
  auto total = [](const Answer& a) { return std::stoll(a.raw.headers.Get("Total").value_or("-1")); };

  // Pages of 50: the server sends one page, and says how many there are in all.
  auto page2 = list("?per_page=50&page=2"), page3 = list("?per_page=50&page=3");
  EXPECT_EQ(total(page3), 1000);
  EXPECT_EQ(page3.raw.headers.Get("Page").value_or(""), "3");
  ASSERT_EQ(page3.body.size(), 50u);
  std::set<int64_t> ids;
  for (const auto& p : page2.body) ids.insert(p["id"].get<int64_t>());
  for (const auto& p : page3.body) EXPECT_EQ(ids.count(p["id"].get<int64_t>()), 0u) << "pages do not overlap";
  EXPECT_LE(page2.body.back()["name"].get<std::string>(), page3.body.front()["name"].get<std::string>())
      << "sorted by name across pages";
  EXPECT_EQ(list("?per_page=50&page=21").body.size(), 0u);
  EXPECT_EQ(list("?per_page=5000").body.size(), 1000u) << "per_page is capped at 1,000";

  // Search by name or number, case-insensitively.
  const json sample = page3.body[7];
  const std::string name = sample["name"];
  auto by_name = list("?per_page=1000&q=" + UrlEncode(ToLower(name)));
  bool found = false;
  for (const auto& p : by_name.body) {
    found = found || p["id"] == sample["id"];
    EXPECT_NE(ToLower(p["name"].get<std::string>() + " " + p["display_name"].get<std::string>() + " " +
                      p["project_number"].get<std::string>())
                  .find(ToLower(name)),
              std::string::npos);
  }
  EXPECT_TRUE(found) << name;
  EXPECT_LT(total(by_name), 1000);
  ASSERT_FALSE(sample["project_number"].get<std::string>().empty()) << "the emulator numbers every project";
  auto by_number = list("?per_page=1000&q=" + UrlEncode(sample["project_number"].get<std::string>()));
  bool numbered = false;
  for (const auto& p : by_number.body) numbered = numbered || p["id"] == sample["id"];
  EXPECT_TRUE(numbered) << "the project whose number was searched for is found";
  EXPECT_EQ(total(list("?q=no-such-project-anywhere")), 0);

  // Filters: linked, active; combined with paging.
  auto linked = list("?linked=true");
  EXPECT_EQ(total(linked), 2);
  EXPECT_EQ(total(list("?linked=false&per_page=10")), 998);
  const int64_t active = total(list("?active=true&per_page=1")),
                inactive = total(list("?active=false&per_page=1"));
  EXPECT_EQ(active + inactive, 1000);
  for (const auto& p : list("?active=false&per_page=1000").body) EXPECT_FALSE(p["active"].get<bool>());
  auto bad_page = As(t, "GET", "/projects?page=abc");
  EXPECT_EQ(bad_page.status, 400);
  EXPECT_NE(bad_page.text.find("page"), std::string::npos) << bad_page.text;
  for (const char* query : {"?page=0", "?page=-2", "?per_page=0", "?per_page=-5"}) {
    auto refused = As(t, "GET", std::string("/projects") + query);
    EXPECT_EQ(refused.status, 400) << query << ": " << refused.text;
    EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("must be a whole number of 1 or more"),
              std::string::npos)
        << query << ": " << refused.text;
  }
  // A page far past the end is empty (its offset, page × per_page, does not fit in 64 bits).
  auto far = list("?per_page=1000&page=9223372036854775807");
  EXPECT_EQ(far.body.size(), 0u);
  EXPECT_EQ(total(far), 1000);

  std::printf("projects list with 1,000 projects: slowest answer %.1f ms\n", slowest_ms);
  EXPECT_LT(slowest_ms, 1000.0) << "fast with 1,000 projects";
}

}  // namespace
}  // namespace kt::testing
