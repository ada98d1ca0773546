// Master keys in memory: 32-byte keys by id, one of them active for new encryptions.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace kt::crypto {

// A 32-byte symmetric key, wiped from memory when it goes away.
class SecretKey {
 public:
  static constexpr size_t kSize = 32;

  SecretKey() { bytes_.fill(0); }
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();

  // A fresh key from the OS CSPRNG.
  static SecretKey Generate();
  // Exactly kSize raw bytes.
  static Result<SecretKey> FromBytes(std::string_view bytes);

  const unsigned char* Data() const { return bytes_.data(); }

 private:
  std::array<unsigned char, kSize> bytes_;
};

// Key ids are short names stored beside every ciphertext ("k1", "2026-q1"): letters, digits, '_', '-', '.'.
bool IsValidKeyId(std::string_view id);

// Every key a deployment knows. The last one added is active: it encrypts; all of them decrypt, so secrets
// written under an older key stay readable while `ktrack keys rotate` moves them to the new one.
class Keyring {
 public:
  // Adds a key and makes it the active one. Fails for a malformed or repeated id.
  Status Add(std::string id, const SecretKey& key);

  bool Empty() const { return keys_.empty(); }
  size_t Size() const { return keys_.size(); }
  // The id of the active key; empty when the keyring is empty.
  const std::string& ActiveId() const;
  // The active key; the keyring must not be empty.
  const SecretKey& ActiveKey() const { return keys_.back().second; }
  // nullptr when the id is unknown.
  const SecretKey* Find(std::string_view id) const;
  // The ids, oldest first (the last one is active).
  std::vector<std::string> Ids() const;

 private:
  std::vector<std::pair<std::string, SecretKey>> keys_;
};

// Decodes a key given as 64 hex digits or as base64 (standard or URL-safe, padded or not) of 32 bytes.
Result<SecretKey> DecodeKey(std::string_view encoded);
// Standard padded base64 of the key bytes.
std::string EncodeKey(const SecretKey& key);

// Parses a keyring: entries separated by commas or newlines, each "id:key" or, for a single entry, a bare key
// (given the id "k1"). Blank lines and lines starting with '#' are skipped. `origin` names where the text
// came from ("KTRACK_MASTER_KEY", a file path) for the error message, which never quotes key material.
Result<Keyring> ParseKeyring(std::string_view text, std::string_view origin);
// Overwrites a string's bytes (it held a key or a secret) and empties it.
void Wipe(std::string& s);

// The key file format: a comment line, then one "id:base64" line per key, active last.
std::string FormatKeyring(const Keyring& keyring);

}  // namespace kt::crypto
