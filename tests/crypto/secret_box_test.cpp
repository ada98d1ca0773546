// SecretBox: ciphertexts round-trip, are bound to their owner and purpose, and name their key.
#include <gtest/gtest.h>

#include "crypto/secret_box.h"

namespace kt::crypto {
namespace {

Keyring OneKey(const std::string& id = "k1") {
  Keyring keyring;
  EXPECT_TRUE(keyring.Add(id, SecretKey::Generate()));
  return keyring;
}

TEST(SecretBoxTest, RoundTripsWithAFreshNonceEachTime) {
  SecretBox box(OneKey());
  auto a = box.Encrypt("client:42", "procore.client_secret", "s3cr3t-value");
  auto b = box.Encrypt("client:42", "procore.client_secret", "s3cr3t-value");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->key_id, "k1");
  EXPECT_EQ(a->nonce.size(), 24u);
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_NE(a->ciphertext, b->ciphertext);
  EXPECT_EQ(a->ciphertext.find("s3cr3t-value"), std::string::npos);
  auto plain = box.Decrypt("client:42", "procore.client_secret", *a);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(*plain, "s3cr3t-value");

  auto empty = box.Encrypt("client:42", "empty", "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*box.Decrypt("client:42", "empty", *empty), "");
}

TEST(SecretBoxTest, CiphertextDoesNotOpenForAnotherOwnerOrPurpose) {
  SecretBox box(OneKey());
  auto sealed = box.Encrypt("client:42", "procore.client_secret", "s3cr3t");
  ASSERT_TRUE(sealed);
  for (auto [owner, purpose] :
       {std::pair{"client:43", "procore.client_secret"}, std::pair{"client:42", "other"},
        std::pair{"client:4", "2procore.client_secret"}}) {
    auto plain = box.Decrypt(owner, purpose, *sealed);
    ASSERT_FALSE(plain) << owner << " " << purpose;
    EXPECT_EQ(plain.error().code, "secret_undecryptable");
    EXPECT_EQ(plain.error().message.find("s3cr3t"), std::string::npos);
  }
}

TEST(SecretBoxTest, TamperingIsDetected) {
  SecretBox box(OneKey());
  auto sealed = box.Encrypt("o", "p", "value");
  ASSERT_TRUE(sealed);
  SealedSecret flipped = *sealed;
  flipped.ciphertext[0] ^= 1;
  EXPECT_EQ(box.Decrypt("o", "p", flipped).error().code, "secret_undecryptable");
  SealedSecret short_nonce = *sealed;
  short_nonce.nonce.pop_back();
  EXPECT_EQ(box.Decrypt("o", "p", short_nonce).error().code, "secret_undecryptable");
}

TEST(SecretBoxTest, DecryptsUnderOlderKeysAndNamesAMissingOne) {
  Keyring old_ring = OneKey("k1");
  SecretBox old_box(old_ring);
  auto sealed = old_box.Encrypt("o", "p", "value");
  ASSERT_TRUE(sealed);

  Keyring both = old_ring;
  ASSERT_TRUE(both.Add("k2", SecretKey::Generate()));
  SecretBox new_box(both);
  EXPECT_EQ(*new_box.Decrypt("o", "p", *sealed), "value");
  EXPECT_EQ(new_box.Encrypt("o", "p", "x")->key_id, "k2");

  SecretBox stranger(OneKey("k9"));
  auto missing = stranger.Decrypt("o", "p", *sealed);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "secret_key_unknown");
  EXPECT_NE(missing.error().message.find("\"k1\""), std::string::npos);

  // Same id, different key: a deployment started with the wrong key file.
  SecretBox impostor(OneKey("k1"));
  EXPECT_EQ(impostor.Decrypt("o", "p", *sealed).error().code, "secret_undecryptable");
}

}  // namespace
}  // namespace kt::crypto
