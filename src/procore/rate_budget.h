// The rate budget per (app, company): learns Procore's spike and hourly windows from X-Rate-Limit-* headers,
// paces requests so a steady sync never sees a 429, and lets callers through by priority.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "procore/headers.h"
#include "util/clock.h"

namespace kt::procore {

// Who is waiting for the budget, most urgent first. A person waiting in the wizard comes before webhook
// follow-ups (freshness), then reconciliation, then the initial sync (which can always wait).
enum class Priority { kInteractive = 0, kWebhookFollowUp = 1, kReconciliation = 2, kInitialSync = 3 };
std::string_view PriorityName(Priority priority);

struct RateBudgetPolicy {
  // Procore's documented windows (§6): a 10-second spike window and a 60-minute hourly window.
  Millis spike_window{10'000};
  Millis hourly_window{3'600'000};
  // Requests per spike window before any response has said what the limits are.
  int64_t initial_spike_limit = 5;
  // If responses come back without X-Rate-Limit headers: Procore's documented example spike limit.
  int64_t headerless_spike_limit = 25;
  // Share of a learned limit kept unused. Latency jitter needs none: a send stays in the log until a window
  // after its response, so whenever Procore counts it (between the two) the log's count covers its window.
  // What is left is for Procore's counting being other than documented (unconfirmed): 10 of 500, 2 of 100.
  double spike_margin = 0.02;
  double hourly_margin = 0.02;
  // A send leaves the budget's sliding windows this long after the window itself. Our log's times are of our
  // clock and Procore counts on its own: the budget frees a burst's slots to the millisecond, so a clock that
  // steps forward by a few milliseconds (NTP, a hypervisor's correction), or whole-millisecond rounding on
  // the two sides, would land the next burst's first requests in the old window (the likely cause of the two
  // 429s the emulator's many-threads test saw once). 0.5% of the rate a spike window allows.
  Millis window_slack{50};
  // Requests kept back from a reported X-Rate-Limit-Remaining (requests Procore has not counted yet).
  int64_t remaining_reserve = 2;
  // X-Rate-Limit-Reset has one-second resolution; wait this much past it.
  Millis reset_slack{1'000};
  // A granted request whose response has not come back may still arrive at Procore at any moment, so it
  // counts in every window as if sent now (its log entry alone would leave the window a window after its
  // grant). After this long without an answer it is forgotten: longer than a request can take (the client's
  // 30 s timeout and 5 s connect timeout), so only the grants of a process that died in between are dropped.
  Millis in_flight_expiry{120'000};
  // The first waiter sleeps at most this long before asking again, so what new responses teach (the first
  // response's real limits, say) and more urgent arrivals take effect promptly.
  Millis max_sleep_slice{500};
};

// One window as learned from the headers.
struct RateWindow {
  int64_t limit = 0;             // learned limit; 0 = not known yet
  int64_t remaining = -1;        // last reported remaining; -1 = no report in force
  int64_t reset_ms = 0;          // when the reported window resets, on the local clock (UNIX ms)
  int64_t observed_send_ms = 0;  // when the request whose response carried the report was sent
  // Requests Procore had counted in this window beyond the ones in our own send log (another process, a
  // restart). Only then does the report constrain us beyond the log.
  int64_t foreign = 0;
};

// Everything a store keeps per key. Plain data, so a database-backed store can serialise it.
struct RateBudgetState {
  RateWindow spike;
  RateWindow hourly;
  bool saw_response = false;
  std::vector<int64_t> sends_ms;  // send times (UNIX ms, ascending) within the last hourly window
  // The grant times (ascending) of requests granted and not answered yet (nor failed): each also has an entry
  // in sends_ms until its observation moves that entry past its arrival.
  std::vector<int64_t> in_flight_ms;
  int64_t blocked_until_ms = 0;  // after a 429: nothing goes out before this
  int64_t rate_limited_count = 0;
};

// What one response told us.
struct RateObservation {
  // When the budget granted the request (the send log's entry for it), when it went out, when it came back
  // (or failed).
  std::optional<SysTime> granted_at;
  SysTime sent_at;
  SysTime received_at;
  RateLimitHeaders headers;
  std::optional<SysTime> server_date;  // the Date header, to read Reset against Procore's own clock
  bool answered = true;                // false: no response (a timeout, a reset), so no headers either
  bool rate_limited = false;           // the response was a 429
  std::optional<Millis> retry_after;   // a parsed Retry-After
};

struct AcquireDecision {
  bool granted = false;
  SysTime retry_at{};  // when not granted: the earliest time a send could be granted
};

// The decision logic every store shares. DecideAcquire records the send when it grants one.
AcquireDecision DecideAcquire(RateBudgetState& state, SysTime now, const RateBudgetPolicy& policy);
void ApplyObservation(RateBudgetState& state, const RateObservation& observation,
                      const RateBudgetPolicy& policy);
// When the budget is exhausted past the normal pacing (a 429, or a reported window used up): until when.
std::optional<SysTime> LimitedUntil(const RateBudgetState& state, SysTime now,
                                    const RateBudgetPolicy& policy);

// Where budget state lives. The in-memory store serves one process; a store on the database lets several
// processes share one budget per company (TryAcquire must then be atomic, e.g. SELECT ... FOR UPDATE).
class RateBudgetStore {
 public:
  virtual ~RateBudgetStore() = default;
  virtual AcquireDecision TryAcquire(const std::string& key, SysTime now, const RateBudgetPolicy& policy) = 0;
  virtual void Observe(const std::string& key, const RateObservation& observation,
                       const RateBudgetPolicy& policy) = 0;
  virtual RateBudgetState Load(const std::string& key) = 0;
};

class InMemoryRateBudgetStore final : public RateBudgetStore {
 public:
  AcquireDecision TryAcquire(const std::string& key, SysTime now, const RateBudgetPolicy& policy) override;
  void Observe(const std::string& key, const RateObservation& observation,
               const RateBudgetPolicy& policy) override;
  RateBudgetState Load(const std::string& key) override;

 private:
  std::mutex mu_;
  std::unordered_map<std::string, RateBudgetState> states_;
};

// For status pages and tests.
struct RateBudgetSnapshot {
  int64_t spike_limit = 0;  // 0: not learned yet
  int64_t hourly_limit = 0;
  int64_t sent_in_spike_window = 0;
  int64_t sent_in_hour = 0;
  std::optional<SysTime> limited_until;
  int64_t rate_limited_count = 0;
  int waiting = 0;
};

// The budget callers wait on. Per key, waiters are served by priority, then in arrival order; only the
// first waiter sleeps on the clock, so the others keep their places behind it.
class RateBudget {
 public:
  RateBudget(RateBudgetStore& store, Clock& clock, RateBudgetPolicy policy = {});

  // A granted send: how long the caller waited, and the time the send log holds for it (to pass back in
  // RateObservation::granted_at).
  struct Grant {
    Millis waited{0};
    SysTime at;
  };
  // Blocks until a request may be sent. When the budget frees up only after `deadline`, returns (at once) the
  // time it frees up instead.
  tl::expected<Grant, SysTime> Acquire(const std::string& key, Priority priority, SysTime deadline);
  void Observe(const std::string& key, const RateObservation& observation);
  // "Rate limited until T" for the status pages; empty when requests flow.
  std::optional<SysTime> LimitedUntil(const std::string& key);
  RateBudgetSnapshot Snapshot(const std::string& key);
  const RateBudgetPolicy& policy() const { return policy_; }

 private:
  struct Queue {
    std::map<std::pair<int, uint64_t>, bool> waiters;  // (priority, arrival) -> present
    bool pacing = false;                               // the first waiter is sleeping on the clock
  };

  RateBudgetStore& store_;
  Clock& clock_;
  RateBudgetPolicy policy_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Queue> queues_;
  uint64_t next_arrival_ = 0;
};

// The key of one budget: the app (API host and client id) and the company (0 for calls without one).
std::string BudgetKey(std::string_view api_url, std::string_view client_id, int64_t company_id);

}  // namespace kt::procore
