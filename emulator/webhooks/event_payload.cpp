// Builds v2.0/v3.0/v4.0 event payloads, ULIDs and microsecond timestamps.
#include "emulator/webhooks/event_payload.h"

#include <cstdio>
#include <ctime>
#include <optional>

namespace procore_emulator {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

nlohmann::json IdOrNull(const std::optional<int64_t>& id) {
  return id ? nlohmann::json(*id) : nlohmann::json();
}
nlohmann::json StringIdOrNull(const std::optional<int64_t>& id) {
  return id ? nlohmann::json(std::to_string(*id)) : nlohmann::json();
}

}  // namespace

std::string MakeUlid(int64_t unix_ms, kt::Random& random) {
  using U128 = unsigned __int128;
  constexpr int64_t k40Bits = (int64_t{1} << 40) - 1;
  U128 value = static_cast<U128>(static_cast<uint64_t>(unix_ms) & 0xFFFFFFFFFFFFull) << 80;
  value |= static_cast<U128>(static_cast<uint64_t>(random.UniformInt(0, k40Bits))) << 40;
  value |= static_cast<U128>(static_cast<uint64_t>(random.UniformInt(0, k40Bits)));
  // 26 characters of 5 bits hold 130 bits: the first one carries only the top 3 bits of the 128.
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[static_cast<unsigned>(value & 31)];
    value >>= 5;
  }
  return out;
}

std::string FormatTimestampMicros(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(millis) * 1000);
  return buffer;
}

std::string NormalizePayloadVersion(std::string_view version) {
  if (version == "v2" || version == "v2.0") return "v2.0";
  if (version == "v3" || version == "v3.0") return "v3.0";
  if (version == "v4" || version == "v4.0") return "v4.0";
  return {};
}

nlohmann::json BuildEventPayload(const ResourceEvent& event, const EventIdentity& identity,
                                 std::string_view payload_version) {
  const std::string timestamp = FormatTimestampMicros(event.at_ms);
  if (payload_version == "v4.0") {
    // v4.0: slimmer, and every id is a string; `reason` replaces event_type, `resource_type` resource_name.
    return {{"id", identity.ulid},
            {"timestamp", timestamp},
            {"reason", event.event_type},
            {"company_id", std::to_string(event.company_id)},
            {"project_id", StringIdOrNull(event.project_id)},
            {"user_id", std::to_string(event.user_id)},
            {"resource_type", event.resource_name},
            {"resource_id", std::to_string(event.resource_id)}};
  }
  nlohmann::json metadata = {
      {"source_user_id", event.user_id},
      {"source_project_id", IdOrNull(event.project_id)},
      {"source_operation_id", nullptr},
      {"source_company_id", event.company_id},
      {"source_application_id",
       event.source_application_id.empty() ? nlohmann::json() : nlohmann::json(event.source_application_id)}};
  nlohmann::json payload = {{"id", identity.id},
                            {"ulid", identity.ulid},
                            {"timestamp", timestamp},
                            {"metadata", std::move(metadata)},
                            {"user_id", event.user_id},
                            {"company_id", event.company_id},
                            {"project_id", IdOrNull(event.project_id)},
                            {"api_version", std::string(payload_version)},
                            {"event_type", event.event_type},
                            {"resource_name", event.resource_name},
                            {"resource_id", event.resource_id}};
  // v3.0 is v2.0 plus related_resources, which is empty except for line items (not emulated).
  if (payload_version == "v3.0") payload["related_resources"] = nlohmann::json::array();
  return payload;
}

}  // namespace procore_emulator
