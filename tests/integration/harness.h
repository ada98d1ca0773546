// Shared helpers of the end-to-end integration suites: JSON calls over HTTP, tenants, and a suite fixture
// with one Procore emulator and one `ktrack serve`.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "process.h"

namespace kt::testing {

struct Answer {
  int status = 0;
  nlohmann::json body;  // discarded when the answer was not JSON
  std::string text;
  http::ClientResponse raw;
};

inline Answer Call(const std::string& method, const std::string& url, const nlohmann::json& body = nullptr,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  http::ClientRequest r;
  r.method = method;
  r.url = url;
  r.timeout = std::chrono::seconds(90);
  if (!body.is_null()) {
    r.body = body.dump();
    r.headers.Add("Content-Type", "application/json");
  }
  for (const auto& [k, v] : headers) r.headers.Add(k, v);
  Answer a;
  a.raw = http::Fetch(r);
  a.status = a.raw.status;
  a.text = a.raw.body;
  a.body = nlohmann::json::parse(a.raw.body, nullptr, false);
  return a;
}

// Polls pred every 300 ms until it holds or the limit passes; returns its last answer.
template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return pred();
}

struct Tenant {
  int64_t client_id = 0;
  std::string admin_email;
  std::string admin_token;
  std::string member_token;
};

// A KTrack client with an admin and a member, each with an API token.
inline Tenant NewTenant(const std::string& name, const std::string& data_dir) {
  static int n = 0;
  ++n;
  Tenant t;
  t.client_id = nlohmann::json::parse(RunKtrack({"client", "add", "--name", name, "--json"}, data_dir))["id"]
                    .get<int64_t>();
  t.admin_email = "admin" + std::to_string(n) + "@tenant.test";
  std::string member = "member" + std::to_string(n) + "@tenant.test";
  RunKtrack({"user", "add", "--client", std::to_string(t.client_id), "--email", t.admin_email, "--password",
             "correct horse", "--role", "admin", "--json"},
            data_dir);
  RunKtrack({"user", "add", "--client", std::to_string(t.client_id), "--email", member, "--password",
             "correct horse", "--role", "member", "--json"},
            data_dir);
  t.admin_token = nlohmann::json::parse(
      RunKtrack({"token", "create", "--email", t.admin_email, "--json"}, data_dir))["token"];
  t.member_token =
      nlohmann::json::parse(RunKtrack({"token", "create", "--email", member, "--json"}, data_dir))["token"];
  return t;
}

// One Procore emulator and one `ktrack serve` on a fresh data directory, shared by a test suite: a derived
// fixture's SetUpTestSuite calls StartSuite, its TearDownTestSuite StopSuite.
class EmulatorServeTest : public ::testing::Test {
 protected:
  // Starts the emulator with the preset and seed, resets it to them and reads its first company and that
  // company's projects, then starts `ktrack serve` with custom Procore URLs allowed and server_env added.
  static void StartSuite(const std::string& preset, int seed,
                         const std::map<std::string, std::string>& server_env = {}) {
    dir_ = new TempDir();
    emulator_ = new ChildProcess();
    emulator_->Start({BinPath("procore-emulator"), "--listen", "127.0.0.1:0", "--preset", preset, "--seed",
                      std::to_string(seed)},
                     {}, dir_->path() + "/emulator.log");
    emu_ = emulator_->WaitForListening();
    auto reset = Call("POST", emu_ + "/_emulator/reset", {{"preset", preset}, {"seed", seed}});
    ASSERT_EQ(reset.status, 200) << reset.text;
    company_ = reset.body["companies"][0]["id"].get<int64_t>();
    company_name_ = reset.body["companies"][0]["name"].get<std::string>();
    projects_.clear();
    for (const auto& p : reset.body["companies"][0]["project_ids"]) projects_.push_back(p.get<int64_t>());

    std::map<std::string, std::string> env = server_env;
    env["KTRACK_PROCORE_ALLOW_CUSTOM_URLS"] = "true";
    server_ = new ChildProcess();
    server_->Start({BinPath("ktrack"), "serve", "--listen", "127.0.0.1:0", "--data-dir", dir_->path()}, env,
                   dir_->path() + "/server.log");
    base_ = server_->WaitForListening();
  }
  // Stops the server (a graceful exit on SIGTERM is expected) and the emulator, and removes the directory.
  static void StopSuite() {
    if (server_) {
      server_->Signal(SIGTERM);
      EXPECT_EQ(server_->Wait(), 0);
      delete server_;
      server_ = nullptr;
    }
    if (emulator_) {
      emulator_->Signal(SIGTERM);
      emulator_->Wait();
      delete emulator_;
      emulator_ = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
  }

  // The tenant's Procore API (/api/v1/clients/ID/procore...), and a call to it as the tenant's admin.
  static std::string Api(const Tenant& t, const std::string& rest = "") {
    return base_ + "/api/v1/clients/" + std::to_string(t.client_id) + "/procore" + rest;
  }
  static Answer As(const Tenant& t, const std::string& method, const std::string& rest,
                   const nlohmann::json& body = nullptr) {
    return Call(method, Api(t, rest), body, {{"Authorization", "Bearer " + t.admin_token}});
  }

  static inline TempDir* dir_ = nullptr;
  static inline ChildProcess* emulator_ = nullptr;
  static inline ChildProcess* server_ = nullptr;
  static inline std::string emu_, base_;  // the emulator's and the server's base URLs
  static inline std::string company_name_;
  static inline int64_t company_ = 0;
  static inline std::vector<int64_t> projects_;
};

}  // namespace kt::testing
