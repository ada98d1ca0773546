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

TEST(Render, StaticStylesheetIsEmbedded) {
  const std::string* css = StaticAsset("app.css");
  ASSERT_NE(css, nullptr);
  EXPECT_NE(css->find("--brand"), std::string::npos);
  EXPECT_EQ(StaticAsset("missing.css"), nullptr);
}

}  // namespace
}  // namespace kt::web
