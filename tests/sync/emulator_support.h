// The emulator as the sync tests use it: started on port 0, an app installed with every tool the streams
// need, control calls, truth and stats; and a ProcoreClientSource over real HTTP to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.h"
#include "procore/client.h"
#include "procore/rate_budget.h"
#include "procore/token_cache.h"
#include "procore/transport.h"
#include "sync/client_source.h"
#include "sync/engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt::sync::testing {

class Emulator {
 public:
  // Starts procore-emulator with the preset; false (with a reason) when the binary is not built.
  // extra_args: more flags (e.g. --time-scale 60); log_path: where its stderr goes (inherited when empty).
  bool Start(const std::string& preset, int seed, std::string* why,
             const std::vector<std::string>& extra_args = {}, const std::string& log_path = {});
  ~Emulator();

  // A control call (kt::testing::EmulatorControl): throws with the call and the answer when it fails.
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr);
  // Creates a DMSA app and installs it with read access to every stream's tools (and Webhooks API).
  void InstallApp();
  // Installs the app created by InstallApp again (after an uninstall), with the same permissions.
  void Reinstall();
  nlohmann::json Truth();
  nlohmann::json Stats();
  void ResetStats();  // the stats count from now on
  void Faults(const nlohmann::json& faults);
  int Changes(int count, int seed);
  // KTrack's PUT /credentials body for the app InstallApp created, at this emulator's URLs.
  nlohmann::json CredentialsBody() const;

  std::string url;
  int64_t company_id = 0;
  std::vector<int64_t> project_ids;
  std::string client_id;
  std::string client_secret;

 private:
  kt::testing::ChildProcess process_;
};

// Every domain: all company streams, and all project streams on every project.
SyncScope FullScope(int64_t client_id, int64_t company_id, const std::vector<int64_t>& project_ids);

class HttpClientSource final : public ProcoreClientSource {
 public:
  HttpClientSource(const std::string& url, const std::string& client_id, const std::string& secret,
                   Clock& clock);
  Result<std::shared_ptr<procore::Client>> ClientFor(int64_t client_id) override;
  procore::Client& client() { return *client_; }

 private:
  procore::CurlTransport transport_;
  SeededRandom random_{3};
  procore::TokenCache tokens_;
  procore::InMemoryRateBudgetStore budget_store_;
  procore::RateBudget budget_;
  std::shared_ptr<procore::Client> client_;
};

// Compares every stream of ListStreams with the emulator's truth; returns the differences (empty when equal).
std::vector<std::string> DiffWithTruth(const std::vector<StreamStatus>& streams, const nlohmann::json& truth);

}  // namespace kt::sync::testing
