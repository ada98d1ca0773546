// Delivers webhook events per endpoint in order, with Procore's pause, backoff and discard on the emulated
// clock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/emulated_clock.h"
#include "emulator/webhooks/webhooks.h"
#include "util/random.h"

namespace procore_emulator {

enum class DeliveryStatus { kQueued, kSuccessful, kFailing, kDiscarded };

struct DeliveryAttempt {
  int64_t started_at_ms = 0;  // emulated
  int64_t completed_at_ms = 0;
  int response_status = 0;     // 0: no response
  std::string response_error;  // transport error, "emulated failure", or empty
  // Kept for the latest attempt only (the deliveries endpoint shows those); earlier attempts drop them.
  std::string response_body;  // the first kMaxKeptBodyBytes
  nlohmann::json response_headers = nlohmann::json::object();
  bool duplicate = false;  // a second send of an already delivered event (fault injection)
};

// One event on its way to one hook.
struct DeliveryRecord {
  int64_t id = 0;
  int64_t hook_id = 0;
  int64_t event_id = 0;
  std::string body;  // the event payload as sent (kept serialized only: up to 100k records stay in memory)
  DeliveryStatus status = DeliveryStatus::kQueued;
  std::vector<DeliveryAttempt> attempts;
  int64_t next_attempt_at_ms = 0;  // while failing
};

// Where a hook's deliveries go now (a PATCH may have moved it since the event was queued).
struct DeliveryDestination {
  std::string url;
  std::string authorization;  // empty: no Authorization header
};
using DestinationLookup = std::function<std::optional<DeliveryDestination>(int64_t hook_id)>;

struct DeliveryOptions {
  size_t threads = 4;
  size_t max_records = 100000;                    // deliveries kept for the deliveries endpoint
  int64_t initial_backoff_ms = 1000;              // emulated
  int64_t max_backoff_ms = int64_t{3600} * 1000;  // emulated
  int64_t discard_after_ms =
      int64_t{12} * 3600 * 1000;                    // emulated time of retrying before the queue is flushed
  std::chrono::milliseconds request_timeout{5000};  // real time, as Procore's 5 s
};

class DeliveryEngine {
 public:
  DeliveryEngine(EmulatedClock& clock, uint64_t seed, DestinationLookup lookup, DeliveryOptions options = {});
  ~DeliveryEngine();
  DeliveryEngine(const DeliveryEngine&) = delete;
  DeliveryEngine& operator=(const DeliveryEngine&) = delete;

  void Start();
  // Returns once the threads are gone: at once when they wait (also mid-backoff), or when a send in flight
  // ends.
  void Stop();

  // Queues the event for the hook behind everything already queued for `endpoint` (the hook's URL).
  void Enqueue(int64_t hook_id, const std::string& endpoint, int64_t event_id, const nlohmann::json& event);
  // The hook is gone: its queued deliveries are discarded.
  void DropHook(int64_t hook_id);
  void SetFaults(const WebhookFaults& faults);

  // Deliveries of the hook that were attempted or discarded, oldest first, with id > page_start.
  // status_filter: "any", "successful", "failing" or "discarded".
  nlohmann::json ListDeliveries(int64_t hook_id, const std::string& status_filter, int64_t page_start,
                                size_t page_size) const;
  nlohmann::json Stats() const;
  void ResetStats();
  // Forgets every queue and delivery.
  void Clear();

 private:
  struct Endpoint {
    std::deque<std::shared_ptr<DeliveryRecord>> queue;  // front: the one being sent or retried
    bool busy = false;                                  // a thread is sending the front
    int failures = 0;                                   // consecutive failed attempts
    int64_t failing_since_ms = 0;                       // emulated start of the retry cycle; 0 when healthy
    int64_t retry_at_ms = 0;
  };
  struct Counters {
    int64_t attempted = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
    int64_t discarded = 0;
    int64_t duplicated = 0;
    int64_t reordered = 0;  // totals only
  };

  void Work();
  // The next endpoint due for a send, round robin; else end(), with `earliest` the next retry time.
  std::map<std::string, Endpoint>::iterator PickDue(int64_t now_ms, int64_t& earliest_ms);
  // Sends the record (and its duplicate) without the lock.
  std::vector<DeliveryAttempt> Send(const DeliveryRecord& record, const DeliveryDestination& destination,
                                    bool fail, bool duplicate);
  void Discard(DeliveryRecord& record);
  void Finish(std::map<std::string, Endpoint>::iterator endpoint,
              const std::shared_ptr<DeliveryRecord>& record, std::vector<DeliveryAttempt> attempts,
              int64_t now_ms);

  EmulatedClock& clock_;
  kt::SeededRandom random_;
  DestinationLookup lookup_;
  DeliveryOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t generation_ = 0;  // bumped by Clear, so a send in flight across it is dropped
  std::vector<std::thread> threads_;
  WebhookFaults faults_;
  std::map<std::string, Endpoint> endpoints_;
  std::string last_picked_;
  std::deque<std::shared_ptr<DeliveryRecord>> history_;  // ids increasing
  int64_t next_delivery_id_ = 1;
  Counters totals_;
  std::map<int64_t, Counters> per_hook_;
};

const char* DeliveryStatusName(DeliveryStatus status);

}  // namespace procore_emulator
