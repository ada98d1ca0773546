// Procore webhook event payloads (procore-api.md §5.4): a strict, pure parser for the v2.0/v3.0 and v4.0
// formats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.h"

namespace kt::sync {

struct WebhookEvent {
  std::string payload_version;  // "v2.0", "v3.0" (v2.0 plus related_resources) or "v4.0"
  // What deliveries are deduplicated on: the ULID (v2.0/v3.0 `ulid`, v4.0 `id`), else the v2.0 numeric id.
  std::string event_key;
  int64_t event_id = 0;   // v2.0/v3.0 numeric `id`; 0 for v4.0
  std::string timestamp;  // as sent
  int64_t timestamp_ms = 0;
  std::string resource_name;  // v2.0 `resource_name`, v4.0 `resource_type` ("RFIs", "Company Users")
  std::string event_type;     // v2.0 `event_type`, v4.0 `reason` ("create", "update", "delete", ...)
  int64_t resource_id = 0;
  int64_t company_id = 0;
  std::optional<int64_t> project_id;  // none for company-level resources
  std::optional<int64_t> user_id;
  // v2.0/v3.0 metadata: the app that made the change (its OAuth client id) and the user. Absent in v4.0.
  std::optional<std::string> source_application_id;
  std::optional<int64_t> source_user_id;
};

// Parses one delivery body. Fails with kInvalidInput (code "invalid_webhook_payload") and a message naming
// the problem: malformed JSON, not an object, a missing required field, a field of the wrong type (v2.0 ids
// are integers, v4.0 ids are strings of digits), an unknown payload version. A pure function: no I/O, no
// globals.
Result<WebhookEvent> ParseWebhookEvent(std::string_view body);

}  // namespace kt::sync
