// Browser sessions: stored hashed, sliding expiry with a hard cap, sign-out, and the CSRF check.
#include <chrono>

#include <gtest/gtest.h>

#include "accounts/sessions.h"
#include "accounts_fixture.h"
#include "util/hash.h"

namespace kt::accounts {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

class SessionsTest : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    Users users(*db_, clock_, FastUsers());
    user_id_ = users.Create("pat@example.com", "right-password")->id;
  }
  int64_t user_id_ = 0;
};

TEST_P(SessionsTest, CreatedSessionLooksUpToItsUserAndIsStoredOnlyAsAHash) {
  Sessions sessions(*db_, clock_);
  auto issued = sessions.Create(user_id_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_GE(issued->token.size(), 40u);
  EXPECT_FALSE(issued->csrf_token.empty());
  EXPECT_EQ(issued->expires_at, clock_.NowUnixMs() + std::chrono::duration_cast<Millis>(hours(12)).count());

  auto session = sessions.Lookup(issued->token);
  ASSERT_TRUE(session) << session.error().message;
  EXPECT_EQ(session->user_id, user_id_);
  EXPECT_EQ(session->csrf_token, issued->csrf_token);

  auto rows = db_->Query("SELECT id_hash FROM sessions");
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows.front().Text("id_hash"), Sha256Hex(issued->token));
  EXPECT_NE(rows->rows.front().Text("id_hash"), issued->token);

  auto other = sessions.Create(user_id_);
  EXPECT_NE(other->token, issued->token);
  EXPECT_NE(other->csrf_token, issued->csrf_token);

  auto bogus = sessions.Lookup("not-a-session");
  ASSERT_FALSE(bogus);
  EXPECT_EQ(bogus.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(bogus.error().code, "not_signed_in");
  EXPECT_FALSE(sessions.Lookup(""));
}

TEST_P(SessionsTest, IdleSessionExpiresAndUseSlidesTheExpiry) {
  Sessions sessions(*db_, clock_);
  auto idle = sessions.Create(user_id_);
  auto active = sessions.Create(user_id_);
  ASSERT_TRUE(idle && active);

  clock_.Advance(hours(11));
  ASSERT_TRUE(sessions.Lookup(active->token));  // used: now ends 12 h from here
  clock_.Advance(hours(1) + minutes(1));
  auto expired = sessions.Lookup(idle->token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, "not_signed_in");
  EXPECT_TRUE(sessions.Lookup(active->token));
  // The expired row is gone, not merely refused.
  EXPECT_EQ(db_->Query("SELECT COUNT(*) AS n FROM sessions")->rows.front().Int("n"), 1);
}

TEST_P(SessionsTest, EvenAnActiveSessionEndsAtItsMaximumLifetime) {
  SessionPolicy policy;
  policy.max_lifetime = hours(30);
  Sessions sessions(*db_, clock_, policy);
  auto issued = sessions.Create(user_id_);
  ASSERT_TRUE(issued);
  for (int i = 0; i < 29; ++i) {
    clock_.Advance(hours(1));
    ASSERT_TRUE(sessions.Lookup(issued->token)) << i;
  }
  clock_.Advance(hours(1));
  EXPECT_FALSE(sessions.Lookup(issued->token));
}

TEST_P(SessionsTest, SignOutEndsTheSessionAndPurgeRemovesExpiredOnes) {
  Sessions sessions(*db_, clock_);
  auto a = sessions.Create(user_id_);
  auto b = sessions.Create(user_id_);
  auto c = sessions.Create(user_id_);
  ASSERT_TRUE(sessions.Destroy(a->token));
  EXPECT_FALSE(sessions.Lookup(a->token));
  EXPECT_TRUE(sessions.Lookup(b->token));
  EXPECT_TRUE(sessions.Destroy("unknown"));

  EXPECT_EQ(*sessions.DestroyAllForUser(user_id_), 2);
  EXPECT_FALSE(sessions.Lookup(c->token));

  ASSERT_TRUE(sessions.Create(user_id_));
  clock_.Advance(hours(13));
  EXPECT_EQ(*sessions.PurgeExpired(), 1);
}

TEST_P(SessionsTest, CsrfCheckAcceptsOnlyTheSessionsToken) {
  Sessions sessions(*db_, clock_);
  auto issued = sessions.Create(user_id_);
  auto session = sessions.Lookup(issued->token);
  ASSERT_TRUE(session);
  EXPECT_TRUE(CheckCsrf(*session, issued->csrf_token));

  for (std::string bad : {std::string(), std::string("wrong"), issued->csrf_token + "x", issued->token}) {
    auto refused = CheckCsrf(*session, bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().kind, ErrorKind::kForbidden);
    EXPECT_EQ(refused.error().code, "csrf_token_invalid");
  }
  EXPECT_EQ(kCsrfFormField, "_csrf");
  EXPECT_EQ(kCsrfHeader, "X-CSRF-Token");
}

KT_ACCOUNTS_ON_BOTH_BACKENDS(SessionsTest);

}  // namespace
}  // namespace kt::accounts
