// The webhook payload parser on good and bad v2.0, v3.0 and v4.0 bodies.
#include "sync/webhook_event.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace kt::sync {
namespace {

constexpr const char* kV2 = R"({
  "id": 123456,
  "ulid": "01HQZX5V2M8K4B7C9D0E1F2G3H",
  "timestamp": "2026-01-31T12:00:05.123456Z",
  "metadata": {"source_user_id": 77, "source_project_id": 562949953421312, "source_operation_id": null,
               "source_company_id": 8089, "source_application_id": "abc-client-id"},
  "user_id": 77,
  "company_id": 8089,
  "project_id": 562949953421312,
  "api_version": "v2.0",
  "event_type": "update",
  "resource_name": "RFIs",
  "resource_id": 9007199254740993
})";

constexpr const char* kV4 = R"({
  "id": "01HQZX5V2M8K4B7C9D0E1F2G3J",
  "timestamp": "2026-01-31T12:00:05.000000Z",
  "reason": "delete",
  "company_id": "8089",
  "project_id": null,
  "user_id": "77",
  "resource_type": "Company Users",
  "resource_id": "4242"
})";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

std::string ErrorOf(const std::string& body) {
  auto e = ParseWebhookEvent(body);
  if (e) return "";
  EXPECT_EQ(e.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(e.error().code, "invalid_webhook_payload");
  return e.error().message;
}

TEST(WebhookEventTest, ParsesV2) {
  auto e = ParseWebhookEvent(kV2);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->payload_version, "v2.0");
  EXPECT_EQ(e->event_key, "01hqzx5v2m8k4b7c9d0e1f2g3h");
  EXPECT_EQ(e->event_id, 123456);
  EXPECT_EQ(e->resource_name, "RFIs");
  EXPECT_EQ(e->event_type, "update");
  EXPECT_EQ(e->resource_id, 9007199254740993);  // beyond 2^53: kept exact
  EXPECT_EQ(e->company_id, 8089);
  ASSERT_TRUE(e->project_id);
  EXPECT_EQ(*e->project_id, 562949953421312);
  ASSERT_TRUE(e->source_application_id);
  EXPECT_EQ(*e->source_application_id, "abc-client-id");
  EXPECT_EQ(e->source_user_id, 77);
  EXPECT_EQ(e->timestamp, "2026-01-31T12:00:05.123456Z");
  EXPECT_EQ(e->timestamp_ms % 1000, 123);
}

TEST(WebhookEventTest, ParsesV2WithoutUlidOrMetadataAndV3) {
  std::string body = Replace(kV2, R"("ulid": "01HQZX5V2M8K4B7C9D0E1F2G3H",)", "");
  body = Replace(body, R"("api_version": "v2.0")", R"("api_version": "v3.0", "related_resources": [])");
  auto e = ParseWebhookEvent(body);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->payload_version, "v3.0");
  EXPECT_EQ(e->event_key, "id:123456");

  std::string company_level = R"({"id": 5, "timestamp": "2026-01-31T12:00:05Z", "company_id": 1,
    "project_id": null, "event_type": "create", "resource_name": "Company Vendors", "resource_id": 3,
    "metadata": null})";
  auto c = ParseWebhookEvent(company_level);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->project_id);
  EXPECT_FALSE(c->source_application_id);
}

TEST(WebhookEventTest, ParsesV4WithStringIds) {
  auto e = ParseWebhookEvent(kV4);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->payload_version, "v4.0");
  EXPECT_EQ(e->event_key, "01hqzx5v2m8k4b7c9d0e1f2g3j");
  EXPECT_EQ(e->event_type, "delete");
  EXPECT_EQ(e->resource_name, "Company Users");
  EXPECT_EQ(e->resource_id, 4242);
  EXPECT_EQ(e->company_id, 8089);
  EXPECT_FALSE(e->project_id);
  EXPECT_EQ(e->user_id, 77);
  EXPECT_FALSE(e->source_application_id);

  // Reasons beyond create/update/delete are passed on.
  auto other = ParseWebhookEvent(Replace(kV4, R"("reason": "delete")", R"("reason": "restore")"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->event_type, "restore");
}

TEST(WebhookEventTest, RejectsMalformedJson) {
  EXPECT_NE(ErrorOf(""), "");
  EXPECT_NE(ErrorOf("{"), "");
  EXPECT_NE(ErrorOf("{\"id\": 1,}"), "");
  EXPECT_NE(ErrorOf(std::string(kV2) + "x"), "");
  EXPECT_NE(ErrorOf(std::string(100000, '[')), "");
  EXPECT_NE(ErrorOf("[1, 2]").find("object"), std::string::npos);
  EXPECT_NE(ErrorOf("\"text\"").find("object"), std::string::npos);
  EXPECT_NE(ErrorOf("{}").find("missing"), std::string::npos);
}

TEST(WebhookEventTest, RejectsMissingV2FieldsNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {",\n  \"resource_id\": 9007199254740993", "resource_id"},  // the last field, with the comma before it
      {"\"company_id\": 8089,", "company_id"},
      {"\"id\": 123456,", "id"},
      {"\"timestamp\": \"2026-01-31T12:00:05.123456Z\",", "timestamp"},
      {"\"event_type\": \"update\",", "event_type"}};
  for (const auto& [field, name] : cases) {
    std::string body = Replace(kV2, field, "");
    ASSERT_NE(body, kV2) << field;  // the field really went, and the JSON stays valid
    const std::string error = ErrorOf(body);
    EXPECT_NE(error.find(std::string("\"") + name + "\""), std::string::npos) << field << ": " << error;
  }
}

TEST(WebhookEventTest, RejectsWrongV2Types) {
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"resource_id\": 9007199254740993", "\"resource_id\": \"9007199254740993\""))
          .find("resource_id"),
      std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV2, "\"company_id\": 8089", "\"company_id\": 8089.5")).find("company_id"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"project_id\": 562949953421312", "\"project_id\": true")).find("project_id"),
      std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV2, "\"event_type\": \"update\"", "\"event_type\": 3")), "");
  EXPECT_NE(ErrorOf(Replace(kV2, "\"event_type\": \"update\"", "\"event_type\": \"rename\"")), "");
  EXPECT_NE(ErrorOf(Replace(kV2, "\"resource_name\": \"RFIs\"", "\"resource_name\": \"\"")), "");
  EXPECT_NE(ErrorOf(Replace(kV2, "01HQZX5V2M8K4B7C9D0E1F2G3H", "not-a-ulid")).find("ulid"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV2, "2026-01-31T12:00:05.123456Z", "yesterday")).find("timestamp"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV2, "\"api_version\": \"v2.0\"", "\"api_version\": \"v9.0\"")), "");
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"source_application_id\": \"abc-client-id\"", "\"source_application_id\": {}")),
      "");
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"resource_id\": 9007199254740993", "\"resource_id\": 18446744073709551615")),
      "");
  EXPECT_NE(ErrorOf(Replace(kV2, "\"resource_id\": 9007199254740993", "\"resource_id\": -4")), "");
}

TEST(WebhookEventTest, RejectsBadV4) {
  // v4.0 ids are strings.
  EXPECT_NE(ErrorOf(Replace(kV4, "\"resource_id\": \"4242\"", "\"resource_id\": 4242")).find("string"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV4, "\"company_id\": \"8089\"", "\"company_id\": \"80a9\"")), "");
  EXPECT_NE(ErrorOf(Replace(kV4, "\"id\": \"01HQZX5V2M8K4B7C9D0E1F2G3J\"", "\"id\": 17")), "");
  EXPECT_NE(ErrorOf(Replace(kV4, "\"reason\": \"delete\",", "")), "");
  EXPECT_NE(ErrorOf(Replace(kV4, "\"resource_type\": \"Company Users\",", "\"resource_type\": null,")), "");
  EXPECT_NE(ErrorOf(Replace(kV4, "\"user_id\": \"77\"", "\"user_id\": \"99999999999999999999\"")), "");
  // Mixed v2.0 and v4.0 names.
  EXPECT_NE(
      ErrorOf(Replace(kV4, "\"reason\": \"delete\"", "\"reason\": \"delete\", \"event_type\": \"delete\"")),
      "");
}

// Bodies the fast parser (simdjson) refuses are judged by nlohmann-json as before, and the two agree on what
// both accept: a key given twice counts with its last value, integers beyond int64 are not ids.
TEST(WebhookEventTest, EdgeCasesReadTheSameOnEitherParser) {
  auto twice =
      ParseWebhookEvent(Replace(kV2, "\"company_id\": 8089,", "\"company_id\": 1, \"company_id\": 8089,"));
  ASSERT_TRUE(twice) << twice.error().message;
  EXPECT_EQ(twice->company_id, 8089);
  // Beyond uint64 (simdjson refuses the body; nlohmann reads a float).
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"id\": 123456", "\"id\": 99999999999999999999")).find("must be an integer"),
      std::string::npos);
  // Beyond int64 but within uint64.
  EXPECT_NE(
      ErrorOf(Replace(kV2, "\"id\": 123456", "\"id\": 18446744073709551615")).find("must be an integer"),
      std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kV2, "\"id\": 123456", "\"id\": 1e3")).find("must be an integer"),
            std::string::npos);
  // An integer application id is kept as its digits.
  auto numeric_app = ParseWebhookEvent(Replace(kV2, "\"abc-client-id\"", "18446744073709551615"));
  ASSERT_TRUE(numeric_app) << numeric_app.error().message;
  EXPECT_EQ(numeric_app->source_application_id, "18446744073709551615");
  // Invalid UTF-8 is malformed JSON for both.
  EXPECT_NE(ErrorOf(Replace(kV2, "RFIs", "RF\xc3Is")).find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace kt::sync
