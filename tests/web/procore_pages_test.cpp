// The Procore pages as the router serves them: admins only (404 for strangers, 403 for members, sign-in
// first) but for a KTrack project's page, which members read without its actions; the data procore.js needs
// in data-* attributes, escaped client names, and the script served as JavaScript.
#include <gtest/gtest.h>

#include <memory>

#include "access/access.h"
#include "accounts/api_tokens.h"
#include "accounts/clients.h"
#include "accounts/memberships.h"
#include "accounts/sessions.h"
#include "accounts/users.h"
#include "process.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"
#include "web/pages.h"
#include "web/procore_pages.h"
#include "web/render.h"

namespace kt::web {
namespace {

class ProcorePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenStore("sqlite:" + dir_.path() + "/t.db");
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(*opened);
    ASSERT_TRUE(store::Migrate(*db_));
    accounts::UsersOptions fast;
    fast.password = crypto::PasswordHashOptions::Fastest();
    clients_ = std::make_unique<accounts::Clients>(*db_, clock_);
    users_ = std::make_unique<accounts::Users>(*db_, clock_, fast);
    memberships_ = std::make_unique<accounts::Memberships>(*db_, clock_);
    sessions_ = std::make_unique<accounts::Sessions>(*db_, clock_);
    tokens_ = std::make_unique<accounts::ApiTokens>(*db_, clock_);
    access_ = std::make_unique<access::Access>(*users_, *sessions_, *tokens_, *memberships_);

    client_ = clients_->Create("Harbor <Point> & Sons")->id;
    other_client_ = clients_->Create("Other Owner")->id;
    admin_cookie_ = SignedIn("admin@harbor.test", client_, accounts::Role::kAdmin);
    member_cookie_ = SignedIn("member@harbor.test", client_, accounts::Role::kMember);
    stranger_cookie_ = SignedIn("admin@other.test", other_client_, accounts::Role::kAdmin);

    RegisterStatic(router_);
    RegisterProcorePages(router_, ProcorePagesDeps{*access_, *clients_, /*allow_custom_urls=*/true, false});
  }

  std::string SignedIn(const std::string& email, int64_t client, accounts::Role role) {
    auto user = users_->Create(email, "site-visit-42");
    EXPECT_TRUE(user);
    EXPECT_TRUE(memberships_->Add(client, user->id, role));
    auto session = sessions_->Create(user->id);
    EXPECT_TRUE(session);
    csrf_[session->token] = session->csrf_token;
    return session->token;
  }

  http::Response Get(const std::string& path, const std::string& session = {}) {
    http::Request r;
    r.method = "GET";
    r.target = path;
    r.path = path;
    if (!session.empty()) r.headers.Add("Cookie", std::string(access::kSessionCookie) + "=" + session);
    auto match = router_.Find("GET", path);
    if (!match.route) return http::Response::Text(404, "no route");
    r.path_params = match.params;
    return match.route->handler(r);
  }

  std::string Path(const std::string& rest, int64_t client = 0) {
    return "/clients/" + std::to_string(client ? client : client_) + rest;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::Store> db_;
  std::unique_ptr<accounts::Clients> clients_;
  std::unique_ptr<accounts::Users> users_;
  std::unique_ptr<accounts::Memberships> memberships_;
  std::unique_ptr<accounts::Sessions> sessions_;
  std::unique_ptr<accounts::ApiTokens> tokens_;
  std::unique_ptr<access::Access> access_;
  http::Router router_;
  int64_t client_ = 0, other_client_ = 0;
  std::string admin_cookie_, member_cookie_, stranger_cookie_;
  std::map<std::string, std::string> csrf_;
};

const char* kPages[] = {"/procore/integrate", "/procore/setup", "/procore", "/procore/projects"};

TEST_F(ProcorePagesTest, OnlyClientAdminsReachThePages) {
  for (const char* page : kPages) {
    SCOPED_TRACE(page);
    auto anonymous = Get(Path(page));
    EXPECT_EQ(anonymous.status, 303);
    EXPECT_NE(anonymous.headers.Get("Location").value_or("").find("/signin?next="), std::string::npos);
    EXPECT_EQ(Get(Path(page), stranger_cookie_).status, 404)
        << "a non-member does not learn the client exists";
    auto member = Get(Path(page), member_cookie_);
    EXPECT_EQ(member.status, 403);
    EXPECT_NE(member.body.find("Only an admin of this client can do this."), std::string::npos);
    EXPECT_EQ(Get(Path(page), admin_cookie_).status, 200);
  }
}

// A KTrack project's page is the client's data, read by every member; its actions are an admin's.
TEST_F(ProcorePagesTest, MembersReadAKtrackProjectsPageWithoutItsActions) {
  const std::string page = Path("/projects/7");
  EXPECT_EQ(Get(page).status, 303);
  EXPECT_EQ(Get(page, stranger_cookie_).status, 404) << "a non-member does not learn the client exists";

  auto member = Get(page, member_cookie_);
  ASSERT_EQ(member.status, 200);
  EXPECT_NE(member.body.find("data-page=\"ktrack_project\""), std::string::npos);
  EXPECT_NE(member.body.find("data-is-admin=\"false\""), std::string::npos);
  EXPECT_NE(member.body.find("id=\"records-panel\""), std::string::npos)
      << "the records are the member's too";
  EXPECT_EQ(member.body.find("id=\"reconcile-project\""), std::string::npos);
  EXPECT_EQ(member.body.find("id=\"reconcile-records\""), std::string::npos);
  EXPECT_EQ(member.body.find("/procore/projects\""), std::string::npos) << "no link to an admin's page";

  auto admin = Get(page, admin_cookie_);
  ASSERT_EQ(admin.status, 200);
  EXPECT_NE(admin.body.find("data-is-admin=\"true\""), std::string::npos);
  EXPECT_NE(admin.body.find("id=\"reconcile-project\""), std::string::npos);
  EXPECT_NE(admin.body.find("id=\"reconcile-records\""), std::string::npos);
  EXPECT_NE(admin.body.find("/procore/projects\""), std::string::npos);
}

TEST_F(ProcorePagesTest, SetupPageCarriesWhatTheScriptNeeds) {
  auto r = Get(Path("/procore/setup"), admin_cookie_);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("data-client-id=\"" + std::to_string(client_) + "\""), std::string::npos);
  EXPECT_NE(r.body.find("data-csrf=\"" + csrf_[admin_cookie_] + "\""), std::string::npos);
  EXPECT_NE(r.body.find("data-allow-custom-urls=\"true\""), std::string::npos);
  EXPECT_NE(r.body.find("<option value=\"custom\""), std::string::npos);
  EXPECT_NE(r.body.find("/static/procore.js?v="), std::string::npos);
  // The catalog travels HTML-escaped inside an attribute; no inline script (the CSP forbids it).
  EXPECT_NE(r.body.find("data-catalog=\"{&quot;"), std::string::npos);
  EXPECT_EQ(r.body.find("<script>"), std::string::npos);
  // The client's name is escaped.
  EXPECT_EQ(r.body.find("Harbor <Point>"), std::string::npos);
  EXPECT_NE(r.body.find("Harbor &lt;Point&gt; &amp; Sons"), std::string::npos);
  // Every setting is offered with what it brings.
  for (const char* key : {"directory", "cost_codes", "budget", "commitments", "prime_contracts",
                          "change_events", "direct_costs", "rfis", "submittals", "daily_logs"})
    EXPECT_NE(r.body.find(std::string("name=\"domain\" value=\"") + key + "\""), std::string::npos) << key;
}

TEST_F(ProcorePagesTest, CustomUrlsOnlyWhenTheServerAllowsThem) {
  http::Router strict;
  RegisterProcorePages(strict, ProcorePagesDeps{*access_, *clients_, /*allow_custom_urls=*/false, false});
  http::Request r;
  r.method = "GET";
  r.path = r.target = Path("/procore/setup");
  r.headers.Add("Cookie", std::string(access::kSessionCookie) + "=" + admin_cookie_);
  auto match = strict.Find("GET", r.path);
  ASSERT_NE(match.route, nullptr);
  r.path_params = match.params;
  auto resp = match.route->handler(r);
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body.find("<option value=\"custom\""), std::string::npos);
  EXPECT_NE(resp.body.find("data-allow-custom-urls=\"\""), std::string::npos);
}

TEST_F(ProcorePagesTest, SummaryNamesTheServiceAccountSunsetAndContinues) {
  auto r = Get(Path("/procore/integrate"), admin_cookie_);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("18 March 2025"), std::string::npos);
  EXPECT_NE(r.body.find("Developer Managed Service Account"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"" + Path("/procore/setup") + "\""), std::string::npos);
}

TEST_F(ProcorePagesTest, ScriptIsServedAsJavaScript) {
  auto r = Get("/static/procore.js");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_NE(r.body.find("X-CSRF-Token"), std::string::npos);
}

TEST(ProcoreSettingsCatalog, EveryDomainNamesItsToolsAndStreams) {
  auto catalog = ProcoreSettingsCatalog();
  ASSERT_EQ(catalog["domains"].size(), 11u);  // projects and the ten domains of interfaces.md
  EXPECT_EQ(catalog["domains"][0]["key"], "projects");
  size_t streams = 0;
  for (const auto& d : catalog["domains"]) {
    EXPECT_FALSE(d["tools"].empty()) << d["key"];
    for (const auto& s : d["streams"]) {
      EXPECT_TRUE(catalog["stream_labels"].contains(s.get<std::string>())) << s;
      ++streams;
    }
  }
  EXPECT_EQ(streams, 16u);  // the sixteen stream keys of interfaces.md
}

}  // namespace
}  // namespace kt::web
