// Master keys: the accepted encodings, clear errors that never echo a key, and the key file's life.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "crypto/keyring.h"
#include "crypto/master_key.h"
#include "process.h"

namespace kt::crypto {
namespace {

constexpr char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
// The same 32 bytes in base64.
constexpr char kBase64Key[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

mode_t FileMode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST(KeyringTest, AcceptsHexAndEveryBase64Spelling) {
  auto hex = DecodeKey(kHexKey);
  ASSERT_TRUE(hex) << hex.error().message;
  for (std::string encoded :
       {std::string(kBase64Key), std::string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
        std::string("  ") + kBase64Key + "\n"}) {
    auto key = DecodeKey(encoded);
    ASSERT_TRUE(key) << encoded;
    EXPECT_EQ(EncodeKey(*key), EncodeKey(*hex));
  }
  // URL-safe base64 of a key with '-' and '_' in it.
  auto random = SecretKey::Generate();
  std::string url = EncodeKey(random);
  for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  auto decoded = DecodeKey(url);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(EncodeKey(*decoded), EncodeKey(random));
}

TEST(KeyringTest, RejectsWrongLengthsAndGarbageWithoutQuotingThem) {
  for (std::string bad : {std::string("c2hvcnQ="), std::string(kHexKey) + "00",
                          std::string("not a key at all!"), std::string(kHexKey).substr(2)}) {
    auto key = DecodeKey(bad);
    ASSERT_FALSE(key) << bad;
    EXPECT_EQ(key.error().code, "master_key_malformed");
    EXPECT_EQ(key.error().message.find(bad), std::string::npos);
    EXPECT_FALSE(key.error().fix.empty());
  }
}

TEST(KeyringTest, SeveralEntriesMakeTheLastOneActive) {
  std::string second = EncodeKey(SecretKey::Generate());
  auto keyring = ParseKeyring(std::string("old:") + kHexKey + ", new:" + second, "KTRACK_MASTER_KEY");
  ASSERT_TRUE(keyring) << keyring.error().message;
  EXPECT_EQ(keyring->ActiveId(), "new");
  EXPECT_EQ(keyring->Ids(), (std::vector<std::string>{"old", "new"}));
  ASSERT_NE(keyring->Find("old"), nullptr);
  EXPECT_EQ(keyring->Find("missing"), nullptr);

  auto bare = ParseKeyring(kBase64Key, "KTRACK_MASTER_KEY");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->ActiveId(), "k1");
}

TEST(KeyringTest, MalformedEntryIsNamedByPositionAndSourceButNotQuoted) {
  const std::string secretish = "k2:dGhpcyBpcyBub3QgMzIgYnl0ZXM=";
  auto keyring = ParseKeyring(std::string("k1:") + kHexKey + "," + secretish, "KTRACK_MASTER_KEY");
  ASSERT_FALSE(keyring);
  EXPECT_EQ(keyring.error().code, "master_key_malformed");
  EXPECT_NE(keyring.error().message.find("KTRACK_MASTER_KEY"), std::string::npos);
  EXPECT_NE(keyring.error().message.find("entry 2"), std::string::npos);
  EXPECT_EQ(keyring.error().message.find("dGhpcyBpcyBub3Qg"), std::string::npos);
  EXPECT_EQ(keyring.error().message.find(kHexKey), std::string::npos);

  EXPECT_EQ(ParseKeyring(std::string("a:") + kHexKey + ",a:" + kBase64Key, "x").error().code,
            "master_key_malformed");
  EXPECT_FALSE(ParseKeyring(std::string(kHexKey) + "," + kBase64Key, "x"));  // several keys need ids
  EXPECT_FALSE(ParseKeyring("  \n# only a comment\n", "x"));
}

TEST(MasterKeyTest, KeyFileIsCreatedOnFirstStartWithMode0600AndReusedAfter) {
  testing::TempDir dir;
  KeySourceOptions options;
  options.data_dir = dir.path() + "/data";
  auto first = LoadKeyring(options);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->source, KeySource::kFile);
  EXPECT_EQ(first->file_path, options.data_dir + "/master.key");
  EXPECT_EQ(FileMode(first->file_path), 0600u);

  auto second = LoadKeyring(options);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->created);
  EXPECT_EQ(EncodeKey(second->keyring.ActiveKey()), EncodeKey(first->keyring.ActiveKey()));
}

TEST(MasterKeyTest, EnvironmentWinsOverTheKeyFileAndEmptyIsAnError) {
  testing::TempDir dir;
  KeySourceOptions options;
  options.data_dir = dir.path();
  options.env_value = std::string("k7:") + kBase64Key;
  auto loaded = LoadKeyring(options);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->source, KeySource::kEnvironment);
  EXPECT_EQ(loaded->keyring.ActiveId(), "k7");
  EXPECT_FALSE(
      std::ifstream(KeyFilePath(dir.path())).good());  // no file made when the environment has the key

  options.env_value = "  ";
  auto empty = LoadKeyring(options);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, "master_key_malformed");
  EXPECT_NE(empty.error().message.find("KTRACK_MASTER_KEY"), std::string::npos);
}

TEST(MasterKeyTest, KeyFileReadableByOthersIsRefused) {
  testing::TempDir dir;
  KeySourceOptions options;
  options.data_dir = dir.path();
  ASSERT_TRUE(LoadKeyring(options));
  ASSERT_EQ(::chmod(KeyFilePath(dir.path()).c_str(), 0644), 0);
  auto loaded = LoadKeyring(options);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, "key_file_unsafe");
  EXPECT_NE(loaded.error().fix.find("chmod 600"), std::string::npos);
}

TEST(MasterKeyTest, MissingFileIsAnErrorWhenNotCreating) {
  testing::TempDir dir;
  KeySourceOptions options;
  options.data_dir = dir.path();
  options.create_if_missing = false;
  auto loaded = LoadKeyring(options);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, "master_key_missing");
}

TEST(MasterKeyTest, AddingAKeyKeepsTheOldOnesAndMakesTheNewOneActive) {
  testing::TempDir dir;
  KeySourceOptions options;
  options.data_dir = dir.path();
  auto before = LoadKeyring(options);
  ASSERT_TRUE(before);
  auto id = AddKeyToFile(before->file_path);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "k2");
  EXPECT_EQ(FileMode(before->file_path), 0600u);

  auto after = LoadKeyring(options);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->keyring.Ids(), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(after->keyring.ActiveId(), "k2");
  EXPECT_EQ(EncodeKey(*after->keyring.Find("k1")), EncodeKey(before->keyring.ActiveKey()));
  EXPECT_NE(EncodeKey(after->keyring.ActiveKey()), EncodeKey(before->keyring.ActiveKey()));
}

}  // namespace
}  // namespace kt::crypto
