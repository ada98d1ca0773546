// API tokens: shown once, stored as a hash, authenticate their user, and stop working when revoked.
#include <chrono>

#include <gtest/gtest.h>

#include "accounts/api_tokens.h"
#include "accounts_fixture.h"
#include "util/hash.h"

namespace kt::accounts {
namespace {

class ApiTokensTest : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    Users users(*db_, clock_, FastUsers());
    user_id_ = users.Create("pat@example.com", "right-password")->id;
    other_id_ = users.Create("sam@example.com", "right-password")->id;
  }
  int64_t user_id_ = 0, other_id_ = 0;
};

TEST_P(ApiTokensTest, TokenIsStoredOnlyAsItsHashAndAuthenticatesItsUser) {
  ApiTokens tokens(*db_, clock_);
  auto issued = tokens.Create(user_id_, "ci");
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(issued->token.rfind("kt_", 0), 0u);

  auto rows = db_->Query("SELECT token_hash, name FROM api_tokens");
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows.front().Text("token_hash"), Sha256Hex(issued->token));
  EXPECT_EQ(rows->rows.front().Text("token_hash").find(issued->token), std::string::npos);
  auto any_plain =
      db_->Query("SELECT COUNT(*) AS n FROM api_tokens WHERE token_hash = $1 OR name = $1", {issued->token});
  EXPECT_EQ(any_plain->rows.front().Int("n"), 0);

  auto user = tokens.Authenticate(issued->token);
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(*user, user_id_);
}

TEST_P(ApiTokensTest, UnknownOrMalformedTokensAreRefused) {
  ApiTokens tokens(*db_, clock_);
  ASSERT_TRUE(tokens.Create(user_id_, "ci"));
  for (std::string bad :
       {std::string(), std::string("kt_nope"), std::string("Bearer kt_x"), std::string(300, 'k')}) {
    auto refused = tokens.Authenticate(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().kind, ErrorKind::kUnauthenticated);
    EXPECT_EQ(refused.error().code, "invalid_token");
  }
}

TEST_P(ApiTokensTest, UseIsRecordedAtMinuteGranularity) {
  ApiTokens tokens(*db_, clock_);
  auto issued = tokens.Create(user_id_, "laptop");
  EXPECT_FALSE(tokens.ListForUser(user_id_)->front().last_used_at.has_value());
  const int64_t first_use = clock_.NowUnixMs();
  ASSERT_TRUE(tokens.Authenticate(issued->token));
  EXPECT_EQ(tokens.ListForUser(user_id_)->front().last_used_at, first_use);
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(tokens.Authenticate(issued->token));
  EXPECT_EQ(tokens.ListForUser(user_id_)->front().last_used_at, first_use);
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(tokens.Authenticate(issued->token));
  EXPECT_EQ(tokens.ListForUser(user_id_)->front().last_used_at, clock_.NowUnixMs());
}

TEST_P(ApiTokensTest, RevokedTokenStopsWorkingAndOnlyItsOwnerCanRevokeIt) {
  ApiTokens tokens(*db_, clock_);
  auto issued = tokens.Create(user_id_, "ci");
  auto kept = tokens.Create(user_id_, "laptop");
  auto wrong_owner = tokens.Revoke(other_id_, issued->id);
  ASSERT_FALSE(wrong_owner);
  EXPECT_EQ(wrong_owner.error().code, "token_not_found");
  ASSERT_TRUE(tokens.Authenticate(issued->token));

  ASSERT_TRUE(tokens.Revoke(user_id_, issued->id));
  EXPECT_EQ(tokens.Authenticate(issued->token).error().code, "invalid_token");
  EXPECT_EQ(*tokens.Authenticate(kept->token), user_id_);
  auto listed = tokens.ListForUser(user_id_);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().name, "laptop");
  EXPECT_EQ(tokens.Create(999'999, "x").error().code, "user_not_found");
}

KT_ACCOUNTS_ON_BOTH_BACKENDS(ApiTokensTest);

}  // namespace
}  // namespace kt::accounts
