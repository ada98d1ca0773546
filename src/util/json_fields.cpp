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

Result<int64_t> RequireInt(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it != body.end() && it->is_number_integer()) return it->get<int64_t>();
  if (it != body.end() && it->is_string())
    if (auto v = ParseInt64(it->get_ref<const std::string&>())) return *v;
  return Fail(ErrorKind::kInvalidInput, "invalid_field",
              std::string("'") + field + "' is required and must be an integer.",
              std::string("Send \"") + field + "\" as a whole number.");
}

}  // namespace kt
