// Settings validation, the least permissions they need (product.md's table) and the triggers they select.
#include <gtest/gtest.h>

#include <algorithm>

#include "integration/settings.h"

namespace kt::integration {
namespace {

bool HasRequirement(const std::vector<Requirement>& reqs, ToolScope scope, const std::string& tool,
                    const std::string& level) {
  return std::any_of(reqs.begin(), reqs.end(), [&](const Requirement& r) {
    return r.scope == scope && r.tool == tool && r.level == level;
  });
}

TEST(IntegrationSettings, UnknownDomainIsRefusedByName) {
  auto s = ParseSettings({{"domains", {"rfis", "timesheets"}}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "unknown_domain");
  EXPECT_NE(s.error().message.find("timesheets"), std::string::npos);
  EXPECT_NE(s.error().fix.find("rfis"), std::string::npos) << "the fix lists the known domains";
}

TEST(IntegrationSettings, DomainsAreOrderedAndDeduplicatedAndProjectsIsImplicit) {
  auto s =
      ParseSettings({{"domains", {"rfis", "directory", "rfis", "projects"}}, {"auto_link_projects", true}});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->domains, (std::vector<std::string>{"directory", "rfis"}));
  EXPECT_TRUE(s->auto_link_projects);
  EXPECT_EQ(s->reconcile_interval_s, kDefaultReconcileIntervalS);
}

TEST(IntegrationSettings, ReconcileIntervalHasBounds) {
  EXPECT_FALSE(ParseSettings({{"domains", nlohmann::json::array()}, {"reconcile_interval_s", 10}}));
  EXPECT_FALSE(ParseSettings({{"domains", nlohmann::json::array()}, {"reconcile_interval_s", 99999999}}));
  EXPECT_FALSE(ParseSettings({{"domains", nlohmann::json::array()}, {"reconcile_interval_s", "3600"}}));
  auto ok = ParseSettings({{"domains", nlohmann::json::array()}, {"reconcile_interval_s", 900}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->reconcile_interval_s, 900);
}

TEST(IntegrationSettings, WrongTypesAreRefused) {
  EXPECT_FALSE(ParseSettings({{"domains", "rfis"}}));
  EXPECT_FALSE(ParseSettings({{"domains", {1, 2}}}));
  EXPECT_FALSE(ParseSettings({{"domains", {"rfis"}}, {"auto_link_projects", "yes"}}));
}

TEST(IntegrationSettings, ProjectsOnlyNeedsAdminAndWebhooks) {
  auto reqs = Requirements(Settings{});
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(HasRequirement(reqs, ToolScope::kCompany, "Admin", "Read Only"));
  EXPECT_TRUE(HasRequirement(reqs, ToolScope::kCompany, "Webhooks API", "Standard"));
}

TEST(IntegrationSettings, RequirementsFollowTheProductTable) {
  Settings all;
  for (const auto& d : Domains()) all.domains.emplace_back(d.key);
  auto reqs = Requirements(all);
  EXPECT_TRUE(HasRequirement(reqs, ToolScope::kCompany, "Directory", "Read Only"));
  EXPECT_TRUE(HasRequirement(reqs, ToolScope::kProject, "Admin", "Read Only"));  // cost codes
  for (const char* tool : {"Budget", "Commitments", "Change Orders", "Prime Contracts", "Change Events",
                           "Direct Costs", "RFIs", "Submittals", "Daily Log"})
    EXPECT_TRUE(HasRequirement(reqs, ToolScope::kProject, tool, "Read Only")) << tool;
  // Change Orders is needed by two domains but listed once, saying both.
  auto co =
      std::find_if(reqs.begin(), reqs.end(), [](const Requirement& r) { return r.tool == "Change Orders"; });
  ASSERT_NE(co, reqs.end());
  EXPECT_EQ(co->needed_for, (std::vector<std::string>{"commitments", "prime_contracts"}));
  EXPECT_EQ(
      std::count_if(reqs.begin(), reqs.end(), [](const Requirement& r) { return r.tool == "Change Orders"; }),
      1);
  // Company requirements come first.
  EXPECT_EQ(reqs.front().scope, ToolScope::kCompany);
  EXPECT_EQ(reqs.back().scope, ToolScope::kProject);
}

TEST(IntegrationSettings, RfisOnlyNeedsRfisOnProjects) {
  Settings s;
  s.domains = {"rfis"};
  auto reqs = Requirements(s);
  EXPECT_EQ(reqs.size(), 3u);
  EXPECT_TRUE(HasRequirement(reqs, ToolScope::kProject, "RFIs", "Read Only"));
}

TEST(IntegrationSettings, TriggersCoverExactlyTheChosenResources) {
  Settings s;
  s.domains = {"rfis"};
  auto triggers = TriggersFor(s);
  std::set<std::string> resources;
  for (const auto& t : triggers) resources.insert(t.resource_name);
  EXPECT_EQ(resources, (std::set<std::string>{"Projects", "RFIs"}));
  EXPECT_EQ(triggers.size(), 6u);  // create, update, delete of each
}

TEST(IntegrationSettings, StoredSettingsRoundTrip) {
  Settings s;
  s.domains = {"budget", "submittals"};
  s.auto_link_projects = true;
  s.reconcile_interval_s = 7200;
  Settings back = SettingsFromJson(SettingsJson(s));
  EXPECT_EQ(back.domains, s.domains);
  EXPECT_TRUE(back.auto_link_projects);
  EXPECT_EQ(back.reconcile_interval_s, 7200);
}

TEST(IntegrationSettings, LevelsAreOrdered) {
  EXPECT_GT(LevelRank("Admin"), LevelRank("Standard"));
  EXPECT_GT(LevelRank("Standard"), LevelRank("Read Only"));
  EXPECT_GT(LevelRank("Read Only"), LevelRank("None"));
  EXPECT_EQ(LevelRank("read_only"), LevelRank("Read Only"));
}

}  // namespace
}  // namespace kt::integration
