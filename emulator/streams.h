// The sixteen data streams the emulator serves, the Procore tools that guard them and the permission levels.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace procore_emulator {

enum class Stream : uint8_t {
  kProjects,
  kCompanyUsers,
  kVendors,
  kTrades,
  kCostCodes,
  kBudgetDetailRows,
  kWorkOrderContracts,
  kPurchaseOrderContracts,
  kCommitmentChangeOrders,
  kPrimeContracts,
  kPrimeChangeOrders,
  kChangeEvents,
  kDirectCosts,
  kRfis,
  kSubmittals,
  kManpowerLogs,
};
constexpr int kStreamCount = 16;

// How a record leaves its stream, following what Procore does for that resource.
enum class DeleteStyle {
  kNever,       // projects: changes only update them
  kHard,        // the record is gone (404 afterwards)
  kSoft,        // deleted_at is set; hidden from lists unless filters[include_deleted] is offered and used
  kDeactivate,  // directory users and vendors: is_active becomes false; they move to the .../inactive lists
};

struct StreamInfo {
  Stream stream;
  std::string_view key;            // interfaces.md stream key
  std::string_view resource_name;  // Procore's webhook resource name
  bool company_level;
  std::string_view tool;         // the tool that guards the stream
  std::string_view second_tool;  // a second tool also needed (commitment change orders), or empty
  DeleteStyle delete_style;
  bool include_deleted_filter;  // the list offers filters[include_deleted] (only where the contract lists it)
  bool updated_at_filter;       // the list offers filters[updated_at]
  double demo_records;  // base records per project (per company for company streams) in the demo preset
};

const StreamInfo& Info(Stream stream);
std::optional<Stream> StreamFromKey(std::string_view key);
const std::array<Stream, kStreamCount>& AllStreams();

// Permission levels of Procore's permissions matrix, lowest first.
enum class Level : uint8_t { kNone = 0, kReadOnly = 1, kStandard = 2, kAdmin = 3 };
std::string_view LevelName(Level level);  // "None", "Read Only", "Standard", "Admin"
std::string_view LevelKey(Level level);   // "none", "read_only", "standard", "admin"
// Accepts the keys and the display names ("read_only", "Read Only", "read-only").
std::optional<Level> ParseLevel(std::string_view text);

struct ToolInfo {
  std::string_view name;         // as in the permissions matrix: "RFIs", "Daily Log", ...
  std::string_view engine_name;  // /projects/{id}/tools engine_name
  int64_t id;
  bool company_scope;  // shown in the company permission manifest
  bool project_scope;  // shown in project manifests and project tool lists
  int64_t domain_id;
  std::string_view tab_group;
};
const std::vector<ToolInfo>& Tools();
const ToolInfo* FindTool(std::string_view name);

}  // namespace procore_emulator
