// The schema-subset validator.
#include "json_schema.h"

#include <algorithm>

#include "util/strings.h"

namespace procore_emulator::testing {
namespace {

bool Truncated(const nlohmann::json& schema) {
  return schema.is_object() && schema.value("description", "") == "(nested object)";
}

bool NullAllowed(const nlohmann::json& schema) {
  if (schema.value("nullable", false)) return true;
  if (schema.contains("enum"))
    for (const auto& e : schema["enum"])
      if (e.is_null()) return true;
  return false;
}

}  // namespace

void ValidateSchema(const nlohmann::json& schema, const nlohmann::json& value, const std::string& path,
                    std::vector<std::string>& problems) {
  if (!schema.is_object() || schema.empty() || Truncated(schema)) return;
  if (value.is_null()) {
    if (!NullAllowed(schema)) problems.push_back(path + ": null where the schema allows none");
    return;
  }
  std::string type = schema.value("type", "");
  if (type.empty() && schema.contains("properties")) type = "object";
  if (type.empty() && schema.contains("items")) type = "array";

  auto fail = [&](const std::string& what) {
    problems.push_back(path + ": " + what + ", got " + value.dump().substr(0, 80));
  };
  if (type == "object") {
    if (!value.is_object()) return fail("expected an object");
    std::vector<std::string> required;
    if (schema.contains("required"))
      for (const auto& r : schema["required"]) required.push_back(r.get<std::string>());
    for (const auto& name : required)
      if (!value.contains(name) || value[name].is_null())
        problems.push_back(path + "." + name + ": required");
    if (schema.contains("properties")) {
      for (const auto& [name, sub] : schema["properties"].items()) {
        if (!value.contains(name)) continue;
        const auto& v = value[name];
        bool is_required = std::find(required.begin(), required.end(), name) != required.end();
        if (v.is_null() && !is_required) continue;
        ValidateSchema(sub, v, path + "." + name, problems);
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) return fail("expected an array");
    if (schema.contains("items"))
      for (size_t i = 0; i < value.size(); ++i)
        ValidateSchema(schema["items"], value[i], path + "[" + std::to_string(i) + "]", problems);
  } else if (type == "string") {
    if (!value.is_string()) return fail("expected a string");
    const std::string s = value.get<std::string>();
    if (schema.contains("enum")) {
      bool found = false;
      for (const auto& e : schema["enum"]) found = found || (e.is_string() && e.get<std::string>() == s);
      if (!found) fail("not one of " + schema["enum"].dump());
    }
    std::string format = schema.value("format", "");
    if (format == "date-time" && (!kt::ParseIso8601(s) || s.size() < 19))
      fail("expected an ISO-8601 date-time");
    if (format == "date" && schema.contains("type") && (!kt::ParseIso8601(s) || s.size() != 10))
      fail("expected a date YYYY-MM-DD");
  } else if (type == "integer") {
    if (!value.is_number_integer()) fail("expected an integer");
  } else if (type == "number") {
    if (!value.is_number()) fail("expected a number");
  } else if (type == "boolean") {
    if (!value.is_boolean()) fail("expected a boolean");
  }
}

}  // namespace procore_emulator::testing
