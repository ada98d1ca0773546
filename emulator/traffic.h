// What shapes the emulator's traffic: rate limits per (app, company), injected faults, and request
// statistics.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace procore_emulator {

struct RateLimits {
  int64_t hourly = 3600;  // Procore's documented historical default
  int64_t spike = 100;    // per spike window (the January 2026 docs' example)
  int64_t spike_window_s = 10;
};

struct RateDecision {
  bool allowed = true;
  // The limit the headers describe: whichever has fewer calls left.
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t reset_unix_s = 0;
  int64_t retry_after_s = 0;  // when refused: emulated seconds until the exceeded window resets
};

// Fixed windows that start with the first call after the previous window ended, on the emulated clock.
class RateLimiter {
 public:
  RateDecision Check(const std::string& key, int64_t now_ms);
  void SetLimits(const RateLimits& limits);
  RateLimits Limits() const;
  void Reset();

 private:
  struct Window {
    int64_t hour_start_ms = -1, hour_count = 0;
    int64_t spike_start_ms = -1, spike_count = 0;
  };
  mutable std::mutex mu_;
  RateLimits limits_;
  std::map<std::string, Window> windows_;
};

struct Faults {
  int64_t latency_ms = 0;
  double error_rate = 0;     // share of API calls answered 500, 502 or 503 (503 with Retry-After)
  double timeout_rate = 0;   // share of API calls that hang (30 s or until shutdown) so the client times out
  double throttle_rate = 0;  // share of API calls answered 429 with Retry-After (another app's storm)
  double unavailable_rate = 0;  // share of API calls answered 503 with Retry-After (maintenance)
  int64_t retry_after_s = 2;    // the Retry-After of throttle_rate and unavailable_rate answers
  double webhook_duplicate_rate = 0;
  double webhook_failure_rate = 0;
  double webhook_reorder_rate = 0;
  int64_t token_lifetime_s = 5400;
  nlohmann::json ToJson(const RateLimits& limits) const;
};

// Counts of API calls (Procore's /rest and /oauth routes, not the control API or the UI).
class Stats {
 public:
  // route: the route pattern; target: the path and its query without page-independent noise (see .cpp);
  // record: "<stream>:<id>" for single-record reads, or empty.
  void Count(const std::string& method, const std::string& route, const std::string& target,
             const std::string& record, int status);
  void CountRateLimited();
  nlohmann::json ToJson() const;
  void Reset();

 private:
  mutable std::mutex mu_;
  int64_t requests_ = 0, rate_limited_ = 0;
  std::map<std::string, int64_t> by_status_, by_path_, by_target_, by_record_;
};

}  // namespace procore_emulator
