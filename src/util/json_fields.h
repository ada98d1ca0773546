// Fields of a JSON request body, read with a clear error that names the field and the type expected (never an
// exception, whatever the client sent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace kt {

// A non-empty string.
Result<std::string> RequireString(const nlohmann::json& body, const char* field);
// A whole number, sent as a JSON number or as a string of digits (64-bit ids are often sent as strings).
Result<int64_t> RequireInt(const nlohmann::json& body, const char* field);

// Optional fields: absent (or null) gives the fallback, nothing, or "" ; a value of another type is an error.
Result<bool> OptionalBool(const nlohmann::json& body, const char* field, bool fallback);
Result<std::string> OptionalString(const nlohmann::json& body, const char* field);
// Like RequireInt when present.
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& body, const char* field);

}  // namespace kt
