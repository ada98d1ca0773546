// Where the master keys come from: KTRACK_MASTER_KEY, or a key file in the data dir created on first start.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/keyring.h"
#include "util/error.h"

namespace kt::crypto {

inline constexpr std::string_view kMasterKeyEnv = "KTRACK_MASTER_KEY";
inline constexpr std::string_view kKeyFileName = "master.key";

struct KeySourceOptions {
  // The value of KTRACK_MASTER_KEY when it is set; it then wins over the key file.
  std::optional<std::string> env_value;
  // The data dir, which holds the key file when the environment gives no key.
  std::string data_dir;
  // Creates the key file (mode 0600, one fresh key) when it is missing. `ktrack serve` and `migrate` do; a
  // reload of a running server does not.
  bool create_if_missing = true;
};

// Reads KTRACK_MASTER_KEY from the process environment.
KeySourceOptions KeySourceFromEnvironment(std::string data_dir);

enum class KeySource { kEnvironment, kFile };

struct LoadedKeyring {
  Keyring keyring;
  KeySource source = KeySource::kFile;
  std::string file_path;  // the key file, for kFile
  bool created = false;   // the key file was created by this call
};

std::string KeyFilePath(const std::string& data_dir);

// Loads the keyring. Errors (kInvalidInput, code "master_key_malformed", "master_key_missing" or
// "key_file_unsafe") say which source is wrong and how to fix it; they never quote key material.
Result<LoadedKeyring> LoadKeyring(const KeySourceOptions& options);

// Appends a freshly generated key to the key file and makes it active (atomic replace, mode 0600, serialised
// by a lock file beside it). Returns the new key's id. Re-encrypting the stored secrets is
// SecretStore::RotateAll.
Result<std::string> AddKeyToFile(const std::string& path);

}  // namespace kt::crypto
