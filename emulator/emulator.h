// The emulator: one object owning the emulated Procore (data, apps, installs, faults, stats, webhooks) and
// the routes that serve Procore's API, the control API and the browser UI.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/access.h"
#include "emulator/dice.h"
#include "emulator/emulated_clock.h"
#include "emulator/traffic.h"
#include "emulator/webhooks/webhooks.h"
#include "emulator/world.h"
#include "http/router.h"

namespace procore_emulator {

struct EmulatorOptions {
  Preset preset = Preset::kSmall;
  uint64_t seed = 1;
  double time_scale = 1.0;
};

// One call of Procore's API, once authenticated (the app) and scoped (the company).
struct ApiCall {
  kt::http::Request& req;
  const App* app = nullptr;
  int64_t company_id = 0;
  const CompanyData* company = nullptr;
  const Install* install = nullptr;
  std::string record;  // "<stream>:<id>" when the call reads one record (for stats)
};

struct ApiOptions {
  bool oauth = false;     // /oauth routes: no bearer token, no company
  bool installed = true;  // the app must be installed in the Procore-Company-Id company
};

class Emulator {
 public:
  explicit Emulator(EmulatorOptions options);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Adds Procore's API (/oauth, /rest), the control API (/_emulator) and the UI (/).
  void RegisterRoutes(kt::http::Router& router);
  // Starts and stops webhook delivery; Stop also releases requests held by the timeout fault.
  void Start();
  void Stop();

  // The control API's reset: fresh data for the preset and seed, no apps, installs, faults or stats.
  nlohmann::json Reset(Preset preset, uint64_t seed);

  using Call = ApiCall;
  using ApiHandler = std::function<kt::http::Response(Call&)>;

 private:
  void Api(kt::http::Router& router, const std::string& method, const std::string& pattern,
           ApiHandler handler, ApiOptions options = {});
  kt::http::Response RunApi(kt::http::Request& req, const std::string& pattern, const ApiHandler& handler,
                            const ApiOptions& options);
  // Applies latency, timeouts and injected errors; returns an answer when the call should fail.
  std::optional<kt::http::Response> InjectFault();
  // Authenticates the bearer token and applies the rate limit and Procore-Company-Id rules.
  std::optional<kt::http::Response> Authenticate(Call& call, const ApiOptions& options,
                                                 std::optional<RateDecision>& rate);
  std::variant<WebhookCaller, kt::http::Response> AuthenticateWebhooks(kt::http::Request& req);

  void AddOAuthRoutes(kt::http::Router& router);
  void AddRestRoutes(kt::http::Router& router);
  void AddControlRoutes(kt::http::Router& router);
  void AddUiRoutes(kt::http::Router& router);
  void AddWebhookRoutes(kt::http::Router& router);

  // Applies data changes and announces them to webhooks (with the directory fan-out Procore does).
  int ApplyChanges(int company_slot, int count, const std::vector<Stream>& streams, uint64_t change_seed);
  void PublishChange(const AppliedChange& change);
  // Creates a project in the company and fires its Projects create webhook; its id, or none when full.
  std::optional<int64_t> CreateProject(int company_slot);
  // Installs from the control API or the UI; validates tool names and projects.
  kt::Status ApplyInstall(int64_t company_id, const nlohmann::json& body, bool create);
  std::set<int64_t> VisibleProjects(const CompanyData& company, const Install& install) const;
  int64_t AppUserId(size_t ordinal) const;

  EmulatorOptions options_;
  EmulatedClock clock_;
  mutable std::shared_mutex mu_;  // guards world_, access_ and faults_
  std::unique_ptr<World> world_;
  Access access_;
  Faults faults_;
  RateLimiter rate_;
  Stats stats_;
  std::unique_ptr<WebhookService> webhooks_;
  std::mutex dice_mu_;
  Dice fault_dice_;
  std::atomic<bool> stopping_{false};
  std::mutex hang_mu_;
  std::condition_variable hang_cv_;
};

}  // namespace procore_emulator
