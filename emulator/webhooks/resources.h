// The webhook resources the emulator announces: one table, used by the resources endpoint, triggers and
// Publish.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace procore_emulator {

struct WebhookResource {
  std::string_view name;              // Procore's resource name, e.g. "RFIs"
  std::string_view product_category;  // as the resources endpoint groups them
  std::string_view tool;              // the Procore tool the resource belongs to
};

// Every resource a trigger may name, in the order the resources endpoint lists them.
std::span<const WebhookResource> WebhookResources();
// The resource with this exact name, or null.
const WebhookResource* FindWebhookResource(std::string_view name);

// "create" | "update" | "delete" in any case, returned in lower case; empty when it is none of those.
std::string NormalizeEventType(std::string_view event_type);

}  // namespace procore_emulator
