// The delivery threads: per-endpoint FIFO, exponential backoff from 1 s to 1 h, flush after 12 h (emulated).
#include "emulator/webhooks/delivery_engine.h"

#include <algorithm>
#include <limits>

#include "http/client.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

constexpr size_t kMaxKeptBodyBytes = 512;
constexpr size_t kMaxKeptHeaders = 16;
// Emulated time can also jump (EmulatedClock::Advance), so an idle thread looks again at least this often.
constexpr std::chrono::milliseconds kMaxIdleWait{50};
constexpr char kEmulatedFailure[] = "emulated failure (webhook_failure_rate)";

nlohmann::json TimeOrNull(int64_t ms) {
  return ms > 0 ? nlohmann::json(kt::FormatIso8601(ms, true)) : nlohmann::json();
}

// The v1.0 deliveries API names a delivery's state in `outcome` (ok|retried|failed|discarded) as well.
const char* OutcomeName(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kSuccessful:
      return "ok";
    case DeliveryStatus::kFailing:
      return "retried";
    case DeliveryStatus::kDiscarded:
      return "discarded";
    case DeliveryStatus::kQueued:
      return "queued";
  }
  return "queued";
}

nlohmann::json AttemptJson(const DeliveryAttempt& attempt) {
  return {{"started_at", TimeOrNull(attempt.started_at_ms)},
          {"completed_at", TimeOrNull(attempt.completed_at_ms)},
          {"response_status",
           attempt.response_status ? nlohmann::json(attempt.response_status) : nlohmann::json()},
          {"response_error",
           attempt.response_error.empty() ? nlohmann::json() : nlohmann::json(attempt.response_error)},
          {"duplicate", attempt.duplicate}};
}

nlohmann::json DeliveryJson(const DeliveryRecord& record) {
  // Top-level response fields describe the last attempt that was not a duplicate send.
  const DeliveryAttempt* last = nullptr;
  for (const auto& attempt : record.attempts) {
    if (!attempt.duplicate) last = &attempt;
  }
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& attempt : record.attempts) attempts.push_back(AttemptJson(attempt));
  return {
      {"id", record.id},
      {"hook_id", record.hook_id},
      {"event_id", record.event_id},
      {"event", nlohmann::json::parse(record.body, nullptr, false)},
      {"status", DeliveryStatusName(record.status)},
      {"outcome", OutcomeName(record.status)},
      {"started_at", last ? TimeOrNull(last->started_at_ms) : nlohmann::json()},
      {"completed_at", last ? TimeOrNull(last->completed_at_ms) : nlohmann::json()},
      {"response_status",
       last && last->response_status ? nlohmann::json(last->response_status) : nlohmann::json()},
      {"response_body", last ? last->response_body : std::string()},
      {"response_error",
       last && !last->response_error.empty() ? nlohmann::json(last->response_error) : nlohmann::json()},
      {"response_headers", last ? last->response_headers : nlohmann::json::object()},
      {"attempt_count", record.attempts.size()},
      {"next_attempt_at",
       record.status == DeliveryStatus::kFailing ? TimeOrNull(record.next_attempt_at_ms) : nlohmann::json()},
      {"attempts", std::move(attempts)}};
}

nlohmann::json CountersJson(int64_t attempted, int64_t succeeded, int64_t failed, int64_t discarded,
                            int64_t duplicated, int64_t queued) {
  return {{"attempted", attempted}, {"succeeded", succeeded},   {"failed", failed},
          {"discarded", discarded}, {"duplicated", duplicated}, {"queued", queued}};
}

}  // namespace

const char* DeliveryStatusName(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kQueued:
      return "queued";
    case DeliveryStatus::kSuccessful:
      return "successful";
    case DeliveryStatus::kFailing:
      return "failing";
    case DeliveryStatus::kDiscarded:
      return "discarded";
  }
  return "queued";
}

DeliveryEngine::DeliveryEngine(EmulatedClock& clock, uint64_t seed, DestinationLookup lookup,
                               DeliveryOptions options)
    : clock_(clock), random_(seed), lookup_(std::move(lookup)), options_(options) {
  if (options_.threads == 0) options_.threads = 1;
}

DeliveryEngine::~DeliveryEngine() {
  Stop();
}

void DeliveryEngine::Start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty()) return;
  stopping_ = false;
  for (size_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Work(); });
}

void DeliveryEngine::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& thread : threads) thread.join();
}

void DeliveryEngine::Enqueue(int64_t hook_id, const std::string& endpoint, int64_t event_id,
                             const nlohmann::json& event) {
  auto record = std::make_shared<DeliveryRecord>();
  record->hook_id = hook_id;
  record->event_id = event_id;
  record->body = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  {
    std::lock_guard lock(mu_);
    record->id = next_delivery_id_++;
    endpoints_[endpoint].queue.push_back(record);
    history_.push_back(record);
    while (history_.size() > options_.max_records) history_.pop_front();
  }
  wake_.notify_one();
}

void DeliveryEngine::DropHook(int64_t hook_id) {
  std::lock_guard lock(mu_);
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    Endpoint& endpoint = it->second;
    auto& queue = endpoint.queue;
    // The front of a busy endpoint is being sent; it ends as its send ends.
    auto first = queue.begin() + (endpoint.busy && !queue.empty() ? 1 : 0);
    auto kept = std::stable_partition(first, queue.end(),
                                      [&](const auto& record) { return record->hook_id != hook_id; });
    for (auto r = kept; r != queue.end(); ++r) Discard(**r);
    queue.erase(kept, queue.end());
    if (queue.empty() && !endpoint.busy) {
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
}

void DeliveryEngine::SetFaults(const WebhookFaults& faults) {
  std::lock_guard lock(mu_);
  faults_.duplicate_rate = std::clamp(faults.duplicate_rate, 0.0, 1.0);
  faults_.failure_rate = std::clamp(faults.failure_rate, 0.0, 1.0);
  faults_.reorder_rate = std::clamp(faults.reorder_rate, 0.0, 1.0);
}

void DeliveryEngine::Discard(DeliveryRecord& record) {
  record.status = DeliveryStatus::kDiscarded;
  ++totals_.discarded;
  ++per_hook_[record.hook_id].discarded;
}

std::map<std::string, DeliveryEngine::Endpoint>::iterator DeliveryEngine::PickDue(int64_t now_ms,
                                                                                  int64_t& earliest_ms) {
  earliest_ms = std::numeric_limits<int64_t>::max();
  if (endpoints_.empty()) return endpoints_.end();
  // Round robin from the endpoint after the last one picked, so one busy endpoint does not starve the others.
  auto start = endpoints_.upper_bound(last_picked_);
  auto it = start;
  for (size_t n = 0; n < endpoints_.size(); ++n, ++it) {
    if (it == endpoints_.end()) it = endpoints_.begin();
    const Endpoint& endpoint = it->second;
    if (endpoint.busy || endpoint.queue.empty()) continue;
    if (endpoint.retry_at_ms <= now_ms) return it;
    earliest_ms = std::min(earliest_ms, endpoint.retry_at_ms);
  }
  return endpoints_.end();
}

void DeliveryEngine::Work() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t now_ms = clock_.NowMs();
    int64_t earliest_ms = 0;
    auto it = PickDue(now_ms, earliest_ms);
    if (it == endpoints_.end()) {
      if (earliest_ms == std::numeric_limits<int64_t>::max()) {
        wake_.wait(lock);
      } else {
        auto delay =
            std::chrono::duration_cast<std::chrono::microseconds>(clock_.RealDelayFor(earliest_ms - now_ms));
        wake_.wait_for(lock, std::min<std::chrono::microseconds>(delay, kMaxIdleWait));
      }
      continue;
    }
    last_picked_ = it->first;
    it->second.busy = true;
    // Reordering: the next event overtakes the front one, unless the front one is already being retried
    // (Procore retries the failing delivery before the ones behind it).
    auto& queue = it->second.queue;
    if (faults_.reorder_rate > 0 && queue.size() >= 2 && it->second.failing_since_ms == 0 &&
        random_.Uniform() < faults_.reorder_rate) {
      std::swap(queue[0], queue[1]);
      ++totals_.reordered;
    }
    const std::string endpoint_key = it->first;
    const std::shared_ptr<DeliveryRecord> record = it->second.queue.front();
    const uint64_t generation = generation_;
    const bool fail = faults_.failure_rate > 0 && random_.Uniform() < faults_.failure_rate;
    const bool duplicate = faults_.duplicate_rate > 0 && random_.Uniform() < faults_.duplicate_rate;
    lock.unlock();

    std::optional<DeliveryDestination> destination = lookup_(record->hook_id);
    std::vector<DeliveryAttempt> attempts;
    if (destination) attempts = Send(*record, *destination, fail, duplicate);

    lock.lock();
    if (generation != generation_) continue;  // Clear() ran meanwhile: the endpoint and record are gone
    auto endpoint = endpoints_.find(endpoint_key);
    if (endpoint == endpoints_.end()) continue;  // impossible while busy; kept for safety
    endpoint->second.busy = false;
    if (!destination) {
      // The hook was deleted after the event was queued.
      endpoint->second.queue.pop_front();
      Discard(*record);
    } else {
      Finish(endpoint, record, std::move(attempts), clock_.NowMs());
    }
    const Endpoint& state = endpoint->second;
    if (state.queue.empty() && !state.busy && state.failing_since_ms == 0) endpoints_.erase(endpoint);
  }
}

std::vector<DeliveryAttempt> DeliveryEngine::Send(const DeliveryRecord& record,
                                                  const DeliveryDestination& destination, bool fail,
                                                  bool duplicate) {
  std::vector<DeliveryAttempt> attempts;
  auto send_once = [&](bool is_duplicate) {
    DeliveryAttempt attempt;
    attempt.duplicate = is_duplicate;
    attempt.started_at_ms = clock_.NowMs();
    kt::http::ClientRequest request;
    request.method = "POST";
    request.url = destination.url;
    request.headers.Add("Content-Type", "application/json");
    request.headers.Add("User-Agent", "Procore-Webhooks/1.0 (procore-emulator)");
    if (!destination.authorization.empty()) request.headers.Add("Authorization", destination.authorization);
    request.body = record.body;
    request.timeout = options_.request_timeout;
    request.connect_timeout = options_.request_timeout;
    kt::http::ClientResponse response = kt::http::Fetch(request);
    attempt.completed_at_ms = clock_.NowMs();
    attempt.response_status = response.status;
    if (!response.transport_error.empty()) {
      attempt.response_error = response.transport_error;
    } else if (!response.ok()) {
      attempt.response_error = "HTTP " + std::to_string(response.status);
    }
    attempt.response_body = response.body.substr(0, kMaxKeptBodyBytes);
    for (const auto& [name, value] : response.headers.items()) {
      if (attempt.response_headers.size() >= kMaxKeptHeaders) break;
      attempt.response_headers[name] = value;
    }
    attempts.push_back(std::move(attempt));
    return response.ok();
  };
  if (fail) {
    // Counted and retried as a failure, but nothing is sent.
    DeliveryAttempt attempt;
    attempt.started_at_ms = attempt.completed_at_ms = clock_.NowMs();
    attempt.response_error = kEmulatedFailure;
    attempts.push_back(std::move(attempt));
    return attempts;
  }
  if (send_once(false) && duplicate) send_once(true);
  return attempts;
}

void DeliveryEngine::Finish(std::map<std::string, Endpoint>::iterator endpoint_it,
                            const std::shared_ptr<DeliveryRecord>& record,
                            std::vector<DeliveryAttempt> attempts, int64_t now_ms) {
  Endpoint& endpoint = endpoint_it->second;
  Counters& hook_counters = per_hook_[record->hook_id];
  for (auto& earlier : record->attempts) {
    earlier.response_body.clear();
    earlier.response_headers = nlohmann::json::object();
  }
  bool delivered = false;
  for (auto& attempt : attempts) {
    if (attempt.duplicate) {
      ++totals_.duplicated;
      ++hook_counters.duplicated;
    } else {
      ++totals_.attempted;
      ++hook_counters.attempted;
      delivered = attempt.response_error.empty();
    }
    record->attempts.push_back(std::move(attempt));
  }
  if (delivered) {
    ++totals_.succeeded;
    ++hook_counters.succeeded;
    record->status = DeliveryStatus::kSuccessful;
    endpoint.queue.pop_front();
    // Any success resets the counters and resumes the endpoint's flow.
    endpoint.failures = 0;
    endpoint.failing_since_ms = 0;
    endpoint.retry_at_ms = 0;
    return;
  }
  ++totals_.failed;
  ++hook_counters.failed;
  record->status = DeliveryStatus::kFailing;
  if (endpoint.failing_since_ms == 0) endpoint.failing_since_ms = record->attempts.back().started_at_ms;
  ++endpoint.failures;
  if (now_ms - endpoint.failing_since_ms >= options_.discard_after_ms) {
    // Procore flushes the endpoint's queue after 12 h of retrying; the next event starts a fresh cycle.
    for (auto& queued : endpoint.queue) Discard(*queued);
    endpoint.queue.clear();
    endpoint.failures = 0;
    endpoint.failing_since_ms = 0;
    endpoint.retry_at_ms = 0;
    return;
  }
  int64_t backoff_ms = options_.initial_backoff_ms;
  for (int i = 1; i < endpoint.failures && backoff_ms < options_.max_backoff_ms; ++i) backoff_ms *= 2;
  backoff_ms = std::min(backoff_ms, options_.max_backoff_ms);
  endpoint.retry_at_ms = now_ms + backoff_ms;
  record->next_attempt_at_ms = endpoint.retry_at_ms;
}

nlohmann::json DeliveryEngine::ListDeliveries(int64_t hook_id, const std::string& status_filter,
                                              int64_t page_start, size_t page_size) const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  auto it = std::upper_bound(history_.begin(), history_.end(), page_start,
                             [](int64_t id, const auto& record) { return id < record->id; });
  for (; it != history_.end() && out.size() < page_size; ++it) {
    const DeliveryRecord& record = **it;
    if (record.hook_id != hook_id || record.status == DeliveryStatus::kQueued) continue;
    if (status_filter != "any" && status_filter != DeliveryStatusName(record.status)) continue;
    out.push_back(DeliveryJson(record));
  }
  return out;
}

nlohmann::json DeliveryEngine::Stats() const {
  std::lock_guard lock(mu_);
  std::map<int64_t, int64_t> queued_per_hook;
  int64_t queued = 0;
  int64_t paused_endpoints = 0;
  for (const auto& [url, endpoint] : endpoints_) {
    if (endpoint.failing_since_ms != 0) ++paused_endpoints;
    for (const auto& record : endpoint.queue) {
      ++queued;
      ++queued_per_hook[record->hook_id];
    }
  }
  nlohmann::json hooks = nlohmann::json::object();
  for (const auto& [hook_id, c] : per_hook_) {
    hooks[std::to_string(hook_id)] =
        CountersJson(c.attempted, c.succeeded, c.failed, c.discarded, c.duplicated, queued_per_hook[hook_id]);
  }
  for (const auto& [hook_id, n] : queued_per_hook) {
    if (!hooks.contains(std::to_string(hook_id)))
      hooks[std::to_string(hook_id)] = CountersJson(0, 0, 0, 0, 0, n);
  }
  nlohmann::json stats = CountersJson(totals_.attempted, totals_.succeeded, totals_.failed, totals_.discarded,
                                      totals_.duplicated, queued);
  stats["reordered"] = totals_.reordered;
  stats["paused_endpoints"] = paused_endpoints;
  stats["hooks"] = std::move(hooks);
  return stats;
}

void DeliveryEngine::ResetStats() {
  std::lock_guard lock(mu_);
  totals_ = {};
  per_hook_.clear();
}

void DeliveryEngine::Clear() {
  std::lock_guard lock(mu_);
  ++generation_;
  endpoints_.clear();
  history_.clear();
  last_picked_.clear();
  totals_ = {};
  per_hook_.clear();
}

}  // namespace procore_emulator
