// Secrets at rest in the store: encrypted per row under the master keyring, re-encrypted by key rotation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keyring.h"
#include "crypto/master_key.h"
#include "crypto/secret_box.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::crypto {

// Re-reads the keyring (from the key file or the environment) so that a running server learns keys that
// `ktrack keys rotate` added in another process.
using KeyringLoader = std::function<Result<Keyring>()>;

struct SecretStoreOptions {
  // How often a loader, when given, is asked for the keyring before an encryption, so that new secrets move
  // to a rotated key soon. A ciphertext under an unknown key id triggers a reload at once.
  Millis keyring_refresh{60'000};
  // Secrets re-encrypted per transaction by RotateAll, so rotation never holds the write lock for long.
  size_t rotate_batch = 100;
};

struct RotationReport {
  std::string active_key_id;
  int64_t rotated = 0;  // secrets re-encrypted under the active key
  // "owner/purpose: code" for each secret that could not be decrypted and so stays under its old key.
  std::vector<std::string> failed;
  // Secrets still under another key when rotation ended (those that failed, or were rewritten under an old
  // key by a server that had not yet loaded the new one; running rotate again moves them).
  int64_t remaining = 0;
};

// The secrets table: one ciphertext per (owner, purpose), e.g. ("client:42", "procore.client_secret").
// Values never leave this class except as the plaintext returned by Get; errors carry no secret material.
class SecretStore {
 public:
  SecretStore(store::Store& store, Keyring keyring, Clock& clock, KeyringLoader loader = {},
              SecretStoreOptions options = {});

  // Creates or replaces the secret.
  Status Put(std::string_view owner, std::string_view purpose, std::string_view plaintext);
  Status Put(store::Tx& tx, std::string_view owner, std::string_view purpose, std::string_view plaintext);
  // nullopt when there is none.
  Result<std::optional<std::string>> Get(std::string_view owner, std::string_view purpose);
  Result<std::optional<std::string>> Get(store::Tx& tx, std::string_view owner, std::string_view purpose);
  // True when a secret was deleted.
  Result<bool> Delete(std::string_view owner, std::string_view purpose);
  Result<bool> Delete(store::Tx& tx, std::string_view owner, std::string_view purpose);
  // Deletes every secret of an owner (a disconnected integration); returns how many.
  Result<int64_t> DeleteOwner(std::string_view owner);
  Result<int64_t> DeleteOwner(store::Tx& tx, std::string_view owner);

  // Re-encrypts every secret not under the active key, in batches of options.rotate_batch per transaction.
  // Readers keep working throughout because every key stays in the keyring.
  Result<RotationReport> RotateAll();

  std::string ActiveKeyId();

 private:
  template <typename Db>
  Status PutWith(Db& db, std::string_view owner, std::string_view purpose, std::string_view plaintext);
  template <typename Db>
  Result<std::optional<std::string>> GetWith(Db& db, std::string_view owner, std::string_view purpose);

  // The current SecretBox, refreshed from the loader when refresh_due (or forced).
  std::shared_ptr<const SecretBox> Box(bool force_reload = false);
  // Decrypts, reloading the keyring once if the ciphertext names a key this process does not know yet.
  Result<std::string> Open(std::string_view owner, std::string_view purpose, const SealedSecret& sealed);

  store::Store& store_;
  Clock& clock_;
  KeyringLoader loader_;
  SecretStoreOptions options_;
  std::mutex mu_;
  std::shared_ptr<const SecretBox> box_;
  int64_t loaded_at_ms_;
};

// A loader that re-reads the same source without ever creating a key file: what a running server hands to
// SecretStore so that it follows rotations made by `ktrack keys rotate`.
KeyringLoader MakeKeyringLoader(KeySourceOptions source);

struct KeyRotation {
  bool key_added = false;  // a new key was appended to the key file (false with KTRACK_MASTER_KEY)
  RotationReport report;
};

// `ktrack keys rotate`. With the key file: appends a new key and re-encrypts every secret under it. With
// KTRACK_MASTER_KEY: re-encrypts under its last key (the operator appends the new key there first, keeping
// the old ones until this has finished). Running servers keep reading throughout.
Result<KeyRotation> RotateMasterKey(store::Store& store, const KeySourceOptions& source, Clock& clock);

}  // namespace kt::crypto
