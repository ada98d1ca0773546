// Keys, keyrings and their text form (KTRACK_MASTER_KEY and the key file share one format).
#include "crypto/keyring.h"

#include <sodium.h>

#include <algorithm>

#include "crypto/sodium_init.h"
#include "util/strings.h"

namespace kt::crypto {

namespace {
constexpr std::string_view kMalformedFix =
    "Generate a key with `head -c 32 /dev/urandom | base64` and set KTRACK_MASTER_KEY to it, or to "
    "\"id:key,id:key\" with the active key last.";

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

void Wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

SecretKey::~SecretKey() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

SecretKey SecretKey::Generate() {
  EnsureSodium();
  SecretKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.bytes_.data());
  return key;
}

Result<SecretKey> SecretKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kSize) {
    return Fail(ErrorKind::kInvalidInput, "master_key_malformed",
                "A master key must be exactly 32 bytes (it has " + std::to_string(bytes.size()) + ").",
                std::string(kMalformedFix));
  }
  SecretKey key;
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(key.bytes_.data()));
  return key;
}

bool IsValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Status Keyring::Add(std::string id, const SecretKey& key) {
  if (!IsValidKeyId(id)) {
    return Fail(ErrorKind::kInvalidInput, "master_key_malformed",
                "A key id must be 1 to 32 letters, digits, '_', '-' or '.'.", std::string(kMalformedFix));
  }
  if (Find(id) != nullptr) {
    return Fail(ErrorKind::kInvalidInput, "master_key_malformed", "The key id \"" + id + "\" appears twice.",
                "Give every key its own id.");
  }
  keys_.emplace_back(std::move(id), key);
  return {};
}

const std::string& Keyring::ActiveId() const {
  static const std::string none;
  return keys_.empty() ? none : keys_.back().first;
}

const SecretKey* Keyring::Find(std::string_view id) const {
  for (const auto& [key_id, key] : keys_) {
    if (key_id == id) return &key;
  }
  return nullptr;
}

std::vector<std::string> Keyring::Ids() const {
  std::vector<std::string> ids;
  ids.reserve(keys_.size());
  for (const auto& entry : keys_) ids.push_back(entry.first);
  return ids;
}

Result<SecretKey> DecodeKey(std::string_view encoded) {
  EnsureSodium();
  encoded = Trim(encoded);
  // Room for more than a key, so that a too-long input is reported as such rather than as garbage.
  unsigned char buf[2 * SecretKey::kSize];
  size_t len = 0;
  bool decoded = false;
  if (encoded.size() == 2 * SecretKey::kSize && IsHex(encoded)) {
    decoded = sodium_hex2bin(buf, sizeof buf, encoded.data(), encoded.size(), nullptr, &len, nullptr) == 0;
  } else {
    for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
      const char* end = nullptr;
      if (sodium_base642bin(buf, sizeof buf, encoded.data(), encoded.size(), nullptr, &len, &end, variant) ==
              0 &&
          end == encoded.data() + encoded.size()) {
        decoded = true;
        break;
      }
    }
  }
  if (!decoded || len != SecretKey::kSize) {
    sodium_memzero(buf, sizeof buf);
    return Fail(ErrorKind::kInvalidInput, "master_key_malformed",
                "The key is not 32 bytes written as base64 or as 64 hex digits.", std::string(kMalformedFix));
  }
  auto key = SecretKey::FromBytes(std::string_view(reinterpret_cast<char*>(buf), len));
  sodium_memzero(buf, sizeof buf);
  return key;
}

std::string EncodeKey(const SecretKey& key) {
  EnsureSodium();
  std::string out(sodium_base64_ENCODED_LEN(SecretKey::kSize, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), key.Data(), SecretKey::kSize, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

Result<Keyring> ParseKeyring(std::string_view text, std::string_view origin) {
  std::vector<std::string_view> entries;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    size_t piece_start = 0;
    while (piece_start <= line.size()) {
      size_t comma = line.find(',', piece_start);
      if (comma == std::string_view::npos) comma = line.size();
      std::string_view piece = Trim(line.substr(piece_start, comma - piece_start));
      if (!piece.empty()) entries.push_back(piece);
      piece_start = comma + 1;
    }
  }

  auto malformed = [&](size_t index, const std::string& what) {
    std::string message = std::string(origin) + " is malformed: ";
    if (entries.size() > 1) message += "entry " + std::to_string(index + 1) + " ";
    return Fail(ErrorKind::kInvalidInput, "master_key_malformed", message + what, std::string(kMalformedFix));
  };

  if (entries.empty()) return malformed(0, "it holds no key.");
  Keyring keyring;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view entry = entries[i];
    std::string id = "k1";
    std::string_view encoded = entry;
    // Base64 and hex never contain ':', so the first one separates the id.
    size_t colon = entry.find(':');
    if (colon != std::string_view::npos) {
      id = std::string(Trim(entry.substr(0, colon)));
      encoded = Trim(entry.substr(colon + 1));
      if (!IsValidKeyId(id))
        return malformed(i, "has a malformed key id (use letters, digits, '_', '-', '.').");
    } else if (entries.size() > 1) {
      return malformed(i, "has no id; with several keys write each one as id:key.");
    }
    auto key = DecodeKey(encoded);
    if (!key)
      return malformed(i, "(id \"" + id + "\") is not 32 bytes written as base64 or as 64 hex digits.");
    if (keyring.Find(id) != nullptr) return malformed(i, "repeats the key id \"" + id + "\".");
    if (auto added = keyring.Add(id, *key); !added) return tl::unexpected(added.error());
  }
  return keyring;
}

std::string FormatKeyring(const Keyring& keyring) {
  std::string out =
      "# KTrack master keys. Keep this file secret (mode 0600) and backed up: without it the stored secrets "
      "are "
      "lost.\n# The last key encrypts new secrets; all of them decrypt. `ktrack keys rotate` appends a "
      "key.\n";
  for (const auto& id : keyring.Ids()) {
    out += id + ":" + EncodeKey(*keyring.Find(id)) + "\n";
  }
  return out;
}

}  // namespace kt::crypto
