// XChaCha20-Poly1305-IETF sealing with owner and purpose as associated data.
#include "crypto/secret_box.h"

#include <sodium.h>

#include <stdexcept>

#include "crypto/sodium_init.h"

namespace kt::crypto {

namespace {
// Length-prefixed so that ("a", "bc") and ("ab", "c") are different associated data; versioned so the binding
// can change later without ambiguity.
std::string AssociatedData(std::string_view owner, std::string_view purpose) {
  std::string ad = "ktrack-secret-v1";
  ad += '\0';
  ad += std::to_string(owner.size());
  ad += ':';
  ad += owner;
  ad += std::to_string(purpose.size());
  ad += ':';
  ad += purpose;
  return ad;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

SecretBox::SecretBox(Keyring keyring) : keyring_(std::move(keyring)) {
  EnsureSodium();
  // An empty keyring is a wiring bug: LoadKeyring never returns one.
  if (keyring_.Empty()) throw std::logic_error("SecretBox needs at least one key");
}

Result<SealedSecret> SecretBox::Encrypt(std::string_view owner, std::string_view purpose,
                                        std::string_view plaintext) const {
  if (plaintext.size() > 1 << 20) {
    return Fail(ErrorKind::kInvalidInput, "secret_too_large", "A secret may be at most 1 MiB.");
  }
  SealedSecret sealed;
  sealed.key_id = keyring_.ActiveId();
  sealed.nonce.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  // 192-bit random nonces never realistically repeat, so no counter state is needed across processes.
  randombytes_buf(sealed.nonce.data(), sealed.nonce.size());
  sealed.ciphertext.resize(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  std::string ad = AssociatedData(owner, purpose);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(sealed.ciphertext.data()), &len,
                                             Bytes(plaintext), plaintext.size(), Bytes(ad), ad.size(),
                                             nullptr, Bytes(sealed.nonce), keyring_.ActiveKey().Data());
  sealed.ciphertext.resize(static_cast<size_t>(len));
  return sealed;
}

Result<std::string> SecretBox::Decrypt(std::string_view owner, std::string_view purpose,
                                       const SealedSecret& sealed) const {
  const SecretKey* key = keyring_.Find(sealed.key_id);
  if (key == nullptr) {
    return Fail(
        ErrorKind::kInternal, "secret_key_unknown",
        "A stored secret was encrypted with the master key \"" + sealed.key_id +
            "\", which this server does not have.",
        "Restore that key to the key file or to KTRACK_MASTER_KEY (keep old keys until `ktrack keys rotate` "
        "has finished).");
  }
  auto undecryptable = [&] {
    return Fail(
        ErrorKind::kInternal, "secret_undecryptable", "A stored secret could not be decrypted.",
        "The master key \"" + sealed.key_id +
            "\" may differ from the one it was written with, or the stored value was altered; enter the "
            "secret again.",
        "owner=" + std::string(owner) + " purpose=" + std::string(purpose));
  };
  if (sealed.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      sealed.ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return undecryptable();
  }
  std::string plaintext(sealed.ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  std::string ad = AssociatedData(owner, purpose);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext.data()), &len, nullptr, Bytes(sealed.ciphertext),
          sealed.ciphertext.size(), Bytes(ad), ad.size(), Bytes(sealed.nonce), key->Data()) != 0) {
    Wipe(plaintext);
    return undecryptable();
  }
  plaintext.resize(static_cast<size_t>(len));
  return plaintext;
}

}  // namespace kt::crypto
