// Security end to end (issue 10): the route table, read from the router itself (`ktrack routes`), is walked
// so every client route refuses other tenants (404), members on admin routes (403), callers without
// credentials (401 for the API, a redirect to sign-in for pages) and session state changes without the CSRF
// token (403); a route nobody classified fails the test. After a full flow (connect, verify, complete, sync,
// webhooks) the secrets are absent from the database files, the server's log, and every page and API answer.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "crypto/master_key.h"
#include "crypto/secret_store.h"
#include "harness.h"
#include "http/client.h"
#include "process.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/strings.h"

namespace kt::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const char kPassword[] = "correct horse";  // what NewTenant gives every user

// Routes outside any client, with why they are open (or how they authenticate instead).
const std::map<std::string, std::string> kPublicRoutes = {
    {"GET /healthz", "liveness probe"},
    {"GET /readyz", "readiness probe"},
    {"GET /metrics", "Prometheus scrape (bind the server to a private address)"},
    {"GET /static/{name}", "embedded CSS and JS"},
    {"GET /signin", "the sign-in form"},
    {"POST /signin", "sign-in (form CSRF cookie, throttled)"},
    {"POST /signout", "signs out the session it is given"},
    {"POST /webhooks/procore/{integration_key}",
     "Procore's deliveries: the webhook secret authenticates them"},
};
// Routes outside any client that need a signed-in user: a redirect to sign-in without one.
const std::set<std::string> kSignedInRoutes = {"GET /", "GET /clients", "GET /api/v1/clients"};
// Client routes a member (not an admin) may use; every other client route is for the client's admins. A
// member reads the synced data (a KTrack project's page, its streams and records); setting up, changing or
// reconciling the integration is an admin's.
const std::set<std::string> kMemberRoutes = {
    "GET /clients/{client_id}",
    "GET /api/v1/clients/{client_id}",
    "GET /clients/{client_id}/projects/{ktrack_project_id}",
    "GET /api/v1/clients/{client_id}/procore/streams",
    "GET /api/v1/clients/{client_id}/procore/records",
    "GET /api/v1/clients/{client_id}/procore/ktrack-projects",
};
// The query a route needs to answer at all (the records are asked for by stream).
const std::map<std::string, std::string> kRouteQueries = {
    {"GET /api/v1/clients/{client_id}/procore/records", "?stream=rfis"},
};

struct Session {
  std::string cookie;  // "ktrack_session=..."
  std::string set_cookie;
  std::string csrf;
};

class SecurityTest : public EmulatorServeTest {
 protected:
  static void SetUpTestSuite() {
    StartSuite("small", 5, {{"KTRACK_INTEGRATION_MAINTENANCE_INTERVAL_S", "1"}});
  }
  static void TearDownTestSuite() { StopSuite(); }

  static Session SignIn(const std::string& email, const std::string& password, int* status = nullptr) {
    auto form = Call("GET", base_ + "/signin");
    std::string pre;
    for (const auto& [k, v] : form.raw.headers.items())
      if (IEquals(k, "Set-Cookie") && v.rfind("ktrack_csrf=", 0) == 0) pre = v.substr(0, v.find(';'));
    std::smatch m;
    std::regex_search(form.text, m, std::regex("name=\"_csrf\" value=\"([^\"]+)\""));
    http::ClientRequest r;
    r.method = "POST";
    r.url = base_ + "/signin";
    r.body = "_csrf=" + m[1].str() + "&email=" + UrlEncode(email) + "&password=" + UrlEncode(password);
    r.headers.Add("Content-Type", "application/x-www-form-urlencoded");
    r.headers.Add("Cookie", pre);
    auto answer = http::Fetch(r);
    if (status) *status = answer.status;
    Session s;
    for (const auto& [k, v] : answer.headers.items())
      if (IEquals(k, "Set-Cookie") && v.rfind("ktrack_session=", 0) == 0) {
        s.cookie = v.substr(0, v.find(';'));
        s.set_cookie = v;
      }
    return s;
  }
  // The session's CSRF token, as the Procore pages carry it.
  static std::string CsrfOf(const Session& s, int64_t client_id) {
    auto page = Call("GET", base_ + "/clients/" + std::to_string(client_id) + "/procore", nullptr,
                     {{"Cookie", s.cookie}});
    std::smatch m;
    std::regex_search(page.text, m, std::regex("data-csrf=\"([^\"]+)\""));
    return m.size() > 1 ? m[1].str() : "";
  }

  static std::vector<std::pair<std::string, std::string>> RouteTable() {
    auto out = RunKtrack({"routes"}, dir_->path());
    auto table = json::parse(out, nullptr, false);
    EXPECT_TRUE(table.is_array()) << out;
    std::vector<std::pair<std::string, std::string>> routes;
    if (table.is_array())
      for (const auto& r : table) routes.emplace_back(r["method"], r["pattern"]);
    return routes;
  }

  static std::string Secret(int64_t client_id, const std::string& purpose) {
    auto store = store::OpenStore("sqlite:" + dir_->path() + "/ktrack.db");
    EXPECT_TRUE(store);
    auto keyring = crypto::LoadKeyring(crypto::KeySourceFromEnvironment(dir_->path()));
    EXPECT_TRUE(keyring);
    crypto::SecretStore secrets(**store, keyring->keyring, SystemClock::Instance());
    auto got = secrets.Get("client:" + std::to_string(client_id), purpose);
    EXPECT_TRUE(got);
    return got && *got ? **got : "";
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

TEST_F(SecurityTest, EveryRouteOfTheRouterRefusesOtherTenantsMembersStrangersAndMissingCsrf) {
  Tenant t = NewTenant("Route Co", dir_->path());
  Tenant other = NewTenant("Other Co", dir_->path());
  Session admin = SignIn(t.admin_email, kPassword);
  ASSERT_FALSE(admin.cookie.empty());
  const std::string member_email = "member" + t.admin_email.substr(5);  // NewTenant's naming
  Session member = SignIn(member_email, kPassword);
  ASSERT_FALSE(member.cookie.empty()) << member_email;
  Session stranger = SignIn(other.admin_email, kPassword);
  ASSERT_FALSE(stranger.cookie.empty());
  const std::string stranger_csrf = CsrfOf(stranger, other.client_id);
  ASSERT_FALSE(stranger_csrf.empty());

  auto routes = RouteTable();
  ASSERT_GT(routes.size(), 20u);
  int client_routes = 0, api_routes = 0, page_routes = 0;
  for (const auto& [method, pattern] : routes) {
    const std::string key = method + " " + pattern;
    SCOPED_TRACE(key);
    const bool api = pattern.rfind("/api/", 0) == 0;
    const bool page_like = !api;
    if (pattern.find("{client_id}") == std::string::npos) {
      if (kPublicRoutes.count(key)) continue;
      ASSERT_TRUE(kSignedInRoutes.count(key))
          << "a route outside any client that is neither public nor sign-in only: classify it here";
      auto r = Call(method, base_ + pattern);
      if (api) {
        EXPECT_EQ(r.status, 401);
      } else {
        EXPECT_TRUE(r.status == 302 || r.status == 303) << r.status;
        EXPECT_NE(r.raw.headers.Get("Location").value_or("").find("/signin"), std::string::npos);
      }
      continue;
    }
    ++client_routes;
    (api ? api_routes : page_routes)++;
    // The client's own path; other parameters get values that exist where that matters.
    std::string path =
        std::regex_replace(pattern, std::regex("\\{client_id\\}"), std::to_string(t.client_id));
    path = std::regex_replace(path, std::regex("\\{procore_project_id\\}"), std::to_string(projects_[0]));
    path = std::regex_replace(path, std::regex("\\{[a-z_]+\\}"), "1");
    const auto query = kRouteQueries.find(key);
    const std::string url = base_ + path + (query == kRouteQueries.end() ? "" : query->second);
    const json body = method == "GET" ? json(nullptr) : json::object();
    const bool admin_only = !kMemberRoutes.count(key);

    // No credentials.
    auto anonymous = Call(method, url, body);
    if (api) {
      EXPECT_EQ(anonymous.status, 401);
    } else {
      EXPECT_TRUE(anonymous.status == 302 || anonymous.status == 303) << anonymous.status;
      EXPECT_NE(anonymous.raw.headers.Get("Location").value_or("").find("/signin"), std::string::npos);
    }
    // Another client's admin: the client does not exist for them.
    if (api) {
      EXPECT_EQ(Call(method, url, body, {{"Authorization", "Bearer " + other.admin_token}}).status, 404);
    }
    EXPECT_EQ(Call(method, url, body, {{"Cookie", stranger.cookie}, {"X-CSRF-Token", stranger_csrf}}).status,
              404);
    // A member of the client.
    auto as_member = page_like ? Call(method, url, body, {{"Cookie", member.cookie}})
                               : Call(method, url, body, {{"Authorization", "Bearer " + t.member_token}});
    if (admin_only) {
      EXPECT_EQ(as_member.status, 403);
      EXPECT_NE(as_member.text.find("Only an admin of this client can do this."), std::string::npos)
          << as_member.text.substr(0, 300);
    } else {
      EXPECT_LT(as_member.status, 400) << as_member.text.substr(0, 300);
    }
    // State changes with the admin's session but without its CSRF token.
    if (method != "GET") {
      auto no_token = Call(method, url, body, {{"Cookie", admin.cookie}});
      EXPECT_EQ(no_token.status, 403) << "no CSRF token";
      EXPECT_NE(no_token.text.find("This form has expired or did not come from KTrack."), std::string::npos)
          << no_token.text.substr(0, 300);
    }
    // And the admin gets through all of it (the refusals above are not for everyone).
    if (method == "GET") {
      auto as_admin = Call(method, url, body, {{"Cookie", admin.cookie}});
      EXPECT_NE(as_admin.status, 401);
      EXPECT_NE(as_admin.status, 403);
      EXPECT_NE(as_admin.status, 404) << as_admin.text.substr(0, 300);
    }
  }
  EXPECT_GE(api_routes, 15);
  EXPECT_GE(page_routes, 5);
  EXPECT_EQ(client_routes, api_routes + page_routes);
  EXPECT_EQ(Call("GET", base_ + "/api/v1/clients/" + std::to_string(t.client_id) + "/procore", nullptr,
                 {{"Authorization", "Bearer " + t.admin_token}})
                .body["status"],
            "not_started")
      << "none of the refused calls changed anything";
}

TEST_F(SecurityTest, SessionCookiesAreFlaggedAndSignInIsThrottled) {
  Tenant t = NewTenant("Cookie Co", dir_->path());
  Session s = SignIn(t.admin_email, kPassword);
  ASSERT_FALSE(s.cookie.empty());
  EXPECT_NE(s.set_cookie.find("HttpOnly"), std::string::npos) << s.set_cookie;
  EXPECT_NE(s.set_cookie.find("SameSite=Lax"), std::string::npos) << s.set_cookie;
  EXPECT_NE(s.set_cookie.find("Path=/"), std::string::npos) << s.set_cookie;
  EXPECT_EQ(s.set_cookie.find("Secure"), std::string::npos) << "plain http on loopback: not Secure";

  // Guessing: a few wrong passwords, then even the right one is refused for a while.
  int status = 0;
  for (int i = 0; i < 5; ++i) {
    SignIn(t.admin_email, "wrong guess " + std::to_string(i), &status);
    EXPECT_EQ(status, 401) << i;
  }
  Session locked = SignIn(t.admin_email, "wrong again", &status);
  EXPECT_EQ(status, 429);
  locked = SignIn(t.admin_email, kPassword, &status);
  EXPECT_EQ(status, 429) << "locked: the right password waits too";
  EXPECT_TRUE(locked.cookie.empty());
}

TEST_F(SecurityTest, CookiesAreSecureWhenTheServerIsReachedOverHttps) {
  // Behind a TLS-terminating proxy: the configured public address is https.
  TempDir other;
  const std::string d = other.path();
  const int64_t client =
      json::parse(RunKtrack({"client", "add", "--name", "Proxy Co", "--json"}, d))["id"].get<int64_t>();
  RunKtrack({"user", "add", "--client", std::to_string(client), "--email", "a@proxy.test", "--password",
             kPassword, "--role", "admin", "--json"},
            d);
  ChildProcess proxied;
  proxied.Start({BinPath("ktrack"), "serve", "--listen", "127.0.0.1:0", "--data-dir", d},
                {{"KTRACK_PUBLIC_BASE_URL", "https://ktrack.example"}}, d + "/server.log");
  const std::string saved = base_;
  base_ = proxied.WaitForListening();
  Session s = SignIn("a@proxy.test", kPassword);
  auto form = Call("GET", base_ + "/signin");
  base_ = saved;
  ASSERT_FALSE(s.cookie.empty());
  EXPECT_NE(s.set_cookie.find("; Secure"), std::string::npos) << s.set_cookie;
  EXPECT_NE(s.set_cookie.find("HttpOnly"), std::string::npos) << s.set_cookie;
  bool csrf_cookie_secure = false;
  for (const auto& [k, v] : form.raw.headers.items())
    if (IEquals(k, "Set-Cookie") && v.rfind("ktrack_csrf=", 0) == 0)
      csrf_cookie_secure = v.find("; Secure") != std::string::npos;
  EXPECT_TRUE(csrf_cookie_secure) << "the sign-in form's cookie too";
  proxied.Signal(SIGTERM);
  EXPECT_EQ(proxied.Wait(), 0);
}

TEST_F(SecurityTest, SecretsAppearNowhereAfterAFullFlow) {
  Tenant t = NewTenant("Secret Co", dir_->path());
  auto app = Call("POST", emu_ + "/_emulator/apps", {{"name", "KTrack secrets"}, {"kind", "dmsa"}});
  ASSERT_EQ(app.status, 200);
  const std::string client_id = app.body["client_id"], client_secret = app.body["client_secret"];
  ASSERT_LT(
      Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/installs",
           {{"client_id", client_id},
            {"permissions",
             {{"company", {{"Admin", "admin"}, {"Directory", "read_only"}, {"Webhooks API", "standard"}}},
              {"project", {{"Admin", "read_only"}, {"RFIs", "read_only"}}}}},
            {"permitted_projects", "all"}})
          .status,
      300);
  Session admin = SignIn(t.admin_email, kPassword);
  const std::string csrf = CsrfOf(admin, t.client_id);
  const std::string api = base_ + "/api/v1/clients/" + std::to_string(t.client_id) + "/procore";
  // The flow as the browser makes it: session cookie and CSRF header.
  auto as = [&](const std::string& method, const std::string& rest, const json& body = nullptr) {
    return Call(method, api + rest, body, {{"Cookie", admin.cookie}, {"X-CSRF-Token", csrf}});
  };
  ASSERT_EQ(as("PUT", "/credentials",
               {{"client_id", client_id},
                {"client_secret", client_secret},
                {"environment", "custom"},
                {"login_url", emu_},
                {"api_url", emu_}})
                .status,
            200);
  ASSERT_EQ(as("POST", "/credentials/verify", {{"company_id", company_}}).status, 200);
  ASSERT_EQ(as("PUT", "/settings", {{"company_id", company_}, {"domains", {"rfis"}}}).status, 200);
  ASSERT_EQ(as("POST", "/permissions/verify", json::object()).status, 200);
  ASSERT_EQ(as("POST", "/complete", json::object()).status, 202);
  ASSERT_TRUE(WaitUntil([&] { return as("GET", "").body["status"] == "active"; }, seconds(60)));
  ASSERT_EQ(as("POST", "/projects/" + std::to_string(projects_[0]) + "/link", {{"create", true}}).status,
            200);
  auto synced = [&] {
    for (const auto& s : as("GET", "/streams").body)
      if (s["status"] != "synced") return false;
    return true;
  };
  ASSERT_TRUE(WaitUntil(synced, seconds(60))) << as("GET", "/streams").text;
  // Webhooks: Procore's deliveries for changes, processed.
  ASSERT_EQ(Call("POST", emu_ + "/_emulator/companies/" + std::to_string(company_) + "/changes",
                 {{"count", 10}, {"streams", {"rfis"}}, {"seed", 2}})
                .status,
            200);
  std::this_thread::sleep_for(seconds(3));
  ASSERT_TRUE(WaitUntil(synced, seconds(60)));
  ASSERT_EQ(as("POST", "/webhooks/rotate-secret", json::object()).status, 200);

  std::vector<std::pair<std::string, std::string>> secrets = {
      {"client secret", client_secret},
      {"webhook secret", Secret(t.client_id, "procore.webhook_secret")},
      {"password", kPassword},
      {"password (form-encoded)", "correct+horse"}};
  if (auto previous = Secret(t.client_id, "procore.webhook_secret_previous"); !previous.empty())
    secrets.emplace_back("previous webhook secret", previous);
  auto tokens = Call("GET", emu_ + "/_emulator/apps/" + client_id + "/tokens");
  ASSERT_EQ(tokens.status, 200) << tokens.text;
  ASSERT_FALSE(tokens.body["tokens"].empty()) << "KTrack asked Procore for a token";
  for (const auto& token : tokens.body["tokens"])
    secrets.emplace_back("access token", token.get<std::string>());
  for (const auto& [what, value] : secrets) ASSERT_GE(value.size(), 8u) << what;

  // Every page and every GET of the API, as the admin sees them.
  std::map<std::string, std::string> seen;
  for (const auto& [method, pattern] : RouteTable()) {
    if (method != "GET" || pattern.find("{client_id}") == std::string::npos) continue;
    std::string path =
        std::regex_replace(pattern, std::regex("\\{client_id\\}"), std::to_string(t.client_id));
    path = std::regex_replace(path, std::regex("\\{[a-z_]+\\}"), std::to_string(projects_[0]));
    if (path.find("/records") != std::string::npos) path += "?stream=rfis";
    auto r = Call("GET", base_ + path, nullptr, {{"Cookie", admin.cookie}});
    EXPECT_EQ(r.status, 200) << path << ": " << r.text.substr(0, 300);
    seen[path] = r.text;
    for (const auto& [k, v] : r.raw.headers.items()) seen[path] += "\n" + k + ": " + v;
  }
  EXPECT_GE(seen.size(), 10u);
  for (const char* f : {"/ktrack.db", "/ktrack.db-wal", "/ktrack.db-shm"})
    seen[f] = ReadFile(dir_->path() + f);
  ASSERT_GT(seen["/ktrack.db"].size(), 0u);
  seen["server log"] = ReadFile(dir_->path() + "/server.log");
  ASSERT_GT(seen["server log"].size(), 0u);
  for (const auto& [where, text] : seen)
    for (const auto& [what, value] : secrets)
      EXPECT_EQ(text.find(value), std::string::npos) << "the " << what << " appears in " << where;
}

}  // namespace
}  // namespace kt::testing
