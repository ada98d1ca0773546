// Issue 11's check: three `ktrack serve` processes on one PostgreSQL database (one web, two workers) and the
// emulator's demo company. The initial sync and then 1,000 webhook changes run while a worker is SIGKILLed
// and restarted (once in each); the end: every stream's checksum equals the truth, the emulator answered no
// 429, no job ran to completion twice, and the scheduler's periodic work ran once per period across the
// fleet. Prints the figures docs/SCALING.md quotes.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "../integration/harness.h"
#include "../sync/emulator_support.h"
#include "integration/integration_service.h"
#include "postgres.h"
#include "process.h"
#include "store/store.h"

namespace kt::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kJobLeaseS = 3;
constexpr int kMaintenanceIntervalS = 5;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class FleetServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why_not;
    if (!PostgresServer::Available(&why_not)) GTEST_SKIP() << "no PostgreSQL here: " << why_not;
    database_ = PostgresServer::Instance().CreateDatabase("scaling_fleet");
    // The ktrack commands the tenant helper runs (client add, user add, token create) use it too.
    ::setenv("KTRACK_DATABASE", database_.c_str(), 1);
    auto store = store::OpenStore(database_);
    ASSERT_TRUE(store) << store.error().message;
    db_ = std::move(*store);

    std::string why;
    ASSERT_TRUE(emulator_.Start("demo", 7, &why, {}, dir_.path() + "/emulator.log")) << why;
    emulator_.InstallApp();
    // Room for two workers at full speed, and still a limit they would overrun unpaced: 30 a second.
    emulator_.Faults({{"rate_limit", {{"spike", 300}, {"spike_window_s", 10}, {"hourly", 100000}}}});
    tenant_ = NewTenant("Fleet Co", dir_.path());  // creates the master key file the servers share
  }

  void TearDown() override {
    for (auto* p : {&workers_[0], &workers_[1], &web_})
      if (*p && (*p)->Running()) {
        (*p)->Signal(SIGTERM);
        EXPECT_EQ((*p)->Wait(), 0) << "a server did not stop cleanly";
      }
    ::unsetenv("KTRACK_DATABASE");
  }

  std::unique_ptr<ChildProcess> StartServe(const std::string& role, const std::string& log) {
    auto p = std::make_unique<ChildProcess>();
    std::vector<std::string> args = {BinPath("ktrack"), "serve",      "--role",    role,         "--listen",
                                     "127.0.0.1:0",     "--data-dir", dir_.path(), "--database", database_};
    if (role == "worker") args.insert(args.end(), {"--public-base-url", base_});
    p->Start(args,
             {{"KTRACK_PROCORE_ALLOW_CUSTOM_URLS", "true"},
              {"KTRACK_WORKER_JOB_LEASE_S", std::to_string(kJobLeaseS)},
              {"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", std::to_string(kMaintenanceIntervalS)},
              {"KTRACK_LOG_LEVEL", "warn"}},
             dir_.path() + "/" + log);
    return p;
  }

  void StartWorker(int i) {
    workers_[i] =
        StartServe("worker", "worker" + std::to_string(i) + "-" + std::to_string(starts_++) + ".log");
  }
  void KillAndRestartWorker(int i) {
    workers_[i]->Signal(SIGKILL);
    workers_[i]->Wait();
    ++kills_;
    StartWorker(i);
  }

  Answer Api(const std::string& method, const std::string& rest = "", const json& body = nullptr) {
    return Call(method, base_ + "/api/v1/clients/" + std::to_string(tenant_.client_id) + "/procore" + rest,
                body, {{"Authorization", "Bearer " + tenant_.admin_token}});
  }

  // The wizard's first steps through the web process's JSON API: the emulator app's credentials and company.
  void SaveAndVerifyCredentials() {
    auto saved = Api("PUT", "/credentials", emulator_.CredentialsBody());
    ASSERT_EQ(saved.status, 200) << saved.text;
    auto verify = Api("POST", "/credentials/verify", {{"company_id", emulator_.company_id}});
    ASSERT_EQ(verify.status, 200) << verify.text;
  }

  // Every stream against the emulator's truth; the differences (empty when equal).
  std::vector<std::string> DiffWithTruth() {
    auto streams = Api("GET", "/streams");
    if (streams.status != 200 || !streams.body.is_array()) return {"GET /streams: " + streams.text};
    std::map<std::pair<std::string, int64_t>, json> ours;
    for (const auto& s : streams.body)
      ours[{s["stream"].get<std::string>(), s["project_id"].is_null() ? 0 : s["project_id"].get<int64_t>()}] =
          s;
    std::vector<std::string> diffs;
    std::set<std::pair<std::string, int64_t>> in_truth;
    const json truth = emulator_.Truth().at("streams");
    for (const auto& entry : truth) {
      const std::string stream = entry.at("stream");
      const int64_t project = entry.at("project_id").is_null() ? 0 : entry.at("project_id").get<int64_t>();
      const std::string label = stream + "@" + std::to_string(project);
      auto it = ours.find({stream, project});
      if (it == ours.end()) {
        diffs.push_back(label + ": not synced");
        continue;
      }
      in_truth.insert({stream, project});
      if (it->second["count"] != entry["count"] || it->second["checksum"] != entry["checksum"])
        diffs.push_back(label + ": count " + it->second["count"].dump() + " vs " + entry["count"].dump() +
                        " (status " + it->second["status"].dump() + ")");
    }
    // Streams KTrack keeps that the truth does not list.
    for (const auto& [key, s] : ours)
      if (!in_truth.count(key))
        diffs.push_back(key.first + "@" + std::to_string(key.second) + ": not in the truth (status " +
                        s["status"].dump() + ")");
    if (!diffs.empty())
      diffs.front() += " [" + std::to_string(truth.size()) + " streams in the truth, " +
                       std::to_string(ours.size()) + " in KTrack]";
    return diffs;
  }

  int64_t Scalar(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message + " " + r.error().detail);
    return r && !r->empty() && !r->rows[0].IsNull(0) ? r->rows[0].Int(0) : -1;
  }
  // What is left undone, for a failure message: the inbox, the jobs not done, the scheduler lease.
  std::string Backlog() {
    std::string out;
    for (const char* sql :
         {"SELECT status || ' ' || COUNT(*) || ' claimed_until-now ' || COALESCE(MIN(claimed_until) - "
          "(extract(epoch from now()) * 1000)::bigint, 0) FROM webhook_inbox GROUP BY status",
          "SELECT kind || ' ' || status || ' ' || COUNT(*) || ' attempts ' || MAX(attempts) || ' ' || "
          "COALESCE(MAX(last_error), '') FROM jobs WHERE status <> 'done' GROUP BY kind, status",
          "SELECT name || ' ' || holder || ' lease_until-now ' || (lease_until - (extract(epoch from now()) "
          "* "
          "1000)::bigint) FROM fleet_leases"}) {
      auto r = db_->Query(sql);
      if (!r) continue;
      for (const auto& row : r->rows) out += "\n  " + row.Text(0);
    }
    return out;
  }
  int64_t Transactions() {
    return Scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = "
        "current_database()");
  }
  int64_t EmulatorRequests() { return emulator_.Stats().at("requests").get<int64_t>(); }

  TempDir dir_;
  std::string database_, base_;
  std::unique_ptr<store::Store> db_;
  sync::testing::Emulator emulator_;
  Tenant tenant_;
  std::unique_ptr<ChildProcess> web_, workers_[2];
  int starts_ = 0, kills_ = 0;
};

TEST_F(FleetServeTest, OneWebTwoWorkersConvergeWithZero429sAndNoJobRunTwice) {
  const auto test_start = std::chrono::steady_clock::now();
  web_ = StartServe("web", "web.log");
  base_ = web_->WaitForListening();
  StartWorker(0);
  StartWorker(1);

  // The wizard through the web process's JSON API; the workers run its jobs.
  SaveAndVerifyCredentials();
  if (HasFatalFailure()) return;
  auto settings = Api("PUT", "/settings",
                      {{"company_id", emulator_.company_id},
                       {"domains",
                        {"directory", "cost_codes", "budget", "commitments", "prime_contracts",
                         "change_events", "direct_costs", "rfis", "submittals", "daily_logs"}},
                       {"auto_link_projects", true},
                       {"reconcile_interval_s", 3600}});
  ASSERT_EQ(settings.status, 200) << settings.text;
  auto permissions = Api("POST", "/permissions/verify", json::object());
  ASSERT_EQ(permissions.status, 200) << permissions.text;
  ASSERT_TRUE(permissions.body.value("ok", false)) << permissions.text;

  const int64_t tx_before = Transactions();
  const auto sync_start = std::chrono::steady_clock::now();
  ASSERT_EQ(Api("POST", "/complete", json::object()).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return Api("GET").body.value("status", "") == "active"; }, 60s))
      << Api("GET").text;

  // Initial sync: worker 0 is killed and restarted once the sync is well under way.
  ASSERT_TRUE(WaitUntil([&] { return EmulatorRequests() >= 300; }, 60s)) << "the initial sync did not start";
  KillAndRestartWorker(0);
  std::vector<std::string> diffs;
  ASSERT_TRUE(WaitUntil(
      [&] {
        diffs = DiffWithTruth();
        return diffs.empty();
      },
      90s))
      << diffs.size() << " streams differ, e.g. " << (diffs.empty() ? "" : diffs.front()) << Backlog();
  const double sync_s = SecondsSince(sync_start);
  const int64_t sync_jobs = Scalar("SELECT COUNT(*) FROM jobs WHERE status = 'done'");
  const int64_t sync_requests = EmulatorRequests();
  const int64_t sync_tx = Transactions() - tx_before;

  // 1,000 changes, delivered by Procore's webhooks to the web process; worker 1 is killed mid-processing.
  const auto hooks_start = std::chrono::steady_clock::now();
  const int64_t jobs_before_hooks = sync_jobs;
  const int64_t tx_before_hooks = Transactions();
  ASSERT_EQ(emulator_.Changes(1000, 11), 1000);
  ASSERT_TRUE(WaitUntil(
      [&] { return Scalar("SELECT COUNT(*) FROM webhook_inbox WHERE status <> 'pending'") >= 200; }, 60s));
  KillAndRestartWorker(1);
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (Scalar("SELECT COUNT(*) FROM webhook_inbox WHERE status = 'pending'") != 0) return false;
        diffs = DiffWithTruth();
        return diffs.empty();
      },
      90s))
      << diffs.size() << " streams differ, e.g. " << (diffs.empty() ? "" : diffs.front()) << Backlog();
  const double hooks_s = SecondsSince(hooks_start);
  const int64_t events = Scalar("SELECT COUNT(*) FROM webhook_inbox");
  const int64_t hook_jobs = Scalar("SELECT COUNT(*) FROM jobs WHERE status = 'done'") - jobs_before_hooks;
  const int64_t hooks_tx = Transactions() - tx_before_hooks;

  // Zero 429s: the two workers (and the restarted ones) paced one budget in the database.
  auto stats = emulator_.Stats();
  EXPECT_EQ(stats.at("rate_limited").get<int64_t>(), 0) << stats.at("by_status").dump();
  EXPECT_FALSE(stats.at("by_status").contains("429")) << stats.at("by_status").dump();
  // No job ran to completion twice; the killed workers' jobs were taken over and finished.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM jobs WHERE completions > 1"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_until < " +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count() -
                                  1000)),
            0)
      << "expired leases left behind";
  // Dead: none but a maintenance run killed with its worker (one attempt each; the next interval's run
  // follows).
  EXPECT_EQ(Scalar(std::string("SELECT COUNT(*) FROM jobs WHERE status = 'dead' AND kind <> '") +
                   integration::kDeliveryHealthJob + "'"),
            0)
      << Backlog();
  // Both workers did work.
  EXPECT_GE(Scalar("SELECT COUNT(DISTINCT worker_id) FROM jobs WHERE status = 'done'"), 2);
  // The maintenance job runs once per interval across the fleet, not once per worker.
  const double elapsed = SecondsSince(test_start);
  const int64_t maintenance =
      Scalar(std::string("SELECT COUNT(*) FROM jobs WHERE kind = '") + integration::kDeliveryHealthJob + "'");
  EXPECT_LE(maintenance, static_cast<int64_t>(elapsed / kMaintenanceIntervalS) + 2)
      << "maintenance jobs in " << elapsed << " s";
  EXPECT_GE(maintenance, 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM fleet_leases WHERE name = 'scheduler'"), 1);
  EXPECT_EQ(kills_, 2);

  std::printf(
      "[ figures  ] initial sync (demo): %.1f s, %lld jobs (%.1f jobs/s per worker), %lld Procore requests, "
      "%lld db transactions (%.0f/s)\n",
      sync_s, static_cast<long long>(sync_jobs), sync_jobs / sync_s / 2,
      static_cast<long long>(sync_requests), static_cast<long long>(sync_tx), sync_tx / sync_s);
  std::printf(
      "[ figures  ] 1,000 changes: %lld webhook events converged in %.1f s (%.1f events/s per worker), %lld "
      "jobs, "
      "%lld db transactions (%.0f/s); %lld maintenance runs in %.0f s\n",
      static_cast<long long>(events), hooks_s, events / hooks_s / 2, static_cast<long long>(hook_jobs),
      static_cast<long long>(hooks_tx), hooks_tx / hooks_s, static_cast<long long>(maintenance), elapsed);
}

// Webhook secret rotations sent to two web servers at once. Each server lets one rotation run at a time, but
// the two can interleave; whichever finishes last, Procore must end with the secret KTrack keeps, so that its
// deliveries are accepted.
TEST_F(FleetServeTest, SecretRotationsOnTwoWebServersAtOnceLeaveProcoreWithTheKeptSecret) {
  web_ = StartServe("web", "web.log");
  base_ = web_->WaitForListening();
  auto second_web = StartServe("web", "web2.log");
  const std::string second_base = second_web->WaitForListening();
  StartWorker(0);
  SaveAndVerifyCredentials();
  if (HasFatalFailure()) return;
  auto settings = Api("PUT", "/settings",
                      {{"company_id", emulator_.company_id},
                       {"domains", {"directory", "rfis", "submittals", "change_events", "direct_costs"}},
                       {"auto_link_projects", false}});
  ASSERT_EQ(settings.status, 200) << settings.text;
  ASSERT_EQ(Api("POST", "/permissions/verify", json::object()).status, 200);
  ASSERT_EQ(Api("POST", "/complete", json::object()).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return Api("GET").body.value("status", "") == "active"; }, 60s))
      << Api("GET").text;

  // Procore answers slowly, so the two servers' updates of the hook overlap.
  emulator_.Faults({{"latency_ms", 60}});
  std::vector<std::future<Answer>> rotations;
  for (int i = 0; i < 6; ++i) {
    const std::string base = i % 2 ? second_base : base_;
    rotations.push_back(std::async(std::launch::async, [this, base] {
      return Call(
          "POST",
          base + "/api/v1/clients/" + std::to_string(tenant_.client_id) + "/procore/webhooks/rotate-secret",
          json::object(), {{"Authorization", "Bearer " + tenant_.admin_token}});
    }));
  }
  for (auto& r : rotations) {
    Answer a = r.get();
    EXPECT_EQ(a.status, 200) << a.text;
  }
  EXPECT_FALSE(Api("GET").body["webhooks"].value("secret_rotation_pending", true)) << Api("GET").text;

  // Procore's deliveries of its next changes reach the inbox (a server that cached an older secret reads the
  // new one after its first refusal, and Procore retries).
  emulator_.Faults({{"latency_ms", 0}});
  const int64_t stored_before = Scalar("SELECT COUNT(*) FROM webhook_inbox");
  ASSERT_EQ(emulator_.Changes(30, 5), 30);
  EXPECT_TRUE(WaitUntil([&] { return Scalar("SELECT COUNT(*) FROM webhook_inbox") > stored_before; }, 30s))
      << "Procore's deliveries were refused: its hook does not have the secret KTrack keeps";
  second_web->Signal(SIGTERM);
  EXPECT_EQ(second_web->Wait(), 0);
}

}  // namespace
}  // namespace kt::testing
