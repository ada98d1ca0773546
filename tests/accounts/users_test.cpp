// Users and sign-in: passwords, one answer for unknown emails and wrong passwords, and the throttle.
#include <chrono>

#include <gtest/gtest.h>

#include "accounts/users.h"
#include "accounts_fixture.h"
#include "crypto/password.h"

namespace kt::accounts {
namespace {

using std::chrono::minutes;

class UsersTest : public AccountsTest {};

TEST_P(UsersTest, CreateNormalisesTheEmailAndRefusesDuplicates) {
  Users users(*db_, clock_, FastUsers());
  auto user = users.Create("  Pat.Smith@Example.COM ", "long-enough-pw");
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(user->email, "pat.smith@example.com");
  EXPECT_EQ(users.FindByEmail("PAT.SMITH@example.com")->value().id, user->id);
  EXPECT_FALSE(users.FindByEmail("nobody@example.com")->has_value());
  EXPECT_EQ(users.Get(user->id)->email, "pat.smith@example.com");

  auto again = users.Create("pat.smith@example.com", "another-password");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(again.error().code, "email_taken");

  EXPECT_EQ(users.Create("not-an-email", "long-enough-pw").error().code, "invalid_email");
  EXPECT_EQ(users.Create("a@b@c", "long-enough-pw").error().code, "invalid_email");
  EXPECT_EQ(users.Create("new@example.com", "short").error().code, "password_too_short");
}

TEST_P(UsersTest, PasswordIsStoredOnlyAsAnArgon2idHash) {
  Users users(*db_, clock_, FastUsers());
  ASSERT_TRUE(users.Create("pat@example.com", "my-plain-password"));
  auto row = db_->Query("SELECT password_hash FROM users WHERE email = 'pat@example.com'");
  std::string stored = row->rows.front().Text("password_hash");
  EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(stored.find("my-plain-password"), std::string::npos);
}

TEST_P(UsersTest, AuthenticateAcceptsTheRightPasswordAndGivesOneAnswerOtherwise) {
  Users users(*db_, clock_, FastUsers());
  auto pat = users.Create("pat@example.com", "right-password");
  ASSERT_TRUE(pat);
  auto ok = users.Authenticate("PAT@example.com", "right-password", "10.0.0.1");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->id, pat->id);

  auto wrong = users.Authenticate("pat@example.com", "wrong-password", "10.0.0.1");
  auto unknown = users.Authenticate("nobody@example.com", "right-password", "10.0.0.1");
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(wrong.error().code, "invalid_sign_in");
  EXPECT_EQ(unknown.error().code, wrong.error().code);
  EXPECT_EQ(unknown.error().message, wrong.error().message);

  ASSERT_TRUE(users.SetPassword(pat->id, "a-new-password"));
  EXPECT_FALSE(users.Authenticate("pat@example.com", "right-password", "10.0.0.1"));
  EXPECT_TRUE(users.Authenticate("pat@example.com", "a-new-password", "10.0.0.1"));
}

TEST_P(UsersTest, FiveFailuresLockTheEmailUntilTheWindowHasPassed) {
  Users users(*db_, clock_, FastUsers());
  ASSERT_TRUE(users.Create("pat@example.com", "right-password"));
  for (int i = 0; i < 5; ++i) {
    auto failed =
        users.Authenticate("pat@example.com", "guess-" + std::to_string(i), "10.0.0." + std::to_string(i));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, "invalid_sign_in") << i;
  }
  // Locked now, even with the right password and from a fresh address.
  auto locked = users.Authenticate("pat@example.com", "right-password", "192.168.1.1");
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().kind, ErrorKind::kRateLimited);
  EXPECT_EQ(locked.error().code, "sign_in_locked");
  EXPECT_NE(locked.error().message.find("Try again in 15 minutes"), std::string::npos)
      << locked.error().message;

  clock_.Advance(minutes(14));
  auto still = users.Authenticate("pat@example.com", "right-password", "192.168.1.1");
  ASSERT_FALSE(still);
  EXPECT_NE(still.error().message.find("Try again in 1 minute."), std::string::npos) << still.error().message;

  clock_.Advance(minutes(1));
  EXPECT_TRUE(users.Authenticate("pat@example.com", "right-password", "192.168.1.1"));
}

TEST_P(UsersTest, ASuccessfulSignInClearsTheEmailsFailures) {
  Users users(*db_, clock_, FastUsers());
  ASSERT_TRUE(users.Create("pat@example.com", "right-password"));
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(users.Authenticate("pat@example.com", "typo", "10.0.0.1"));
  ASSERT_TRUE(users.Authenticate("pat@example.com", "right-password", "10.0.0.1"));
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(users.Authenticate("pat@example.com", "typo", "10.0.0.1"));
  EXPECT_TRUE(users.Authenticate("pat@example.com", "right-password", "10.0.0.1"));
}

TEST_P(UsersTest, OneAddressTryingManyEmailsIsLockedToo) {
  UsersOptions options = FastUsers();
  options.throttle.max_failures_per_address = 10;
  Users users(*db_, clock_, options);
  ASSERT_TRUE(users.Create("pat@example.com", "right-password"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(
        users.Authenticate("user" + std::to_string(i) + "@example.com", "x", "203.0.113.9").error().code,
        "invalid_sign_in");
  }
  EXPECT_EQ(users.Authenticate("pat@example.com", "right-password", "203.0.113.9").error().code,
            "sign_in_locked");
  EXPECT_TRUE(users.Authenticate("pat@example.com", "right-password", "198.51.100.1"));
  // Unknown emails are counted against the email key as well.
  auto rows = db_->Query("SELECT failures FROM sign_in_attempts WHERE key = 'email:user3@example.com'");
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows.front().Int("failures"), 1);

  SignInThrottle throttle(*db_, clock_, options.throttle);
  clock_.Advance(minutes(16));
  auto purged = throttle.PurgeExpired();
  ASSERT_TRUE(purged);
  EXPECT_GE(*purged, 11);
}

TEST_P(UsersTest, AnOlderHashIsUpgradedOnSignIn) {
  UsersOptions old_options = FastUsers();
  Users old_users(*db_, clock_, old_options);
  ASSERT_TRUE(old_users.Create("pat@example.com", "right-password"));

  UsersOptions new_options = FastUsers();
  new_options.password.ops_limit = old_options.password.ops_limit + 1;
  Users users(*db_, clock_, new_options);
  ASSERT_TRUE(users.Authenticate("pat@example.com", "right-password", "10.0.0.1"));
  std::string stored = db_->Query("SELECT password_hash FROM users")->rows.front().Text("password_hash");
  EXPECT_FALSE(crypto::PasswordNeedsRehash(stored, new_options.password));
  EXPECT_TRUE(users.Authenticate("pat@example.com", "right-password", "10.0.0.1"));
}

KT_ACCOUNTS_ON_BOTH_BACKENDS(UsersTest);

}  // namespace
}  // namespace kt::accounts
