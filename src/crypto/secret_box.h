// Authenticated encryption of secrets (XChaCha20-Poly1305) with the owner and purpose bound to the
// ciphertext.
#pragma once

#include <string>
#include <string_view>

#include "crypto/keyring.h"
#include "util/error.h"

namespace kt::crypto {

// What is stored for one secret. None of it is secret, but the ciphertext is only readable with the key.
struct SealedSecret {
  std::string key_id;
  std::string nonce;       // 24 random bytes, fresh for every encryption
  std::string ciphertext;  // the encrypted bytes followed by the 16-byte tag
};

// Encrypts under the keyring's active key and decrypts under whichever key the ciphertext names.
//
// The owner ("client:42") and purpose ("procore.client_secret") are the associated data: a ciphertext copied
// to another row, or another owner, fails to decrypt instead of handing one tenant's secret to another.
class SecretBox {
 public:
  explicit SecretBox(Keyring keyring);

  Result<SealedSecret> Encrypt(std::string_view owner, std::string_view purpose,
                               std::string_view plaintext) const;
  // kInternal "secret_key_unknown" when the key id is not in the keyring; kInternal "secret_undecryptable"
  // when the ciphertext, nonce, owner or purpose do not match (tampered, moved, or a different key under the
  // same id).
  Result<std::string> Decrypt(std::string_view owner, std::string_view purpose,
                              const SealedSecret& sealed) const;

  const Keyring& Keys() const { return keyring_; }

 private:
  Keyring keyring_;
};

}  // namespace kt::crypto
