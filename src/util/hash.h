// Hashes (SHA-256 from OpenSSL's libcrypto; secrets' keyed fingerprints from libsodium) and random tokens
// (libsodium).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace kt {

// Lowercase hex SHA-256.
std::string Sha256Hex(std::string_view data);
// A keyed 64-bit fingerprint of a secret (SipHash-2-4, libsodium's crypto_shorthash) under a key drawn once
// per process: tells whether a secret changed without keeping it, for a fraction of SHA-256's cost. Not for
// storing or comparing across processes (the key is gone with the process).
uint64_t SecretFingerprint(std::string_view secret);
// Incremental SHA-256 for large inputs (stream checksums).
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  std::string FinishHex();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

// n random bytes as lowercase hex (2n characters), from the OS CSPRNG.
std::string RandomHex(size_t n_bytes);
// n random bytes as unpadded base64url.
std::string RandomToken(size_t n_bytes);
// Compares in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Compares values whose length is public (digests): constant time for equal lengths, false at once otherwise.
// No hashing, so cheaper than ConstantTimeEquals on the webhook receiver's hot path.
bool DigestEquals(std::string_view a, std::string_view b);

}  // namespace kt
