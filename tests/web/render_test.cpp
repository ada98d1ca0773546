// Pages escape what users typed and carry the gear menu only for admins.
#include <gtest/gtest.h>

#include "web/render.h"

namespace kt::web {
namespace {

TEST(Render, EscapesUserTextByDefault) {
  std::string html = RenderPage(
      "client_home", {{"title", "Home"},
                      {"client", {{"id", 7}, {"name", "<script>x</script> & Sons"}, {"is_admin", false}}},
                      {"project_count", 0},
                      {"procore_status", "not_started"},
                      {"procore_status_label", "Not connected"}});
  EXPECT_EQ(html.find("<script>x</script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
}

TEST(Render, GearMenuWithConciergeOnlyForAdmins) {
  nlohmann::json ctx = {{"title", "Home"},
                        {"client", {{"id", 7}, {"name", "Acme"}, {"is_admin", true}}},
                        {"project_count", 0},
                        {"procore_status", "not_started"},
                        {"procore_status_label", "Not connected"}};
  EXPECT_NE(RenderPage("client_home", ctx).find("/clients/7/concierge"), std::string::npos);
  ctx["client"]["is_admin"] = false;
  EXPECT_EQ(RenderPage("client_home", ctx).find("/clients/7/concierge"), std::string::npos);
}

TEST(Render, HomeLinksEachOfTheClientsProjectsForEveryMember) {
  nlohmann::json ctx = {{"title", "Home"},
                        {"client", {{"id", 7}, {"name", "Acme"}, {"is_admin", true}}},
                        {"project_count_label", "2 KTrack projects."},
                        {"has_projects", true},
                        {"projects",
                         {{{"id", 3}, {"name", "Pier <9>"}, {"procore_note", "Procore: Pier 9 Retail"}},
                          {{"id", 4}, {"name", "Harbor Tower"}}}},
                        {"more_projects", false},
                        {"procore_status", "active"},
                        {"procore_status_label", "Connected"}};
  std::string html = RenderPage("client_home", ctx);
  EXPECT_NE(html.find("2 KTrack projects."), std::string::npos);
  EXPECT_NE(html.find("<a href=\"/clients/7/projects/3\">Pier &lt;9&gt;</a>"), std::string::npos) << html;
  EXPECT_NE(html.find("Procore: Pier 9 Retail"), std::string::npos);
  EXPECT_EQ(html.find("Harbor Tower</a> <span"), std::string::npos);  // not linked: no note
  // A member reads the project pages too; the integration's pages stay an admin's.
  ctx["client"]["is_admin"] = false;
  html = RenderPage("client_home", ctx);
  EXPECT_NE(html.find("<a href=\"/clients/7/projects/3\">Pier &lt;9&gt;</a>"), std::string::npos) << html;
  EXPECT_NE(html.find("<a href=\"/clients/7/projects/4\">Harbor Tower</a>"), std::string::npos) << html;
  EXPECT_EQ(html.find("/clients/7/procore"), std::string::npos) << html;
  EXPECT_EQ(html.find("/clients/7/concierge"), std::string::npos) << html;
}

TEST(Render, TheProcoreCardSaysHowManyStreamsAreSyncedAndWhichNeedAttention) {
  nlohmann::json ctx = {{"title", "Home"},
                        {"client", {{"id", 7}, {"name", "Acme"}, {"is_admin", true}}},
                        {"project_count_label", "No KTrack projects yet."},
                        {"procore_status", "active"},
                        {"procore_status_label", "Connected"},
                        {"procore_streams", "38 of 40 streams synced"},
                        {"procore_failing", "2 streams need attention"}};
  std::string html = RenderPage("client_home", ctx);
  EXPECT_NE(html.find(">38 of 40 streams synced<"), std::string::npos) << html;
  EXPECT_NE(html.find(">2 streams need attention<"), std::string::npos) << html;
  ctx["procore_failing"] = false;
  EXPECT_EQ(RenderPage("client_home", ctx).find("need attention"), std::string::npos);
  EXPECT_NE(RenderPage("concierge", ctx).find(">38 of 40 streams synced<"), std::string::npos);
}

TEST(Render, TheProcoreCardSaysWhatWaitsOnTheCustomer) {
  nlohmann::json ctx = {{"title", "Home"},
                        {"client", {{"id", 7}, {"name", "Acme"}, {"is_admin", true}}},
                        {"project_count_label", "No KTrack projects yet."},
                        {"procore_status", "active"},
                        {"procore_status_label", "Needs attention"},
                        {"procore_problem", "The app is not installed in <Acme>'s company."}};
  for (const char* page : {"client_home", "concierge"}) {
    std::string html = RenderPage(page, ctx);
    EXPECT_NE(html.find("class=\"badge active warn\">Needs attention<"), std::string::npos) << html;
    EXPECT_NE(html.find("The app is not installed in &lt;Acme&gt;"), std::string::npos) << html;
  }
  ctx["procore_problem"] = false;
  ctx["procore_status_label"] = "Connected";
  std::string html = RenderPage("client_home", ctx);
  EXPECT_NE(html.find("class=\"badge active\">Connected<"), std::string::npos) << html;
  EXPECT_EQ(html.find("data-role=\"problem\""), std::string::npos) << html;
}

TEST(Render, StaticStylesheetIsEmbedded) {
  const std::string* css = StaticAsset("app.css");
  ASSERT_NE(css, nullptr);
  EXPECT_NE(css->find("--brand"), std::string::npos);
  EXPECT_EQ(StaticAsset("missing.css"), nullptr);
}

// Every page names its icon, so browsers do not ask for /favicon.ico (a 404 in the log on every page).
TEST(Render, PagesNameTheEmbeddedIcon) {
  const std::string* icon = StaticAsset("favicon.svg");
  ASSERT_NE(icon, nullptr);
  EXPECT_EQ(icon->rfind("<svg", 0), 0u);
  std::string html = RenderPage("client_home", {{"title", "Home"},
                                                {"client", {{"id", 7}, {"name", "Acme"}}},
                                                {"project_count_label", "No KTrack projects yet."}});
  EXPECT_NE(html.find("<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"),
            std::string::npos)
      << html;
}

}  // namespace
}  // namespace kt::web
