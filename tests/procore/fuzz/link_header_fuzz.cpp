// libFuzzer target: the Link parser and the rate-limit, Retry-After and HTTP-date parsers on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "procore/headers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto links = kt::procore::ParseLinkHeader(input);
  for (const auto& link : links) {
    for (const auto& rel : link.rels) {
      if (rel.empty()) __builtin_trap();
    }
  }
  (void)kt::procore::FindLink(links, "next");
  // The same bytes as three header values, split on newlines.
  size_t a = input.find('\n');
  size_t b = a == std::string_view::npos ? a : input.find('\n', a + 1);
  auto first = input.substr(0, a);
  auto second = a == std::string_view::npos ? std::string_view() : input.substr(a + 1, b - a - 1);
  auto third = b == std::string_view::npos ? std::string_view() : input.substr(b + 1);
  auto rl = kt::procore::ParseRateLimitHeaders(first, second, third);
  if (rl.limit && *rl.limit < 0) __builtin_trap();
  kt::SysTime now(std::chrono::seconds(1'700'000'000));
  auto wait = kt::procore::ParseRetryAfter(input, now, kt::Millis(3'600'000));
  if (wait && (wait->count() < 0 || wait->count() > 3'600'000)) __builtin_trap();
  if (auto date = kt::procore::ParseHttpDate(input)) (void)kt::procore::FormatHttpDate(*date);
  return 0;
}
