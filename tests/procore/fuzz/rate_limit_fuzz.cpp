// libFuzzer target: the rate-limit headers (X-Rate-Limit-Limit/-Remaining/-Reset) and Retry-After, as one
// response carries them: the input is split into header lines "Name: value".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "procore/headers.h"
#include "util/strings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  kt::http::Headers headers;
  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      headers.Add(std::string(line.substr(0, colon)), std::string(kt::Trim(line.substr(colon + 1))));
    start = end + 1;
  }
  auto rl = kt::procore::ParseRateLimitHeaders(headers);
  // Values that are not non-negative integers are absent, never negative.
  if ((rl.limit && *rl.limit < 0) || (rl.remaining && *rl.remaining < 0) || (rl.reset && *rl.reset < 0))
    __builtin_trap();
  kt::SysTime now(std::chrono::seconds(1'700'000'000));
  const kt::Millis cap(24 * 3600 * 1000);
  if (auto retry = headers.Get("Retry-After")) {
    auto wait = kt::procore::ParseRetryAfter(*retry, now, cap);
    if (wait && (wait->count() < 0 || *wait > cap)) __builtin_trap();
  }
  if (auto n = kt::procore::ParseHeaderInt(input); n && *n < 0) __builtin_trap();
  return 0;
}
