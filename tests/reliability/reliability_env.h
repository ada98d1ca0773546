// The reliability suites' world: the Procore emulator, `ktrack serve` on a data directory it can be killed
// and restarted on, a tenant whose integration is connected to the emulator, and the convergence checker
// wired to both.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../integration/harness.h"
#include "../sync/emulator_support.h"
#include "convergence.h"
#include "process.h"

namespace kt::testing {

struct EnvOptions {
  std::string preset = "small";
  int seed = 7;
  double time_scale = 1;
  std::vector<std::string> domains = {"directory",       "cost_codes",    "budget",       "commitments",
                                      "prime_contracts", "change_events", "direct_costs", "rfis",
                                      "submittals",      "daily_logs"};
  // A short job lease, so a restarted server takes over the killed one's jobs in seconds.
  int job_lease_s = 2;
  // When set: how often the integration's maintenance runs and permissions are re-checked (the server's
  // defaults are a minute and a quarter of an hour), for scenarios that wait on them.
  int maintenance_interval_s = 0;
  int permission_recheck_interval_s = 0;
};

// The integer value of an environment variable, or fallback.
int EnvInt(const char* name, int fallback);

class ReliabilityEnv {
 public:
  // Starts the emulator (with the app installed at every tool the domains need) and the server, and adds the
  // tenant. Fails the test (ASSERT) when something does not start.
  void Start(const EnvOptions& options = {});
  ~ReliabilityEnv();

  // The server: started on a fixed port once the first start picked one, so the webhook destination stays.
  void StartServer();
  void KillServer();  // SIGKILL
  void StopServer();  // SIGTERM, expects a clean exit
  bool ServerRunning();

  // Runs the wizard to active (credentials, verify, settings with auto-linked projects, permissions,
  // complete). Does not wait for the sync. faults_at_complete: emulator faults applied just before Complete,
  // so the hook set-up and the whole initial sync run under them. stats_from_complete: the emulator's stats
  // are reset just before Complete, so they count Complete and the initial sync, not the wizard's checks.
  void Connect(int64_t reconcile_interval_s = 3600, const nlohmann::json& faults_at_complete = nullptr,
               bool stats_from_complete = false);

  // The client's Procore API as its admin: rest is appended to /api/v1/clients/{id}/procore.
  Answer Api(const std::string& method, const std::string& rest = "", const nlohmann::json& body = nullptr);
  nlohmann::json Streams();
  std::string IntegrationStatus();

  ConvergenceReport Check();
  // Polls the checker until converged; the last report in *last.
  bool WaitConverged(std::chrono::seconds limit, ConvergenceReport* last = nullptr);

  // Requests made to the emulator's API so far (its stats).
  int64_t EmulatorRequests();
  int64_t CountRows(const std::string& sql);
  // A statement on the server's database (white box), e.g. to bring the next reconciliation forward.
  void Exec(const std::string& sql);
  // Reconciliation now rather than at its interval (the settings allow no less than 5 minutes).
  void RequestReconcile() { Exec("UPDATE sync_clients SET next_reconcile_at = 0"); }
  // How many times each record was fetched since the stats were reset, by id: single-record reads and
  // id-filtered list reads (filters[id], budget_line_item_id[]) alike.
  std::map<int64_t, int64_t> RecordFetches();

  sync::testing::Emulator emulator;
  Tenant tenant;
  std::string data_dir() const { return dir_.path(); }
  std::string database() const { return "sqlite:" + dir_.path() + "/ktrack.db"; }
  std::string base_url;       // of the server
  std::string webhook_url();  // the integration's webhook destination
  EnvOptions options;

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> server_;
  std::string listen_;  // HOST:PORT after the first start
  int starts_ = 0;
};

}  // namespace kt::testing
