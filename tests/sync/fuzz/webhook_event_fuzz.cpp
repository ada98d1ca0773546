// libFuzzer target: the webhook payload parser (every delivery body Procore, or anyone, posts to KTrack).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/webhook_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto event = kt::sync::ParseWebhookEvent(body);
  if (!event) {
    // Refusals are specific: the code callers match on, and a message naming the problem.
    if (event.error().code != "invalid_webhook_payload" || event.error().message.empty()) __builtin_trap();
    return 0;
  }
  // What deliveries are deduplicated on is never empty, and the version is one the parser knows.
  if (event->event_key.empty()) __builtin_trap();
  if (event->payload_version != "v2.0" && event->payload_version != "v3.0" &&
      event->payload_version != "v4.0")
    __builtin_trap();
  if (event->resource_name.empty()) __builtin_trap();
  return 0;
}
