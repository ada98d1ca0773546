// Small string helpers: URL encoding, query strings, case-insensitive compare, ISO-8601 times, hex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kt {

std::string UrlEncode(std::string_view s);
// Decodes %XX and, when plus_as_space, '+' as a space (form encoding). Invalid escapes are kept as they are.
std::string UrlDecode(std::string_view s, bool plus_as_space = true);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// Parses "a=1&b=x%20y" (also a form body) into decoded pairs, in order.
QueryParams ParseQuery(std::string_view query);
std::string BuildQuery(const QueryParams& params);
// The first value of a key, if present.
std::optional<std::string> FindParam(const QueryParams& params, std::string_view key);

std::vector<std::string> Split(std::string_view s, char sep);
std::string_view Trim(std::string_view s);
// ASCII case folding (what the C locale's tolower does), without a call per character: header names, media
// types and Procore's enum values are ASCII.
std::string ToLower(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);
// StartsWith, ignoring ASCII case.
bool IStartsWith(std::string_view s, std::string_view prefix);
// Whether s contains needle, ignoring ASCII case.
bool IContains(std::string_view s, std::string_view needle);

// Parses a base-10 signed 64-bit integer; the whole string must be the number.
std::optional<int64_t> ParseInt64(std::string_view s);

// The offset of a list's page (pages from 1, per_page from 1): (page - 1) * per_page, or INT64_MAX when that
// does not fit (a page that far is past any list's end, so it is empty).
int64_t PageOffset(int64_t page, int64_t per_page);

// "2026-11-28T05:46:09Z" (seconds) or with milliseconds ".123Z".
std::string FormatIso8601(int64_t unix_ms, bool with_millis = false);
// Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]". Returns unix milliseconds.
std::optional<int64_t> ParseIso8601(std::string_view s);

std::string HexEncode(std::string_view bytes);

}  // namespace kt
