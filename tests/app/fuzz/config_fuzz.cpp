// libFuzzer target: the config file parser and the setters it feeds (a bad file stops start-up with the line
// or key named, and never crashes).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto values = kt::app::ParseConfigText(text);
  if (!values) {
    if (values.error().code != "invalid_config" || values.error().message.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& [key, value] : *values)
    if (key.empty()) __builtin_trap();
  kt::app::Config config;
  auto applied = kt::app::ApplyConfigValues(config, *values);
  if (!applied) {
    // The error names the key it is about.
    if (applied.error().message.find('\'') == std::string::npos) __builtin_trap();
    return 0;
  }
  // No job threads is allowed: that process only serves (like --role web).
  if (config.io_threads < 1 || config.job_threads < 0 || config.max_body_bytes < 1) __builtin_trap();
  (void)config.DatabaseUrl();
  return 0;
}
