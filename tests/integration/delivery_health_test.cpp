// Delivery health end to end: KTrack's endpoint is down past Procore's 12-hour discard (an emulator at 3,600x
// speed), and once back KTrack reads the discarded deliveries, shows the count and reconciles the data to
// truth.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "harness.h"

namespace kt::testing {
namespace {

using nlohmann::json;

TEST(DeliveryHealth, DiscardedDeliveriesAreCountedAndTheirDataReconciled) {
  TempDir dir;
  ChildProcess emulator;
  emulator.Start({BinPath("procore-emulator"), "--listen", "127.0.0.1:0", "--preset", "small", "--seed", "5",
                  "--time-scale", "3600"},
                 {}, dir.path() + "/emulator.log");
  const std::string emu = emulator.WaitForListening();
  auto reset = Call("POST", emu + "/_emulator/reset", {{"preset", "small"}, {"seed", 5}});
  ASSERT_EQ(reset.status, 200) << reset.text;
  const int64_t company = reset.body["companies"][0]["id"];
  const int64_t project = reset.body["companies"][0]["project_ids"][0];
  // Tokens that outlive the test even at 3,600x.
  ASSERT_EQ(Call("PUT", emu + "/_emulator/faults", {{"token_lifetime_s", 1'000'000'000}}).status, 200);
  auto app = Call("POST", emu + "/_emulator/apps", {{"name", "KTrack"}, {"kind", "dmsa"}});
  ASSERT_EQ(app.status, 200);
  auto install = Call("POST", emu + "/_emulator/companies/" + std::to_string(company) + "/installs",
                      {{"client_id", app.body["client_id"]},
                       {"permissions",
                        {{"company", {{"Admin", "read_only"}, {"Webhooks API", "standard"}}},
                         {"project", {{"RFIs", "read_only"}}}}},
                       {"permitted_projects", "all"}});
  ASSERT_EQ(install.status, 201) << install.text;

  Tenant t = NewTenant("Health Co", dir.path());
  auto start_server = [&](const std::string& listen) {
    auto server = std::make_unique<ChildProcess>();
    server->Start({BinPath("ktrack"), "serve", "--listen", listen, "--data-dir", dir.path()},
                  {{"KTRACK_PROCORE_ALLOW_CUSTOM_URLS", "true"}}, dir.path() + "/server.log");
    return server;
  };
  auto server = start_server("127.0.0.1:0");
  const std::string base = server->WaitForListening();
  const std::string listen = base.substr(std::string("http://").size());
  const std::string api = base + "/api/v1/clients/" + std::to_string(t.client_id) + "/procore";
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + t.admin_token}};

  ASSERT_EQ(Call("PUT", api + "/credentials",
                 {{"client_id", app.body["client_id"]},
                  {"client_secret", app.body["client_secret"]},
                  {"environment", "custom"},
                  {"login_url", emu},
                  {"api_url", emu}},
                 auth)
                .status,
            200);
  ASSERT_EQ(Call("POST", api + "/credentials/verify", {{"company_id", company}}, auth).status, 200);
  ASSERT_EQ(Call("PUT", api + "/settings", {{"company_id", company}, {"domains", {"rfis"}}}, auth).status,
            200);
  auto perms = Call("POST", api + "/permissions/verify", json::object(), auth);
  ASSERT_TRUE(perms.body["ok"].get<bool>()) << perms.text;
  ASSERT_EQ(Call("POST", api + "/complete", json::object(), auth).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return Call("GET", api, nullptr, auth).body["status"] == "active"; },
                        std::chrono::seconds(60)));
  ASSERT_EQ(
      Call("POST", api + "/projects/" + std::to_string(project) + "/link", {{"create", true}}, auth).status,
      200);

  auto rfis_stream = [&]() -> json {
    for (const auto& s : Call("GET", api + "/streams", nullptr, auth).body)
      if (s["stream"] == "rfis" && s["project_id"] == project) return s;
    return json();
  };
  ASSERT_TRUE(
      WaitUntil([&] { return rfis_stream().value("status", "") == "synced"; }, std::chrono::seconds(60)))
      << rfis_stream().dump();

  // KTrack goes away; Procore's changes cannot be delivered and are discarded after 12 emulated hours.
  server->Signal(SIGTERM);
  ASSERT_EQ(server->Wait(), 0);
  auto changes = Call("POST", emu + "/_emulator/companies/" + std::to_string(company) + "/changes",
                      {{"count", 20}, {"streams", {"rfis"}}, {"seed", 11}});
  ASSERT_EQ(changes.status, 200) << changes.text;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Call("GET", emu + "/_emulator/stats").body["webhook_deliveries"].value("discarded", 0) > 0;
      },
      std::chrono::seconds(90)))
      << Call("GET", emu + "/_emulator/stats").body["webhook_deliveries"].dump();

  // Back again: the delivery health check counts the discarded deliveries and reconciles their data.
  server = start_server(listen);
  server->WaitForListening();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto g = Call("GET", api, nullptr, auth);
        return g.body["webhooks"]["discarded"].is_number() &&
               g.body["webhooks"]["discarded"].get<int64_t>() > 0;
      },
      std::chrono::seconds(60)))
      << Call("GET", api, nullptr, auth).body["webhooks"].dump();

  auto truth = [&] {
    auto r = Call("GET", emu + "/_emulator/truth?company_id=" + std::to_string(company) +
                             "&stream=rfis&project_id=" + std::to_string(project));
    return r.body["streams"][0].value("checksum", std::string());
  };
  EXPECT_TRUE(WaitUntil([&] { return rfis_stream().value("checksum", std::string("x")) == truth(); },
                        std::chrono::seconds(90)))
      << rfis_stream().dump() << " truth " << truth();
  bool reconciled = false;
  for (const auto& e : Call("GET", api + "/audit", nullptr, auth).body)
    if (e["action"] == "integration.discarded_events_reconciled") reconciled = true;
  EXPECT_TRUE(reconciled);
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(), 0);
}

}  // namespace
}  // namespace kt::testing
