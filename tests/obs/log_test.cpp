// JSON-lines logging and secret redaction.
#include "obs/log.h"

#include <sstream>

#include <gtest/gtest.h>

namespace kt::obs {
namespace {

TEST(ObsLogTest, RedactSecretsMasksSecretKeysAtAnyDepth) {
  nlohmann::json in = {
      {"client_id", "abc"},
      {"client_secret", "s3cr3t"},
      {"Password", "hunter2"},
      {"headers", {{"Authorization", "Bearer xyz"}, {"Cookie", "kt_session=1"}, {"Accept", "*/*"}}},
      {"tokens",
       nlohmann::json::array({{{"access_token", "a"}, {"refresh_token", "r"}, {"expires_in", 7200}}})},
      {"webhook_secret", "w"},
      {"token", nullptr},
      {"count", 3},
  };
  nlohmann::json out = RedactSecrets(in);
  EXPECT_EQ(out["client_id"], "abc");
  EXPECT_EQ(out["client_secret"], "[redacted]");
  EXPECT_EQ(out["Password"], "[redacted]");
  EXPECT_EQ(out["headers"]["Authorization"], "[redacted]");
  EXPECT_EQ(out["headers"]["Cookie"], "[redacted]");
  EXPECT_EQ(out["headers"]["Accept"], "*/*");
  EXPECT_EQ(out["tokens"][0]["access_token"], "[redacted]");
  EXPECT_EQ(out["tokens"][0]["refresh_token"], "[redacted]");
  EXPECT_EQ(out["tokens"][0]["expires_in"], 7200);
  EXPECT_EQ(out["webhook_secret"], "[redacted]");
  EXPECT_TRUE(out["token"].is_null());
  EXPECT_EQ(out["count"], 3);
  EXPECT_EQ(out.dump().find("s3cr3t"), std::string::npos);
}

TEST(ObsLogTest, SecretKeyNames) {
  for (auto key : {"secret", "client_secret", "password", "token", "access_token", "authorization", "cookie",
                   "Set-Cookie", "api_key", "x_refresh_token"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (auto key : {"client_id", "company_id", "status", "tokens_used", "integration_key", "route"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

TEST(ObsLogTest, LinesAreJsonWithLevelFilteringAndRedaction) {
  std::ostringstream out;
  auto logger = Logger::ToStream(out, Level::kInfo);
  logger->Log(Level::kDebug, "hidden");
  logger->Log(Level::kInfo, "token_refreshed", {{"company_id", 7}, {"access_token", "abc"}});
  logger->SetLevel(Level::kError);
  logger->Log(Level::kWarn, "hidden_too");
  std::istringstream in(out.str());
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["event"], "token_refreshed");
  EXPECT_EQ(json["level"], "info");
  EXPECT_EQ(json["company_id"], 7);
  EXPECT_EQ(json["access_token"], "[redacted]");
  EXPECT_TRUE(json["ts"].is_string());
  EXPECT_FALSE(std::getline(in, line));
}

TEST(ObsLogTest, ParseLevel) {
  EXPECT_EQ(ParseLevel("DEBUG"), Level::kDebug);
  EXPECT_EQ(ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(ParseLevel("error"), Level::kError);
  EXPECT_FALSE(ParseLevel("loud"));
}

}  // namespace
}  // namespace kt::obs
