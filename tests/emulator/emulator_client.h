// Test helpers: start procore-emulator on port 0 and talk to it (control API, OAuth, Procore's REST API).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/client.h"
#include "process.h"

namespace procore_emulator::testing {

struct HttpAnswer {
  int status = 0;
  kt::http::Headers headers;
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const { return headers.Get(name).value_or(""); }
};

struct AppCredentials {
  std::string client_id, client_secret, app_version_key;
};

class EmulatorClient {
 public:
  // Starts the binary with the given extra arguments (e.g. {"--preset", "small"}).
  explicit EmulatorClient(std::vector<std::string> args = {"--preset", "small", "--seed", "7"});
  ~EmulatorClient();

  const std::string& base_url() const { return base_url_; }
  HttpAnswer Request(const std::string& method, const std::string& path, const std::string& body = {},
                     std::map<std::string, std::string> headers = {});
  // Control API (JSON in, JSON out).
  nlohmann::json Control(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr, int expect_status = 0);

  nlohmann::json companies() const { return reset_["companies"]; }
  int64_t company_id() const { return reset_["companies"][0]["id"].get<int64_t>(); }
  std::vector<int64_t> project_ids() const {
    return reset_["companies"][0]["project_ids"].get<std::vector<int64_t>>();
  }

  AppCredentials CreateApp(const std::string& name = "KTrack Test", const std::string& kind = "dmsa");
  // Installs with the given permissions; default: read_only on every tool at both levels plus Webhooks API
  // standard.
  void Install(const AppCredentials& app, nlohmann::json permissions = nullptr,
               nlohmann::json permitted_projects = "all");
  std::string Token(const AppCredentials& app);
  // GET of Procore's API with the token and the company header.
  HttpAnswer Get(const std::string& path, const std::string& token, bool company_header = true);

  // Pages through a list endpoint; returns every item. Fails the test on a non-200.
  std::vector<nlohmann::json> GetAll(const std::string& path, const std::string& token, int per_page = 100);

  static nlohmann::json AllToolsAt(const std::string& level);

 private:
  kt::testing::ChildProcess process_;
  std::string base_url_;
  nlohmann::json reset_;
};

// Lowercase hex SHA-256 of sorted "<id>:<updated_at>" lines, as interfaces.md defines the stream checksum.
std::string StreamChecksum(const std::vector<nlohmann::json>& records);

}  // namespace procore_emulator::testing
