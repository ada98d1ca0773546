// Hashes and random tokens. SHA-256 is OpenSSL's (every use here): it uses the CPU's SHA instructions where
// they exist, and the sync hashes every record's line for its stream's checksum (docs/ARCHITECTURE.md,
// "SHA-256"). Randomness, the constant-time comparisons of bytes and the secrets' fingerprints (SipHash) are
// libsodium's.
#include "util/hash.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "util/strings.h"

namespace kt {

namespace {
// Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up in its providers at every initialisation,
// which cost more than hashing a small stream's lines.
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw std::runtime_error("OpenSSL has no SHA-256");
  return md;
}

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

std::array<unsigned char, 32> Sha256Digest(std::string_view data) {
  std::array<unsigned char, 32> out;
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, Sha256Md(), nullptr) != 1 || n != out.size()) {
    throw std::runtime_error("OpenSSL's SHA-256 failed");
  }
  return out;
}
}  // namespace

std::string Sha256Hex(std::string_view data) {
  const auto digest = Sha256Digest(data);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

uint64_t SecretFingerprint(std::string_view secret) {
  static const std::array<unsigned char, crypto_shorthash_KEYBYTES> key = [] {
    EnsureSodium();
    std::array<unsigned char, crypto_shorthash_KEYBYTES> k;
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  std::array<unsigned char, crypto_shorthash_BYTES> out;
  crypto_shorthash(out.data(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   key.data());
  uint64_t v = 0;
  std::memcpy(&v, out.data(), sizeof v);
  return v;
}

void Sha256::Free::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL's SHA-256 failed to start");
  }
}

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());  // cannot fail for an initialised SHA-256 context
}

std::string Sha256::FinishHex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out, &n) != 1) throw std::runtime_error("OpenSSL's SHA-256 failed");
  return HexEncode(std::string_view(reinterpret_cast<char*>(out), n));
}

std::string RandomHex(size_t n_bytes) {
  EnsureSodium();
  std::vector<unsigned char> buf(n_bytes);
  randombytes_buf(buf.data(), buf.size());
  return HexEncode(std::string_view(reinterpret_cast<char*>(buf.data()), buf.size()));
}

std::string RandomToken(size_t n_bytes) {
  EnsureSodium();
  std::vector<unsigned char> buf(n_bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string out(sodium_base64_ENCODED_LEN(n_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), buf.data(), buf.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Compare digests so the time depends on neither input's content nor on where they differ.
  EnsureSodium();
  const auto da = Sha256Digest(a);
  const auto db = Sha256Digest(b);
  return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

bool DigestEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  EnsureSodium();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kt
