// `ktrack serve` end to end over HTTP: health, sign-in, tenant isolation, CSRF, the JSON API and /metrics.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http/client.h"
#include "process.h"

namespace kt::testing {
namespace {

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string& d = dir_->path();
    auto a = nlohmann::json::parse(RunKtrack({"client", "add", "--name", "Acme Builders", "--json"}, d));
    auto b = nlohmann::json::parse(RunKtrack({"client", "add", "--name", "Borealis Owners", "--json"}, d));
    client_a_ = a["id"].get<int64_t>();
    client_b_ = b["id"].get<int64_t>();
    RunKtrack({"user", "add", "--client", std::to_string(client_a_), "--email", "admin@acme.test",
               "--password", "correct horse", "--role", "admin", "--json"},
              d);
    RunKtrack({"user", "add", "--client", std::to_string(client_a_), "--email", "member@acme.test",
               "--password", "correct horse", "--role", "member", "--json"},
              d);
    RunKtrack({"user", "add", "--client", std::to_string(client_b_), "--email", "admin@borealis.test",
               "--password", "correct horse", "--role", "admin", "--json"},
              d);
    token_a_ = nlohmann::json::parse(
        RunKtrack({"token", "create", "--email", "admin@acme.test", "--json"}, d))["token"];
    server_ = new ChildProcess();
    server_->Start({BinPath("ktrack"), "serve", "--listen", "127.0.0.1:0", "--data-dir", d}, {},
                   d + "/server.log");
    base_ = server_->WaitForListening();
  }
  static void TearDownTestSuite() {
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->Wait(), 0) << "graceful shutdown on SIGTERM";
    delete server_;
    delete dir_;
  }

  static http::ClientResponse Get(const std::string& path, const std::string& cookie = {},
                                  const std::string& token = {}) {
    http::ClientRequest r;
    r.url = base_ + path;
    if (!cookie.empty()) r.headers.Add("Cookie", cookie);
    if (!token.empty()) r.headers.Add("Authorization", "Bearer " + token);
    return http::Fetch(r);
  }
  static http::ClientResponse Post(const std::string& path, const std::string& body,
                                   const std::string& cookie = {},
                                   const std::string& type = "application/x-www-form-urlencoded") {
    http::ClientRequest r;
    r.method = "POST";
    r.url = base_ + path;
    r.body = body;
    r.headers.Add("Content-Type", type);
    if (!cookie.empty()) r.headers.Add("Cookie", cookie);
    return http::Fetch(r);
  }
  static std::string CookieValue(const http::ClientResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers.items())
      if (IEquals(k, "Set-Cookie") && v.rfind(name + "=", 0) == 0) return v.substr(0, v.find(';'));
    return {};
  }
  // Signs in through the form, as a browser does; returns the session cookie and the CSRF token of a page.
  static std::pair<std::string, std::string> SignIn(const std::string& email) {
    auto form = Get("/signin");
    std::string pre = CookieValue(form, "ktrack_csrf");
    std::smatch m;
    std::regex_search(form.body, m, std::regex("name=\"_csrf\" value=\"([^\"]+)\""));
    auto r =
        Post("/signin",
             "_csrf=" + m[1].str() + "&email=" + UrlEncode(email) + "&password=correct+horse&next=%2Fclients",
             pre);
    EXPECT_EQ(r.status, 303) << r.body;
    std::string session = CookieValue(r, "ktrack_session");
    auto page = Get("/clients", session);
    std::regex_search(page.body, m, std::regex("name=\"_csrf\" value=\"([^\"]+)\""));
    return {session, m[1].str()};
  }

  static TempDir* dir_;
  static ChildProcess* server_;
  static std::string base_;
  static int64_t client_a_, client_b_;
  static std::string token_a_;
};
TempDir* ServeTest::dir_;
ChildProcess* ServeTest::server_;
std::string ServeTest::base_;
int64_t ServeTest::client_a_, ServeTest::client_b_;
std::string ServeTest::token_a_;

TEST_F(ServeTest, HealthAndReadiness) {
  EXPECT_EQ(Get("/healthz").status, 200);
  auto ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"database\":\"ok\""), std::string::npos);
}

TEST_F(ServeTest, SessionCookieIsHttpOnlyAndSameSite) {
  auto form = Get("/signin");
  std::string pre = CookieValue(form, "ktrack_csrf");
  std::smatch m;
  std::regex_search(form.body, m, std::regex("name=\"_csrf\" value=\"([^\"]+)\""));
  auto r = Post("/signin", "_csrf=" + m[1].str() + "&email=admin%40acme.test&password=correct+horse", pre);
  ASSERT_EQ(r.status, 303);
  std::string set_cookie;
  for (const auto& [k, v] : r.headers.items())
    if (IEquals(k, "Set-Cookie") && v.rfind("ktrack_session=", 0) == 0) set_cookie = v;
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos);
}

TEST_F(ServeTest, WrongPasswordIsRefusedWithAClearMessage) {
  auto form = Get("/signin");
  std::string pre = CookieValue(form, "ktrack_csrf");
  std::smatch m;
  std::regex_search(form.body, m, std::regex("name=\"_csrf\" value=\"([^\"]+)\""));
  auto r = Post("/signin", "_csrf=" + m[1].str() + "&email=member%40acme.test&password=wrong+password", pre);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("The email or password is not right."), std::string::npos);  // not which of the two
  EXPECT_EQ(CookieValue(r, "ktrack_session"), "");
}

TEST_F(ServeTest, SignInWithoutTheFormTokenIsRefused) {
  auto r = Post("/signin", "email=admin%40acme.test&password=correct+horse");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("The sign-in form expired."), std::string::npos);
  EXPECT_EQ(CookieValue(r, "ktrack_session"), "");
}

TEST_F(ServeTest, MemberOfClientAGets404OnClientBPagesAndApi) {
  auto [session, csrf] = SignIn("admin@acme.test");
  EXPECT_EQ(Get("/clients/" + std::to_string(client_a_), session).status, 200);
  EXPECT_EQ(Get("/clients/" + std::to_string(client_b_), session).status, 404);
  EXPECT_EQ(Get("/clients/" + std::to_string(client_b_) + "/concierge", session).status, 404);
  auto other = Get("/api/v1/clients/" + std::to_string(client_b_), {}, token_a_);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(Get("/api/v1/clients/" + std::to_string(client_a_), {}, token_a_).status, 200);
  auto none = Get("/api/v1/clients/999999", {}, token_a_);
  EXPECT_EQ(none.status, 404);
  // Another client's id is answered exactly as an id that does not exist: nothing tells them apart.
  auto error_of = [](const auto& response) { return nlohmann::json::parse(response.body)["error"]; };
  EXPECT_EQ(error_of(other)["code"], error_of(none)["code"]);
  EXPECT_EQ(error_of(other)["message"], error_of(none)["message"]);
}

TEST_F(ServeTest, ConciergeIsForAdminsOnly) {
  auto [admin, _] = SignIn("admin@acme.test");
  auto page = Get("/clients/" + std::to_string(client_a_) + "/concierge", admin);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Integrate with Procore"), std::string::npos);
  auto [member, __] = SignIn("member@acme.test");
  EXPECT_EQ(Get("/clients/" + std::to_string(client_a_) + "/concierge", member).status, 403);
  auto home = Get("/clients/" + std::to_string(client_a_), member);
  EXPECT_EQ(home.status, 200);
  EXPECT_EQ(home.body.find("/concierge"), std::string::npos) << "members see no Concierge link";
}

TEST_F(ServeTest, FormPostWithoutCsrfTokenIsRefused) {
  auto [session, csrf] = SignIn("admin@acme.test");
  EXPECT_EQ(Post("/signout", "", session).status, 403);
  EXPECT_EQ(Get("/clients", session).status, 200) << "still signed in";
  EXPECT_EQ(Post("/signout", "_csrf=" + csrf, session).status, 303);
  EXPECT_EQ(Get("/clients", session).status, 303) << "signed out: redirected to sign-in";
}

TEST_F(ServeTest, UnauthenticatedApiCallsGet401WithAFix) {
  auto r = Get("/api/v1/clients/" + std::to_string(client_a_));
  EXPECT_EQ(r.status, 401);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "not_signed_in");
  EXPECT_FALSE(body["error"]["fix"].get<std::string>().empty());
  auto bad_token = Get("/api/v1/clients", {}, "kt_not_a_token");
  EXPECT_EQ(bad_token.status, 401);
  EXPECT_EQ(nlohmann::json::parse(bad_token.body)["error"]["code"], "invalid_api_token");
}

TEST_F(ServeTest, MetricsReportTheRequestsMade) {
  for (int i = 0; i < 3; ++i) Get("/healthz");
  auto m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  std::regex line("http_requests_total\\{[^}]*route=\"/healthz\"[^}]*\\} ([0-9.e+]+)");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(m.body, match, line)) << m.body.substr(0, 2000);
  EXPECT_GE(std::stod(match[1].str()), 3.0);
  EXPECT_NE(m.body.find("http_request_duration_seconds"), std::string::npos);
}

TEST_F(ServeTest, KeyFileIsPrivate) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_->path() + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

// A listen address that cannot be used stops `serve` with exit code 1, what is wrong and how to write one.
TEST(ServeStartup, ABadListenAddressStopsServeWithItsFix) {
  TempDir dir;
  const std::string log = dir.path() + "/serve.log";
  ChildProcess serve;
  serve.Start({BinPath("ktrack"), "serve", "--listen", "127.0.0.1:70000", "--data-dir", dir.path()}, {}, log);
  EXPECT_EQ(serve.Wait(), 1);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("listen port must be 0..65535"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("Use --listen HOST:PORT"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace kt::testing
