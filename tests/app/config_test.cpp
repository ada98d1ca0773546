// Configuration precedence and the errors a mistyped setting gets.
#include <gtest/gtest.h>

#include "app/config.h"

namespace kt::app {
namespace {

TEST(Config, ParsesSectionsStringsNumbersAndBooleans) {
  auto values = ParseConfigText(R"(
# KTrack
listen = "127.0.0.1:9000"
public_base_url = "https://ktrack.example/"   # trailing slash is dropped
[procore]
allow_custom_urls = true
[server]
worker_threads = 16
)");
  ASSERT_TRUE(values) << values.error().message;
  Config c;
  ASSERT_TRUE(ApplyConfigValues(c, *values));
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.public_base_url, "https://ktrack.example");
  EXPECT_TRUE(c.procore_allow_custom_urls);
  EXPECT_EQ(c.worker_threads, 16);
  EXPECT_EQ(c.DatabaseUrl(), "sqlite:./var/ktrack.db");
}

TEST(Config, EnvironmentUsesSectionAndKeyInUpperCase) {
  std::string a = "KTRACK_PROCORE_ALLOW_CUSTOM_URLS=true", b = "KTRACK_PUBLIC_BASE_URL=http://127.0.0.1:1",
              c = "UNRELATED=1";
  char* env[] = {a.data(), b.data(), c.data(), nullptr};
  auto values = ConfigFromEnvironment(env);
  EXPECT_EQ(values["procore.allow_custom_urls"], "true");
  EXPECT_EQ(values["public_base_url"], "http://127.0.0.1:1");
  EXPECT_EQ(values.size(), 2u);
}

TEST(Config, ErrorsNameTheLineOrKey) {
  auto bad_line = ParseConfigText("listen 127.0.0.1:1\n");
  ASSERT_FALSE(bad_line);
  EXPECT_NE(bad_line.error().message.find("line 1"), std::string::npos);

  auto unclosed = ParseConfigText("[procore]\nmarketplace_client_id = \"abc\n");
  ASSERT_FALSE(unclosed);
  EXPECT_NE(unclosed.error().message.find("line 2"), std::string::npos);

  Config c;
  auto unknown = ApplyConfigValues(c, {{"procore.allow_custom_url", "true"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("procore.allow_custom_url"), std::string::npos);

  auto bad_bool = ApplyConfigValues(c, {{"procore.allow_custom_urls", "maybe"}});
  ASSERT_FALSE(bad_bool);
  EXPECT_EQ(bad_bool.error().code, "invalid_config");

  Config lease;
  EXPECT_EQ(lease.job_lease_s, 60);
  ASSERT_TRUE(ApplyConfigValues(lease, {{"worker.job_lease_s", "3"}}));
  EXPECT_EQ(lease.job_lease_s, 3);
  auto bad_lease = ApplyConfigValues(lease, {{"worker.job_lease_s", "0"}});
  ASSERT_FALSE(bad_lease);
  EXPECT_NE(bad_lease.error().message.find("worker.job_lease_s"), std::string::npos);

  Config nice;
  EXPECT_EQ(nice.job_nice, 0);
  ASSERT_TRUE(ApplyConfigValues(nice, {{"worker.job_nice", "10"}}));
  EXPECT_EQ(nice.job_nice, 10);
  auto bad_nice = ApplyConfigValues(nice, {{"worker.job_nice", "20"}});
  ASSERT_FALSE(bad_nice);
  EXPECT_NE(bad_nice.error().message.find("worker.job_nice"), std::string::npos);

  auto bad_role = ApplyConfigValues(c, {{"role", "boss"}});
  ASSERT_FALSE(bad_role);
  EXPECT_NE(bad_role.error().message.find("role"), std::string::npos);
}

TEST(Config, IntegrationIntervalsAreSecondsWithinBounds) {
  auto values =
      ParseConfigText("[integration]\nmaintenance_interval_s = 2\npermission_recheck_interval_s = 5\n");
  ASSERT_TRUE(values) << values.error().message;
  Config c;
  EXPECT_EQ(c.integration_maintenance_interval_s, 60);
  EXPECT_EQ(c.integration_permission_recheck_interval_s, 900);
  ASSERT_TRUE(ApplyConfigValues(c, *values));
  EXPECT_EQ(c.integration_maintenance_interval_s, 2);
  EXPECT_EQ(c.integration_permission_recheck_interval_s, 5);

  std::string a = "KTRACK_INTEGRATION_PERMISSION_RECHECK_INTERVAL_S=7";
  char* env[] = {a.data(), nullptr};
  EXPECT_EQ(ConfigFromEnvironment(env)["integration.permission_recheck_interval_s"], "7");

  auto zero = ApplyConfigValues(c, {{"integration.permission_recheck_interval_s", "0"}});
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("integration.permission_recheck_interval_s"), std::string::npos);
  EXPECT_NE(zero.error().message.find("from 1 to 86400"), std::string::npos);
}

TEST(Config, APermissionCheckSamplesTwentyFiveProjectsUnlessTold) {
  Config c;
  EXPECT_EQ(c.integration_permission_check_projects, 25);
  ASSERT_TRUE(ApplyConfigValues(c, {{"integration.permission_check_projects", "100"}}));
  EXPECT_EQ(c.integration_permission_check_projects, 100);
  auto none = ApplyConfigValues(c, {{"integration.permission_check_projects", "0"}});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("integration.permission_check_projects"), std::string::npos);
}

}  // namespace
}  // namespace kt::app
