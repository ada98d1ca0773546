// The permission grid's judgement of Procore's manifests and project tools, and the fixes in Procore's words.
#include <gtest/gtest.h>

#include "integration/permissions.h"

namespace kt::integration {
namespace {

procore::ToolPermission Tool(std::string friendly, std::string level) {
  procore::ToolPermission t;
  t.name = friendly;
  t.friendly_name = std::move(friendly);
  t.level = std::move(level);
  return t;
}

procore::ProjectTool ProjectToolOf(std::string title, bool active) {
  procore::ProjectTool t;
  t.title = std::move(title);
  t.engine_name = t.title;
  t.is_active = active;
  return t;
}

Settings RfisAndBudget() {
  Settings s;
  s.domains = {"budget", "rfis"};
  return s;
}

TEST(IntegrationPermissions, CompanyToolsBelowTheNeededLevelAreMissingWithTheirFix) {
  auto checks = EvaluateCompany(Requirements(Settings{}),
                                {Tool("Admin", "Read Only"), Tool("Webhooks API", "Read Only")});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].status, kCheckOk);
  EXPECT_TRUE(checks[0].fix.empty());
  EXPECT_EQ(checks[1].tool, "Webhooks API");
  EXPECT_EQ(checks[1].status, kCheckMissing);
  EXPECT_EQ(checks[1].actual, "Read Only");
  EXPECT_EQ(checks[1].fix,
            "In Procore, open Company Admin → App Management → KTrack → Permissions and set Webhooks API to "
            "Standard "
            "at company level.");
}

TEST(IntegrationPermissions, MoreThanNeededIsAccepted) {
  auto checks =
      EvaluateCompany(Requirements(Settings{}), {Tool("Admin", "Admin"), Tool("Webhooks API", "Admin")});
  for (const auto& c : checks) EXPECT_EQ(c.status, kCheckOk) << c.tool;
}

TEST(IntegrationPermissions, ProjectGapsNameTheProject) {
  ProjectRef tower{7, "Tower A"};
  auto checks = EvaluateProject(Requirements(RfisAndBudget()), tower,
                                {Tool("Budget", "Read Only"), Tool("RFIs", "None")},
                                {ProjectToolOf("Budget", true), ProjectToolOf("RFIs", true)});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].status, kCheckOk);
  EXPECT_EQ(checks[1].status, kCheckMissing);
  EXPECT_EQ(checks[1].actual, "None");
  EXPECT_EQ(
      checks[1].fix,
      "In Procore, open Company Admin → App Management → KTrack → Permissions and set RFIs to Read Only for "
      "project 'Tower A'.");
}

TEST(IntegrationPermissions, AToolLeftOutOfTheManifestAndInactiveIsDisabled) {
  ProjectRef tower{7, "Tower A"};
  auto checks = EvaluateProject(Requirements(RfisAndBudget()), tower, {Tool("Budget", "Read Only")},
                                {ProjectToolOf("Budget", true), ProjectToolOf("RFIs", false)});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].status, kCheckToolDisabled);
  EXPECT_EQ(checks[1].fix, "In Procore, open Project 'Tower A' → Admin → Project Tools, turn on RFIs.");
}

TEST(IntegrationPermissions, AToolTheManifestCannotTellAboutIsLeftForAProbe) {
  ProjectRef tower{7, "Tower A"};
  auto checks = EvaluateProject(Requirements(RfisAndBudget()), tower, {Tool("Budget", "Read Only")}, {});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].status, "");
}

TEST(IntegrationPermissions, ANonPermittedProjectFailsEveryProjectTool) {
  auto checks = NotPermitted(Requirements(RfisAndBudget()), {9, "Harbor Point"});
  ASSERT_EQ(checks.size(), 2u);
  for (const auto& c : checks) {
    EXPECT_EQ(c.status, kCheckProjectNotPermitted);
    EXPECT_EQ(
        c.fix,
        "In Procore, open Company Admin → App Management → KTrack → Permitted Projects, add 'Harbor Point'.");
  }
}

TEST(IntegrationPermissions, JsonHasTheInterfaceFields) {
  auto checks = NotPermitted(Requirements(RfisAndBudget()), {9, "Harbor Point"});
  auto j = PermissionCheckJson(checks[0]);
  for (const char* k : {"scope", "project_id", "tool", "required", "actual", "status", "fix"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["scope"], "project");
  EXPECT_EQ(j["project_id"], 9);
}

}  // namespace
}  // namespace kt::integration
