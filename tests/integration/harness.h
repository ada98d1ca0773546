// Shared helpers of the end-to-end integration suites: JSON calls over HTTP, running ktrack commands,
// tenants.
#pragma once

#include <chrono>
#include <cstdio>
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

// Runs a ktrack command against a data directory and returns its standard output.
inline std::string RunKtrack(const std::vector<std::string>& args, const std::string& data_dir) {
  std::string cmd = BinPath("ktrack");
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " --data-dir '" + data_dir + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
  return out;
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

}  // namespace kt::testing
