// The emulator's parts together: data changes fire webhooks through the Webhooks API as Procore would
// (including the directory fan-out), the Webhooks API requires its tool, and the browser UI installs an app
// and sets its permissions so that Procore's API reflects them.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "emulator_client.h"
#include "http/server.h"
#include "util/strings.h"

namespace procore_emulator::testing {
namespace {

using nlohmann::json;

// A loopback receiver that stores every event it is sent.
class Receiver {
 public:
  Receiver() {
    auto router = std::make_shared<kt::http::Router>();
    router->Post("/hook", [this](kt::http::Request& req) {
      std::lock_guard lock(mu_);
      events_.push_back(json::parse(req.body, nullptr, false));
      authorizations_.push_back(req.Header("Authorization").value_or(""));
      cv_.notify_all();
      return kt::http::Response::Json(200, json::object());
    });
    kt::http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<kt::http::Server>(options, router);
    port_ = *server_->Start();
  }
  ~Receiver() { server_->Stop(std::chrono::milliseconds(500)); }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<json> WaitFor(size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
    return events_;
  }
  std::vector<std::string> Authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }

 private:
  std::unique_ptr<kt::http::Server> server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> events_;
  std::vector<std::string> authorizations_;
};

TEST(EmulatorWebhooks, ChangesAreDeliveredAndCanBeRefetched) {
  EmulatorClient emu;
  Receiver receiver;
  AppCredentials app = emu.CreateApp();
  emu.Install(app);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  auto call = [&](const std::string& method, const std::string& path, const json& body) {
    return emu.Request(method, path, body.dump(),
                       {{"Authorization", "Bearer " + token},
                        {"Procore-Company-Id", c},
                        {"Content-Type", "application/json"}});
  };
  auto hook = call("POST", "/rest/v1.0/webhooks/hooks?company_id=" + c,
                   {{"hook",
                     {{"api_version", "v2"},
                      {"namespace", "ktrack-test"},
                      {"destination_url", receiver.Url()},
                      {"destination_headers", {{"Authorization", "Bearer s3cret"}}}}}});
  ASSERT_EQ(hook.status, 201) << hook.body;
  EXPECT_FALSE(hook.Header("X-Rate-Limit-Remaining").empty());
  std::string hook_id = std::to_string(hook.Json()["id"].get<int64_t>());
  for (const char* resource : {"RFIs", "Company Users", "Project Users"})
    for (const char* event : {"create", "update", "delete"}) {
      auto t = call("POST", "/rest/v1.0/webhooks/hooks/" + hook_id + "/triggers?company_id=" + c,
                    {{"trigger", {{"resource_name", resource}, {"event_type", event}}}});
      ASSERT_EQ(t.status, 201) << t.body;
    }

  auto applied = emu.Control("POST", "/_emulator/companies/" + c + "/changes",
                             {{"count", 40}, {"seed", 4}, {"streams", {"rfis", "company_users"}}}, 200);
  ASSERT_EQ(applied["applied"], 40);
  // Every change is announced at least once; directory updates also fan out to project directories.
  auto events = receiver.WaitFor(40, std::chrono::seconds(20));
  ASSERT_GE(events.size(), 40u);
  for (const auto& auth : receiver.Authorizations()) EXPECT_EQ(auth, "Bearer s3cret");
  bool saw_fanout = false, saw_company_users_update = false;
  for (const auto& event : events) {
    std::string resource = event["resource_name"], type = event["event_type"];
    EXPECT_EQ(event["company_id"], emu.company_id());
    if (resource == "Project Users") {
      saw_fanout = true;
      EXPECT_FALSE(event["project_id"].is_null());
    }
    if (resource == "Company Users") {
      EXPECT_TRUE(event["project_id"].is_null());
      saw_company_users_update = saw_company_users_update || type == "update";
    }
    if (resource != "RFIs") continue;
    std::string path = "/rest/v1.0/projects/" + std::to_string(event["project_id"].get<int64_t>()) +
                       "/rfis/" + std::to_string(event["resource_id"].get<int64_t>());
    auto fetched = emu.Get(path, token);
    if (type == "delete") {
      EXPECT_EQ(fetched.status, 404) << path;
    } else if (fetched.status == 200) {
      EXPECT_GE(fetched.Json()["updated_at"].get<std::string>(), "2026-01-01") << path;
    } else {
      EXPECT_EQ(fetched.status, 404) << path << " (deleted by a later change)";
    }
  }
  EXPECT_TRUE(saw_company_users_update);
  EXPECT_EQ(saw_fanout, saw_company_users_update);
  auto stats = emu.Control("GET", "/_emulator/stats");
  EXPECT_TRUE(stats["webhook_deliveries"].is_object());
  EXPECT_GE(stats["by_path"]["POST /rest/v1.0/webhooks/hooks"].get<int>(), 1);
}

TEST(EmulatorWebhooks, TheWebhooksApiNeedsItsToolAndTheCompanyHeader) {
  EmulatorClient emu;
  AppCredentials app = emu.CreateApp();
  json perms = EmulatorClient::AllToolsAt("read_only");
  perms["company"]["Webhooks API"] = "read_only";
  emu.Install(app, perms);
  std::string token = emu.Token(app);
  std::string c = std::to_string(emu.company_id());
  auto listed = emu.Get("/rest/v1.0/webhooks/hooks?company_id=" + c, token);
  EXPECT_EQ(listed.status, 403) << listed.body;
  EXPECT_NE(listed.body.find("Webhooks API"), std::string::npos);
  auto missing = emu.Get("/rest/v1.0/webhooks/hooks?company_id=" + c, token, false);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.Json()["errors"], "Missing Procore-Company-Id header!");
  emu.Control("PATCH", "/_emulator/companies/" + c + "/installs/" + app.client_id,
              {{"permissions", {{"company", {{"Webhooks API", "standard"}}}}}}, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/webhooks/hooks?company_id=" + c, token).status, 200);
}

TEST(EmulatorLarge, IdsAbove32BitsPageToTheTruthInTheSecondCompany) {
  EmulatorClient emu({"--preset", "large", "--seed", "3"});
  ASSERT_EQ(emu.companies().size(), 2u);
  int64_t company = emu.companies()[1]["id"];
  int64_t project = emu.companies()[1]["project_ids"][250];
  EXPECT_GT(company, int64_t{1} << 32);
  EXPECT_GT(project, int64_t{1} << 32);
  AppCredentials app = emu.CreateApp();
  emu.Control("POST", "/_emulator/companies/" + std::to_string(company) + "/installs",
              {{"client_id", app.client_id},
               {"permissions", EmulatorClient::AllToolsAt("read_only")},
               {"permitted_projects", json::array({project})}},
              201);
  std::string token = emu.Token(app);
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token},
                                                {"Procore-Company-Id", std::to_string(company)}};
  auto companies = emu.Request("GET", "/rest/v1.0/companies", {}, headers);
  ASSERT_EQ(companies.Json().size(), 1u);
  EXPECT_EQ(companies.Json()[0]["id"], company);
  auto truth = emu.Control("GET",
                           "/_emulator/truth?company_id=" + std::to_string(company) +
                               "&stream=submittals&project_id=" + std::to_string(project),
                           nullptr, 200);
  ASSERT_EQ(truth["streams"].size(), 1u);
  std::vector<json> all;
  for (int page = 1;; ++page) {
    auto a = emu.Request("GET",
                         "/rest/v1.1/projects/" + std::to_string(project) +
                             "/submittals?per_page=50&page=" + std::to_string(page),
                         {}, headers);
    ASSERT_EQ(a.status, 200) << a.body;
    for (auto& r : a.Json()) all.push_back(r);
    if (a.Header("Link").find("rel=\"next\"") == std::string::npos) break;
  }
  EXPECT_EQ(static_cast<int64_t>(all.size()), truth["streams"][0]["count"].get<int64_t>());
  EXPECT_EQ(StreamChecksum(all), truth["streams"][0]["checksum"]);
  for (const auto& r : all) EXPECT_GT(r["id"].get<int64_t>(), int64_t{1} << 32);
}

TEST(EmulatorUi, AnAdminInstallsTheAppAndSetsPermissionsInTheBrowserUi) {
  EmulatorClient emu;
  AppCredentials app = emu.CreateApp("Customer Custom App");
  std::string c = std::to_string(emu.company_id());
  std::map<std::string, std::string> form = {{"Content-Type", "application/x-www-form-urlencoded"}};

  auto home = emu.Request("GET", "/");
  EXPECT_EQ(home.status, 200);
  EXPECT_NE(home.body.find("Customer Custom App"), std::string::npos);
  auto management = emu.Request("GET", "/companies/" + c + "/admin/app_management");
  ASSERT_EQ(management.status, 200);
  EXPECT_NE(management.body.find("Install Custom App"), std::string::npos);

  auto p = emu.project_ids();
  auto installed =
      emu.Request("POST", "/ui/companies/" + c + "/installs",
                  "app_version_key=" + app.app_version_key + "&project=" + std::to_string(p[0]), form);
  EXPECT_EQ(installed.status, 303);
  auto bad_key = emu.Request("POST", "/ui/companies/" + c + "/installs", "app_version_key=nope", form);
  EXPECT_NE(bad_key.Header("Location").find("error="), std::string::npos);

  std::string token = emu.Token(app);
  // Installed with every tool at None: the API refuses until the Directory matrix grants them.
  EXPECT_EQ(emu.Get("/rest/v1.1/projects?company_id=" + c, token).status, 403);
  auto matrix = emu.Request("GET", "/companies/" + c + "/directory/apps/" + app.client_id);
  ASSERT_EQ(matrix.status, 200);
  EXPECT_NE(matrix.body.find("Read Only"), std::string::npos);
  auto saved = emu.Request("POST", "/ui/companies/" + c + "/installs/" + app.client_id + "/permissions",
                           "company%3AAdmin=read_only&project%3ARFIs=standard&project%3ABudget=none", form);
  EXPECT_EQ(saved.status, 303);
  auto projects = emu.Get("/rest/v1.1/projects?company_id=" + c, token);
  ASSERT_EQ(projects.status, 200);
  ASSERT_EQ(projects.Json().size(), 1u);  // only the permitted project
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + std::to_string(p[0]) + "/rfis", token).status, 200);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + std::to_string(p[1]) + "/rfis", token).status, 403);

  emu.Request("POST", "/ui/companies/" + c + "/installs/" + app.client_id + "/projects", "all_projects=1",
              form);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + std::to_string(p[1]) + "/rfis", token).status, 200);
  // A new client secret from the Developer Portal's page: shown once, the old one refused from then on.
  auto renewed = emu.Request("POST", "/ui/apps/" + app.client_id + "/secret", "", form);
  ASSERT_EQ(renewed.status, 200);
  EXPECT_EQ(renewed.body.find(app.client_secret), std::string::npos);
  const size_t at = renewed.body.find("Client secret</th><td><code>");
  ASSERT_NE(at, std::string::npos) << renewed.body;
  const std::string secret = renewed.body.substr(at + 28, 64);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + std::to_string(p[1]) + "/rfis", token).status, 401);
  app.client_secret = secret;
  token = emu.Token(app);
  EXPECT_EQ(emu.Get("/rest/v1.0/projects/" + std::to_string(p[1]) + "/rfis", token).status, 200);
  EXPECT_NE(emu.Request("GET", "/").body.find("New client secret</button>"), std::string::npos);

  emu.Request("POST", "/ui/companies/" + c + "/installs/" + app.client_id + "/uninstall", "", form);
  auto gone = emu.Get("/rest/v1.0/projects/" + std::to_string(p[1]) + "/rfis", token);
  EXPECT_EQ(gone.status, 403);
  EXPECT_EQ(gone.Json()["errors"], "App is not connected to this company");
}

}  // namespace
}  // namespace procore_emulator::testing
