// Delivery health end to end: KTrack's endpoint is down past Procore's 12-hour discard (an emulator at 3,600x
// speed), and once back KTrack reads the discarded deliveries, shows the count and reconciles the data to
// truth. Also the integration's Procore API use, as the integration page shows it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "util/strings.h"

namespace kt::testing {
namespace {

using nlohmann::json;

// An emulator with the small preset and an app installed for RFIs, and `ktrack serve` with a tenant whose
// integration is completed with RFIs selected.
struct Connected {
  TempDir dir;
  ChildProcess emulator;
  std::string emu;
  int64_t company = 0;
  int64_t project = 0;
  std::unique_ptr<ChildProcess> server;
  std::string listen;
  std::string api;
  std::vector<std::pair<std::string, std::string>> auth;
  std::string app_client_id;
  std::string app_client_secret;
  // KTrack's background checks (delivery health, auto-link, permission re-checks), in seconds.
  std::string maintenance_interval_s = "60";

  std::unique_ptr<ChildProcess> StartServer(const std::string& address) {
    auto started = std::make_unique<ChildProcess>();
    started->Start({BinPath("ktrack"), "serve", "--listen", address, "--data-dir", dir.path()},
                   {{"KTRACK_PROCORE_ALLOW_CUSTOM_URLS", "true"},
                    {"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", maintenance_interval_s}},
                   dir.path() + "/server.log");
    return started;
  }

  json Integration() const { return Call("GET", api, nullptr, auth).body; }

  // A call to Procore's own API (the emulator's) as the app, as a company admin's tools would make it.
  Answer Procore(const std::string& method, const std::string& path) const {
    auto token = Call("POST", emu + "/oauth/token",
                      {{"grant_type", "client_credentials"},
                       {"client_id", app_client_id},
                       {"client_secret", app_client_secret}});
    return Call(method, emu + path, nullptr,
                {{"Authorization", "Bearer " + token.body.value("access_token", std::string())},
                 {"Procore-Company-Id", std::to_string(company)}});
  }

  // The first project's RFIs stream as GET /streams answers it (null until it exists), and the emulator's
  // checksum of it.
  json RfisStream() const {
    for (const auto& s : Call("GET", api + "/streams", nullptr, auth).body)
      if (s["stream"] == "rfis" && s["project_id"] == project) return s;
    return json();
  }
  std::string RfisTruth() const {
    auto r = Call("GET", emu + "/_emulator/truth?company_id=" + std::to_string(company) +
                             "&stream=rfis&project_id=" + std::to_string(project));
    return r.body["streams"][0].value("checksum", std::string());
  }
  bool RfisEqualTruth() const { return RfisStream().value("checksum", std::string("x")) == RfisTruth(); }

  bool Audited(const std::string& action) const {
    for (const auto& e : Call("GET", api + "/audit", nullptr, auth).body)
      if (e["action"] == action) return true;
    return false;
  }
};

void Connect(Connected& c, const std::vector<std::string>& emulator_flags) {
  std::vector<std::string> argv = {
      BinPath("procore-emulator"), "--listen", "127.0.0.1:0", "--preset", "small", "--seed", "5"};
  argv.insert(argv.end(), emulator_flags.begin(), emulator_flags.end());
  c.emulator.Start(argv, {}, c.dir.path() + "/emulator.log");
  c.emu = c.emulator.WaitForListening();
  auto reset = Call("POST", c.emu + "/_emulator/reset", {{"preset", "small"}, {"seed", 5}});
  ASSERT_EQ(reset.status, 200) << reset.text;
  c.company = reset.body["companies"][0]["id"];
  c.project = reset.body["companies"][0]["project_ids"][0];
  // Tokens that outlive the test even at 3,600x.
  ASSERT_EQ(Call("PUT", c.emu + "/_emulator/faults", {{"token_lifetime_s", 1'000'000'000}}).status, 200);
  auto app = Call("POST", c.emu + "/_emulator/apps", {{"name", "KTrack"}, {"kind", "dmsa"}});
  ASSERT_EQ(app.status, 200);
  c.app_client_id = app.body["client_id"];
  c.app_client_secret = app.body["client_secret"];
  auto install = Call("POST", c.emu + "/_emulator/companies/" + std::to_string(c.company) + "/installs",
                      {{"client_id", app.body["client_id"]},
                       {"permissions",
                        {{"company", {{"Admin", "read_only"}, {"Webhooks API", "standard"}}},
                         {"project", {{"RFIs", "read_only"}}}}},
                       {"permitted_projects", "all"}});
  ASSERT_EQ(install.status, 201) << install.text;

  Tenant t = NewTenant("Health Co", c.dir.path());
  c.server = c.StartServer("127.0.0.1:0");
  const std::string base = c.server->WaitForListening();
  c.listen = base.substr(std::string("http://").size());
  c.api = base + "/api/v1/clients/" + std::to_string(t.client_id) + "/procore";
  c.auth = {{"Authorization", "Bearer " + t.admin_token}};
  const std::string& api = c.api;
  const auto& auth = c.auth;

  ASSERT_EQ(Call("PUT", api + "/credentials",
                 {{"client_id", app.body["client_id"]},
                  {"client_secret", app.body["client_secret"]},
                  {"environment", "custom"},
                  {"login_url", c.emu},
                  {"api_url", c.emu}},
                 auth)
                .status,
            200);
  ASSERT_EQ(Call("POST", api + "/credentials/verify", {{"company_id", c.company}}, auth).status, 200);
  ASSERT_EQ(Call("PUT", api + "/settings", {{"company_id", c.company}, {"domains", {"rfis"}}}, auth).status,
            200);
  auto perms = Call("POST", api + "/permissions/verify", json::object(), auth);
  ASSERT_TRUE(perms.body["ok"].get<bool>()) << perms.text;
  ASSERT_EQ(Call("POST", api + "/complete", json::object(), auth).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return Call("GET", api, nullptr, auth).body["status"] == "active"; },
                        std::chrono::seconds(60)));
}

// Links the first project to a new KTrack project and waits for its RFIs to sync.
void LinkAndSyncRfis(const Connected& c) {
  ASSERT_EQ(
      Call("POST", c.api + "/projects/" + std::to_string(c.project) + "/link", {{"create", true}}, c.auth)
          .status,
      200);
  ASSERT_TRUE(
      WaitUntil([&] { return c.RfisStream().value("status", "") == "synced"; }, std::chrono::seconds(60)))
      << c.RfisStream().dump();
}

TEST(DeliveryHealth, DiscardedDeliveriesAreCountedAndTheirDataReconciled) {
  Connected c;
  Connect(c, {"--time-scale", "3600"});
  if (HasFatalFailure()) return;
  const std::string& emu = c.emu;
  const std::string& api = c.api;
  const auto& auth = c.auth;
  const int64_t company = c.company;
  auto& server = c.server;
  auto start_server = [&](const std::string& address) { return c.StartServer(address); };
  const std::string& listen = c.listen;
  LinkAndSyncRfis(c);
  if (HasFatalFailure()) return;

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

  EXPECT_TRUE(WaitUntil([&] { return c.RfisEqualTruth(); }, std::chrono::seconds(90)))
      << c.RfisStream().dump() << " truth " << c.RfisTruth();
  bool reconciled = false;
  for (const auto& e : Call("GET", api + "/audit", nullptr, auth).body)
    if (e["action"] == "integration.discarded_events_reconciled") reconciled = true;
  EXPECT_TRUE(reconciled);
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(), 0);
}

// The integration page's Procore API use: KTrack's requests in the hour and the limits Procore reported, and,
// once Procore refuses for the hour, until when KTrack waits.
TEST(DeliveryHealth, ApiUsageShowsTheRequestsTheLimitsAndAWaitForTheHourlyLimit) {
  Connected c;
  Connect(c, {});
  if (HasFatalFailure()) return;
  json usage = Call("GET", c.api, nullptr, c.auth).body["api_usage"];
  ASSERT_TRUE(usage.is_object()) << usage.dump();
  EXPECT_GE(usage["requests_last_hour"].get<int64_t>(), 3) << usage.dump();  // permission check, hook, sync
  EXPECT_EQ(usage["spike_limit"], 100) << usage.dump();  // the emulator's default, the window closest to full
  EXPECT_TRUE(usage["hourly_limit"].is_null()) << usage.dump();  // not reported while the spike window is
  EXPECT_TRUE(usage["rate_limited_until"].is_null()) << usage.dump();
  EXPECT_EQ(usage["rate_limited_responses"], 0) << usage.dump();

  // Procore now allows one request an hour (the emulator starts new windows with new limits). KTrack's next
  // request uses it, its answer reports none left, and KTrack waits for the hour to reset without being
  // refused.
  ASSERT_EQ(Call("PUT", c.emu + "/_emulator/faults", {{"rate_limit", {{"hourly", 1}}}}).status, 200);
  ASSERT_EQ(Call("POST", c.api + "/streams/reconcile", json::object(), c.auth).status, 202);
  ASSERT_TRUE(WaitUntil(
      [&] { return Call("GET", c.api, nullptr, c.auth).body["api_usage"]["rate_limited_until"].is_string(); },
      std::chrono::seconds(30)))
      << Call("GET", c.api, nullptr, c.auth).body["api_usage"].dump();
  usage = Call("GET", c.api, nullptr, c.auth).body["api_usage"];
  EXPECT_EQ(usage["hourly_limit"], 1) << usage.dump();
  EXPECT_EQ(usage["rate_limited_responses"], 0) << usage.dump();
  EXPECT_EQ(Call("GET", c.emu + "/_emulator/stats").body["rate_limited"], 0);
  const int64_t until_ms = ParseIso8601(usage["rate_limited_until"].get<std::string>()).value_or(0);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  // The hour began with that request, moments ago.
  EXPECT_GT(until_ms, now_ms + 50 * 60 * 1000) << usage.dump();
  EXPECT_LT(until_ms, now_ms + 62 * 60 * 1000) << usage.dump();
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

// A company admin deletes KTrack's hook in Procore. The next delivery health check finds it gone, creates it
// again (completing the integration again) and reconciles the changes Procore could not send meanwhile.
TEST(DeliveryHealth, AHookDeletedInProcoreIsCreatedAgainAndTheMissedChangesReconciled) {
  Connected c;
  c.maintenance_interval_s = "1";
  Connect(c, {});
  if (HasFatalFailure()) return;
  LinkAndSyncRfis(c);
  if (HasFatalFailure()) return;
  const int64_t old_hook = c.Integration()["webhooks"]["hook_id"].get<int64_t>();

  auto deleted = c.Procore("DELETE", "/rest/v1.0/webhooks/hooks/" + std::to_string(old_hook) +
                                         "?company_id=" + std::to_string(c.company));
  ASSERT_LT(deleted.status, 300) << deleted.text;
  // Changes while no hook exists: Procore has nowhere to send them.
  auto changes = Call("POST", c.emu + "/_emulator/companies/" + std::to_string(c.company) + "/changes",
                      {{"count", 10}, {"streams", {"rfis"}}, {"seed", 3}});
  ASSERT_EQ(changes.status, 200) << changes.text;

  ASSERT_TRUE(WaitUntil(
      [&] {
        json g = c.Integration();
        return g["status"] == "active" && g["webhooks"]["hook_id"].is_number() &&
               g["webhooks"]["hook_id"].get<int64_t>() != old_hook;
      },
      std::chrono::seconds(60)))
      << c.Integration().dump();
  EXPECT_TRUE(c.Audited("integration.hook_missing"));
  json hooks = c.Procore("GET", "/rest/v1.0/webhooks/hooks?company_id=" + std::to_string(c.company)).body;
  ASSERT_EQ(hooks.size(), 1u) << hooks.dump();
  EXPECT_EQ(hooks[0]["id"], c.Integration()["webhooks"]["hook_id"]);
  EXPECT_EQ(hooks[0]["destination_url"], c.Integration()["webhooks"]["destination_url"]);

  EXPECT_TRUE(WaitUntil([&] { return c.RfisEqualTruth(); }, std::chrono::seconds(60)))
      << c.RfisStream().dump() << " truth " << c.RfisTruth();
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

// The app is uninstalled from the company: the background check's refusal becomes the integration's error,
// with Procore's reason and the fix, and goes once the app is installed again.
TEST(DeliveryHealth, ProcoreRefusingTheAppShowsAsTheIntegrationsErrorUntilItIsFixed) {
  Connected c;
  c.maintenance_interval_s = "1";
  Connect(c, {});
  if (HasFatalFailure()) return;
  EXPECT_TRUE(c.Integration()["last_error"].is_null()) << c.Integration()["last_error"].dump();
  const std::string installs = c.emu + "/_emulator/companies/" + std::to_string(c.company) + "/installs";
  ASSERT_EQ(Call("DELETE", installs + "/" + c.app_client_id).status, 200);

  ASSERT_TRUE(WaitUntil([&] { return c.Integration()["last_error"].is_object(); }, std::chrono::seconds(30)))
      << c.Integration().dump();
  json g = c.Integration();
  EXPECT_EQ(g["last_error"]["code"], "app_not_installed") << g["last_error"].dump();
  EXPECT_FALSE(g["last_error"].value("fix", std::string()).empty()) << g["last_error"].dump();
  EXPECT_EQ(g["webhooks"]["health_check_error"]["code"], "app_not_installed") << g["webhooks"].dump();
  EXPECT_EQ(g["status"], "active");  // nothing changed in KTrack; Procore refuses until the admin acts
  EXPECT_EQ(g["next_step"], g["last_error"]["fix"]) << g.dump();  // not "Nothing to do"
  EXPECT_TRUE(c.Audited("integration.procore_refused"));

  ASSERT_EQ(Call("POST", installs,
                 {{"client_id", c.app_client_id},
                  {"permissions",
                   {{"company", {{"Admin", "read_only"}, {"Webhooks API", "standard"}}},
                    {"project", {{"RFIs", "read_only"}}}}},
                  {"permitted_projects", "all"}})
                .status,
            201);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json now = c.Integration();
        return now["last_error"].is_null() && now["webhooks"]["health_check_error"].is_null();
      },
      std::chrono::seconds(30)))
      << c.Integration().dump();
  EXPECT_TRUE(c.Audited("integration.procore_accepts_again"));
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

// The app gets a new client secret in the Developer Portal: KTrack shows Procore's refusal, and once the
// admin pastes the new secret the streams that stopped on the refusal sync again at once, not after their
// backoff.
TEST(DeliveryHealth, ANewClientSecretInProcoreIsShownAndReplacingItResumesTheSyncAtOnce) {
  Connected c;
  c.maintenance_interval_s = "1";
  Connect(c, {});
  if (HasFatalFailure()) return;
  LinkAndSyncRfis(c);
  if (HasFatalFailure()) return;

  auto fresh = Call("POST", c.emu + "/_emulator/apps/" + c.app_client_id + "/secret");
  ASSERT_EQ(fresh.status, 200) << fresh.text;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json e = c.Integration()["last_error"];
        return e.is_object() && e["code"] == "invalid_credentials";
      },
      std::chrono::seconds(30)))
      << c.Integration()["last_error"].dump();
  // The streams meet the refusal too, and wait a backoff (a minute at first) before they try again.
  ASSERT_EQ(Call("POST", c.api + "/streams/reconcile", json::object(), c.auth).status, 202);
  ASSERT_TRUE(
      WaitUntil([&] { return c.RfisStream().value("status", "") == "error"; }, std::chrono::seconds(30)))
      << c.RfisStream().dump();
  EXPECT_EQ(c.RfisStream()["error"]["code"], "invalid_credentials") << c.RfisStream().dump();

  auto replaced = Call("PUT", c.api + "/credentials",
                       {{"client_id", c.app_client_id},
                        {"client_secret", fresh.body["client_secret"]},
                        {"environment", "custom"},
                        {"login_url", c.emu},
                        {"api_url", c.emu}},
                       c.auth);
  ASSERT_EQ(replaced.status, 200) << replaced.text;
  json after = c.Integration();
  EXPECT_TRUE(after["last_error"].is_null()) << after["last_error"].dump();
  // The new secret was verified against the company: the webhooks card no longer shows the old refusal.
  EXPECT_TRUE(after["webhooks"]["health_check_error"].is_null()) << after["webhooks"].dump();
  EXPECT_TRUE(
      WaitUntil([&] { return c.RfisStream().value("status", "") == "synced"; }, std::chrono::seconds(20)))
      << c.RfisStream().dump();
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

// Saving settings asks Procore for the permissions first. When Procore's rate limit is used up, the save is
// refused with when to try again, in words a person reads, and nothing changes; it is not "Nothing to do".
TEST(DeliveryHealth, ASettingsChangeProcoreRateLimitsSaysWhenToTryAgainAndChangesNothing) {
  Connected c;
  Connect(c, {});
  if (HasFatalFailure()) return;
  ASSERT_EQ(Call("PUT", c.emu + "/_emulator/faults", {{"throttle_rate", 1.0}, {"retry_after_s", 900}}).status,
            200);
  auto saved =
      Call("PUT", c.api + "/settings",
           {{"company_id", c.company}, {"domains", {"rfis", "submittals"}}, {"auto_link_projects", false}},
           c.auth);
  EXPECT_EQ(saved.status, 429) << saved.text;
  const json error = saved.body["error"];
  EXPECT_EQ(error["code"], "rate_limited") << saved.text;
  const std::string fix = error.value("fix", std::string());
  EXPECT_EQ(fix.rfind("KTrack did not do this and nothing changed: try again after ", 0), 0u) << fix;
  EXPECT_NE(fix.find(" UTC."), std::string::npos) << fix;
  EXPECT_FALSE(std::regex_search(error["message"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT)")))
      << "an ISO instant in a person's message: " << error["message"];
  EXPECT_EQ(c.Integration()["settings"]["domains"], json({"rfis"})) << c.Integration()["settings"].dump();
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

// Procore stops answering while webhook events arrive: the events wait, and GET /webhooks/events says why and
// when processing tries again; once Procore answers, they are processed and the reason goes.
TEST(DeliveryHealth, EventsWaitingForProcoreSayWhyAndWhenProcessingTriesAgain) {
  Connected c;
  Connect(c, {});
  if (HasFatalFailure()) return;
  LinkAndSyncRfis(c);
  if (HasFatalFailure()) return;
  ASSERT_EQ(
      Call("PUT", c.emu + "/_emulator/faults", {{"unavailable_rate", 1.0}, {"retry_after_s", 1}}).status,
      200);
  auto changes = Call("POST", c.emu + "/_emulator/companies/" + std::to_string(c.company) + "/changes",
                      {{"count", 5}, {"streams", {"rfis"}}, {"seed", 12}});
  ASSERT_EQ(changes.status, 200) << changes.text;
  json summary;
  ASSERT_TRUE(WaitUntil(
      [&] {
        summary = Call("GET", c.api + "/webhooks/events?limit=1", nullptr, c.auth).body["summary"];
        return summary["processing_retry"].is_object();
      },
      std::chrono::seconds(60)))
      << summary.dump();
  EXPECT_GT(summary["pending"].get<int64_t>(), 0) << summary.dump();
  EXPECT_EQ(summary["processing_retry"]["code"], "procore_unavailable") << summary.dump();
  EXPECT_GE(summary["processing_retry"]["failed_attempts"].get<int64_t>(), 1) << summary.dump();
  EXPECT_TRUE(ParseIso8601(summary["processing_retry"]["retry_at"].get<std::string>()).has_value())
      << summary.dump();

  ASSERT_EQ(Call("PUT", c.emu + "/_emulator/faults", {{"unavailable_rate", 0.0}}).status, 200);
  EXPECT_TRUE(WaitUntil(
      [&] {
        summary = Call("GET", c.api + "/webhooks/events?limit=1", nullptr, c.auth).body["summary"];
        return summary["pending"] == 0 && summary["processing_retry"].is_null();
      },
      std::chrono::seconds(90)))
      << summary.dump();
  EXPECT_TRUE(WaitUntil([&] { return c.RfisEqualTruth(); }, std::chrono::seconds(30)))
      << c.RfisStream().dump() << " truth " << c.RfisTruth();
  c.server->Signal(SIGTERM);
  EXPECT_EQ(c.server->Wait(), 0);
}

}  // namespace
}  // namespace kt::testing
