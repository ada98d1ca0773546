// Rate budget: window learning from headers, the pacing decision, and the priority-ordered waiters.
#include "procore/rate_budget.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace kt::procore {
namespace {

SysTime FromMs(int64_t ms) {
  return SysTime(Millis(ms));
}

// A learned limit less its safety margin (never below one request).
int64_t Effective(int64_t limit, double margin) {
  int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(static_cast<double>(limit) * margin)));
  return std::max<int64_t>(1, limit - keep);
}

int64_t CountSince(const std::vector<int64_t>& sends, int64_t after_ms) {
  auto first = std::upper_bound(sends.begin(), sends.end(), after_ms);
  return static_cast<int64_t>(sends.end() - first);
}

// In-flight grants whose log entries have left the window ending at now_ms. Procore may not have counted them
// yet, so they still count, as if sent now.
int64_t InFlightOutside(const RateBudgetState& state, int64_t now_ms, int64_t window_ms) {
  const auto& flying = state.in_flight_ms;
  return std::upper_bound(flying.begin(), flying.end(), now_ms - window_ms) - flying.begin();
}

// The earliest time a send fits under `limit` sends per `window` (sliding), or 0 when it fits now. Requests
// in flight whose log entries have left the window count too (InFlightOutside).
int64_t WindowWait(const RateBudgetState& state, int64_t now_ms, int64_t limit, int64_t window_ms) {
  const auto& sends = state.sends_ms;
  auto first = std::upper_bound(sends.begin(), sends.end(), now_ms - window_ms);
  const int64_t in_window = sends.end() - first;
  const int64_t count = in_window + InFlightOutside(state, now_ms, window_ms);
  if (count < limit) return 0;
  // The (count - limit + 1) oldest sends in the window must age out first. If that is more than the window
  // holds, requests in flight must be answered too, and an answered one leaves the log a window later.
  if (count - limit < in_window) return *(first + (count - limit)) + window_ms + 1;
  return now_ms + window_ms + 1;
}

// A window's length as the budget keeps it: the window and its slack.
int64_t KeptWindowMs(Millis window, const RateBudgetPolicy& policy) {
  return window.count() + policy.window_slack.count();
}

int64_t SpikeLimitInForce(const RateBudgetState& state, const RateBudgetPolicy& policy) {
  if (state.spike.limit > 0) return Effective(state.spike.limit, policy.spike_margin);
  if (state.saw_response) return Effective(policy.headerless_spike_limit, policy.spike_margin);
  return std::max<int64_t>(1, policy.initial_spike_limit);
}

// The end of a reported window whose remaining requests we have used up, or 0. When Procore's count is
// explained by our own send log, the sliding-window pacing already keeps us under it.
int64_t ReportedWindowWait(const RateBudgetState& state, const RateWindow& w, int64_t now_ms,
                           const RateBudgetPolicy& policy) {
  if (w.remaining < 0 || now_ms >= w.reset_ms) return 0;
  if (w.foreign <= policy.remaining_reserve) return 0;
  int64_t used = CountSince(state.sends_ms, w.observed_send_ms);
  if (used < w.remaining - policy.remaining_reserve) return 0;
  return w.reset_ms + policy.reset_slack.count();
}

// What EntryOf does when the observation's grant time is passed back but is not in the log.
enum class IfGrantMissing {
  kLatestBeforeSend,  // take the latest entry at or before the send instead
  kNone,              // take nothing
};

// The observed request's entry in a log of grant times (ascending): its own grant time when passed back, or
// without one the latest entry at or before its send. end() when there is none.
std::vector<int64_t>::iterator EntryOf(std::vector<int64_t>& log, const RateObservation& obs,
                                       IfGrantMissing if_missing) {
  if (obs.granted_at) {
    const int64_t granted_ms = UnixMs(*obs.granted_at);
    auto at = std::lower_bound(log.begin(), log.end(), granted_ms);
    if (at != log.end() && *at == granted_ms) return at;
    if (if_missing == IfGrantMissing::kNone) return log.end();
  }
  auto after = std::upper_bound(log.begin(), log.end(), UnixMs(obs.sent_at));
  return after == log.begin() ? log.end() : std::prev(after);
}

// Procore counts a request when it arrives, some time between its send and its response (or its failure: a
// request that timed out may have arrived). Keeping it in the send log from its grant until a window after
// that covers any arrival time, however slow the request was (under load a request sent just before a
// window's edge can arrive after it); while it is in flight for longer than a window, in_flight_ms keeps it
// counted. The entry moved is the request's own grant. Moving another in-flight request's entry instead (the
// latest before this send, when a thread was held up between its grant and its send) would leave this one's
// at its grant time, earlier than its arrival, and free its slot before Procore does. Without a grant time,
// the latest entry at or before the send stands in for it.
void MoveGrantPastArrival(RateBudgetState& state, const RateObservation& obs) {
  const int64_t recv_ms = UnixMs(obs.received_at);
  auto& sends = state.sends_ms;
  // An entry moved later than its own only counts longer, so without its own the stand-in is safe here.
  auto entry = EntryOf(sends, obs, IfGrantMissing::kLatestBeforeSend);
  if (entry == sends.end() || *entry >= recv_ms) return;
  sends.erase(entry);
  sends.insert(std::upper_bound(sends.begin(), sends.end(), recv_ms), recv_ms);
}

// The observed request is no longer in flight: its grant leaves in_flight_ms. When its grant is not there (it
// expired, or a worker running older code granted it without an in-flight entry), nothing leaves: removing
// another request's entry would stop counting a request that is still in flight.
void Land(RateBudgetState& state, const RateObservation& obs) {
  auto& flying = state.in_flight_ms;
  auto entry = EntryOf(flying, obs, IfGrantMissing::kNone);
  if (entry != flying.end()) flying.erase(entry);
}

}  // namespace

std::string_view PriorityName(Priority priority) {
  switch (priority) {
    case Priority::kInteractive:
      return "interactive";
    case Priority::kWebhookFollowUp:
      return "webhook_follow_up";
    case Priority::kReconciliation:
      return "reconciliation";
    case Priority::kInitialSync:
      return "initial_sync";
  }
  return "initial_sync";
}

AcquireDecision DecideAcquire(RateBudgetState& state, SysTime now, const RateBudgetPolicy& policy) {
  const int64_t now_ms = UnixMs(now);
  auto& sends = state.sends_ms;
  // Forget sends older than the hourly window.
  auto keep_from =
      std::upper_bound(sends.begin(), sends.end(), now_ms - KeptWindowMs(policy.hourly_window, policy));
  sends.erase(sends.begin(), keep_from);
  // Forget grants never answered (their process died before the response).
  auto& flying = state.in_flight_ms;
  flying.erase(flying.begin(),
               std::upper_bound(flying.begin(), flying.end(), now_ms - policy.in_flight_expiry.count()));

  if (now_ms < state.blocked_until_ms) return {false, FromMs(state.blocked_until_ms)};

  int64_t wait_until =
      WindowWait(state, now_ms, SpikeLimitInForce(state, policy), KeptWindowMs(policy.spike_window, policy));
  if (state.hourly.limit > 0) {
    wait_until =
        std::max(wait_until, WindowWait(state, now_ms, Effective(state.hourly.limit, policy.hourly_margin),
                                        KeptWindowMs(policy.hourly_window, policy)));
  }
  wait_until = std::max(wait_until, ReportedWindowWait(state, state.spike, now_ms, policy));
  wait_until = std::max(wait_until, ReportedWindowWait(state, state.hourly, now_ms, policy));
  if (wait_until > now_ms) return {false, FromMs(wait_until)};

  // Sends are kept sorted even if the clock stepped back.
  sends.insert(std::upper_bound(sends.begin(), sends.end(), now_ms), now_ms);
  flying.insert(std::upper_bound(flying.begin(), flying.end(), now_ms), now_ms);
  return {true, now};
}

void ApplyObservation(RateBudgetState& state, const RateObservation& obs, const RateBudgetPolicy& policy) {
  const int64_t sent_ms = UnixMs(obs.sent_at);
  const int64_t recv_ms = UnixMs(obs.received_at);
  const int64_t hour_ms = policy.hourly_window.count();
  Land(state, obs);
  if (!obs.answered) {
    MoveGrantPastArrival(state, obs);
    return;
  }
  state.saw_response = true;

  // Reset as a distance from the response, read against Procore's clock (Date) when it sent one, so our
  // clock's skew does not matter. A small value is taken as seconds-from-now. Clamped to an hour: a Reset
  // further out than the hourly window cannot be right.
  std::optional<int64_t> reset_in_ms;
  if (obs.headers.reset) {
    int64_t reset = *obs.headers.reset;
    if (reset < 1'000'000'000) {
      reset_in_ms = reset * 1000;
    } else if (obs.server_date) {
      reset_in_ms = reset * 1000 - UnixMs(*obs.server_date);
    } else {
      reset_in_ms = reset * 1000 - recv_ms;
    }
    reset_in_ms = std::clamp<int64_t>(*reset_in_ms, 0, hour_ms);
  }

  if (obs.headers.limit && *obs.headers.limit > 0) {
    const int64_t limit = *obs.headers.limit;
    // The headers describe whichever window is nearer to running out (§6). Tell them apart by the distance
    // to the reset (a spike window resets within ~10 s) and, near an hour's end, by the limit already
    // learned for the hourly window.
    bool spike = true;
    if (reset_in_ms && *reset_in_ms > policy.spike_window.count() + 2'000) spike = false;
    if (spike && state.hourly.limit > 0 && limit == state.hourly.limit && limit != state.spike.limit)
      spike = false;
    RateWindow& w = spike ? state.spike : state.hourly;
    w.limit = limit;
    if (obs.headers.remaining && reset_in_ms) {
      int64_t reset_ms = recv_ms + *reset_in_ms;
      // Responses can arrive out of order: an older report does not replace a newer one for the same window.
      bool older = sent_ms < w.observed_send_ms && reset_ms <= w.reset_ms;
      if (!older) {
        w.remaining = *obs.headers.remaining;
        w.reset_ms = reset_ms;
        w.observed_send_ms = sent_ms;
        const int64_t window_ms = spike ? policy.spike_window.count() : hour_ms;
        const auto& sends = state.sends_ms;
        int64_t ours = std::upper_bound(sends.begin(), sends.end(), sent_ms) -
                       std::upper_bound(sends.begin(), sends.end(), sent_ms - window_ms);
        w.foreign = std::max<int64_t>(0, (limit - w.remaining) - ours);
      }
    }
  }

  MoveGrantPastArrival(state, obs);

  if (obs.rate_limited) {
    ++state.rate_limited_count;
    int64_t until;
    if (obs.retry_after) {
      until = recv_ms + obs.retry_after->count();
    } else if (reset_in_ms) {
      until = recv_ms + *reset_in_ms + policy.reset_slack.count();
    } else {
      until = recv_ms + policy.spike_window.count();
    }
    until = std::min(until, recv_ms + hour_ms);
    state.blocked_until_ms = std::max(state.blocked_until_ms, until);
  }
}

std::optional<SysTime> LimitedUntil(const RateBudgetState& state, SysTime now,
                                    const RateBudgetPolicy& policy) {
  const int64_t now_ms = UnixMs(now);
  int64_t until = 0;
  if (state.blocked_until_ms > now_ms) until = state.blocked_until_ms;
  until = std::max(until, ReportedWindowWait(state, state.spike, now_ms, policy));
  until = std::max(until, ReportedWindowWait(state, state.hourly, now_ms, policy));
  if (state.hourly.limit > 0) {
    // The hourly budget spent by our own requests: a long pause worth showing too.
    until = std::max(until, WindowWait(state, now_ms, Effective(state.hourly.limit, policy.hourly_margin),
                                       KeptWindowMs(policy.hourly_window, policy)));
  }
  if (until <= now_ms) return std::nullopt;
  return FromMs(until);
}

AcquireDecision InMemoryRateBudgetStore::TryAcquire(const std::string& key, SysTime now,
                                                    const RateBudgetPolicy& policy) {
  std::lock_guard lock(mu_);
  return DecideAcquire(states_[key], now, policy);
}

void InMemoryRateBudgetStore::Observe(const std::string& key, const RateObservation& observation,
                                      const RateBudgetPolicy& policy) {
  std::lock_guard lock(mu_);
  ApplyObservation(states_[key], observation, policy);
}

RateBudgetState InMemoryRateBudgetStore::Load(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = states_.find(key);
  return it == states_.end() ? RateBudgetState{} : it->second;
}

RateBudget::RateBudget(RateBudgetStore& store, Clock& clock, RateBudgetPolicy policy)
    : store_(store), clock_(clock), policy_(policy) {}

tl::expected<RateBudget::Grant, SysTime> RateBudget::Acquire(const std::string& key, Priority priority,
                                                             SysTime deadline) {
  const SysTime start = clock_.Now();
  std::unique_lock lock(mu_);
  Queue& queue = queues_[key];
  const std::pair<int, uint64_t> me{static_cast<int>(priority), next_arrival_++};
  queue.waiters.emplace(me, true);
  auto leave = [&] {
    queue.waiters.erase(me);
    if (queue.waiters.empty() && !queue.pacing) queues_.erase(key);
    cv_.notify_all();
  };
  while (true) {
    cv_.wait(lock, [&] { return !queue.pacing && queue.waiters.begin()->first == me; });
    // This caller is first in line: ask the store, sleeping outside the lock while the others keep their
    // places.
    queue.pacing = true;
    lock.unlock();
    SysTime now = clock_.Now();
    AcquireDecision decision = store_.TryAcquire(key, now, policy_);
    if (decision.granted) {
      lock.lock();
      queue.pacing = false;
      leave();
      return Grant{std::chrono::duration_cast<Millis>(now - start), now};
    }
    if (decision.retry_at > deadline) {
      lock.lock();
      queue.pacing = false;
      leave();
      return tl::unexpected(decision.retry_at);
    }
    clock_.SleepFor(std::clamp(std::chrono::duration_cast<Millis>(decision.retry_at - now), Millis(1),
                               std::max(Millis(1), policy_.max_sleep_slice)));
    lock.lock();
    queue.pacing = false;
    // Someone more urgent may have arrived while this caller slept: let the queue decide again.
    cv_.notify_all();
  }
}

void RateBudget::Observe(const std::string& key, const RateObservation& observation) {
  store_.Observe(key, observation, policy_);
}

std::optional<SysTime> RateBudget::LimitedUntil(const std::string& key) {
  return procore::LimitedUntil(store_.Load(key), clock_.Now(), policy_);
}

RateBudgetSnapshot RateBudget::Snapshot(const std::string& key) {
  RateBudgetState state = store_.Load(key);
  SysTime now = clock_.Now();
  int64_t now_ms = UnixMs(now);
  RateBudgetSnapshot s;
  s.spike_limit = state.spike.limit;
  s.hourly_limit = state.hourly.limit;
  s.sent_in_spike_window = CountSince(state.sends_ms, now_ms - policy_.spike_window.count()) +
                           InFlightOutside(state, now_ms, policy_.spike_window.count());
  s.sent_in_hour = CountSince(state.sends_ms, now_ms - policy_.hourly_window.count());
  s.limited_until = procore::LimitedUntil(state, now, policy_);
  s.rate_limited_count = state.rate_limited_count;
  std::lock_guard lock(mu_);
  if (auto it = queues_.find(key); it != queues_.end())
    s.waiting = static_cast<int>(it->second.waiters.size());
  return s;
}

std::string BudgetKey(std::string_view api_url, std::string_view client_id, int64_t company_id) {
  return std::string(api_url) + "|" + std::string(client_id) + "|" + std::to_string(company_id);
}

}  // namespace kt::procore
