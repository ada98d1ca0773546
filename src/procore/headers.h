// Parsers for the response headers Procore's client depends on: Link (RFC 8288/5988), X-Rate-Limit-*,
// Retry-After and HTTP dates. Free functions over plain strings so they can be fuzzed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "util/clock.h"

namespace kt::procore {

// One link-value of a Link header: the target and its parameters (rel values are lower-cased and split).
struct Link {
  std::string url;
  std::vector<std::string> rels;
  std::vector<std::pair<std::string, std::string>> params;  // other parameters, names lower-cased
};

// Parses a Link header value such as `<https://a/x?page=2>; rel="next", <...>; rel="last"`.
// Never fails: malformed link-values are skipped, and commas inside <...> or quoted strings are kept.
std::vector<Link> ParseLinkHeader(std::string_view value);
// The target of the first link with this rel (case-insensitive), if any.
std::optional<std::string> FindLink(const std::vector<Link>& links, std::string_view rel);
// All Link header lines of a response joined, as RFC 9110 allows a field to be split across lines.
std::string JoinedHeader(const http::Headers& headers, std::string_view name);

// X-Rate-Limit-Limit / -Remaining / -Reset as sent. Values that are not non-negative integers are absent.
struct RateLimitHeaders {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t>
      reset;  // UNIX seconds per Procore's docs (a small value is read as seconds-from-now)
  bool present() const { return limit || remaining || reset; }
};
RateLimitHeaders ParseRateLimitHeaders(std::string_view limit, std::string_view remaining,
                                       std::string_view reset);
RateLimitHeaders ParseRateLimitHeaders(const http::Headers& headers);

// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime form), as used by Date and Retry-After.
std::optional<SysTime> ParseHttpDate(std::string_view value);
// Formats an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string FormatHttpDate(SysTime t);

// Retry-After as a delay from `now`: delta-seconds or an HTTP date (a past date is zero).
// Absurd values are capped at `cap`.
std::optional<Millis> ParseRetryAfter(std::string_view value, SysTime now,
                                      Millis cap = Millis(24 * 3600 * 1000));

// A non-negative integer with optional surrounding whitespace and an optional fractional part (dropped).
std::optional<int64_t> ParseHeaderInt(std::string_view value);

}  // namespace kt::procore
