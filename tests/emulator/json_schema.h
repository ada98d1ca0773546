// A small validator for the subset of OpenAPI schemas the contract files use: type, properties, items,
// required, enum, nullable and the date formats.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace procore_emulator::testing {

// Appends "<path>: <problem>" for each way `value` breaks `schema`.
//
// The contract is a third-party copy of Procore's spec that drops `nullable`, while Procore answers null for
// unset optional fields (deleted_at of a live record, an absent vendor): so null is accepted for a property
// the schema does not list as required, and everywhere a schema says nullable or lists null in its enum.
// Schemas the copy truncated ("(nested object)") and empty schemas accept anything.
void ValidateSchema(const nlohmann::json& schema, const nlohmann::json& value, const std::string& path,
                    std::vector<std::string>& problems);

}  // namespace procore_emulator::testing
