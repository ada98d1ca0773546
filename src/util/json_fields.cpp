#include "util/json_fields.h"

#include "util/strings.h"

namespace kt {

Result<std::string> RequireString(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    return Fail(ErrorKind::kInvalidInput, "invalid_field",
                std::string("'") + field + "' is required and must be a non-empty string.",
                std::string("Send \"") + field + "\" as a string.");
  return it->get<std::string>();
}

namespace {

// A JSON integer, or a string of digits.
std::optional<int64_t> IntOf(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) return ParseInt64(v.get_ref<const std::string&>());
  return std::nullopt;
}

}  // namespace

Result<int64_t> RequireInt(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it != body.end())
    if (auto v = IntOf(*it)) return *v;
  return Fail(ErrorKind::kInvalidInput, "invalid_field",
              std::string("'") + field + "' is required and must be an integer.",
              std::string("Send \"") + field + "\" as a whole number.");
}

Result<bool> OptionalBool(const nlohmann::json& body, const char* field, bool fallback) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  return Fail(ErrorKind::kInvalidInput, "invalid_field",
              std::string("'") + field + "' must be true or false.",
              std::string("Send \"") + field + "\": true or false, or leave it out.");
}

Result<std::string> OptionalString(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  return Fail(ErrorKind::kInvalidInput, "invalid_field", std::string("'") + field + "' must be a string.",
              std::string("Send \"") + field + "\" as a string, or leave it out.");
}

Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<int64_t>();
  if (auto v = IntOf(*it)) return v;
  return Fail(ErrorKind::kInvalidInput, "invalid_field", std::string("'") + field + "' must be an integer.",
              std::string("Send \"") + field + "\" as a whole number, or leave it out.");
}

}  // namespace kt
