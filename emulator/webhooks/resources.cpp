// The table of webhook resources and event types.
#include "emulator/webhooks/resources.h"

#include <array>

#include "util/strings.h"

namespace procore_emulator {
namespace {

constexpr std::array<WebhookResource, 18> kResources = {{
    {"Projects", "Core Tools", "Portfolio"},
    {"Company Users", "Core Tools", "Directory"},
    {"Company Vendors", "Core Tools", "Directory"},
    {"Trades", "Core Tools", "Admin"},
    {"Cost Codes", "Financial Management", "Admin"},
    {"Budget Line Items", "Financial Management", "Budget"},
    {"Work Order Contracts", "Financial Management", "Commitments"},
    {"Purchase Order Contracts", "Financial Management", "Commitments"},
    {"Commitment Change Orders", "Financial Management", "Change Orders"},
    {"Prime Contracts", "Financial Management", "Prime Contracts"},
    {"Prime Change Orders", "Financial Management", "Change Orders"},
    {"Change Events", "Financial Management", "Change Events"},
    {"Direct Costs", "Financial Management", "Direct Costs"},
    {"RFIs", "Project Management", "RFIs"},
    {"Submittals", "Project Management", "Submittals"},
    {"Manpower Logs", "Project Management", "Daily Log"},
    {"Project Users", "Core Tools", "Directory"},
    {"Project Vendors", "Core Tools", "Directory"},
}};

}  // namespace

std::span<const WebhookResource> WebhookResources() {
  return kResources;
}

const WebhookResource* FindWebhookResource(std::string_view name) {
  for (const auto& resource : kResources) {
    if (resource.name == name) return &resource;
  }
  return nullptr;
}

std::string NormalizeEventType(std::string_view event_type) {
  std::string lower = kt::ToLower(event_type);
  if (lower == "create" || lower == "update" || lower == "delete") return lower;
  return {};
}

}  // namespace procore_emulator
