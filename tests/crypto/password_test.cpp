// Argon2id passwords and bearer-token hashing.
#include <gtest/gtest.h>

#include "crypto/password.h"
#include "crypto/tokens.h"
#include "util/hash.h"

namespace kt::crypto {
namespace {

TEST(PasswordTest, HashVerifiesTheRightPasswordOnly) {
  auto hash = HashPassword("correct horse battery staple", PasswordHashOptions::Fastest());
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse battery stapl"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("", "anything"));
  EXPECT_FALSE(VerifyPassword("$argon2id$garbage", "anything"));
  // A fresh salt every time.
  EXPECT_NE(*hash, *HashPassword("correct horse battery staple", PasswordHashOptions::Fastest()));
}

TEST(PasswordTest, DefaultLimitsAreLibsodiumInteractive) {
  PasswordHashOptions options;
  auto hash = HashPassword("pw-for-default-limits", options);
  ASSERT_TRUE(hash);
  EXPECT_NE(hash->find("m=65536,t=2"), std::string::npos) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "pw-for-default-limits"));
  EXPECT_FALSE(PasswordNeedsRehash(*hash, options));
}

TEST(PasswordTest, NeedsRehashWhenLimitsChangeOrTheHashIsNotArgon2id) {
  auto fast = HashPassword("pw", PasswordHashOptions::Fastest());
  ASSERT_TRUE(fast);
  EXPECT_FALSE(PasswordNeedsRehash(*fast, PasswordHashOptions::Fastest()));
  EXPECT_TRUE(PasswordNeedsRehash(*fast, PasswordHashOptions()));
  EXPECT_TRUE(PasswordNeedsRehash("$2b$10$bcrypthash", PasswordHashOptions()));
}

TEST(TokensTest, TokensAreRandomPrefixedAndHashedWithSha256) {
  std::string a = NewApiToken(), b = NewApiToken();
  EXPECT_EQ(a.rfind("kt_", 0), 0u);
  EXPECT_GE(a.size(), 40u);
  EXPECT_NE(a, b);
  EXPECT_NE(NewSessionToken(), NewSessionToken());
  EXPECT_EQ(HashToken(a), Sha256Hex(a));
  EXPECT_EQ(HashToken(a).size(), 64u);
}

}  // namespace
}  // namespace kt::crypto
