// The body of a Procore v2.0 webhook delivery announcing an update of RFI 42, for tests that deliver webhooks
// themselves.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace kt::testing {

inline std::string RfiUpdateDelivery(int64_t company_id, int64_t project_id, int64_t id,
                                     const std::string& ulid) {
  return nlohmann::json{{"id", id},
                        {"ulid", ulid},
                        {"timestamp", "2026-01-02T03:04:05.000Z"},
                        {"resource_name", "RFIs"},
                        {"event_type", "update"},
                        {"resource_id", 42},
                        {"company_id", company_id},
                        {"project_id", project_id},
                        {"user_id", 1},
                        {"api_version", "v2.0"},
                        {"metadata", {{"source_user_id", 1}, {"source_application_id", nullptr}}}}
      .dump();
}

}  // namespace kt::testing
