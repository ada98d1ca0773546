// The secrets table: encrypt on write, decrypt on read, rotate in batches.
#include "crypto/secret_store.h"

#include <utility>

namespace kt::crypto {

namespace {

Status CheckName(std::string_view owner, std::string_view purpose) {
  if (owner.empty() || purpose.empty() || owner.size() > 200 || purpose.size() > 200) {
    return Fail(ErrorKind::kInternal, "secret_name_invalid", "A secret needs an owner and a purpose.", {},
                "owner and purpose must be 1..200 bytes");
  }
  return {};
}

}  // namespace

SecretStore::SecretStore(store::Store& store, Keyring keyring, Clock& clock, KeyringLoader loader,
                         SecretStoreOptions options)
    : store_(store),
      clock_(clock),
      loader_(std::move(loader)),
      options_(options),
      box_(std::make_shared<const SecretBox>(std::move(keyring))),
      loaded_at_ms_(clock.NowUnixMs()) {}

std::shared_ptr<const SecretBox> SecretStore::Box(bool force_reload) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.NowUnixMs();
  if (loader_ && (force_reload || now - loaded_at_ms_ >= options_.keyring_refresh.count())) {
    loaded_at_ms_ = now;
    // A failed reload (the key file briefly unreadable) keeps the keys we have: they still decrypt everything
    // they did before, and a broken file must not take a running server down.
    if (auto keyring = loader_(); keyring && !keyring->Empty()) {
      box_ = std::make_shared<const SecretBox>(std::move(*keyring));
    }
  }
  return box_;
}

std::string SecretStore::ActiveKeyId() {
  return Box()->Keys().ActiveId();
}

Result<std::string> SecretStore::Open(std::string_view owner, std::string_view purpose,
                                      const SealedSecret& sealed) {
  auto box = Box();
  if (box->Keys().Find(sealed.key_id) == nullptr && loader_) box = Box(/*force_reload=*/true);
  return box->Decrypt(owner, purpose, sealed);
}

template <typename Db>
Status SecretStore::PutWith(Db& db, std::string_view owner, std::string_view purpose,
                            std::string_view plaintext) {
  if (auto ok = CheckName(owner, purpose); !ok) return ok;
  auto sealed = Box()->Encrypt(owner, purpose, plaintext);
  if (!sealed) return tl::unexpected(sealed.error());
  int64_t now = clock_.NowUnixMs();
  auto written = db.Query(
      "INSERT INTO secrets (owner, purpose, key_id, nonce, ciphertext, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $6) "
      "ON CONFLICT (owner, purpose) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce, "
      "ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
      {std::string(owner), std::string(purpose), sealed->key_id, store::Blob{std::move(sealed->nonce)},
       store::Blob{std::move(sealed->ciphertext)}, now});
  if (!written) return tl::unexpected(written.error());
  return {};
}

template <typename Db>
Result<std::optional<std::string>> SecretStore::GetWith(Db& db, std::string_view owner,
                                                        std::string_view purpose) {
  if (auto ok = CheckName(owner, purpose); !ok) return tl::unexpected(ok.error());
  auto rows = db.Query("SELECT key_id, nonce, ciphertext FROM secrets WHERE owner = $1 AND purpose = $2",
                       {std::string(owner), std::string(purpose)});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return std::optional<std::string>();
  const store::Row& row = rows->rows.front();
  SealedSecret sealed{row.Text("key_id"), row.Text("nonce"), row.Text("ciphertext")};
  auto plaintext = Open(owner, purpose, sealed);
  if (!plaintext) return tl::unexpected(plaintext.error());
  return std::optional<std::string>(std::move(*plaintext));
}

Status SecretStore::Put(std::string_view owner, std::string_view purpose, std::string_view plaintext) {
  return PutWith(store_, owner, purpose, plaintext);
}

Status SecretStore::Put(store::Tx& tx, std::string_view owner, std::string_view purpose,
                        std::string_view plaintext) {
  return PutWith(tx, owner, purpose, plaintext);
}

Result<std::optional<std::string>> SecretStore::Get(std::string_view owner, std::string_view purpose) {
  return GetWith(store_, owner, purpose);
}

Result<std::optional<std::string>> SecretStore::Get(store::Tx& tx, std::string_view owner,
                                                    std::string_view purpose) {
  return GetWith(tx, owner, purpose);
}

Result<bool> SecretStore::Delete(std::string_view owner, std::string_view purpose) {
  auto n = store_.Exec("DELETE FROM secrets WHERE owner = $1 AND purpose = $2",
                       {std::string(owner), std::string(purpose)});
  if (!n) return tl::unexpected(n.error());
  return *n > 0;
}

Result<bool> SecretStore::Delete(store::Tx& tx, std::string_view owner, std::string_view purpose) {
  auto n = tx.Exec("DELETE FROM secrets WHERE owner = $1 AND purpose = $2",
                   {std::string(owner), std::string(purpose)});
  if (!n) return tl::unexpected(n.error());
  return *n > 0;
}

Result<int64_t> SecretStore::DeleteOwner(std::string_view owner) {
  return store_.Exec("DELETE FROM secrets WHERE owner = $1", {std::string(owner)});
}

Result<int64_t> SecretStore::DeleteOwner(store::Tx& tx, std::string_view owner) {
  return tx.Exec("DELETE FROM secrets WHERE owner = $1", {std::string(owner)});
}

Result<RotationReport> SecretStore::RotateAll() {
  // Learn a key that `keys rotate` just appended to the key file before deciding which key is active.
  auto box = Box(/*force_reload=*/true);
  RotationReport report;
  report.active_key_id = box->Keys().ActiveId();
  const int64_t batch = static_cast<int64_t>(options_.rotate_batch == 0 ? 1 : options_.rotate_batch);

  // A row rewritten by a concurrent Put between passes may land under an old key (a server that has not
  // reloaded yet); a second pass picks those up. Three passes bound the work when writers keep racing.
  for (int pass = 0; pass < 3; ++pass) {
    // Each pass scans every row not yet under the active key, so its failures are the complete list.
    report.failed.clear();
    int64_t rotated_this_pass = 0;
    int64_t after_id = 0;
    for (;;) {
      int64_t batch_rotated = 0, batch_last_id = after_id, batch_rows = 0;
      std::vector<std::string> batch_failed;
      auto done = store_.Transact([&](store::Tx& tx) -> Status {
        // Transact may retry fn, so everything it reports starts over each time.
        batch_rotated = 0;
        batch_last_id = after_id;
        batch_rows = 0;
        batch_failed.clear();
        auto rows = tx.Query(
            "SELECT id, owner, purpose, key_id, nonce, ciphertext FROM secrets WHERE id > $1 AND key_id <> "
            "$2 "
            "ORDER BY id LIMIT $3",
            {after_id, report.active_key_id, batch});
        if (!rows) return tl::unexpected(rows.error());
        for (const store::Row& row : rows->rows) {
          ++batch_rows;
          batch_last_id = row.Int("id");
          std::string owner = row.Text("owner"), purpose = row.Text("purpose");
          std::string old_nonce = row.Text("nonce");
          SealedSecret old_sealed{row.Text("key_id"), old_nonce, row.Text("ciphertext")};
          auto plaintext = box->Decrypt(owner, purpose, old_sealed);
          if (!plaintext) {
            batch_failed.push_back(
                owner.append("/").append(purpose).append(": ").append(plaintext.error().code));
            continue;
          }
          auto sealed = box->Encrypt(owner, purpose, *plaintext);
          Wipe(*plaintext);
          if (!sealed) return tl::unexpected(sealed.error());
          // The old nonce is unique to the value we decrypted: if a writer replaced the row meanwhile, leave
          // theirs.
          auto updated = tx.Exec(
              "UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 WHERE id = $4 AND nonce = $5",
              {sealed->key_id, store::Blob{std::move(sealed->nonce)},
               store::Blob{std::move(sealed->ciphertext)}, batch_last_id, store::Blob{old_nonce}});
          if (!updated) return tl::unexpected(updated.error());
          batch_rotated += *updated;
        }
        return {};
      });
      if (!done) return tl::unexpected(done.error());
      rotated_this_pass += batch_rotated;
      report.failed.insert(report.failed.end(), batch_failed.begin(), batch_failed.end());
      after_id = batch_last_id;
      if (batch_rows < batch) break;
    }
    report.rotated += rotated_this_pass;

    auto remaining =
        store_.Query("SELECT COUNT(*) AS n FROM secrets WHERE key_id <> $1", {report.active_key_id});
    if (!remaining) return tl::unexpected(remaining.error());
    report.remaining = remaining->rows.front().Int("n");
    if (report.remaining <= static_cast<int64_t>(report.failed.size())) break;
  }
  return report;
}

KeyringLoader MakeKeyringLoader(KeySourceOptions source) {
  source.create_if_missing = false;
  return [source = std::move(source)]() -> Result<Keyring> {
    auto loaded = LoadKeyring(source);
    if (!loaded) return tl::unexpected(loaded.error());
    return std::move(loaded->keyring);
  };
}

Result<KeyRotation> RotateMasterKey(store::Store& store, const KeySourceOptions& source, Clock& clock) {
  auto loaded = LoadKeyring(source);
  if (!loaded) return tl::unexpected(loaded.error());
  KeyRotation rotation;
  if (loaded->source == KeySource::kFile) {
    auto added = AddKeyToFile(loaded->file_path);
    if (!added) return tl::unexpected(added.error());
    rotation.key_added = true;
    loaded = LoadKeyring(source);
    if (!loaded) return tl::unexpected(loaded.error());
  }
  SecretStore secrets(store, std::move(loaded->keyring), clock);
  auto report = secrets.RotateAll();
  if (!report) return tl::unexpected(report.error());
  rotation.report = std::move(*report);
  return rotation;
}

}  // namespace kt::crypto
