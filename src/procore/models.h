// Typed Procore records the wizard and the webhook lifecycle use, read leniently from Procore's JSON
// (ids are 64-bit; v2 sends them as strings).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kt::procore {

struct Company {
  int64_t id = 0;
  std::string name;
  bool is_active = true;
};

// GET /rest/v1.0/me
struct Me {
  int64_t id = 0;
  std::string login;
  std::string name;
};

// GET /rest/v1.0/companies/{id}/me: the app's own directory user (the DMSA).
struct CompanyUser {
  int64_t id = 0;
  std::string name;
  std::string email_address;
  bool is_active = true;
};

// One tool of /rest/v1.0/settings/permissions.
struct ToolPermission {
  int64_t id = 0;
  std::string name;           // engine name, e.g. "rfi"
  std::string friendly_name;  // e.g. "RFIs"
  std::string level;  // user_access_level.name: "None", "Read Only", "Standard", "Admin" (unconfirmed)
  bool available_for_user = true;
};

// One tool of /rest/v1.0/projects/{id}/tools.
struct ProjectTool {
  int64_t id = 0;
  std::string engine_name;
  std::string title;
  bool is_active = false;
};

struct Project {
  int64_t id = 0;
  std::string name;
  std::string display_name;
  std::string project_number;
  bool active = true;
  std::string updated_at;
};

struct BudgetView {
  int64_t id = 0;
  std::string name;
};

// Leniency helpers: numbers may arrive as strings (v2) and fields may be absent or null.
std::optional<int64_t> JsonId(const nlohmann::json& j, std::string_view key);
std::string JsonString(const nlohmann::json& j, std::string_view key);
bool JsonBool(const nlohmann::json& j, std::string_view key, bool fallback);

Company CompanyFromJson(const nlohmann::json& j);
Me MeFromJson(const nlohmann::json& j);
CompanyUser CompanyUserFromJson(const nlohmann::json& j);
ToolPermission ToolPermissionFromJson(const nlohmann::json& j);
ProjectTool ProjectToolFromJson(const nlohmann::json& j);
Project ProjectFromJson(const nlohmann::json& j);
BudgetView BudgetViewFromJson(const nlohmann::json& j);

// Tool names compare loosely: "RFIs", "rfi" and "RFI" match; so do "Daily Log" and "daily_log".
bool SameTool(std::string_view a, std::string_view b);
// A permission level that grants nothing ("None", empty).
bool IsNoAccess(std::string_view level);

}  // namespace kt::procore
