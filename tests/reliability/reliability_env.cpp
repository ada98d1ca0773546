// The reliability suites' world: emulator, killable server, connected tenant.
#include "reliability_env.h"

#include <signal.h>

#include <cstdlib>
#include <sstream>

#include "store/store.h"
#include "util/strings.h"

namespace kt::testing {

using nlohmann::json;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return end && *end == '\0' && n > 0 ? static_cast<int>(n) : fallback;
}

void ReliabilityEnv::Start(const EnvOptions& opts) {
  options = opts;
  std::string why;
  std::vector<std::string> extra;
  if (opts.time_scale != 1) {
    std::ostringstream scale;
    scale << opts.time_scale;
    extra = {"--time-scale", scale.str()};
  }
  ASSERT_TRUE(emulator.Start(opts.preset, opts.seed, &why, extra, dir_.path() + "/emulator.log")) << why;
  emulator.InstallApp();
  tenant = NewTenant("Reliability Co", dir_.path());
  StartServer();
}

ReliabilityEnv::~ReliabilityEnv() {
  if (server_ && server_->Running()) {
    server_->Signal(SIGTERM);
    server_->Wait();
  }
}

void ReliabilityEnv::StartServer() {
  std::map<std::string, std::string> env = {
      {"KTRACK_PROCORE_ALLOW_CUSTOM_URLS", "true"},
      {"KTRACK_WORKER_JOB_LEASE_S", std::to_string(options.job_lease_s)},
      {"KTRACK_LOG_LEVEL", "warn"}};
  if (options.maintenance_interval_s > 0)
    env["KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S"] = std::to_string(options.maintenance_interval_s);
  if (options.permission_recheck_interval_s > 0)
    env["KTRACK_INTEGRATION_PERMISSION_RECHECK_INTERVAL_S"] =
        std::to_string(options.permission_recheck_interval_s);
  server_ = std::make_unique<ChildProcess>();
  server_->Start({BinPath("ktrack"), "serve", "--listen", listen_.empty() ? "127.0.0.1:0" : listen_,
                  "--data-dir", dir_.path()},
                 env, dir_.path() + "/server" + std::to_string(starts_++) + ".log");
  base_url = server_->WaitForListening();
  listen_ = base_url.substr(std::string("http://").size());
}

void ReliabilityEnv::KillServer() {
  server_->Signal(SIGKILL);
  server_->Wait();
}

void ReliabilityEnv::StopServer() {
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0) << "ktrack serve did not stop cleanly";
}

bool ReliabilityEnv::ServerRunning() {
  return server_ && server_->Running();
}

Answer ReliabilityEnv::Api(const std::string& method, const std::string& rest, const json& body) {
  return Call(method, base_url + "/api/v1/clients/" + std::to_string(tenant.client_id) + "/procore" + rest,
              body, {{"Authorization", "Bearer " + tenant.admin_token}});
}

json ReliabilityEnv::Streams() {
  return Api("GET", "/streams").body;
}

std::string ReliabilityEnv::IntegrationStatus() {
  auto g = Api("GET");
  return g.status == 200 ? g.body.value("status", std::string()) : "";
}

std::string ReliabilityEnv::webhook_url() {
  return Api("GET").body["webhooks"].value("destination_url", std::string());
}

void ReliabilityEnv::Connect(int64_t reconcile_interval_s, const json& faults_at_complete,
                             bool stats_from_complete) {
  auto put = Api("PUT", "/credentials", emulator.CredentialsBody());
  ASSERT_EQ(put.status, 200) << put.text;
  auto verify = Api("POST", "/credentials/verify", {{"company_id", emulator.company_id}});
  ASSERT_EQ(verify.status, 200) << verify.text;
  auto settings = Api("PUT", "/settings",
                      {{"company_id", emulator.company_id},
                       {"domains", options.domains},
                       {"auto_link_projects", true},
                       {"reconcile_interval_s", reconcile_interval_s}});
  ASSERT_EQ(settings.status, 200) << settings.text;
  auto permissions = Api("POST", "/permissions/verify", json::object());
  ASSERT_EQ(permissions.status, 200) << permissions.text;
  ASSERT_TRUE(permissions.body.value("ok", false)) << permissions.text;
  if (!faults_at_complete.is_null()) emulator.Faults(faults_at_complete);
  if (stats_from_complete) emulator.ResetStats();
  auto complete = Api("POST", "/complete", json::object());
  ASSERT_EQ(complete.status, 202) << complete.text;
  ASSERT_TRUE(WaitUntil([&] { return IntegrationStatus() == "active"; }, std::chrono::seconds(120)))
      << Api("GET").text;
}

ConvergenceReport ReliabilityEnv::Check() {
  return CheckConvergence({base_url, tenant.client_id, tenant.admin_token, database()},
                          {emulator.url, emulator.company_id, emulator.client_id});
}

bool ReliabilityEnv::WaitConverged(std::chrono::seconds limit, ConvergenceReport* last) {
  ConvergenceReport report;
  const bool converged = WaitUntil(
      [&] {
        report = Check();
        return report.Converged();
      },
      limit);
  if (last) *last = report;
  return converged;
}

int64_t ReliabilityEnv::EmulatorRequests() {
  return emulator.Stats().at("requests").get<int64_t>();
}

int64_t ReliabilityEnv::CountRows(const std::string& sql) {
  auto store = store::OpenStore(database());
  if (!store) return -1;
  auto r = (*store)->Query(sql);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r && !r->rows.empty() ? r->rows[0].Int(0) : -1;
}

void ReliabilityEnv::Exec(const std::string& sql) {
  auto store = store::OpenStore(database());
  ASSERT_TRUE(store) << store.error().message;
  auto r = (*store)->Exec(sql);
  ASSERT_TRUE(r) << r.error().message;
}

std::map<int64_t, int64_t> ReliabilityEnv::RecordFetches() {
  std::map<int64_t, int64_t> out;
  json stats = emulator.Stats();
  for (const auto& [record, n] : stats.at("by_record").items()) {
    if (auto id = ParseInt64(record.substr(record.find(':') + 1))) out[*id] += n.get<int64_t>();
  }
  for (const auto& [target, n] : stats.at("by_target").items()) {
    const size_t q = target.find('?');
    if (q == std::string::npos) continue;
    for (const auto& param : Split(target.substr(q + 1), '&')) {
      const size_t eq = param.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = UrlDecode(param.substr(0, eq));
      if (key != "filters[id]" && key != "filters[id][]" && key != "budget_line_item_id[]") continue;
      for (const auto& id : Split(UrlDecode(param.substr(eq + 1)), ','))
        if (auto parsed = ParseInt64(Trim(id))) out[*parsed] += n.get<int64_t>();
    }
  }
  return out;
}

}  // namespace kt::testing
