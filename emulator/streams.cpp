// The stream, tool and level tables.
#include "emulator/streams.h"

#include <string>

#include "util/strings.h"

namespace procore_emulator {
namespace {

using D = DeleteStyle;
// demo_records: per project for project streams, per company for company streams (projects: the project
// count).
const std::array<StreamInfo, kStreamCount> kStreams = {{
    {Stream::kProjects, "projects", "Projects", true, "Admin", "", D::kNever, false, true, 40},
    {Stream::kCompanyUsers, "company_users", "Company Users", true, "Directory", "", D::kDeactivate, false,
     true, 800},
    {Stream::kVendors, "vendors", "Company Vendors", true, "Directory", "", D::kDeactivate, false, true, 400},
    {Stream::kTrades, "trades", "Trades", true, "Directory", "", D::kHard, false, true, 40},
    {Stream::kCostCodes, "cost_codes", "Cost Codes", false, "Admin", "", D::kSoft, false, false, 80},
    {Stream::kBudgetDetailRows, "budget_detail_rows", "Budget Line Items", false, "Budget", "", D::kHard,
     false, false, 60},
    {Stream::kWorkOrderContracts, "work_order_contracts", "Work Order Contracts", false, "Commitments", "",
     D::kSoft, true, true, 15},
    {Stream::kPurchaseOrderContracts, "purchase_order_contracts", "Purchase Order Contracts", false,
     "Commitments", "", D::kSoft, true, true, 10},
    {Stream::kCommitmentChangeOrders, "commitment_change_orders", "Commitment Change Orders", false,
     "Commitments", "Change Orders", D::kHard, false, true, 25},
    {Stream::kPrimeContracts, "prime_contracts", "Prime Contracts", false, "Prime Contracts", "", D::kSoft,
     false, true, 2},
    {Stream::kPrimeChangeOrders, "prime_change_orders", "Prime Change Orders", false, "Change Orders", "",
     D::kHard, false, true, 8},
    {Stream::kChangeEvents, "change_events", "Change Events", false, "Change Events", "", D::kSoft, true,
     true, 30},
    {Stream::kDirectCosts, "direct_costs", "Direct Costs", false, "Direct Costs", "", D::kSoft, false, true,
     60},
    {Stream::kRfis, "rfis", "RFIs", false, "RFIs", "", D::kSoft, false, true, 80},
    {Stream::kSubmittals, "submittals", "Submittals", false, "Submittals", "", D::kHard, false, true, 120},
    {Stream::kManpowerLogs, "manpower_logs", "Manpower Logs", false, "Daily Log", "", D::kHard, false, false,
     200},
}};

const std::array<Stream, kStreamCount> kAll = [] {
  std::array<Stream, kStreamCount> all{};
  for (int i = 0; i < kStreamCount; ++i) all[i] = static_cast<Stream>(i);
  return all;
}();

const std::vector<ToolInfo> kTools = {
    {"Admin", "admin", 101, true, true, 1, "core_tools"},
    {"Directory", "directory", 102, true, true, 1, "core_tools"},
    {"Budget", "budgeting", 201, false, true, 2, "financial_management"},
    {"Commitments", "contracts", 202, false, true, 2, "financial_management"},
    {"Change Orders", "change_orders", 203, false, true, 2, "financial_management"},
    {"Prime Contracts", "prime_contract", 204, false, true, 2, "financial_management"},
    {"Change Events", "change_events", 205, false, true, 2, "financial_management"},
    {"Direct Costs", "direct_costs", 206, false, true, 2, "financial_management"},
    {"RFIs", "rfi", 301, false, true, 3, "project_management"},
    {"Submittals", "submittal_log", 302, false, true, 3, "project_management"},
    {"Daily Log", "dailylog", 303, false, true, 3, "project_management"},
    {"Webhooks API", "webhooks_api", 901, true, false, 9, "developer_tools"},
};

}  // namespace

const StreamInfo& Info(Stream stream) {
  return kStreams[static_cast<size_t>(stream)];
}

std::optional<Stream> StreamFromKey(std::string_view key) {
  for (const auto& info : kStreams)
    if (info.key == key) return info.stream;
  return std::nullopt;
}

const std::array<Stream, kStreamCount>& AllStreams() {
  return kAll;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kNone:
      return "None";
    case Level::kReadOnly:
      return "Read Only";
    case Level::kStandard:
      return "Standard";
    case Level::kAdmin:
      return "Admin";
  }
  return "None";
}

std::string_view LevelKey(Level level) {
  switch (level) {
    case Level::kNone:
      return "none";
    case Level::kReadOnly:
      return "read_only";
    case Level::kStandard:
      return "standard";
    case Level::kAdmin:
      return "admin";
  }
  return "none";
}

std::optional<Level> ParseLevel(std::string_view text) {
  std::string t = kt::ToLower(kt::Trim(text));
  for (char& c : t)
    if (c == ' ' || c == '-') c = '_';
  if (t == "none") return Level::kNone;
  if (t == "read_only" || t == "readonly") return Level::kReadOnly;
  if (t == "standard") return Level::kStandard;
  if (t == "admin") return Level::kAdmin;
  return std::nullopt;
}

const std::vector<ToolInfo>& Tools() {
  return kTools;
}

const ToolInfo* FindTool(std::string_view name) {
  for (const auto& tool : kTools)
    if (tool.name == name) return &tool;
  return nullptr;
}

}  // namespace procore_emulator
