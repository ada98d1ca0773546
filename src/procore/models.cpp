// Reading typed records from Procore JSON.
#include "procore/models.h"

#include <cctype>

#include "util/strings.h"

namespace kt::procore {

std::optional<int64_t> JsonId(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) return static_cast<int64_t>(it->get<uint64_t>());
  if (it->is_string()) return ParseInt64(it->get<std::string>());
  return std::nullopt;
}

std::string JsonString(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return {};
}

bool JsonBool(const nlohmann::json& j, std::string_view key, bool fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    std::string v = ToLower(it->get<std::string>());
    if (v == "true" || v == "1") return true;
    if (v == "false" || v == "0") return false;
  }
  if (it->is_number_integer()) return it->get<int64_t>() != 0;
  return fallback;
}

Company CompanyFromJson(const nlohmann::json& j) {
  return {JsonId(j, "id").value_or(0), JsonString(j, "name"), JsonBool(j, "is_active", true)};
}

Me MeFromJson(const nlohmann::json& j) {
  return {JsonId(j, "id").value_or(0), JsonString(j, "login"), JsonString(j, "name")};
}

CompanyUser CompanyUserFromJson(const nlohmann::json& j) {
  CompanyUser u{JsonId(j, "id").value_or(0), JsonString(j, "name"), JsonString(j, "email_address"),
                JsonBool(j, "is_active", true)};
  if (u.name.empty()) {
    std::string first = JsonString(j, "first_name"), last = JsonString(j, "last_name");
    u.name = first.empty() ? last : last.empty() ? first : first + " " + last;
  }
  return u;
}

ToolPermission ToolPermissionFromJson(const nlohmann::json& j) {
  ToolPermission t;
  t.id = JsonId(j, "id").value_or(0);
  t.name = JsonString(j, "name");
  t.friendly_name = JsonString(j, "friendly_name");
  t.available_for_user = JsonBool(j, "available_for_user", true);
  if (auto it = j.find("user_access_level"); it != j.end()) {
    if (it->is_object()) {
      t.level = JsonString(*it, "name");
    } else if (it->is_string()) {
      t.level = it->get<std::string>();
    }
  }
  return t;
}

ProjectTool ProjectToolFromJson(const nlohmann::json& j) {
  return {JsonId(j, "id").value_or(0), JsonString(j, "engine_name"), JsonString(j, "title"),
          JsonBool(j, "is_active", false)};
}

Project ProjectFromJson(const nlohmann::json& j) {
  return {JsonId(j, "id").value_or(0),     JsonString(j, "name"),       JsonString(j, "display_name"),
          JsonString(j, "project_number"), JsonBool(j, "active", true), JsonString(j, "updated_at")};
}

BudgetView BudgetViewFromJson(const nlohmann::json& j) {
  return {JsonId(j, "id").value_or(0), JsonString(j, "name")};
}

namespace {

std::string NormalizeTool(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(c)));
  }
  if (out.size() > 1 && out.back() == 's') out.pop_back();
  return out;
}

}  // namespace

bool SameTool(std::string_view a, std::string_view b) {
  std::string na = NormalizeTool(a), nb = NormalizeTool(b);
  return !na.empty() && na == nb;
}

bool IsNoAccess(std::string_view level) {
  std::string l = ToLower(Trim(level));
  return l.empty() || l == "none" || l == "no access" || l == "no_access";
}

}  // namespace kt::procore
