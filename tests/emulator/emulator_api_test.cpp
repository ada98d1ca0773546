// The emulator over HTTP as a Procore client sees it: OAuth, installs, permissions, paging against the truth,
// filters, rate limits, faults and token expiry.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "emulator_client.h"
#include "util/strings.h"

namespace procore_emulator::testing {
namespace {

using nlohmann::json;

// The list path of a stream for a project (or the company), as a sync would page it.
std::string StreamPath(EmulatorClient& emu, const std::string& token, const std::string& stream,
                       int64_t project) {
  std::string c = std::to_string(emu.company_id()), p = std::to_string(project);
  if (stream == "projects") return "/rest/v1.1/projects?company_id=" + c;
  if (stream == "company_users") return "/rest/v1.3/companies/" + c + "/users";
  if (stream == "vendors") return "/rest/v1.0/vendors?company_id=" + c;
  if (stream == "trades") return "/rest/v1.0/companies/" + c + "/trades";
  if (stream == "cost_codes") return "/rest/v1.0/cost_codes?project_id=" + p;
  if (stream == "budget_detail_rows") {
    auto views = emu.Get("/rest/v1.0/budget_views?project_id=" + p, token).Json();
    return "/rest/v1.0/budget_views/" + std::to_string(views[0]["id"].get<int64_t>()) +
           "/detail_rows?project_id=" + p;
  }
  if (stream == "work_order_contracts") return "/rest/v1.0/work_order_contracts?project_id=" + p;
  if (stream == "purchase_order_contracts") return "/rest/v1.0/purchase_order_contracts?project_id=" + p;
  if (stream == "commitment_change_orders") return "/rest/v1.0/projects/" + p + "/commitment_change_orders";
  if (stream == "prime_contracts") return "/rest/v1.0/prime_contracts?project_id=" + p;
  if (stream == "prime_change_orders") return "/rest/v1.0/projects/" + p + "/prime_change_orders";
  if (stream == "change_events") return "/rest/v1.1/change_events?project_id=" + p;
  if (stream == "direct_costs") return "/rest/v1.1/projects/" + p + "/direct_costs";
  if (stream == "rfis") return "/rest/v1.0/projects/" + p + "/rfis";
  if (stream == "submittals") return "/rest/v1.1/projects/" + p + "/submittals";
  if (stream == "manpower_logs")
    return "/rest/v1.0/projects/" + p + "/manpower_logs?start_date=2000-01-01&end_date=2100-12-31";
  ADD_FAILURE() << "unknown stream " << stream;
  return "/";
}

class EmulatorApi : public ::testing::Test {
 protected:
  EmulatorClient emu;
};

TEST_F(EmulatorApi, TokenIsIssuedForFormMultipartAndJsonBodies) {
  AppCredentials app = emu.CreateApp();
  std::string form =
      "grant_type=client_credentials&client_id=" + app.client_id + "&client_secret=" + app.client_secret;
  auto a = emu.Request("POST", "/oauth/token", form, {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.Json()["token_type"], "bearer");
  EXPECT_EQ(a.Json()["expires_in"], 5400);
  EXPECT_TRUE(a.Json()["created_at"].is_number_integer());

  std::string boundary = "XyZ123";
  std::string multipart;
  for (auto [k, v] : {std::pair<std::string, std::string>{"grant_type", "client_credentials"},
                      {"client_id", app.client_id},
                      {"client_secret", app.client_secret}})
    multipart +=
        "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  multipart += "--" + boundary + "--\r\n";
  a = emu.Request("POST", "/oauth/token", multipart,
                  {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  EXPECT_EQ(a.status, 200) << a.body;

  json body = {{"grant_type", "client_credentials"},
               {"client_id", app.client_id},
               {"client_secret", app.client_secret}};
  a = emu.Request("POST", "/oauth/token", body.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(a.status, 200) << a.body;
  std::string token = a.Json()["access_token"];

  auto info = emu.Request("GET", "/oauth/token/info", {}, {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(info.Json()["application"]["uid"], app.client_id);
  EXPECT_GT(info.Json()["expires_in_seconds"].get<int>(), 5000);

  auto revoked =
      emu.Request("POST", "/oauth/revoke",
                  "token=" + token + "&client_id=" + app.client_id + "&client_secret=" + app.client_secret,
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(revoked.status, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 401);
  // Revoking an unknown token still answers 200.
  EXPECT_EQ(emu.Request("POST", "/oauth/revoke", "token=nope",
                        {{"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            200);
}

TEST_F(EmulatorApi, WrongSecretAndLegacyServiceAccountsAreRefused) {
  AppCredentials app = emu.CreateApp();
  auto a = emu.Request("POST", "/oauth/token",
                       "grant_type=client_credentials&client_id=" + app.client_id + "&client_secret=wrong",
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.Json()["error"], "invalid_client");

  AppCredentials legacy = emu.CreateApp("Old SA", "legacy_service_account");
  a = emu.Request("POST", "/oauth/token",
                  "grant_type=client_credentials&client_id=" + legacy.client_id +
                      "&client_secret=" + legacy.client_secret,
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.Json()["error"], "invalid_client");
  EXPECT_NE(a.Json()["error_description"].get<std::string>().find("sunset"), std::string::npos);

  a = emu.Request("POST", "/oauth/token", "grant_type=password",
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.Json()["error"], "unsupported_grant_type");
}

TEST_F(EmulatorApi, CompanyHeaderIsRequiredEvenOnMeAndCompanies) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  for (const std::string& path :
       std::vector<std::string>{"/rest/v1.0/me", "/rest/v1.0/companies",
                                "/rest/v1.1/projects?company_id=" + std::to_string(emu.company_id())}) {
    auto a = emu.Get(path, token, false);
    EXPECT_EQ(a.status, 400) << path;
    EXPECT_EQ(a.Json()["errors"], "Missing Procore-Company-Id header!") << path;
    EXPECT_EQ(emu.Get(path, token).status, 200) << path;
  }
  auto missing = emu.Request("GET", "/rest/v1.0/me");
  EXPECT_EQ(missing.status, 401);
}

TEST_F(EmulatorApi, CompaniesListsOnlyInstallsAndUninstallDisconnects) {
  AppCredentials app = emu.CreateApp();
  std::string token = emu.Token(app);
  auto a = emu.Get("/rest/v1.0/companies", token);
  ASSERT_EQ(a.status, 200);
  EXPECT_TRUE(a.Json().empty());
  std::string projects = "/rest/v1.1/projects?company_id=" + std::to_string(emu.company_id());
  a = emu.Get(projects, token);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.Json()["errors"], "App is not connected to this company");

  emu.Install(app);
  a = emu.Get("/rest/v1.0/companies", token);
  ASSERT_EQ(a.Json().size(), 1u);
  EXPECT_EQ(a.Json()[0]["id"], emu.company_id());
  EXPECT_EQ(emu.Get(projects, token).Json().size(), emu.project_ids().size());
  auto me = emu.Get("/rest/v1.0/companies/" + std::to_string(emu.company_id()) + "/me", token);
  EXPECT_EQ(me.status, 200);
  EXPECT_TRUE(me.Json()["id"].is_number_integer());

  emu.Control("DELETE",
              "/_emulator/companies/" + std::to_string(emu.company_id()) + "/installs/" + app.client_id,
              nullptr, 200);
  a = emu.Get(projects, token);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.Json()["errors"], "App is not connected to this company");
}

TEST_F(EmulatorApi, PermissionsAreEnforcedPerToolToolStateAndPermittedProject) {
  AppCredentials app = emu.CreateApp();
  json perms = EmulatorClient::AllToolsAt("read_only");
  perms["project"]["RFIs"] = "none";
  perms["project"]["Submittals"] = "admin";
  perms["company"]["Directory"] = "none";
  auto projects = emu.project_ids();
  emu.Install(app, perms, json::array({projects[0], projects[1]}));
  std::string token = emu.Token(app);
  std::string p0 = std::to_string(projects[0]), p1 = std::to_string(projects[1]),
              p2 = std::to_string(projects[2]);
  std::string c = std::to_string(emu.company_id());

  auto a = emu.Get("/rest/v1.0/projects/" + p0 + "/rfis", token);
  EXPECT_EQ(a.status, 403);
  EXPECT_NE(a.Json()["errors"].get<std::string>().find("RFIs"), std::string::npos);
  EXPECT_EQ(emu.Get("/rest/v1.1/projects/" + p0 + "/submittals", token).status, 200);
  EXPECT_EQ(emu.Get("/rest/v1.3/companies/" + c + "/users", token).status, 403);

  // A project outside the permitted ones.
  a = emu.Get("/rest/v1.1/projects/" + p2 + "/submittals", token);
  EXPECT_EQ(a.status, 403);
  EXPECT_NE(a.Json()["errors"].get<std::string>().find("permitted"), std::string::npos);
  // Non-admins see only their permitted projects.
  EXPECT_EQ(emu.Get("/rest/v1.1/projects?company_id=" + c, token).Json().size(), 2u);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + p2 + "?company_id=" + c, token).status, 404);

  // A tool switched off in the project.
  emu.Control("PUT", "/_emulator/projects/" + p1 + "/tools/Submittals", {{"active", false}}, 200);
  a = emu.Get("/rest/v1.1/projects/" + p1 + "/submittals", token);
  EXPECT_EQ(a.status, 403);
  EXPECT_NE(a.Json()["errors"].get<std::string>().find("not active"), std::string::npos);
  auto tools = emu.Get("/rest/v1.0/projects/" + p1 + "/tools", token).Json();
  bool found = false;
  for (const auto& t : tools)
    if (t["title"] == "Submittals") {
      found = true;
      EXPECT_FALSE(t["is_active"].get<bool>());
    }
  EXPECT_TRUE(found);

  // The permission manifests show the levels by name.
  auto manifest = emu.Get("/rest/v1.0/settings/permissions?project_id=" + p0, token).Json();
  std::map<std::string, std::string> levels;
  for (const auto& t : manifest["tools"]) levels[t["friendly_name"]] = t["user_access_level"]["name"];
  EXPECT_EQ(levels["RFIs"], "None");
  EXPECT_EQ(levels["Submittals"], "Admin");
  EXPECT_EQ(levels["Budget"], "Read Only");
  manifest = emu.Get("/rest/v1.0/settings/permissions?company_id=" + c, token).Json();
  levels.clear();
  for (const auto& t : manifest["tools"]) levels[t["friendly_name"]] = t["user_access_level"]["name"];
  EXPECT_EQ(levels["Webhooks API"], "Standard");
  EXPECT_EQ(levels["Directory"], "None");
  EXPECT_EQ(emu.Get("/rest/v1.0/settings/permissions?project_id=" + p2, token).status, 403);

  // The truth for this app counts only the projects it can see.
  auto truth = emu.Control(
      "GET", "/_emulator/truth?company_id=" + c + "&client_id=" + app.client_id + "&stream=projects", nullptr,
      200);
  ASSERT_EQ(truth["streams"].size(), 1u);
  EXPECT_EQ(truth["streams"][0]["count"], 2);
  auto listed = emu.GetAll("/rest/v1.1/projects?company_id=" + c, token);
  EXPECT_EQ(StreamChecksum(listed), truth["streams"][0]["checksum"]);
  // Unknown paths are Procore's 404.
  EXPECT_EQ(emu.Get("/rest/v1.0/no_such_thing", token).status, 404);
}

TEST_F(EmulatorApi, PagingThroughEveryStreamYieldsTheTruthAfterChanges) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  auto applied =
      emu.Control("POST", "/_emulator/companies/" + c + "/changes", {{"count", 120}, {"seed", 3}}, 200);
  EXPECT_EQ(applied["applied"], 120);

  auto truth = emu.Control("GET", "/_emulator/truth?company_id=" + c, nullptr, 200);
  ASSERT_EQ(truth["streams"].size(), 4u + 12u * emu.project_ids().size());
  for (const auto& entry : truth["streams"]) {
    std::string stream = entry["stream"];
    int64_t project = entry["project_id"].is_null() ? 0 : entry["project_id"].get<int64_t>();
    std::vector<json> records = emu.GetAll(StreamPath(emu, token, stream, project), token, 7);
    EXPECT_EQ(static_cast<int64_t>(records.size()), entry["count"].get<int64_t>())
        << stream << " " << project;
    EXPECT_EQ(StreamChecksum(records), entry["checksum"]) << stream << " " << project;
  }
}

TEST_F(EmulatorApi, PagingHeadersFollowProcore) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  auto first = emu.Get("/rest/v1.3/companies/" + c + "/users?per_page=10", token);
  ASSERT_EQ(first.status, 200);
  int total = std::stoi(first.Header("Total"));
  EXPECT_GT(total, 10);
  EXPECT_EQ(first.Header("Per-Page"), "10");
  EXPECT_NE(first.Header("Link").find("rel=\"next\""), std::string::npos);
  EXPECT_NE(first.Header("Link").find("rel=\"last\""), std::string::npos);
  EXPECT_EQ(first.Header("Link").find("rel=\"prev\""), std::string::npos);
  int last = (total + 9) / 10;
  auto end = emu.Get("/rest/v1.3/companies/" + c + "/users?per_page=10&page=" + std::to_string(last), token);
  EXPECT_EQ(end.Header("Link").find("rel=\"next\""), std::string::npos);
  EXPECT_NE(end.Header("Link").find("rel=\"prev\""), std::string::npos);
  // per_page above the endpoint's maximum is capped (v1.1 projects: 300).
  auto capped = emu.Get("/rest/v1.1/projects?company_id=" + c + "&per_page=5000", token);
  EXPECT_EQ(capped.Header("Per-Page"), "300");
  auto page_zero = emu.Get("/rest/v1.1/projects?company_id=" + c + "&page=0", token);
  EXPECT_EQ(page_zero.status, 400);
  EXPECT_NE(page_zero.body.find("page"), std::string::npos) << page_zero.body;
  // A page whose offset does not fit in 64 bits is past the end: empty, with the same Total (it was a crash
  // or a wrapped-around offset before). Lists paged from the world, sorted lists and the hand-made ones.
  const std::string far = "&page=9223372036854775807";
  for (const std::string& path : {"/rest/v1.3/companies/" + c + "/users?per_page=1000" + far,
                                  "/rest/v1.3/companies/" + c + "/users?per_page=1000&sort=name" + far,
                                  "/rest/v1.1/projects?company_id=" + c + "&per_page=300" + far,
                                  "/rest/v1.0/companies?per_page=1000" + far}) {
    auto beyond = emu.Get(path, token);
    ASSERT_EQ(beyond.status, 200) << path << ": " << beyond.body;
    EXPECT_EQ(beyond.body, "[]") << path;
  }
  EXPECT_EQ(emu.Get("/rest/v1.3/companies/" + c + "/users?per_page=1000" + far, token).Header("Total"),
            std::to_string(total));
}

TEST_F(EmulatorApi, UpdatedAtFilterAndIncludeDeletedFindTheChanges) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  std::string since = emu.Control("GET", "/_emulator/clock")["now"];
  emu.Control("POST", "/_emulator/companies/" + c + "/changes",
              {{"count", 60}, {"seed", 9}, {"streams", {"work_order_contracts", "change_events"}}}, 200);
  int64_t changed = 0, deleted = 0;
  for (int64_t p : emu.project_ids()) {
    std::string path = "/rest/v1.0/work_order_contracts?project_id=" + std::to_string(p);
    auto recent = emu.GetAll(path + "&filters[updated_at]=" + since + "...2100-01-01", token);
    for (const auto& r : recent) EXPECT_GE(r["updated_at"].get<std::string>(), since);
    changed += static_cast<int64_t>(recent.size());
    auto only = emu.GetAll(path + "&filters[include_deleted]=only", token);
    for (const auto& r : only) EXPECT_FALSE(r["deleted_at"].is_null());
    deleted += static_cast<int64_t>(only.size());
    auto with = emu.GetAll(path + "&filters[include_deleted]=with", token);
    EXPECT_EQ(with.size(), emu.GetAll(path, token).size() + only.size());
  }
  EXPECT_GT(changed, 0);
  EXPECT_GT(deleted, 0);
  auto bad = emu.Get("/rest/v1.0/work_order_contracts?project_id=" + std::to_string(emu.project_ids()[0]) +
                         "&filters[updated_at]=yesterday",
                     token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("updated_at"), std::string::npos) << bad.body;
}

TEST_F(EmulatorApi, ManpowerLogsWithoutDatesAreTodaysOnly) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string p = std::to_string(emu.project_ids()[0]);
  auto today = emu.Get("/rest/v1.0/projects/" + p + "/manpower_logs", token);
  ASSERT_EQ(today.status, 200);
  EXPECT_TRUE(today.Json().empty());  // every generated log is in the past
  auto all =
      emu.Get("/rest/v1.0/projects/" + p + "/manpower_logs?start_date=2020-01-01&end_date=2030-01-01", token);
  EXPECT_FALSE(all.Json().empty());
  std::string date = all.Json()[0]["date"];
  auto one_day = emu.Get("/rest/v1.0/projects/" + p + "/manpower_logs?log_date=" + date, token).Json();
  ASSERT_FALSE(one_day.empty());
  for (const auto& log : one_day) EXPECT_EQ(log["date"], date);
}

TEST_F(EmulatorApi, SingleRecordsCanBeFetchedAndAreCounted) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string p = std::to_string(emu.project_ids()[0]);
  emu.Control("POST", "/_emulator/stats/reset", nullptr, 200);
  auto rfis = emu.Get("/rest/v1.0/projects/" + p + "/rfis", token).Json();
  ASSERT_FALSE(rfis.empty());
  std::string id = std::to_string(rfis[0]["id"].get<int64_t>());
  auto one = emu.Get("/rest/v1.0/projects/" + p + "/rfis/" + id, token);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.Json()["id"], rfis[0]["id"]);
  EXPECT_EQ(one.Json()["updated_at"], rfis[0]["updated_at"]);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + p + "/rfis/1", token).status, 404);
  auto stats = emu.Control("GET", "/_emulator/stats", nullptr, 200);
  EXPECT_EQ(stats["requests"], 3);
  EXPECT_EQ(stats["by_record"]["rfis:" + id], 1);
  EXPECT_EQ(stats["by_path"]["GET /rest/v1.0/projects/{project_id}/rfis/{id}"], 2);
  EXPECT_EQ(stats["by_status"]["404"], 1);
}

TEST_F(EmulatorApi, RestV2ListsWrapDataWithStringIds) {
  AppCredentials app = emu.CreateApp();
  json perms = EmulatorClient::AllToolsAt("read_only");
  perms["project"]["Prime Contracts"] = "none";
  emu.Install(app, perms);
  std::string token = emu.Token(app);
  std::string base = "/rest/v2.0/companies/" + std::to_string(emu.company_id()) + "/projects/" +
                     std::to_string(emu.project_ids()[0]);
  auto v2 = emu.Get(base + "/submittals", token);
  ASSERT_EQ(v2.status, 200) << v2.body;
  ASSERT_TRUE(v2.Json()["data"].is_array());
  EXPECT_LE(v2.Json()["data"].size(), 10u);
  EXPECT_EQ(v2.Header("Per-Page"), "10");
  EXPECT_TRUE(v2.Json()["data"][0]["id"].is_string());
  auto v1 = emu.Get("/rest/v1.1/projects/" + std::to_string(emu.project_ids()[0]) + "/submittals?per_page=1",
                    token);
  EXPECT_EQ(v2.Json()["data"][0]["id"], std::to_string(v1.Json()[0]["id"].get<int64_t>()));
  auto denied = emu.Get(base + "/prime_contracts", token);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.Json()["error"]["code"], "FORBIDDEN");
}

TEST_F(EmulatorApi, SpikeLimitAnswers429WithHeaders) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  emu.Control("PUT", "/_emulator/faults",
              {{"rate_limit", {{"hourly", 1000}, {"spike", 5}, {"spike_window_s", 60}}}}, 200);
  int64_t last_remaining = 1000;
  for (int i = 0; i < 5; ++i) {
    auto a = emu.Get("/rest/v1.0/me", token);
    ASSERT_EQ(a.status, 200) << i;
    EXPECT_EQ(a.Header("X-Rate-Limit-Limit"), "5");
    int64_t remaining = std::stoll(a.Header("X-Rate-Limit-Remaining"));
    EXPECT_LT(remaining, last_remaining);
    last_remaining = remaining;
    EXPECT_FALSE(a.Header("X-Rate-Limit-Reset").empty());
  }
  auto limited = emu.Get("/rest/v1.0/me", token);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Header("X-Rate-Limit-Remaining"), "0");
  EXPECT_NE(limited.Json()["errors"].get<std::string>().find("surpassed"), std::string::npos);
  EXPECT_EQ(emu.Control("GET", "/_emulator/stats")["rate_limited"], 1);
  // Failed calls count as well: a 404 uses the same budget.
  emu.Control("PUT", "/_emulator/faults",
              {{"rate_limit", {{"hourly", 2}, {"spike", 100}, {"spike_window_s", 10}}}}, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/1/rfis", token).status, 404);
  auto hourly = emu.Get("/rest/v1.0/me", token);
  EXPECT_EQ(hourly.status, 200);
  EXPECT_EQ(hourly.Header("X-Rate-Limit-Limit"), "2");
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 429);
}

TEST_F(EmulatorApi, ControlBodiesOfTheWrongShapeAreRefusedAndChangeNothing) {
  // An app's name or kind that is not a string was a 500; a rate_limit that is not an object was ignored.
  for (const nlohmann::json& body : {nlohmann::json{{"name", 5}}, nlohmann::json{{"kind", true}}}) {
    auto refused = emu.Control("POST", "/_emulator/apps", body, 400);
    EXPECT_EQ(refused["error"]["code"], "invalid_app") << refused;
    EXPECT_FALSE(refused["error"]["fix"].get<std::string>().empty()) << refused;
  }
  EXPECT_TRUE(emu.Control("GET", "/_emulator/apps", nullptr, 200).empty()) << "no app was created";
  const nlohmann::json before = emu.Control("GET", "/_emulator/faults", nullptr, 200);
  auto refused = emu.Control("PUT", "/_emulator/faults", {{"latency_ms", 40}, {"rate_limit", 5}}, 400);
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("rate_limit must be an object"),
            std::string::npos)
      << refused;
  EXPECT_EQ(emu.Control("GET", "/_emulator/faults", nullptr, 200), before)
      << "nothing of the body was applied";
  // Numbers out of range or of the wrong kind: a latency that would stall every call, a token lifetime or a
  // window that would overflow the clock's arithmetic, a fraction where a whole number goes, a rate as a
  // string.
  const std::vector<std::pair<nlohmann::json, std::string>> wrong = {
      {{{"latency_ms", 9'000'000'000'000'000'000LL}}, "latency_ms must be a whole number from 0 to 600000"},
      {{{"token_lifetime_s", 9'000'000'000'000'000'000LL}}, "token_lifetime_s must be a whole number"},
      {{{"rate_limit", {{"spike_window_s", 0}}}}, "rate_limit.spike_window_s must be a whole number"},
      {{{"retry_after_s", 1.5}}, "retry_after_s must be a whole number"},
      {{{"error_rate", "0.5"}}, "error_rate must be a number"}};
  for (const auto& [body, says] : wrong) {
    auto answer = emu.Control("PUT", "/_emulator/faults", body, 400);
    EXPECT_EQ(answer["error"]["code"], "invalid_faults") << answer;
    EXPECT_NE(answer["error"]["message"].get<std::string>().find(says), std::string::npos) << answer;
  }
  EXPECT_EQ(emu.Control("GET", "/_emulator/faults", nullptr, 200), before) << "nothing of those was applied";
}

// A demo's app registered again after the emulator restarted keeps the credentials KTrack has stored.
TEST_F(EmulatorApi, AnAppCanBeRegisteredAgainWithTheCredentialsItHad) {
  const std::string id = std::string(64, 'a'), secret = "s3cret-" + std::string(40, 'b');
  auto app = emu.Control("POST", "/_emulator/apps",
                         {{"name", "KTrack (demo)"}, {"client_id", id}, {"client_secret", secret}}, 200);
  EXPECT_EQ(app["client_id"], id);
  EXPECT_EQ(app["client_secret"], secret);
  auto token = emu.Request(
      "POST", "/oauth/token",
      nlohmann::json{{"grant_type", "client_credentials"}, {"client_id", id}, {"client_secret", secret}}
          .dump(),
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(token.status, 200) << token.body;

  auto taken = emu.Control("POST", "/_emulator/apps", {{"client_id", id}, {"client_secret", secret}}, 409);
  EXPECT_EQ(taken["error"]["code"], "app_exists") << taken;
  const std::vector<std::pair<nlohmann::json, std::string>> wrong = {
      {{{"client_id", std::string(64, 'c')}}, "go together"},
      {{{"client_id", "short"}, {"client_secret", secret}}, "client_id must be 16 to 128"},
      {{{"client_id", std::string(64, 'd')}, {"client_secret", "has spaces in it, many"}},
       "client_secret must be"},
      {{{"client_id", 42}, {"client_secret", secret}}, "client_id must be a string"}};
  for (const auto& [body, says] : wrong) {
    auto refused = emu.Control("POST", "/_emulator/apps", body, 400);
    EXPECT_EQ(refused["error"]["code"], "invalid_app") << refused;
    EXPECT_NE(refused["error"]["message"].get<std::string>().find(says), std::string::npos) << refused;
  }
  EXPECT_EQ(emu.Control("GET", "/_emulator/apps", nullptr, 200).size(), 1u) << "only the first was created";
}

// A new client secret from the Developer Portal: the old secret and the app's tokens stop working.
TEST_F(EmulatorApi, ARegeneratedSecretRetiresTheOldOneAndTheAppsTokens) {
  AppCredentials app = emu.CreateApp();
  auto token_for = [&](const std::string& secret) {
    return emu.Request(
        "POST", "/oauth/token",
        nlohmann::json{
            {"grant_type", "client_credentials"}, {"client_id", app.client_id}, {"client_secret", secret}}
            .dump(),
        {{"Content-Type", "application/json"}});
  };
  auto info = [&](const std::string& token) {
    return emu.Request("GET", "/oauth/token/info", {}, {{"Authorization", "Bearer " + token}}).status;
  };
  auto before = token_for(app.client_secret);
  ASSERT_EQ(before.status, 200) << before.body;
  const std::string old_token = before.Json()["access_token"];
  ASSERT_EQ(info(old_token), 200);

  auto fresh = emu.Control("POST", "/_emulator/apps/" + app.client_id + "/secret", nullptr, 200);
  const std::string secret = fresh["client_secret"];
  EXPECT_NE(secret, app.client_secret);
  EXPECT_EQ(token_for(app.client_secret).status, 401);
  EXPECT_EQ(info(old_token), 401);
  auto after = token_for(secret);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(info(after.Json()["access_token"]), 200);
  EXPECT_EQ(emu.Control("POST", "/_emulator/apps/nope/secret", nullptr, 404)["error"]["code"],
            "app_not_found");
}

TEST_F(EmulatorApi, InjectedErrorsAndTimeouts) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  emu.Control("PUT", "/_emulator/faults", {{"error_rate", 1.0}}, 200);
  bool saw_503 = false;
  for (int i = 0; i < 12; ++i) {
    auto a = emu.Get("/rest/v1.0/me", token);
    EXPECT_GE(a.status, 500);
    if (a.status == 503) {
      saw_503 = true;
      EXPECT_FALSE(a.Header("Retry-After").empty());
    }
  }
  EXPECT_TRUE(saw_503);
  emu.Control("PUT", "/_emulator/faults", {{"error_rate", 0.0}, {"timeout_rate", 1.0}}, 200);
  kt::http::ClientRequest req;
  req.url = emu.base_url() + "/rest/v1.0/me";
  req.headers.Add("Authorization", "Bearer " + token);
  req.headers.Add("Procore-Company-Id", std::to_string(emu.company_id()));
  req.timeout = std::chrono::milliseconds(700);
  auto hung = kt::http::Fetch(req);
  EXPECT_TRUE(hung.timed_out || hung.status == 0);
  emu.Control("PUT", "/_emulator/faults", {{"timeout_rate", 0.0}, {"latency_ms", 50}}, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST_F(EmulatorApi, ThrottleAndUnavailableStormsCarryTheirRetryAfter) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  emu.Control("PUT", "/_emulator/faults", {{"throttle_rate", 1.0}, {"retry_after_s", 7}}, 200);
  for (int i = 0; i < 3; ++i) {
    auto a = emu.Get("/rest/v1.0/me", token);
    EXPECT_EQ(a.status, 429);
    EXPECT_EQ(a.Header("Retry-After"), "7");
  }
  EXPECT_EQ(emu.Control("GET", "/_emulator/stats", nullptr, 200)["rate_limited"], 3);
  emu.Control("PUT", "/_emulator/faults", {{"throttle_rate", 0.0}, {"unavailable_rate", 1.0}}, 200);
  auto down = emu.Get("/rest/v1.0/me", token);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.Header("Retry-After"), "7");
  auto faults = emu.Control("GET", "/_emulator/faults", nullptr, 200);
  EXPECT_EQ(faults["unavailable_rate"], 1.0);
  EXPECT_EQ(faults["retry_after_s"], 7);
  emu.Control("PUT", "/_emulator/faults", {{"unavailable_rate", 0.0}}, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 200);
  emu.Control("PUT", "/_emulator/faults", {{"throttle_rate", 1.5}}, 400);
  emu.Control("PUT", "/_emulator/faults", {{"retry_after_s", -1}}, 400);
}

TEST_F(EmulatorApi, TruthListsItsRecordsOnRequest) {
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  emu.Control("POST", "/_emulator/companies/" + c + "/changes",
              {{"count", 40}, {"streams", {"rfis"}}, {"seed", 2}}, 200);
  const int64_t project = emu.project_ids()[0];
  auto truth = emu.Control("GET",
                           "/_emulator/truth?company_id=" + c +
                               "&stream=rfis&project_id=" + std::to_string(project) + "&records=true",
                           nullptr, 200);
  ASSERT_EQ(truth["streams"].size(), 1u);
  const auto& entry = truth["streams"][0];
  std::vector<json> listed =
      emu.GetAll("/rest/v1.0/projects/" + std::to_string(project) + "/rfis", token, 100);
  ASSERT_EQ(entry["records"].size(), listed.size());
  EXPECT_EQ(entry["count"].get<size_t>(), listed.size());
  std::set<std::string> from_list, from_truth;
  for (const auto& r : listed)
    from_list.insert(std::to_string(r["id"].get<int64_t>()) + ":" + r["updated_at"].get<std::string>());
  for (const auto& r : entry["records"])
    from_truth.insert(std::to_string(r["id"].get<int64_t>()) + ":" + r["updated_at"].get<std::string>());
  EXPECT_EQ(from_truth, from_list);
  EXPECT_EQ(StreamChecksum(entry["records"].get<std::vector<json>>()), entry["checksum"]);
  // Without the flag, no records; a bad flag is refused.
  EXPECT_FALSE(
      emu.Control("GET", "/_emulator/truth?company_id=" + c + "&stream=rfis", nullptr, 200)["streams"][0]
          .contains("records"));
  emu.Control("GET", "/_emulator/truth?company_id=" + c + "&records=yes", nullptr, 400);
}

TEST(EmulatorClock, TokensExpireOnTheScaledClock) {
  EmulatorClient emu({"--preset", "small", "--seed", "7", "--time-scale", "3600"});
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 200);
  // 5,400 emulated seconds are 1.5 real seconds at this scale.
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  auto expired = emu.Get("/rest/v1.0/me", token);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.Json()["errors"],
            "Your access token has expired, please use your refresh token to obtain a fresh token.");
  EXPECT_EQ(emu.Get("/rest/v1.0/me", emu.Token(app)).status, 200);
}

TEST(EmulatorClock, TokenLifetimeIsAFaultKnob) {
  EmulatorClient emu;
  emu.Control("PUT", "/_emulator/faults", {{"token_lifetime_s", 60}}, 200);
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  auto a = emu.Request(
      "POST", "/oauth/token",
      "grant_type=client_credentials&client_id=" + app.client_id + "&client_secret=" + app.client_secret,
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(a.Json()["expires_in"], 60);
  std::string token = a.Json()["access_token"];
  emu.Control("POST", "/_emulator/clock/advance", {{"seconds", 61}}, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/me", token).status, 401);
}

}  // namespace
}  // namespace procore_emulator::testing
