// Required fields of a JSON request body, read with a clear error that names the field and the type expected.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace kt {

// A non-empty string.
Result<std::string> RequireString(const nlohmann::json& body, const char* field);
// A whole number, sent as a JSON number or as a string of digits (64-bit ids are often sent as strings).
Result<int64_t> RequireInt(const nlohmann::json& body, const char* field);

}  // namespace kt
