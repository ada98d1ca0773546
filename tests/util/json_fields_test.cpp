// Reading a request body's fields: what each helper accepts, and that anything else is an error naming the
// field (never an exception, whatever the client sent).
#include "util/json_fields.h"

#include <gtest/gtest.h>

namespace kt {
namespace {

using nlohmann::json;

std::string MessageOf(const Error& e) {
  return e.code + ": " + e.message;
}

TEST(JsonFields, RequiredStringsAndIntegers) {
  const json body = {{"name", "Acme"}, {"empty", ""}, {"id", 42}, {"big", "9007199254740993"}, {"n", 1.5}};
  EXPECT_EQ(RequireString(body, "name").value(), "Acme");
  EXPECT_EQ(MessageOf(RequireString(body, "empty").error()),
            "invalid_field: 'empty' is required and must be a non-empty string.");
  EXPECT_FALSE(RequireString(body, "id"));
  EXPECT_FALSE(RequireString(body, "missing"));
  EXPECT_EQ(RequireInt(body, "id").value(), 42);
  EXPECT_EQ(RequireInt(body, "big").value(), 9007199254740993);  // ids past 2^53 arrive as strings
  EXPECT_EQ(MessageOf(RequireInt(body, "n").error()),
            "invalid_field: 'n' is required and must be an integer.");
  EXPECT_FALSE(RequireInt(body, "name"));
}

TEST(JsonFields, OptionalFieldsTakeTheirFallbackOnlyWhenAbsentOrNull) {
  const json body = {{"yes", true},        {"null", nullptr}, {"text", "yes"},
                     {"url", "https://x"}, {"id", "12"},      {"zero", 0}};
  EXPECT_TRUE(OptionalBool(body, "yes", false).value());
  EXPECT_TRUE(OptionalBool(body, "absent", true).value());
  EXPECT_FALSE(OptionalBool(body, "null", false).value());
  EXPECT_EQ(MessageOf(OptionalBool(body, "text", false).error()),
            "invalid_field: 'text' must be true or false.");
  EXPECT_FALSE(OptionalBool(body, "zero", false)) << "0 is not false";

  EXPECT_EQ(OptionalString(body, "url").value(), "https://x");
  EXPECT_EQ(OptionalString(body, "absent").value(), "");
  EXPECT_EQ(MessageOf(OptionalString(body, "yes").error()), "invalid_field: 'yes' must be a string.");

  EXPECT_EQ(OptionalInt(body, "id").value(), 12);
  EXPECT_EQ(OptionalInt(body, "zero").value(), 0);
  EXPECT_FALSE(OptionalInt(body, "absent").value().has_value());
  EXPECT_FALSE(OptionalInt(body, "null").value().has_value());
  EXPECT_EQ(MessageOf(OptionalInt(body, "text").error()), "invalid_field: 'text' must be an integer.");
  EXPECT_FALSE(OptionalInt(body, "yes"));
}

}  // namespace
}  // namespace kt
