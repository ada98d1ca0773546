// The Procore integration's JSON API and webhook receiver end to end: `ktrack serve` and the Procore emulator
// as child processes on loopback, driven as a customer and as Procore would.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "crypto/master_key.h"
#include "crypto/secret_store.h"
#include "harness.h"
#include "http/client.h"
#include "process.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/strings.h"
#include "webhook_delivery.h"
#include "webhook_secret.h"

namespace kt::testing {
namespace {

using nlohmann::json;

struct App {
  std::string client_id;
  std::string client_secret;
};

class IntegrationApiTest : public EmulatorServeTest {
 protected:
  static void SetUpTestSuite() {
    StartSuite("small", 7);
    if (HasFatalFailure()) return;
    ASSERT_GE(projects_.size(), 3u);
    app_ = NewApp("KTrack", "dmsa");
    InstallApp(app_, DefaultPermissions(), "all", /*create=*/true);
  }
  static void TearDownTestSuite() { StopSuite(); }

  static json DefaultPermissions() {
    // Company Admin at admin level: the project lists show every project, permitted or not.
    return {{"company", {{"Admin", "admin"}, {"Directory", "read_only"}, {"Webhooks API", "standard"}}},
            {"project", {{"Admin", "read_only"}, {"Budget", "read_only"}, {"RFIs", "read_only"}}}};
  }
  static App NewApp(const std::string& name, const std::string& kind) {
    auto a = Call("POST", emu_ + "/_emulator/apps", {{"name", name}, {"kind", kind}});
    EXPECT_EQ(a.status, 200) << a.text;
    return {a.body["client_id"], a.body["client_secret"]};
  }
  static void InstallApp(const App& app, const json& permissions, const json& permitted, bool create) {
    json body = {{"permissions", permissions}, {"permitted_projects", permitted}};
    Answer a;
    if (create) {
      body["client_id"] = app.client_id;
      a = Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/installs", body);
    } else {
      a = Call("PATCH",
               emu_ + "/_emulator/companies/" + std::to_string(company_) + "/installs/" + app.client_id,
               body);
    }
    EXPECT_LT(a.status, 300) << a.text;
  }
  static void SetTool(int64_t project, const std::string& tool, bool active) {
    auto a =
        Call("PUT", emu_ + "/_emulator/projects/" + std::to_string(project) + "/tools/" + UrlEncode(tool),
             {{"active", active}});
    EXPECT_EQ(a.status, 200) << a.text;
  }

  static Tenant NewTenant(const std::string& name) { return testing::NewTenant(name, dir_->path()); }

  static json CustomCredentials(const App& app) {
    return {{"client_id", app.client_id},
            {"client_secret", app.client_secret},
            {"environment", "custom"},
            {"login_url", emu_},
            {"api_url", emu_}};
  }

  // Runs the wizard up to permissions_verified with the given domains.
  static void ConnectUntilPermissionsVerified(const Tenant& t, const json& domains) {
    ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
    auto v = As(t, "POST", "/credentials/verify", {{"company_id", company_}});
    ASSERT_EQ(v.status, 200) << v.text;
    auto s = As(t, "PUT", "/settings",
                {{"company_id", company_}, {"domains", domains}, {"reconcile_interval_s", 3600}});
    ASSERT_EQ(s.status, 200) << s.text;
    auto p = As(t, "POST", "/permissions/verify", json::object());
    ASSERT_EQ(p.status, 200) << p.text;
    ASSERT_TRUE(p.body["ok"].get<bool>()) << p.text;
  }

  static json WaitForStatus(const Tenant& t, const std::string& status,
                            std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto g = As(t, "GET", "");
      last = g.body;
      if (g.status == 200 && g.body["status"] == status) return g.body;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ADD_FAILURE() << "status never became " << status << ": " << last.dump();
    return last;
  }

  // A token for the emulator's API, as the app: to look at hooks the way Procore holds them.
  static std::vector<json> HooksInProcore(const App& app) {
    http::ClientRequest r;
    r.method = "POST";
    r.url = emu_ + "/oauth/token";
    r.headers.Add("Content-Type", "application/x-www-form-urlencoded");
    r.body = "grant_type=client_credentials&client_id=" + UrlEncode(app.client_id) +
             "&client_secret=" + UrlEncode(app.client_secret);
    auto t = http::Fetch(r);
    std::string token = json::parse(t.body)["access_token"];
    std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token},
                                                          {"Procore-Company-Id", std::to_string(company_)}};
    auto hooks =
        Call("GET",
             emu_ + "/rest/v1.0/webhooks/hooks?company_id=" + std::to_string(company_) + "&namespace=ktrack",
             nullptr, h);
    std::vector<json> out;
    for (auto hook : hooks.body) {
      auto triggers = Call("GET",
                           emu_ + "/rest/v1.0/webhooks/hooks/" + std::to_string(hook["id"].get<int64_t>()) +
                               "/triggers?company_id=" + std::to_string(company_),
                           nullptr, h);
      hook["triggers_list"] = triggers.body;
      out.push_back(hook);
    }
    return out;
  }

  // The current webhook secret, read the way the server reads it (white box: Procore holds it, KTrack never
  // shows it).
  static std::string WebhookSecret(int64_t client_id, const std::string& purpose = "procore.webhook_secret") {
    return ReadWebhookSecret(dir_->path(), client_id, purpose);
  }
  static int64_t CountRows(const std::string& sql) {
    auto store = store::OpenStore("sqlite:" + dir_->path() + "/ktrack.db");
    auto r = (*store)->Query(sql);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? r->rows[0].Int(0) : -1;
  }

  static App app_;
};
App IntegrationApiTest::app_;

TEST_F(IntegrationApiTest, NotStartedIntegrationDescribesItself) {
  Tenant t = NewTenant("Fresh Co");
  auto g = As(t, "GET", "");
  ASSERT_EQ(g.status, 200) << g.text;
  EXPECT_EQ(g.body["status"], "not_started");
  EXPECT_TRUE(g.body["credentials"].is_null());
  EXPECT_TRUE(g.body["streams"].is_array());
  EXPECT_FALSE(g.body["next_step"].get<std::string>().empty());
}

TEST_F(IntegrationApiTest, SecretIsStoredEncryptedAndShownMasked) {
  Tenant t = NewTenant("Mask Co");
  auto put = As(t, "PUT", "/credentials", CustomCredentials(app_));
  ASSERT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body["status"], "credentials_saved");
  EXPECT_EQ(put.text.find(app_.client_secret), std::string::npos) << "the secret is never returned";
  auto g = As(t, "GET", "");
  EXPECT_EQ(g.text.find(app_.client_secret), std::string::npos);
  EXPECT_EQ(g.body["credentials"]["client_secret"],
            "••••••••" + app_.client_secret.substr(app_.client_secret.size() - 4));
  EXPECT_EQ(g.body["credentials"]["client_id"], app_.client_id);
  // Not in the database in plain text either.
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM procore_integrations WHERE settings_json LIKE '%" +
                      app_.client_secret + "%' OR companies_json LIKE '%" + app_.client_secret +
                      "%' OR client_secret_hint = '" + app_.client_secret + "'"),
            0);
  auto audit = As(t, "GET", "/audit");
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ(audit.text.find(app_.client_secret), std::string::npos);
  EXPECT_EQ(audit.body[0]["action"], "integration.credentials_saved");
  EXPECT_EQ(audit.body[0]["user_email"], t.admin_email);  // who, as the page shows it
}

TEST_F(IntegrationApiTest, AnotherClientOnTheSameProcoreCompanyIsAWarningThatNamesNoOtherClient) {
  // Connected integrations of other tests' tenants on the suite's company, apart from the two made here.
  auto others = [&](const std::vector<int64_t>& besides) {
    std::string sql =
        "SELECT COUNT(*) FROM procore_integrations WHERE company_id = " + std::to_string(company_) +
        " AND status NOT IN ('disconnected', 'not_started')";
    for (int64_t id : besides) sql += " AND client_id <> " + std::to_string(id);
    return CountRows(sql);
  };
  Tenant a = NewTenant("Harbour Owner Co");
  ASSERT_EQ(As(a, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
  const int64_t before = others({a.client_id});
  auto va = As(a, "POST", "/credentials/verify", {{"company_id", company_}});
  ASSERT_EQ(va.status, 200) << va.text;
  EXPECT_EQ(va.body["warnings"].size(), before > 0 ? 1u : 0u) << va.text;

  Tenant b = NewTenant("Second Builder Co");
  ASSERT_EQ(As(b, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
  auto vb = As(b, "POST", "/credentials/verify", {{"company_id", company_}});
  ASSERT_EQ(vb.status, 200) << vb.text;
  ASSERT_EQ(vb.body["warnings"].size(), 1u) << vb.text;
  const json& w = vb.body["warnings"][0];
  EXPECT_EQ(w["code"], "company_connected_elsewhere");
  EXPECT_EQ(w["message"], "Another KTrack client is connected to this Procore company too.");
  const std::string fix = w["fix"].get<std::string>();
  EXPECT_NE(fix.find(vb.body["company"]["name"].get<std::string>() + " (" + std::to_string(company_) + ")"),
            std::string::npos)
      << fix;
  EXPECT_NE(fix.find("Change credentials"), std::string::npos) << fix;
  // Tenant isolation: nothing says which client.
  EXPECT_EQ(vb.text.find("Harbour Owner Co"), std::string::npos) << vb.text;
  EXPECT_EQ(As(b, "GET", "").body["warnings"], vb.body["warnings"]);
  EXPECT_EQ(As(a, "GET", "").body["warnings"].size(), 1u);  // and the first sees it now

  // A disconnected integration no longer counts.
  auto d = As(a, "DELETE", "", {{"purge_data", false}});
  ASSERT_EQ(d.status, 200) << d.text;
  EXPECT_TRUE(As(a, "GET", "").body["warnings"].empty());
  EXPECT_EQ(As(b, "GET", "").body["warnings"].size(), others({a.client_id, b.client_id}) > 0 ? 1u : 0u);
}

TEST_F(IntegrationApiTest, EachVerificationFailureHasItsOwnCode) {
  Tenant t = NewTenant("Errors Co");
  auto expect_code = [&](const json& credentials, const json& verify_body, const std::string& code) {
    auto put = As(t, "PUT", "/credentials", credentials);
    ASSERT_EQ(put.status, 200) << put.text;
    auto v = As(t, "POST", "/credentials/verify", verify_body);
    EXPECT_EQ(v.status, 422) << code << ": " << v.text;
    EXPECT_EQ(v.body["error"]["code"], code) << v.text;
    EXPECT_FALSE(v.body["error"]["message"].get<std::string>().empty());
    EXPECT_FALSE(v.body["error"]["fix"].get<std::string>().empty());
    EXPECT_EQ(As(t, "GET", "").body["status"], "credentials_saved")
        << "a failed verification changes nothing";
  };
  json wrong = CustomCredentials(app_);
  wrong["client_secret"] = "not-the-right-secret-at-all";
  expect_code(wrong, {{"company_id", company_}}, "invalid_credentials");

  App legacy = NewApp("Old service account", "legacy_service_account");
  expect_code(CustomCredentials(legacy), {{"company_id", company_}}, "service_account_retired");

  App lonely = NewApp("Never installed", "dmsa");
  expect_code(CustomCredentials(lonely), {{"company_id", company_}}, "app_not_installed");

  expect_code(CustomCredentials(app_), {{"company_id", company_ + 12345}}, "company_not_found");

  json unreachable = CustomCredentials(app_);
  unreachable["login_url"] = "http://127.0.0.1:9";
  unreachable["api_url"] = "http://127.0.0.1:9";
  expect_code(unreachable, {{"company_id", company_}}, "procore_unreachable");

  // The right ones, then: verified, the company identified.
  ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
  auto v = As(t, "POST", "/credentials/verify", {{"company_id", company_}});
  ASSERT_EQ(v.status, 200) << v.text;
  EXPECT_TRUE(v.body["ok"].get<bool>());
  EXPECT_EQ(v.body["company"]["id"], company_);
  EXPECT_EQ(v.body["company"]["name"], company_name_);
  EXPECT_EQ(As(t, "GET", "").body["status"], "credentials_verified");
}

TEST_F(IntegrationApiTest, CustomUrlsAreRefusedUnlessTheServerAllowsThem) {
  TempDir other;
  ChildProcess strict;
  std::string d = other.path();
  int64_t client =
      json::parse(RunKtrack({"client", "add", "--name", "Strict", "--json"}, d))["id"].get<int64_t>();
  RunKtrack({"user", "add", "--client", std::to_string(client), "--email", "a@strict.test", "--password",
             "correct horse", "--role", "admin", "--json"},
            d);
  std::string token =
      json::parse(RunKtrack({"token", "create", "--email", "a@strict.test", "--json"}, d))["token"];
  strict.Start({BinPath("ktrack"), "serve", "--listen", "127.0.0.1:0", "--data-dir", d}, {},
               d + "/server.log");
  std::string url = strict.WaitForListening();
  auto r = Call("PUT", url + "/api/v1/clients/" + std::to_string(client) + "/procore/credentials",
                CustomCredentials(app_), {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_EQ(r.body["error"]["code"], "custom_urls_not_allowed");
  auto g = Call("GET", url + "/api/v1/clients/" + std::to_string(client) + "/procore", nullptr,
                {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(g.body["status"], "not_started");
  strict.Signal(SIGTERM);
  strict.Wait();
}

TEST_F(IntegrationApiTest, CredentialsWithAFieldOfTheWrongTypeAreRefusedForThatField) {
  Tenant t = NewTenant("Types Co");
  json marketplace = CustomCredentials(app_);
  marketplace["use_marketplace_app"] = "yes";
  json login = CustomCredentials(app_);
  login["login_url"] = 5;
  json api = CustomCredentials(app_);
  api["api_url"] = json::object();
  json company = CustomCredentials(app_);
  company["company_id"] = "the big one";
  for (const auto& [body, message] : std::vector<std::pair<json, std::string>>{
           {marketplace, "'use_marketplace_app' must be true or false."},
           {login, "'login_url' must be a string."},
           {api, "'api_url' must be a string."},
           {company, "'company_id' must be an integer."}}) {
    auto refused = As(t, "PUT", "/credentials", body);
    EXPECT_EQ(refused.status, 400) << refused.text;
    EXPECT_EQ(refused.body["error"]["code"], "invalid_field") << refused.text;
    EXPECT_EQ(refused.body["error"]["message"], message) << refused.text;
  }
  json environment = CustomCredentials(app_);
  environment["environment"] = 3;
  auto refused = As(t, "PUT", "/credentials", environment);
  EXPECT_EQ(refused.status, 400) << refused.text;
  EXPECT_EQ(refused.body["error"]["code"], "invalid_environment") << refused.text;
  EXPECT_EQ(refused.body["error"]["message"], "'environment' must be a string.") << refused.text;
  EXPECT_NE(refused.body["error"]["fix"].get<std::string>().find("\"sandbox\""), std::string::npos)
      << refused.text;
  EXPECT_EQ(As(t, "GET", "").body["status"], "not_started") << "nothing was saved";
}

TEST_F(IntegrationApiTest, RecordsQueryNamesWhatIsWrongWithIt) {
  Tenant t = NewTenant("Records Co");
  const std::pair<std::string, std::string> refused[] = {
      {"/records", "'stream' is required."},
      {"/records?stream=timesheets", "There is no stream \"timesheets\"."},
      {"/records?stream=rfis&page=abc", "page"},
      {"/records?stream=rfis&per_page=ten", "per_page"},
      {"/records?stream=rfis&project_id=x", "project_id"},
      {"/records?stream=rfis&page=0", "'page' must be a whole number of 1 or more."},
      {"/records?stream=rfis&per_page=-1", "'per_page' must be a whole number of 1 or more."},
      {"/records?stream=rfis&project_id=-4", "'project_id' must be a whole number of 1 or more."},
      {"/audit?limit=0", "'limit' must be a whole number of 1 or more."},
      {"/records?stream=rfis&include_deleted=maybe", "'include_deleted' must be true or false."},
      {"/records?stream=rfis&q=" + std::string(201, 'x'), "'q' is longer than 200 characters."},
      {"/projects?linked=maybe", "'linked' must be true or false."},
      {"/projects?active=yes", "'active' must be true or false."}};
  for (const auto& [query, says] : refused) {
    auto r = As(t, "GET", query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.text;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(says), std::string::npos)
        << query << ": " << r.text;
    EXPECT_FALSE(r.body["error"]["fix"].get<std::string>().empty()) << query;
  }
  // A known stream with nothing synced yet is an empty page, not an error.
  auto empty = As(t, "GET", "/records?stream=rfis");
  ASSERT_EQ(empty.status, 200) << empty.text;
  EXPECT_EQ(empty.body["total"], 0);
  // So is a page so far that page × per_page does not fit in 64 bits.
  auto far = As(t, "GET", "/records?stream=rfis&per_page=1000&page=9223372036854775807");
  ASSERT_EQ(far.status, 200) << far.text;
  EXPECT_TRUE(far.body["records"].empty()) << far.text;
  EXPECT_EQ(far.body["page"], std::numeric_limits<int64_t>::max());
}

TEST_F(IntegrationApiTest, IllegalTransitionsAreRefusedWithTheNextStep) {
  Tenant t = NewTenant("Order Co");
  auto settings = As(t, "PUT", "/settings", {{"domains", {"rfis"}}});
  EXPECT_EQ(settings.status, 409);
  EXPECT_EQ(settings.body["error"]["code"], "invalid_state");
  EXPECT_EQ(As(t, "POST", "/complete", json::object()).body["error"]["code"], "invalid_state");
  // Each refusal names the state and says what to do first.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/permissions/verify"},
                                                        {"POST", "/credentials/verify"},
                                                        {"DELETE", ""},
                                                        {"POST", "/webhooks/rotate-secret"}}) {
    auto refused = As(t, method, path, json::object());
    EXPECT_EQ(refused.status, 409) << method << " " << path;
    EXPECT_EQ(refused.body["error"]["code"], "invalid_state")
        << method << " " << path << ": " << refused.text;
    EXPECT_FALSE(refused.body["error"]["fix"].get<std::string>().empty()) << method << " " << path;
  }

  ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
  settings = As(t, "PUT", "/settings", {{"domains", {"rfis"}}});
  EXPECT_EQ(settings.status, 409);
  EXPECT_EQ(settings.body["error"]["message"], "Verify the credentials before choosing settings.");
  ASSERT_EQ(As(t, "POST", "/credentials/verify", {{"company_id", company_}}).status, 200);
  auto complete = As(t, "POST", "/complete", json::object());
  EXPECT_EQ(complete.status, 409);
  EXPECT_NE(complete.body["error"]["message"].get<std::string>().find("settings"), std::string::npos);

  // Settings validation.
  auto unknown = As(t, "PUT", "/settings", {{"company_id", company_}, {"domains", {"rfis", "timesheets"}}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body["error"]["code"], "unknown_domain");
  EXPECT_NE(unknown.body["error"]["message"].get<std::string>().find("timesheets"), std::string::npos);
  auto interval = As(t, "PUT", "/settings",
                     {{"company_id", company_}, {"domains", {"rfis"}}, {"reconcile_interval_s", 5}});
  EXPECT_EQ(interval.status, 400);
  EXPECT_EQ(interval.body["error"]["code"], "reconcile_interval_out_of_range") << interval.text;
  auto ok = As(t, "PUT", "/settings", {{"company_id", company_}, {"domains", {"rfis"}}});
  ASSERT_EQ(ok.status, 200) << ok.text;
  EXPECT_EQ(ok.body["status"], "configured");
  complete = As(t, "POST", "/complete", json::object());
  EXPECT_EQ(complete.status, 409);
  EXPECT_EQ(complete.body["error"]["message"], "Verify the permissions before completing the integration.");

  auto reqs = As(t, "GET", "/permissions/requirements");
  ASSERT_EQ(reqs.status, 200);
  std::set<std::string> tools;
  for (const auto& r : reqs.body)
    tools.insert(r["scope"].get<std::string>() + ":" + r["tool"].get<std::string>() + ":" +
                 r["level"].get<std::string>());
  EXPECT_EQ(tools, (std::set<std::string>{"company:Admin:Read Only", "company:Webhooks API:Standard",
                                          "project:RFIs:Read Only"}));
}

TEST_F(IntegrationApiTest, PermissionGridShowsEachGapWithItsFixUntilFixedInProcore) {
  Tenant t = NewTenant("Grid Co");
  App app = NewApp("KTrack grid", "dmsa");
  // RFIs missing on projects, Budget switched off on the first project, the third project not permitted.
  json perms = DefaultPermissions();
  perms["project"]["RFIs"] = "none";
  InstallApp(app, perms, json{projects_[0], projects_[1]}, true);
  SetTool(projects_[0], "Budget", false);

  ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app)).status, 200);
  ASSERT_EQ(As(t, "POST", "/credentials/verify", {{"company_id", company_}}).status, 200);
  ASSERT_EQ(As(t, "PUT", "/settings", {{"company_id", company_}, {"domains", {"budget", "rfis"}}}).status,
            200);
  auto p = As(t, "POST", "/permissions/verify", json::object());
  ASSERT_EQ(p.status, 200) << p.text;
  EXPECT_FALSE(p.body["ok"].get<bool>());
  EXPECT_EQ(p.body["status"], "configured");
  int missing = 0, disabled = 0, not_permitted = 0, ok = 0;
  for (const auto& c : p.body["checks"]) {
    const std::string status = c["status"];
    if (status == "ok") {
      ++ok;
      continue;
    }
    std::string fix = c["fix"];
    if (status == "missing") {
      ++missing;
      EXPECT_EQ(c["tool"], "RFIs");
      EXPECT_NE(fix.find("App Management → KTrack → Permissions and set RFIs to Read Only for project '"),
                std::string::npos)
          << fix;
    } else if (status == "tool_disabled") {
      ++disabled;
      EXPECT_EQ(c["tool"], "Budget");
      EXPECT_EQ(c["project_id"], projects_[0]);
      EXPECT_NE(fix.find("→ Admin → Project Tools, turn on Budget."), std::string::npos) << fix;
    } else if (status == "project_not_permitted") {
      ++not_permitted;
      EXPECT_EQ(c["project_id"], projects_[2]);
      EXPECT_NE(fix.find("App Management → KTrack → Permitted Projects, add '"), std::string::npos) << fix;
    }
  }
  EXPECT_GE(ok, 2);  // company Admin and Webhooks API
  EXPECT_EQ(missing, 2) << "RFIs on each permitted project";
  EXPECT_EQ(disabled, 1);
  EXPECT_EQ(not_permitted, 2) << "both tools on the project outside the permitted ones";
  EXPECT_EQ(As(t, "POST", "/complete", json::object()).status, 409);

  // Fixed in Procore (the emulator's control API): verified.
  InstallApp(app, DefaultPermissions(), "all", false);
  SetTool(projects_[0], "Budget", true);
  p = As(t, "POST", "/permissions/verify", json::object());
  ASSERT_EQ(p.status, 200) << p.text;
  EXPECT_TRUE(p.body["ok"].get<bool>()) << p.text;
  EXPECT_EQ(p.body["status"], "permissions_verified");
  for (const auto& c : p.body["checks"]) EXPECT_EQ(c["status"], "ok") << c.dump();
}

// With company Admin at admin level Procore lists every project, permitted or not. A customer who permits a
// few projects on purpose and links by hand is not held up by the others: they are shown, marked not needed.
// With auto-link on KTrack would link them all, so then each is a gap to fix.
TEST_F(IntegrationApiTest, ProjectsLeftOutOfThePermittedOnesHoldNothingUpUnlessAutoLinkWouldLinkThem) {
  Tenant t = NewTenant("Chosen Co");
  App app = NewApp("KTrack chosen", "dmsa");
  InstallApp(app, DefaultPermissions(), json{projects_[0], projects_[1]}, true);
  ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app)).status, 200);
  ASSERT_EQ(As(t, "POST", "/credentials/verify", {{"company_id", company_}}).status, 200);
  auto verify = [&](bool auto_link) {
    auto s = As(t, "PUT", "/settings",
                {{"company_id", company_}, {"domains", {"rfis"}}, {"auto_link_projects", auto_link}});
    EXPECT_EQ(s.status, 200) << s.text;
    auto p = As(t, "POST", "/permissions/verify", json::object());
    EXPECT_EQ(p.status, 200) << p.text;
    return p.body;
  };
  auto left_out = [&](const json& report) {
    std::set<std::pair<int64_t, bool>> out;  // (project, needed) of each not-permitted check
    for (const auto& c : report["checks"])
      if (c["status"] == "project_not_permitted")
        out.insert({c["project_id"].get<int64_t>(), c["needed"].get<bool>()});
    return out;
  };

  json by_hand = verify(false);
  EXPECT_TRUE(by_hand["ok"].get<bool>()) << by_hand.dump();
  EXPECT_EQ(by_hand["status"], "permissions_verified");
  EXPECT_EQ(left_out(by_hand), (std::set<std::pair<int64_t, bool>>{{projects_[2], false}})) << by_hand.dump();

  json automatic = verify(true);
  EXPECT_FALSE(automatic["ok"].get<bool>()) << automatic.dump();
  EXPECT_EQ(automatic["status"], "configured");
  EXPECT_EQ(left_out(automatic), (std::set<std::pair<int64_t, bool>>{{projects_[2], true}}))
      << automatic.dump();
  EXPECT_EQ(As(t, "POST", "/complete", json::object()).status, 409);

  // Linking by hand, it completes and runs with no error to show; a permitted project links.
  verify(false);
  ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
  json active = WaitForStatus(t, "active");
  EXPECT_TRUE(active["last_error"].is_null()) << active.dump();
  auto linked = As(t, "POST", "/projects/" + std::to_string(projects_[0]) + "/link", {{"create", true}});
  EXPECT_EQ(linked.status, 200) << linked.text;
  EXPECT_TRUE(linked.body["permissions"]["ok"].get<bool>()) << linked.text;

  // Linked anyway, the left-out project is needed now: the link's check says so, the integration's last check
  // takes it in, and its streams wait, paused with the fix, instead of failing.
  auto anyway = As(t, "POST", "/projects/" + std::to_string(projects_[2]) + "/link", {{"create", true}});
  ASSERT_EQ(anyway.status, 200) << anyway.text;
  EXPECT_FALSE(anyway.body["permissions"]["ok"].get<bool>()) << anyway.text;
  json row;
  for (const auto& p : As(t, "GET", "/projects?per_page=1000").body)
    if (p["id"] == projects_[2]) row = p;
  EXPECT_FALSE(row["permitted"].get<bool>()) << row.dump();
  EXPECT_EQ(row["drift"]["code"], "permissions_drift") << row.dump();
  EXPECT_FALSE(As(t, "GET", "").body["permissions"]["ok"].get<bool>());
  json stream;
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const auto& s : As(t, "GET", "/streams").body)
          if (s["stream"] == "rfis" && s["project_id"] == projects_[2]) stream = s;
        return stream.is_object() && stream["status"] == "paused";
      },
      std::chrono::seconds(20)))
      << stream.dump();
}

TEST_F(IntegrationApiTest, CompleteCreatesTheHookAndTriggersOnceAndReceivesWebhooks) {
  Tenant t = NewTenant("Complete Co");
  ConnectUntilPermissionsVerified(t, {"budget", "rfis"});
  auto c = As(t, "POST", "/complete", json::object());
  ASSERT_EQ(c.status, 202) << c.text;
  json described = WaitForStatus(t, "active");
  const std::string destination = described["webhooks"]["destination_url"];
  EXPECT_EQ(destination.rfind(base_ + "/webhooks/procore/", 0), 0u) << destination;

  auto hooks_of_client = [&] {
    std::vector<json> mine;
    for (auto& h : HooksInProcore(app_))
      if (h["destination_url"] == destination) mine.push_back(h);
    return mine;
  };
  auto resources = [](const json& hook) {
    std::set<std::string> out;
    for (const auto& tr : hook["triggers_list"])
      out.insert(tr["resource_name"].get<std::string>() + ":" + ToLower(tr["event_type"].get<std::string>()));
    return out;
  };
  auto hooks = hooks_of_client();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(resources(hooks[0]),
            (std::set<std::string>{"Budget Line Items:create", "Budget Line Items:delete",
                                   "Budget Line Items:update", "Projects:create", "Projects:delete",
                                   "Projects:update", "RFIs:create", "RFIs:delete", "RFIs:update"}));
  EXPECT_EQ(described["webhooks"]["hook_id"], hooks[0]["id"]);

  // Complete again: the same hook, the same triggers.
  ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
  WaitForStatus(t, "active");
  auto again = hooks_of_client();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]["id"], hooks[0]["id"]);
  EXPECT_EQ(resources(again[0]), resources(hooks[0]));

  // A settings change on the running integration updates the triggers.
  auto s = As(t, "PUT", "/settings", {{"domains", {"rfis"}}});
  ASSERT_EQ(s.status, 200) << s.text;
  WaitForStatus(t, "active");
  auto changed = hooks_of_client();
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(resources(changed[0]),
            (std::set<std::string>{"Projects:create", "Projects:delete", "Projects:update", "RFIs:create",
                                   "RFIs:delete", "RFIs:update"}));

  // --- The receiver ---
  const std::string secret = WebhookSecret(t.client_id);
  ASSERT_FALSE(secret.empty());
  auto deliver = [&](const std::string& url, const std::string& body, const std::string& auth,
                     const std::string& type = "application/json") {
    http::ClientRequest r;
    r.method = "POST";
    r.url = url;
    r.body = body;
    if (!type.empty()) r.headers.Add("Content-Type", type);
    if (!auth.empty()) r.headers.Add("Authorization", auth);
    return http::Fetch(r).status;
  };
  auto event = [&](int64_t id) {
    std::string digits = std::to_string(id);
    std::string ulid = "01J" + std::string(23 - digits.size(), '0') + digits;  // 26 Crockford characters
    return RfiUpdateDelivery(company_, projects_[0], id, ulid);
  };
  const std::string bearer = "Bearer " + secret;
  const std::string count_sql =
      "SELECT (SELECT COUNT(*) FROM webhook_inbox) * 1000000 + (SELECT COUNT(*) FROM jobs) * 1000 + "
      "(SELECT COUNT(*) FROM audit_log)";
  const int64_t before = CountRows(count_sql);
  EXPECT_EQ(deliver(destination, event(1), "Bearer wrong-secret"), 401);
  EXPECT_EQ(deliver(destination, event(1), ""), 401);
  EXPECT_EQ(deliver(base_ + "/webhooks/procore/no-such-key", event(1), bearer), 404);
  EXPECT_EQ(deliver(destination, "{not json", bearer), 400);
  EXPECT_EQ(deliver(destination, "{\"id\": 1}", bearer), 400);
  EXPECT_EQ(deliver(destination, event(1), bearer, "text/plain"), 415);
  EXPECT_EQ(deliver(destination, std::string(300 * 1024, ' ') + event(1), bearer), 413);
  EXPECT_EQ(CountRows(count_sql), before) << "nothing is recorded for a rejected request";
  EXPECT_EQ(Call("GET", base_ + "/healthz").status, 200);

  // An accepted delivery is durable when answered (on SQLite in the server's journal) and in webhook_inbox
  // once the inbox's committer stored it, moments later: the count of `key`'s rows once there is one.
  auto stored_rows = [&](const std::string& key) {
    const std::string sql = "SELECT COUNT(*) FROM webhook_inbox WHERE event_key LIKE '%" + key +
                            "%' AND client_id = " + std::to_string(t.client_id);
    int64_t n = 0;
    WaitUntil([&] { return (n = CountRows(sql)) != 0; }, std::chrono::seconds(5));
    return n;
  };
  EXPECT_EQ(deliver(destination, event(900001), bearer), 200);
  EXPECT_EQ(deliver(destination, event(900001), bearer), 200) << "a redelivery is acknowledged";
  EXPECT_EQ(stored_rows("900001"), 1);

  // Deliveries arriving together (an I/O thread journals those it took in one turn with one write): each is
  // answered and stored once, with redeliveries racing their first delivery among them.
  constexpr int kSenders = 12, kEach = 20;
  std::atomic<int> accepted{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kEach; ++i) {
        if (deliver(destination, event(910000 + s * kEach + i), bearer) == 200) ++accepted;
        if (i % 4 == 0 && deliver(destination, event(910000 + (s + 1) % kSenders * kEach + i), bearer) == 200)
          ++accepted;
      }
    });
  }
  for (auto& sender : senders) sender.join();
  EXPECT_EQ(accepted, kSenders * kEach + kSenders * kEach / 4);
  const std::string burst_sql =
      "SELECT COUNT(*) FROM webhook_inbox WHERE event_key LIKE '%00910%' AND client_id = " +
      std::to_string(t.client_id);
  EXPECT_TRUE(WaitUntil([&] { return CountRows(burst_sql) == kSenders * kEach; }, std::chrono::seconds(10)))
      << CountRows(burst_sql);

  // Rotation: the new secret works once the hook in Procore has it; the old one no longer does.
  auto rotated = As(t, "POST", "/webhooks/rotate-secret", json::object());
  ASSERT_EQ(rotated.status, 200) << rotated.text;
  EXPECT_TRUE(rotated.body["hook_updated"].get<bool>());
  const std::string fresh = WebhookSecret(t.client_id);
  EXPECT_NE(fresh, secret);
  EXPECT_EQ(rotated.text.find(fresh), std::string::npos);
  EXPECT_EQ(deliver(destination, event(900002), "Bearer " + fresh), 200);
  EXPECT_EQ(stored_rows("900002"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // past the receiver's reload pause
  EXPECT_EQ(deliver(destination, event(900003), bearer), 401);

  // Several rotations at once (a double click, two admins): they take turns, so the hook in Procore ends with
  // the secret KTrack keeps, and Procore's deliveries below are accepted.
  std::vector<std::future<Answer>> rotations;
  for (int i = 0; i < 4; ++i)
    rotations.push_back(std::async(std::launch::async,
                                   [&] { return As(t, "POST", "/webhooks/rotate-secret", json::object()); }));
  for (auto& r : rotations) {
    Answer a = r.get();
    EXPECT_EQ(a.status, 200) << a.text;
    EXPECT_TRUE(a.body["hook_updated"].get<bool>()) << a.text;
  }
  EXPECT_NE(WebhookSecret(t.client_id), fresh);

  // Procore's own deliveries arrive: a change in the emulator lands in the inbox.
  const int64_t inbox_before =
      CountRows("SELECT COUNT(*) FROM webhook_inbox WHERE client_id = " + std::to_string(t.client_id));
  auto changes = Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/changes",
                      {{"count", 5}, {"streams", {"rfis"}}, {"seed", 3}});
  ASSERT_EQ(changes.status, 200) << changes.text;
  bool arrived = false;
  for (int i = 0; i < 100 && !arrived; ++i) {
    arrived = CountRows("SELECT COUNT(*) FROM webhook_inbox WHERE client_id = " +
                        std::to_string(t.client_id)) > inbox_before;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(arrived) << "Procore's deliveries reach the inbox";

  // What KTrack received and what it made of each event, newest first, once processing has caught up.
  Answer events;
  for (int i = 0; i < 150; ++i) {
    events = As(t, "GET", "/webhooks/events?limit=5");
    if (events.status != 200 || events.body["summary"]["pending"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(events.status, 200) << events.text;
  const json& summary = events.body["summary"];
  EXPECT_EQ(summary["pending"], 0) << events.text;
  EXPECT_EQ(summary["events"].get<int64_t>(),
            CountRows("SELECT COUNT(*) FROM webhook_inbox WHERE client_id = " + std::to_string(t.client_id)));
  int64_t by_outcome = 0;
  for (const auto& [outcome, n] : summary["by_outcome"].items()) by_outcome += n.get<int64_t>();
  EXPECT_EQ(by_outcome, summary["done"].get<int64_t>() + summary["dropped"].get<int64_t>()) << events.text;
  ASSERT_EQ(events.body["events"].size(), 5u) << events.text;
  std::string newer = "9999";
  for (const auto& e : events.body["events"]) {
    EXPECT_EQ(e["resource_name"], "RFIs") << e;
    EXPECT_TRUE(e["status"] == "done" || e["status"] == "dropped") << e;
    EXPECT_TRUE(e["outcome"].is_string()) << e;
    EXPECT_TRUE(e["project_name"].is_string()) << "the project is named: " << e;
    EXPECT_LE(e["received_at"].get<std::string>(), newer) << "newest first";
    newer = e["received_at"].get<std::string>();
  }
  auto bad_limit = As(t, "GET", "/webhooks/events?limit=none");
  EXPECT_EQ(bad_limit.status, 400) << bad_limit.text;
  EXPECT_EQ(bad_limit.body["error"]["code"], "invalid_parameter") << bad_limit.text;

  // Disconnect: hooks gone in Procore, credentials and secrets wiped, the webhook address unknown.
  auto d = As(t, "DELETE", "", {{"purge_data", true}});
  ASSERT_EQ(d.status, 200) << d.text;
  EXPECT_TRUE(d.body["hooks"]["deleted"].get<bool>());
  EXPECT_TRUE(hooks_of_client().empty());
  auto g = As(t, "GET", "");
  EXPECT_EQ(g.body["status"], "disconnected");
  EXPECT_TRUE(g.body["credentials"].is_null());
  EXPECT_EQ(
      CountRows("SELECT COUNT(*) FROM secrets WHERE owner = 'client:" + std::to_string(t.client_id) + "'"),
      0);
  EXPECT_EQ(deliver(destination, event(900004), "Bearer " + fresh), 404);
}

TEST_F(IntegrationApiTest, DisconnectWhileCompletingLeavesNoHookInProcoreAndNoStreamRunning) {
  Tenant t = NewTenant("Hasty Co");
  ConnectUntilPermissionsVerified(t, {"rfis"});
  // Procore answers slowly, so the disconnect arrives while the completion is still creating the hook.
  ASSERT_EQ(Call("PUT", emu_ + "/_emulator/faults", {{"latency_ms", 150}}).status, 200);
  ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
  const std::string destination = As(t, "GET", "").body["webhooks"]["destination_url"].get<std::string>();
  ASSERT_FALSE(destination.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto d = As(t, "DELETE", "", {{"purge_data", false}});
  ASSERT_EQ(d.status, 200) << d.text;

  // The completion ends within a few seconds; nothing of it outlives the disconnect.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ASSERT_EQ(Call("PUT", emu_ + "/_emulator/faults", {{"latency_ms", 0}}).status, 200);
  int hooks_left = 0;
  for (const auto& h : HooksInProcore(app_))
    if (h["destination_url"] == destination) ++hooks_left;
  EXPECT_EQ(hooks_left, 0) << "a hook whose address KTrack no longer answers stays in the customer's Procore";
  EXPECT_EQ(As(t, "GET", "").body["status"], "disconnected");
  for (const auto& s : As(t, "GET", "/streams").body)
    EXPECT_EQ(s["status"], "paused") << "a stream of a disconnected integration runs: " << s.dump();
}

TEST_F(IntegrationApiTest, ProjectsAreListedAndLinkedToKtrackProjects) {
  Tenant t = NewTenant("Projects Co");
  auto early = As(t, "GET", "/projects");
  EXPECT_EQ(early.status, 409) << "no projects before the company is known";
  EXPECT_EQ(early.body["error"]["code"], "invalid_state") << early.text;
  ConnectUntilPermissionsVerified(t, {"rfis"});
  ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
  WaitForStatus(t, "active");

  // A link body with a field of the wrong type is refused for that field, and links nothing.
  const int64_t some_project = projects_.front();
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {{{"create", "yes"}}, "'create' must be true or false."},
           {{{"ktrack_project_id", "twelve"}}, "'ktrack_project_id' must be an integer."},
           {{{"ktrack_project_id", {1}}}, "'ktrack_project_id' must be an integer."}}) {
    auto refused = As(t, "POST", "/projects/" + std::to_string(some_project) + "/link", body);
    EXPECT_EQ(refused.status, 400) << body.dump() << ": " << refused.text;
    EXPECT_EQ(refused.body["error"]["message"], field) << body.dump();
  }
  auto unclear_purge =
      As(t, "DELETE", "/projects/" + std::to_string(some_project) + "/link", {{"purge_data", "yes"}});
  EXPECT_EQ(unclear_purge.status, 400) << unclear_purge.text;
  EXPECT_EQ(unclear_purge.body["error"]["message"], "'purge_data' must be true or false.");

  auto list = As(t, "GET", "/projects");
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body.size(), projects_.size());
  for (const auto& p : list.body) {
    EXPECT_TRUE(p["linked_ktrack_project_id"].is_null());
    EXPECT_TRUE(p["permitted"].get<bool>());
    EXPECT_TRUE(p.contains("active"));
  }
  const int64_t first = projects_[0], second = projects_[1];
  auto linked = As(t, "POST", "/projects/" + std::to_string(first) + "/link", {{"create", true}});
  ASSERT_EQ(linked.status, 200) << linked.text;
  const int64_t ktrack_project = linked.body["ktrack_project_id"];
  EXPECT_TRUE(linked.body["permissions"]["ok"].get<bool>()) << linked.text;

  // Its project streams exist now.
  auto streams = As(t, "GET", "/streams");
  ASSERT_EQ(streams.status, 200);
  bool project_stream = false;
  for (const auto& st : streams.body)
    if (st["stream"] == "rfis" && st["project_id"] == first) project_stream = true;
  EXPECT_TRUE(project_stream) << streams.text;

  EXPECT_EQ(
      As(t, "POST", "/projects/" + std::to_string(second) + "/link", {{"ktrack_project_id", ktrack_project}})
          .status,
      409)
      << "one KTrack project links one Procore project";
  EXPECT_EQ(As(t, "POST", "/projects/999999999/link", {{"create", true}}).status, 404);
  auto after = As(t, "GET", "/projects?linked=true");
  ASSERT_EQ(after.body.size(), 1u);
  EXPECT_EQ(after.body[0]["linked_ktrack_project_id"], ktrack_project);

  ASSERT_EQ(As(t, "DELETE", "/projects/" + std::to_string(first) + "/link", json::object()).status, 200);
  auto unlinked_again = As(t, "DELETE", "/projects/" + std::to_string(first) + "/link", json::object());
  EXPECT_EQ(unlinked_again.status, 404);
  EXPECT_NE(unlinked_again.text.find("link"), std::string::npos) << unlinked_again.text;
  auto relinked =
      As(t, "POST", "/projects/" + std::to_string(second) + "/link", {{"ktrack_project_id", ktrack_project}});
  EXPECT_EQ(relinked.status, 200) << relinked.text;
  auto audit = As(t, "GET", "/audit");
  std::set<std::string> actions;
  for (const auto& e : audit.body) actions.insert(e["action"]);
  EXPECT_TRUE(actions.count("integration.project_linked"));
  EXPECT_TRUE(actions.count("integration.project_unlinked"));
}

TEST_F(IntegrationApiTest, AutoLinkLinksEveryProjectAtCompletion) {
  Tenant t = NewTenant("Auto Co");
  ASSERT_EQ(As(t, "PUT", "/credentials", CustomCredentials(app_)).status, 200);
  ASSERT_EQ(As(t, "POST", "/credentials/verify", {{"company_id", company_}}).status, 200);
  ASSERT_EQ(As(t, "PUT", "/settings",
               {{"company_id", company_}, {"domains", {"rfis"}}, {"auto_link_projects", true}})
                .status,
            200);
  ASSERT_TRUE(As(t, "POST", "/permissions/verify", json::object()).body["ok"].get<bool>());
  ASSERT_EQ(As(t, "POST", "/complete", json::object()).status, 202);
  WaitForStatus(t, "active");
  auto linked = As(t, "GET", "/projects?linked=true");
  ASSERT_EQ(linked.status, 200) << linked.text;
  EXPECT_EQ(linked.body.size(), projects_.size());
  std::set<int64_t> with_streams;
  for (const auto& st : As(t, "GET", "/streams").body)
    if (st["stream"] == "rfis" && st["project_id"].is_number())
      with_streams.insert(st["project_id"].get<int64_t>());
  EXPECT_EQ(with_streams, std::set<int64_t>(projects_.begin(), projects_.end()));
}

}  // namespace
}  // namespace kt::testing
