// Hashes and random tokens on libsodium.
#include "util/hash.h"

#include <sodium.h>

#include <stdexcept>
#include <vector>

#include "util/strings.h"

namespace kt {

namespace {
void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}
}  // namespace

static_assert(sizeof(crypto_hash_sha256_state) <= 128);

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.FinishHex();
}

Sha256::Sha256() {
  EnsureSodium();
  crypto_hash_sha256_init(reinterpret_cast<crypto_hash_sha256_state*>(state_));
}

void Sha256::Update(std::string_view data) {
  crypto_hash_sha256_update(reinterpret_cast<crypto_hash_sha256_state*>(state_),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

std::string Sha256::FinishHex() {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_), out);
  return HexEncode(std::string_view(reinterpret_cast<char*>(out), sizeof out));
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
  unsigned char da[crypto_hash_sha256_BYTES], db[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(da, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_hash_sha256(db, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  return sodium_memcmp(da, db, sizeof da) == 0;
}

bool DigestEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  EnsureSodium();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kt
