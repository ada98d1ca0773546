// Event payloads as Procore sends them to hooks (v2.0, v3.0, v4.0), with their ULIDs and timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "emulator/webhooks/webhooks.h"
#include "util/random.h"

namespace procore_emulator {

// One change is one event: every hook that receives it gets the same id and ULID.
struct EventIdentity {
  int64_t id = 0;    // the v2.0/v3.0 integer id
  std::string ulid;  // 26 characters; the v4.0 id
};

// A ULID (48-bit millisecond time, 80 random bits) in Crockford base32.
std::string MakeUlid(int64_t unix_ms, kt::Random& random);
// "2026-05-01T12:00:00.123000Z": UTC with microseconds, as Procore's payloads carry it.
std::string FormatTimestampMicros(int64_t unix_ms);
// "v2" and "v2.0" give "v2.0"; likewise v3 and v4. Anything else gives "".
std::string NormalizePayloadVersion(std::string_view version);
// The body sent for `event` to a hook with this payload version (already normalized).
nlohmann::json BuildEventPayload(const ResourceEvent& event, const EventIdentity& identity,
                                 std::string_view payload_version);

}  // namespace procore_emulator
