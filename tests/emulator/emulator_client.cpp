// Starting the emulator binary and calling it over HTTP.
#include "emulator_client.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "util/hash.h"
#include "util/strings.h"

namespace procore_emulator::testing {

EmulatorClient::EmulatorClient(std::vector<std::string> args) {
  std::vector<std::string> argv = {kt::testing::BinPath("procore-emulator"), "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  process_.Start(argv);
  base_url_ = process_.WaitForListening();
  // The reset answer names the companies and projects; reset with the same preset and seed changes nothing.
  std::string preset = "small";
  int64_t seed = 1;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--preset") preset = args[i + 1];
    if (args[i] == "--seed") seed = std::stoll(args[i + 1]);
  }
  reset_ = Control("POST", "/_emulator/reset", {{"preset", preset}, {"seed", seed}}, 200);
}

EmulatorClient::~EmulatorClient() {
  process_.Signal(15);
  process_.Wait();
}

HttpAnswer EmulatorClient::Request(const std::string& method, const std::string& path,
                                   const std::string& body, std::map<std::string, std::string> headers) {
  kt::http::ClientRequest req;
  req.method = method;
  req.url = base_url_ + path;
  req.body = body;
  for (const auto& [k, v] : headers) req.headers.Add(k, v);
  req.timeout = std::chrono::milliseconds(60000);
  kt::http::ClientResponse res = kt::http::Fetch(req);
  return {res.status, res.headers, res.body};
}

nlohmann::json EmulatorClient::Control(const std::string& method, const std::string& path,
                                       const nlohmann::json& body, int expect_status) {
  HttpAnswer a = Request(method, path, body.is_null() ? std::string() : body.dump(),
                         {{"Content-Type", "application/json"}});
  if (expect_status) {
    EXPECT_EQ(a.status, expect_status) << method << " " << path << ": " << a.body;
  }
  return a.Json();
}

AppCredentials EmulatorClient::CreateApp(const std::string& name, const std::string& kind) {
  auto j = Control("POST", "/_emulator/apps", {{"name", name}, {"kind", kind}}, 200);
  return {j["client_id"], j["client_secret"], j["app_version_key"]};
}

nlohmann::json EmulatorClient::AllToolsAt(const std::string& level) {
  nlohmann::json company = {{"Admin", level}, {"Directory", level}, {"Webhooks API", "standard"}};
  nlohmann::json project = nlohmann::json::object();
  for (const char* tool : {"Admin", "Directory", "Budget", "Commitments", "Change Orders", "Prime Contracts",
                           "Change Events", "Direct Costs", "RFIs", "Submittals", "Daily Log"})
    project[tool] = level;
  return {{"company", company}, {"project", project}};
}

void EmulatorClient::Install(const AppCredentials& app, nlohmann::json permissions,
                             nlohmann::json permitted_projects) {
  if (permissions.is_null()) permissions = AllToolsAt("read_only");
  Control("POST", "/_emulator/companies/" + std::to_string(company_id()) + "/installs",
          {{"client_id", app.client_id},
           {"permissions", permissions},
           {"permitted_projects", permitted_projects}},
          201);
}

std::string EmulatorClient::Token(const AppCredentials& app) {
  HttpAnswer a = Request(
      "POST", "/oauth/token",
      "grant_type=client_credentials&client_id=" + app.client_id + "&client_secret=" + app.client_secret,
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(a.status, 200) << a.body;
  return a.Json().value("access_token", "");
}

HttpAnswer EmulatorClient::Get(const std::string& path, const std::string& token, bool company_header) {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token}};
  if (company_header) headers["Procore-Company-Id"] = std::to_string(company_id());
  return Request("GET", path, {}, headers);
}

std::vector<nlohmann::json> EmulatorClient::GetAll(const std::string& path, const std::string& token,
                                                   int per_page) {
  std::vector<nlohmann::json> all;
  std::string sep = path.find('?') == std::string::npos ? "?" : "&";
  for (int page = 1; page < 100000; ++page) {
    HttpAnswer a =
        Get(path + sep + "per_page=" + std::to_string(per_page) + "&page=" + std::to_string(page), token);
    EXPECT_EQ(a.status, 200) << path << ": " << a.body;
    if (a.status != 200) break;
    auto items = a.Json();
    for (auto& item : items) all.push_back(item);
    if (a.Header("Link").find("rel=\"next\"") == std::string::npos) break;
  }
  return all;
}

std::string StreamChecksum(const std::vector<nlohmann::json>& records) {
  std::vector<std::string> lines;
  for (const auto& r : records)
    lines.push_back(std::to_string(r["id"].get<int64_t>()) + ":" + r["updated_at"].get<std::string>());
  std::sort(lines.begin(), lines.end());
  std::string joined;
  for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
  return kt::Sha256Hex(joined);
}

}  // namespace procore_emulator::testing
