// Rate windows, fault settings and request counters.
#include "emulator/traffic.h"

#include <algorithm>

namespace procore_emulator {

RateDecision RateLimiter::Check(const std::string& key, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Window& w = windows_[key];
  const int64_t hour_ms = 3'600'000, spike_ms = std::max<int64_t>(1, limits_.spike_window_s) * 1000;
  if (w.hour_start_ms < 0 || now_ms >= w.hour_start_ms + hour_ms) w.hour_start_ms = now_ms, w.hour_count = 0;
  if (w.spike_start_ms < 0 || now_ms >= w.spike_start_ms + spike_ms)
    w.spike_start_ms = now_ms, w.spike_count = 0;

  RateDecision d;
  bool hour_full = w.hour_count >= limits_.hourly, spike_full = w.spike_count >= limits_.spike;
  if (hour_full || spike_full) {
    d.allowed = false;
  } else {
    ++w.hour_count;
    ++w.spike_count;
  }
  auto ceil_s = [](int64_t ms) { return (ms + 999) / 1000; };
  int64_t hour_left = std::max<int64_t>(0, limits_.hourly - w.hour_count);
  int64_t spike_left = std::max<int64_t>(0, limits_.spike - w.spike_count);
  bool report_hour = hour_left < spike_left || (hour_full && !spike_full);
  if (report_hour) {
    d.limit = limits_.hourly, d.remaining = hour_left, d.reset_unix_s = ceil_s(w.hour_start_ms + hour_ms);
  } else {
    d.limit = limits_.spike, d.remaining = spike_left, d.reset_unix_s = ceil_s(w.spike_start_ms + spike_ms);
  }
  if (!d.allowed) {
    int64_t until_ms = hour_full ? w.hour_start_ms + hour_ms : w.spike_start_ms + spike_ms;
    if (hour_full && spike_full) until_ms = std::max(w.hour_start_ms + hour_ms, w.spike_start_ms + spike_ms);
    d.retry_after_s = std::max<int64_t>(1, ceil_s(until_ms - now_ms));
  }
  return d;
}

void RateLimiter::SetLimits(const RateLimits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

RateLimits RateLimiter::Limits() const {
  std::lock_guard lock(mu_);
  return limits_;
}

void RateLimiter::Reset() {
  std::lock_guard lock(mu_);
  windows_.clear();
}

nlohmann::json Faults::ToJson(const RateLimits& limits) const {
  return {{"latency_ms", latency_ms},
          {"error_rate", error_rate},
          {"timeout_rate", timeout_rate},
          {"throttle_rate", throttle_rate},
          {"unavailable_rate", unavailable_rate},
          {"retry_after_s", retry_after_s},
          {"rate_limit",
           {{"hourly", limits.hourly}, {"spike", limits.spike}, {"spike_window_s", limits.spike_window_s}}},
          {"webhook_duplicate_rate", webhook_duplicate_rate},
          {"webhook_failure_rate", webhook_failure_rate},
          {"webhook_reorder_rate", webhook_reorder_rate},
          {"token_lifetime_s", token_lifetime_s}};
}

void Stats::Count(const std::string& method, const std::string& route, const std::string& target,
                  const std::string& record, int status) {
  std::lock_guard lock(mu_);
  ++requests_;
  ++by_status_[std::to_string(status)];
  ++by_path_[method + " " + route];
  ++by_target_[method + " " + target];
  if (!record.empty()) ++by_record_[record];
}

void Stats::CountRateLimited() {
  std::lock_guard lock(mu_);
  ++rate_limited_;
}

nlohmann::json Stats::ToJson() const {
  std::lock_guard lock(mu_);
  int64_t max_target = 0, max_record = 0;
  for (const auto& [_, n] : by_target_) max_target = std::max(max_target, n);
  for (const auto& [_, n] : by_record_) max_record = std::max(max_record, n);
  return {{"requests", requests_},          {"by_status", by_status_},      {"by_path", by_path_},
          {"by_target", by_target_},        {"by_record", by_record_},      {"max_target_count", max_target},
          {"max_record_count", max_record}, {"rate_limited", rate_limited_}};
}

void Stats::Reset() {
  std::lock_guard lock(mu_);
  requests_ = rate_limited_ = 0;
  by_status_.clear();
  by_path_.clear();
  by_target_.clear();
  by_record_.clear();
}

}  // namespace procore_emulator
