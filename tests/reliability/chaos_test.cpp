// The chaos suite: one named test per fault. Each ends converged with the emulator's truth, or shows the
// clear error state with its fix while the fault lasts and converges by itself once it clears. (Procore down
// long enough for discards is integration_delivery_health_test.)
#include <gtest/gtest.h>

#include "reliability_env.h"

namespace kt::testing {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kConverge{240};
// Streams stopped by something fixed in Procore retry at the next passing permission re-check (every 5 s with
// QuickMaintenance), well before their own 60 s error backoff would.
constexpr std::chrono::seconds kBeforeTheBackoff{45};

// Starts the small preset and connects, with the faults applied from Complete on (hook set-up and the whole
// initial sync run under them).
void StartSyncUnder(ReliabilityEnv& env, const json& faults, EnvOptions options = {}) {
  ASSERT_NO_FATAL_FAILURE(env.Start(options));
  ASSERT_NO_FATAL_FAILURE(env.Connect(3600, faults));
}

void ExpectConverged(ReliabilityEnv& env, const char* scenario, std::chrono::seconds limit = kConverge) {
  const auto start = std::chrono::steady_clock::now();
  ConvergenceReport report;
  EXPECT_TRUE(env.WaitConverged(limit, &report)) << scenario << ":\n" << report.Describe();
  std::printf("[ figures  ] %s: converged %.1f s after the check began\n", scenario,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

int64_t StatusCount(const json& stats, const std::string& status) {
  return stats.at("by_status").value(status, int64_t{0});
}

TEST(ChaosSuite, ErrorsAndTimeouts) {
  ReliabilityEnv env;
  StartSyncUnder(env, {{"error_rate", 0.15}, {"timeout_rate", 0.02}});
  if (HasFatalFailure()) return;
  ExpectConverged(env, "15% errors and 2% timeouts");
  const json stats = env.emulator.Stats();
  EXPECT_GT(StatusCount(stats, "500") + StatusCount(stats, "502") + StatusCount(stats, "503"), 0);
}

TEST(ChaosSuite, RateLimitStormOf429s) {
  ReliabilityEnv env;
  StartSyncUnder(env, {{"throttle_rate", 0.5}, {"retry_after_s", 2}});
  if (HasFatalFailure()) return;
  ExpectConverged(env, "half the calls answered 429 with Retry-After 2");
  EXPECT_GT(env.emulator.Stats().at("rate_limited").get<int64_t>(), 0) << "the storm happened";
}

TEST(ChaosSuite, ServiceUnavailableWithRetryAfter) {
  ReliabilityEnv env;
  StartSyncUnder(env, {{"unavailable_rate", 0.5}, {"retry_after_s", 3}});
  if (HasFatalFailure()) return;
  ExpectConverged(env, "half the calls answered 503 with Retry-After 3");
  EXPECT_GT(StatusCount(env.emulator.Stats(), "503"), 0);
}

TEST(ChaosSuite, TokenExpiresEveryMinute) {
  // 20x emulated time: a one-minute token lives three real seconds.
  EnvOptions options;
  options.time_scale = 20;
  ReliabilityEnv env;
  ASSERT_NO_FATAL_FAILURE(env.Start(options));
  env.emulator.Faults({{"token_lifetime_s", 60}, {"latency_ms", 30}});
  ASSERT_NO_FATAL_FAILURE(env.Connect());
  ExpectConverged(env, "initial sync with one-minute tokens");
  ASSERT_EQ(env.emulator.Changes(200, 5), 200);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the token in hand has expired
  ASSERT_EQ(env.emulator.Changes(200, 6), 200);
  ExpectConverged(env, "webhooks with one-minute tokens", std::chrono::seconds(60));
  const json stats = env.emulator.Stats();
  const int64_t tokens = stats.at("by_path").value("POST /oauth/token", int64_t{0});
  EXPECT_GE(tokens, 3) << "tokens were renewed as they expired";
  EXPECT_LE(StatusCount(stats, "401"), 2 * tokens) << "an expired token is renewed, not retried in a loop";
}

TEST(ChaosSuite, DuplicateAndReorderedWebhooks) {
  ReliabilityEnv env;
  StartSyncUnder(env, nullptr);
  if (HasFatalFailure()) return;
  ExpectConverged(env, "initial sync");
  env.emulator.Faults({{"webhook_duplicate_rate", 0.3}, {"webhook_reorder_rate", 0.3}});
  ASSERT_EQ(env.emulator.Changes(400, 12), 400);
  ExpectConverged(env, "400 changes with 30% duplicated and 30% reordered deliveries",
                  std::chrono::seconds(60));
  const json deliveries = env.emulator.Stats().at("webhook_deliveries");
  EXPECT_GT(deliveries.value("duplicated", 0), 0);
  EXPECT_GT(deliveries.value("reordered", 0), 0);
}

json ProjectToolsWithout(const std::string& revoked) {
  json tools = json::object();
  for (const char* tool : {"Admin", "Directory", "Budget", "Commitments", "Change Orders", "Prime Contracts",
                           "Change Events", "Direct Costs", "RFIs", "Submittals", "Daily Log"})
    tools[tool] = tool == revoked ? "none" : "read_only";
  return tools;
}

// The first stream of the key held back with an error (in error, or paused until fixed in Procore), or null.
json StreamInError(ReliabilityEnv& env, const std::string& stream) {
  for (const auto& s : env.Streams()) {
    const std::string status = s.value("status", "");
    if ((stream.empty() || s.value("stream", "") == stream) && (status == "error" || status == "paused") &&
        s["error"].is_object())
      return s;
  }
  return json();
}

// Maintenance every 2 s and permission re-checks every 5 s, so a fix in Procore is noticed in seconds.
EnvOptions QuickMaintenance() {
  EnvOptions options;
  options.maintenance_interval_s = 2;
  options.permission_recheck_interval_s = 5;
  return options;
}

TEST(ChaosSuite, PermissionsRevokedAndRestoredMidSync) {
  ReliabilityEnv env;
  StartSyncUnder(env, {{"latency_ms", 40}}, QuickMaintenance());
  if (HasFatalFailure()) return;
  const std::string install = "/_emulator/companies/" + std::to_string(env.emulator.company_id) +
                              "/installs/" + env.emulator.client_id;
  // Mid-sync: RFIs revoked on every project.
  ASSERT_TRUE(WaitUntil([&] { return env.EmulatorRequests() >= 10; }, std::chrono::seconds(30)));
  env.emulator.Call("PATCH", install, {{"permissions", {{"project", ProjectToolsWithout("RFIs")}}}});
  env.RequestReconcile();  // RFIs read again even if they were done before the revocation
  json errored;
  ASSERT_TRUE(
      WaitUntil([&] { return !(errored = StreamInError(env, "rfis")).is_null(); }, std::chrono::seconds(60)))
      << env.Streams().dump();
  ASSERT_TRUE(errored["error"].is_object()) << errored.dump();
  const std::string fix = errored["error"].value("fix", "");
  EXPECT_NE(fix.find("RFIs"), std::string::npos) << "the fix names the tool: " << errored.dump();
  std::printf("[ figures  ] revoked RFIs: %s %s\n", errored["status"].dump().c_str(),
              errored["error"].dump().c_str());

  env.emulator.Call("PATCH", install, {{"permissions", {{"project", ProjectToolsWithout("")}}}});
  ExpectConverged(env, "permissions restored");
}

TEST(ChaosSuite, AppUninstalledAndReinstalled) {
  ReliabilityEnv env;
  StartSyncUnder(env, nullptr, QuickMaintenance());
  if (HasFatalFailure()) return;
  ExpectConverged(env, "initial sync");
  env.emulator.Call("DELETE", "/_emulator/companies/" + std::to_string(env.emulator.company_id) +
                                  "/installs/" + env.emulator.client_id);
  ASSERT_EQ(env.emulator.Changes(50, 8), 50);
  env.RequestReconcile();
  json errored;
  ASSERT_TRUE(
      WaitUntil([&] { return !(errored = StreamInError(env, "")).is_null(); }, std::chrono::seconds(60)))
      << env.Streams().dump();
  EXPECT_FALSE(errored["error"].value("fix", "").empty()) << errored.dump();
  std::printf("[ figures  ] uninstalled: %s %s\n", errored["status"].dump().c_str(),
              errored["error"].dump().c_str());

  env.emulator.Reinstall();
  ExpectConverged(env, "app reinstalled");
  // Webhooks flow again after the reinstall.
  ASSERT_EQ(env.emulator.Changes(50, 9), 50);
  ExpectConverged(env, "changes after the reinstall", std::chrono::seconds(60));
}

}  // namespace
}  // namespace kt::testing
