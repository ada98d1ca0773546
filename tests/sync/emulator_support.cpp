// Emulator start-up, control calls and truth comparison for the sync tests.
#include "emulator_support.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "emulator_control.h"
#include "procore/streams.h"

namespace kt::sync::testing {

bool Emulator::Start(const std::string& preset, int seed, std::string* why,
                     const std::vector<std::string>& extra_args, const std::string& log_path) {
  const std::string bin = kt::testing::BinPath("procore-emulator");
  if (!std::filesystem::exists(bin)) {
    *why = "procore-emulator is not built (" + bin + ")";
    return false;
  }
  std::vector<std::string> argv = {bin,    "--listen", "127.0.0.1:0",       "--preset",
                                   preset, "--seed",   std::to_string(seed)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_.Start(argv, {}, log_path);
  url = process_.WaitForListening();
  auto reset = Call("POST", "/_emulator/reset", {{"preset", preset}, {"seed", seed}});
  const auto& company = reset.at("companies").at(0);
  company_id = company.at("id").get<int64_t>();
  project_ids = company.at("project_ids").get<std::vector<int64_t>>();
  return true;
}

Emulator::~Emulator() {
  if (process_.Running()) {
    process_.Signal(SIGTERM);
    process_.Wait(std::chrono::seconds(10));
  }
}

nlohmann::json Emulator::Call(const std::string& method, const std::string& path,
                              const nlohmann::json& body) {
  return kt::testing::EmulatorControl(url).Call(method, path, body);
}

void Emulator::InstallApp() {
  auto app = Call("POST", "/_emulator/apps", {{"name", "KTrack sync test"}, {"kind", "dmsa"}});
  client_id = app.at("client_id").get<std::string>();
  client_secret = app.at("client_secret").get<std::string>();
  Reinstall();
}

void Emulator::Reinstall() {
  nlohmann::json project_tools = nlohmann::json::object();
  for (const char* tool : {"Admin", "Directory", "Budget", "Commitments", "Change Orders", "Prime Contracts",
                           "Change Events", "Direct Costs", "RFIs", "Submittals", "Daily Log"}) {
    project_tools[tool] = "read_only";
  }
  Call("POST", "/_emulator/companies/" + std::to_string(company_id) + "/installs",
       {{"client_id", client_id},
        {"permissions",
         {{"company", {{"Admin", "read_only"}, {"Directory", "read_only"}, {"Webhooks API", "standard"}}},
          {"project", project_tools}}},
        {"permitted_projects", "all"}});
}

nlohmann::json Emulator::Truth() {
  return Call("GET", "/_emulator/truth?company_id=" + std::to_string(company_id) + "&client_id=" + client_id);
}

nlohmann::json Emulator::Stats() {
  return Call("GET", "/_emulator/stats");
}

void Emulator::ResetStats() {
  Call("POST", "/_emulator/stats/reset");
}

void Emulator::Faults(const nlohmann::json& faults) {
  Call("PUT", "/_emulator/faults", faults);
}

nlohmann::json Emulator::CredentialsBody() const {
  return {{"client_id", client_id},
          {"client_secret", client_secret},
          {"environment", "custom"},
          {"login_url", url},
          {"api_url", url}};
}

int Emulator::Changes(int count, int seed) {
  auto r = Call("POST", "/_emulator/companies/" + std::to_string(company_id) + "/changes",
                {{"count", count}, {"seed", seed}});
  return r.at("applied").get<int>();
}

SyncScope FullScope(int64_t client_id, int64_t company_id, const std::vector<int64_t>& project_ids) {
  DomainStreams d = StreamsForDomains({"directory", "cost_codes", "budget", "commitments", "prime_contracts",
                                       "change_events", "direct_costs", "rfis", "submittals", "daily_logs"});
  SyncScope scope;
  scope.client_id = client_id;
  scope.company_id = company_id;
  scope.company_streams = d.company_streams;
  for (int64_t p : project_ids)
    scope.projects.push_back({p, "Project " + std::to_string(p), d.project_streams});
  return scope;
}

HttpClientSource::HttpClientSource(const std::string& url, const std::string& client_id,
                                   const std::string& secret, Clock& clock)
    : tokens_(transport_, clock, random_), budget_(budget_store_, clock) {
  procore::ClientOptions options;
  options.app.urls = procore::EnvironmentUrls{procore::Environment::kCustom, url, url};
  options.app.client_id = client_id;
  options.app.client_secret = secret;
  options.timeout = Millis(20'000);
  procore::ClientDeps deps{transport_, clock, random_, tokens_, budget_, nullptr};
  client_ = std::make_shared<procore::Client>(options, deps);
}

Result<std::shared_ptr<procore::Client>> HttpClientSource::ClientFor(int64_t) {
  return client_;
}

std::vector<std::string> DiffWithTruth(const std::vector<StreamStatus>& streams,
                                       const nlohmann::json& truth) {
  std::map<std::pair<std::string, int64_t>, const StreamStatus*> ours;
  for (const auto& s : streams) ours[{s.stream, s.project_id.value_or(0)}] = &s;
  std::vector<std::string> diffs;
  size_t compared = 0;
  for (const auto& entry : truth.at("streams")) {
    const std::string stream = entry.at("stream").get<std::string>();
    const int64_t project = entry.at("project_id").is_null() ? 0 : entry.at("project_id").get<int64_t>();
    auto it = ours.find({stream, project});
    const std::string label = stream + "@" + std::to_string(project);
    if (it == ours.end()) {
      diffs.push_back(label + ": not synced");
      continue;
    }
    ++compared;
    const StreamStatus& s = *it->second;
    if (s.count != entry.at("count").get<int64_t>() ||
        s.checksum != entry.at("checksum").get<std::string>()) {
      diffs.push_back(label + ": count " + std::to_string(s.count) + " vs " + entry.at("count").dump() +
                      (s.checksum != entry.at("checksum").get<std::string>() ? ", checksum differs" : "") +
                      " (status " + s.status +
                      (s.error ? ", " + s.error->code + ": " + s.error->message : "") + ")");
    }
  }
  if (compared != streams.size()) diffs.push_back("KTrack has streams the truth does not list");
  return diffs;
}

}  // namespace kt::sync::testing
