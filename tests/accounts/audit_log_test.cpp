// The audit log: entries per client, newest first, and secrets redacted from the detail.
#include <gtest/gtest.h>

#include "accounts/audit_log.h"
#include "accounts/clients.h"
#include "accounts_fixture.h"

namespace kt::accounts {
namespace {

using nlohmann::json;

class AuditLogTest : public AccountsTest {};

TEST_P(AuditLogTest, SecretsInTheDetailNeverReachTheDatabase) {
  Clients clients(*db_, clock_);
  int64_t client_id = clients.Create("Acme")->id;
  AuditLog audit(*db_, clock_);
  json detail = {
      {"client_id", "procore-app-id"},
      {"client_secret", "SECRET-VALUE-1"},
      {"environment", "sandbox"},
      {"nested", {{"Authorization", "Bearer SECRET-VALUE-2"}, {"items", {{{"password", "SECRET-3"}}}}}}};
  ASSERT_TRUE(audit.Record(client_id, std::nullopt, "integration.credentials_saved", detail));

  std::string stored = db_->Query("SELECT detail_json FROM audit_log")->rows.front().Text("detail_json");
  EXPECT_EQ(stored.find("SECRET"), std::string::npos) << stored;
  auto entries = audit.List(client_id);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const json& got = entries->front().detail;
  EXPECT_EQ(got["client_id"], "procore-app-id");
  EXPECT_EQ(got["environment"], "sandbox");
  EXPECT_EQ(got["client_secret"], "[redacted]");
  EXPECT_EQ(got["nested"]["Authorization"], "[redacted]");
  EXPECT_EQ(got["nested"]["items"][0]["password"], "[redacted]");
  EXPECT_FALSE(entries->front().user_id.has_value());
}

TEST_P(AuditLogTest, ListsAClientsEntriesNewestFirst) {
  Clients clients(*db_, clock_);
  int64_t a = clients.Create("A")->id, b = clients.Create("B")->id;
  AuditLog audit(*db_, clock_);
  ASSERT_TRUE(audit.Record(a, 7, "first"));
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(audit.Record(b, 7, "other client"));
  auto in_tx = db_->Transact([&](store::Tx& tx) { return audit.Record(tx, a, 7, "second", {{"n", 2}}); });
  ASSERT_TRUE(in_tx);
  ASSERT_TRUE(audit.Record(std::nullopt, 7, "user.signed_in"));

  auto entries = audit.List(a, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].action, "second");
  EXPECT_EQ((*entries)[0].detail["n"], 2);
  EXPECT_EQ((*entries)[0].user_id, 7);
  EXPECT_FALSE((*entries)[0].user_email.has_value());  // user 7 is no member of the client
  EXPECT_EQ((*entries)[1].action, "first");
  EXPECT_EQ(audit.List(a, 1)->size(), 1u);
}

// The integration page lists only "integration." actions: the limit counts those, not the others between
// them.
TEST_P(AuditLogTest, ListsOnlyTheActionsWithAPrefixUpToTheLimit) {
  Clients clients(*db_, clock_);
  int64_t a = clients.Create("A")->id;
  AuditLog audit(*db_, clock_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(audit.Record(a, 7, "integration.step", {{"n", i}}));
    ASSERT_TRUE(audit.Record(a, 7, "token.created"));
    clock_.Advance(std::chrono::seconds(1));
  }
  ASSERT_TRUE(audit.Record(a, 7, "integrationX"));  // the prefix is a prefix, not a pattern
  auto two = audit.List(a, 2, "integration.");
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].detail["n"], 2);
  EXPECT_EQ((*two)[1].detail["n"], 1);
  EXPECT_EQ(audit.List(a, 10, "integration.")->size(), 3u);
  EXPECT_EQ(audit.List(a, 10)->size(), 7u);
}

TEST(RedactTest, KnowsTheNamesSecretsGoBy) {
  for (const char* key :
       {"password", "new_password", "client_secret", "secret", "token", "access_token", "refresh-token",
        "api_key", "private_key", "authorization", "Cookie", "_csrf", "key"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key :
       {"client_id", "key_id", "email", "company_id", "environment", "tokens_count_total"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

KT_ACCOUNTS_ON_BOTH_BACKENDS(AuditLogTest);

}  // namespace
}  // namespace kt::accounts
