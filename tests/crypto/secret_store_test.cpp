// The secret store on SQLite: round trips, nothing readable in the database file, rows bound to their owner,
// and key rotation that re-encrypts everything while readers keep working.
#include <cctype>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>

#include <gtest/gtest.h>

#include "crypto/master_key.h"
#include "crypto/secret_store.h"
#include "postgres.h"
#include "process.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"

namespace kt::crypto {
namespace {

Keyring Ring(const std::vector<std::pair<std::string, SecretKey>>& keys) {
  Keyring keyring;
  for (const auto& [id, key] : keys) EXPECT_TRUE(keyring.Add(id, key));
  return keyring;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

enum class Backend { kSqlite, kPostgres };
void PrintTo(Backend b, std::ostream* os) {
  *os << (b == Backend::kSqlite ? "Sqlite" : "Postgres");
}
std::string BackendTestName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// "c_<suite>_<test>" in [a-z0-9_], unique within the test process.
std::string DatabaseName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("c_") + info->test_suite_name() + "_" + info->name();
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '_';
  }
  return name.substr(0, 60);
}

// Runs on SQLite and on the test run's PostgreSQL: blobs, upserts and the rotation batches must behave the
// same.
class SecretStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      std::string why_not;
      ASSERT_TRUE(testing::PostgresServer::Available(&why_not)) << why_not;
      url_ = testing::PostgresServer::Instance().CreateDatabase(DatabaseName());
    }
    Open();
  }

  void Open() {
    auto opened = store::OpenStore(url_);
    ASSERT_TRUE(opened) << opened.error().message << " " << opened.error().detail;
    db_ = std::move(*opened);
    auto migrated = store::Migrate(*db_);
    ASSERT_TRUE(migrated) << migrated.error().message << " " << migrated.error().detail;
  }

  testing::TempDir dir_;
  std::string db_path_ = dir_.path() + "/t.db";
  std::string url_ = "sqlite:" + db_path_;
  ManualClock clock_;
  std::unique_ptr<store::Store> db_;
  SecretKey k1_ = SecretKey::Generate();
  SecretKey k2_ = SecretKey::Generate();
};

TEST_P(SecretStoreTest, SecretRoundTripsIsReplacedAndDeleted) {
  SecretStore secrets(*db_, Ring({{"k1", k1_}}), clock_);
  ASSERT_TRUE(secrets.Put("client:1", "procore.client_secret", "first"));
  auto got = secrets.Get("client:1", "procore.client_secret");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->value_or("<none>"), "first");

  ASSERT_TRUE(secrets.Put("client:1", "procore.client_secret", "second"));
  EXPECT_EQ(secrets.Get("client:1", "procore.client_secret")->value_or("<none>"), "second");
  EXPECT_EQ(db_->Query("SELECT COUNT(*) AS n FROM secrets")->rows.front().Int("n"), 1);

  EXPECT_FALSE(secrets.Get("client:2", "procore.client_secret")->has_value());
  EXPECT_TRUE(*secrets.Delete("client:1", "procore.client_secret"));
  EXPECT_FALSE(*secrets.Delete("client:1", "procore.client_secret"));
  EXPECT_FALSE(secrets.Get("client:1", "procore.client_secret")->has_value());
}

TEST_P(SecretStoreTest, WorksInsideACallersTransaction) {
  SecretStore secrets(*db_, Ring({{"k1", k1_}}), clock_);
  auto done = db_->Transact([&](store::Tx& tx) -> Status {
    if (auto put = secrets.Put(tx, "client:1", "a", "in-tx"); !put) return put;
    auto got = secrets.Get(tx, "client:1", "a");
    if (!got) return tl::unexpected(got.error());
    EXPECT_EQ(got->value_or(""), "in-tx");
    return {};
  });
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(secrets.Get("client:1", "a")->value_or(""), "in-tx");
  auto removed = secrets.DeleteOwner("client:1");
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1);
}

// Reads the database file itself, so SQLite only.
class SecretStoreFileTest : public SecretStoreTest {};

TEST_P(SecretStoreFileTest, DatabaseFileHoldsNoPlaintext) {
  const std::string plaintext = "PLAINTEXT-client-secret-7f3a9c";
  {
    SecretStore secrets(*db_, Ring({{"k1", k1_}}), clock_);
    ASSERT_TRUE(secrets.Put("client:42", "procore.client_secret", plaintext));
    // Closing the last connection checkpoints the WAL into the main file (a PRAGMA cannot: the store runs
    // statements inside a write transaction). The WAL, if any is left, is scanned as well.
    db_.reset();
  }
  std::string bytes = ReadFile(db_path_) + ReadFile(db_path_ + "-wal");
  ASSERT_FALSE(bytes.empty());
  // The owner is stored in clear, so finding it proves the scan reads the rows; the secret must not be there.
  EXPECT_NE(bytes.find("client:42"), std::string::npos);
  EXPECT_EQ(bytes.find(plaintext), std::string::npos);

  Open();
  SecretStore reopened(*db_, Ring({{"k1", k1_}}), clock_);
  EXPECT_EQ(reopened.Get("client:42", "procore.client_secret")->value_or(""), plaintext);
}

TEST_P(SecretStoreTest, CiphertextMovedToAnotherOwnerFailsToDecrypt) {
  SecretStore secrets(*db_, Ring({{"k1", k1_}}), clock_);
  ASSERT_TRUE(secrets.Put("client:1", "procore.client_secret", "client-one-secret"));
  ASSERT_TRUE(secrets.Put("client:2", "procore.client_secret", "client-two-secret"));
  // An attacker (or a bug) with write access copies client 1's ciphertext into client 2's row.
  auto moved = db_->Exec(
      "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE owner = 'client:1'), "
      "ciphertext = (SELECT ciphertext FROM secrets WHERE owner = 'client:1') WHERE owner = 'client:2'");
  ASSERT_TRUE(moved);
  ASSERT_EQ(*moved, 1);
  auto got = secrets.Get("client:2", "procore.client_secret");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, "secret_undecryptable");
  EXPECT_EQ(got.error().message.find("client-one-secret"), std::string::npos);
  EXPECT_EQ(got.error().detail.find("client-one-secret"), std::string::npos);
  EXPECT_EQ(secrets.Get("client:1", "procore.client_secret")->value_or(""), "client-one-secret");
}

TEST_P(SecretStoreTest, RotationReEncryptsEverythingWhileOldKeySecretsStayReadable) {
  SecretStoreOptions options;
  options.rotate_batch = 7;  // several batches
  {
    SecretStore before(*db_, Ring({{"k1", k1_}}), clock_, {}, options);
    for (int i = 0; i < 25; ++i) {
      ASSERT_TRUE(
          before.Put("client:" + std::to_string(i), "procore.client_secret", "secret-" + std::to_string(i)));
    }
  }
  // The new key is active; the old one is still known, so everything reads before rotation has run.
  SecretStore during(*db_, Ring({{"k1", k1_}, {"k2", k2_}}), clock_, {}, options);
  EXPECT_EQ(during.ActiveKeyId(), "k2");
  EXPECT_EQ(during.Get("client:3", "procore.client_secret")->value_or(""), "secret-3");
  ASSERT_TRUE(during.Put("client:new", "procore.client_secret", "written-under-k2"));

  auto report = during.RotateAll();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->active_key_id, "k2");
  EXPECT_EQ(report->rotated, 25);
  EXPECT_EQ(report->remaining, 0);
  EXPECT_TRUE(report->failed.empty());
  auto old_rows = db_->Query("SELECT COUNT(*) AS n FROM secrets WHERE key_id <> 'k2'");
  EXPECT_EQ(old_rows->rows.front().Int("n"), 0);

  // Once rotated, the old key can go.
  SecretStore after(*db_, Ring({{"k2", k2_}}), clock_);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(after.Get("client:" + std::to_string(i), "procore.client_secret")->value_or("<none>"),
              "secret-" + std::to_string(i));
  }
  EXPECT_EQ(after.Get("client:new", "procore.client_secret")->value_or(""), "written-under-k2");

  auto again = during.RotateAll();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rotated, 0);
}

TEST_P(SecretStoreTest, RotationReportsSecretsItCannotReadAndMovesTheRest) {
  SecretStore lost(*db_, Ring({{"lost", SecretKey::Generate()}}), clock_);
  ASSERT_TRUE(lost.Put("client:9", "procore.client_secret", "unreadable"));
  SecretStore secrets(*db_, Ring({{"k1", k1_}}), clock_);
  ASSERT_TRUE(secrets.Put("client:1", "procore.client_secret", "fine"));

  SecretStore rotating(*db_, Ring({{"k1", k1_}, {"k2", k2_}}), clock_);
  auto report = rotating.RotateAll();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->rotated, 1);
  EXPECT_EQ(report->remaining, 1);
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0], "client:9/procore.client_secret: secret_key_unknown");
}

TEST_P(SecretStoreTest, KeysRotateThroughTheKeyFileReachARunningServer) {
  KeySourceOptions source;
  source.data_dir = dir_.path();
  auto loaded = LoadKeyring(source);
  ASSERT_TRUE(loaded);
  source.create_if_missing = false;
  // A running server that loaded the key file at start.
  SecretStore server(*db_, loaded->keyring, clock_, MakeKeyringLoader(source));
  SecretStore writer(*db_, loaded->keyring, clock_, MakeKeyringLoader(source));
  ASSERT_TRUE(server.Put("client:1", "procore.client_secret", "before-rotation"));

  // `ktrack keys rotate` in another process: append a key, then re-encrypt.
  auto rotation = RotateMasterKey(*db_, source, clock_);
  ASSERT_TRUE(rotation) << rotation.error().message;
  EXPECT_TRUE(rotation->key_added);
  EXPECT_EQ(rotation->report.active_key_id, "k2");
  EXPECT_EQ(rotation->report.rotated, 1);
  auto key_ids = db_->Query("SELECT DISTINCT key_id FROM secrets");
  ASSERT_EQ(key_ids->rows.size(), 1u);
  EXPECT_EQ(key_ids->rows.front().Text("key_id"), "k2");

  // The server meets a key id it does not know, reloads the key file, and reads on.
  EXPECT_EQ(server.Get("client:1", "procore.client_secret")->value_or(""), "before-rotation");
  // A server that only writes moves to the new key at its next keyring refresh.
  EXPECT_EQ(writer.ActiveKeyId(), "k1");
  clock_.Advance(std::chrono::minutes(2));
  EXPECT_EQ(writer.ActiveKeyId(), "k2");
  ASSERT_TRUE(writer.Put("client:2", "procore.client_secret", "after-rotation"));
  auto new_row = db_->Query("SELECT key_id FROM secrets WHERE owner = 'client:2'");
  EXPECT_EQ(new_row->rows.front().Text("key_id"), "k2");
}

TEST_P(SecretStoreTest, RotationWithTheEnvironmentKeyUsesItsLastKey) {
  {
    SecretStore before(*db_, Ring({{"k1", k1_}}), clock_);
    ASSERT_TRUE(before.Put("client:1", "procore.client_secret", "value"));
  }
  KeySourceOptions source;
  source.data_dir = dir_.path();
  source.env_value = "k1:" + EncodeKey(k1_) + ",k2:" + EncodeKey(k2_);
  auto rotation = RotateMasterKey(*db_, source, clock_);
  ASSERT_TRUE(rotation) << rotation.error().message;
  EXPECT_FALSE(rotation->key_added);
  EXPECT_EQ(rotation->report.rotated, 1);
  SecretStore after(*db_, Ring({{"k2", k2_}}), clock_);
  EXPECT_EQ(after.Get("client:1", "procore.client_secret")->value_or(""), "value");
}

INSTANTIATE_TEST_SUITE_P(Backend, SecretStoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendTestName);
INSTANTIATE_TEST_SUITE_P(Backend, SecretStoreFileTest, ::testing::Values(Backend::kSqlite), BackendTestName);

}  // namespace
}  // namespace kt::crypto
