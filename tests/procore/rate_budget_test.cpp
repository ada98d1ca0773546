// The rate budget: learning Procore's windows from headers, pacing with zero 429s, priorities, and
// "rate limited until" for the status pages.
#include "procore/rate_budget.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_procore.h"

namespace kt::procore {
namespace {

using testing::Harness;
using testing::Respond;

const SysTime kT0(std::chrono::seconds(1'700'000'000));

int64_t Secs(SysTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

RateObservation Seen(SysTime sent, int64_t limit, int64_t remaining, int64_t reset_in_s) {
  RateObservation o;
  o.sent_at = sent;
  o.received_at = sent + Millis(50);
  o.headers.limit = limit;
  o.headers.remaining = remaining;
  o.headers.reset = Secs(sent) + reset_in_s;
  o.server_date = SysTime(std::chrono::seconds(Secs(sent)));
  return o;
}

TEST(BudgetDecision, ConservativeBeforeAnyResponse) {
  RateBudgetPolicy p;
  RateBudgetState s;
  for (int i = 0; i < p.initial_spike_limit; ++i) EXPECT_TRUE(DecideAcquire(s, kT0, p).granted);
  auto d = DecideAcquire(s, kT0, p);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.retry_at, kT0 + p.spike_window + p.window_slack + Millis(1));
}

TEST(BudgetDecision, LearnsSpikeAndHourlyWindows) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0, 20, 19, 10), p);
  EXPECT_EQ(s.spike.limit, 20);
  EXPECT_EQ(s.hourly.limit, 0);
  ApplyObservation(s, Seen(kT0, 3600, 40, 1800), p);
  EXPECT_EQ(s.hourly.limit, 3600);
  EXPECT_EQ(s.spike.limit, 20);
  // Near the hour's end the reset is close, but the limit says which window it is.
  ApplyObservation(s, Seen(kT0 + std::chrono::seconds(1795), 3600, 10, 5), p);
  EXPECT_EQ(s.spike.limit, 20);
  EXPECT_EQ(s.hourly.remaining, 10);
}

TEST(BudgetDecision, LearnedSpikeLimitKeepsAMargin) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0 - std::chrono::seconds(60), 20, 19, 10), p);
  int granted = 0;
  while (DecideAcquire(s, kT0, p).granted) ++granted;
  EXPECT_EQ(granted, 19);  // 20 less 2 %, at least one
}

TEST(BudgetDecision, ResetReadAgainstProcoresClock) {
  RateBudgetPolicy p;
  RateBudgetState s;
  // Procore's clock is an hour ahead of ours: Reset is read relative to its Date header.
  RateObservation o = Seen(kT0, 3600, 5, 0);
  SysTime server_now = kT0 + std::chrono::hours(1);
  o.server_date = server_now;
  o.headers.reset = Secs(server_now) + 600;
  ApplyObservation(s, o, p);
  EXPECT_EQ(s.hourly.reset_ms,
            std::chrono::duration_cast<Millis>((o.received_at + std::chrono::seconds(600)).time_since_epoch())
                .count());
}

TEST(BudgetDecision, AbsurdResetIsClampedToAnHour) {
  RateBudgetPolicy p;
  RateBudgetState s;
  RateObservation o = Seen(kT0, 3600, 0, 10 * 3600);
  o.rate_limited = true;
  ApplyObservation(s, o, p);
  auto until = LimitedUntil(s, kT0, p);
  ASSERT_TRUE(until);
  EXPECT_LE(*until - kT0, std::chrono::hours(1) + std::chrono::seconds(2));
}

TEST(BudgetDecision, ForeignUseReportedByProcoreIsRespected) {
  RateBudgetPolicy p;
  RateBudgetState s;
  // A fresh process: Procore says only 4 of 20 are left in this window (another process used them).
  ApplyObservation(s, Seen(kT0, 20, 4, 7), p);
  EXPECT_GT(s.spike.foreign, p.remaining_reserve);
  int granted = 0;
  AcquireDecision d;
  while ((d = DecideAcquire(s, kT0 + Millis(100), p)).granted) ++granted;
  EXPECT_EQ(granted, 2);  // 4 left less the reserve of 2
  EXPECT_GE(d.retry_at, kT0 + std::chrono::seconds(7));
  EXPECT_TRUE(LimitedUntil(s, kT0 + Millis(100), p));
}

TEST(BudgetDecision, OwnUseExplainedByTheLogDoesNotDoubleCount) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0 - std::chrono::seconds(60), 20, 19, 10), p);
  for (int i = 0; i < 18; ++i) ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  // Procore counted exactly our 18: nothing foreign, so only the sliding window applies.
  ApplyObservation(s, Seen(kT0, 20, 2, 10), p);
  EXPECT_EQ(s.spike.foreign, 0);
  EXPECT_TRUE(DecideAcquire(s, kT0, p).granted);
  EXPECT_FALSE(DecideAcquire(s, kT0, p).granted);
  EXPECT_FALSE(LimitedUntil(s, kT0, p)) << "ordinary pacing is not 'rate limited'";
}

TEST(BudgetDecision, OlderReportDoesNotOverrideNewer) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0 + std::chrono::seconds(1), 20, 10, 9), p);
  ApplyObservation(s, Seen(kT0, 20, 15, 10), p);
  EXPECT_EQ(s.spike.remaining, 10);
}

TEST(BudgetDecision, TooManyRequestsBlocksUntilRetryAfter) {
  RateBudgetPolicy p;
  RateBudgetState s;
  RateObservation o = Seen(kT0, 20, 0, 10);
  o.rate_limited = true;
  o.retry_after = std::chrono::seconds(30);
  ApplyObservation(s, o, p);
  EXPECT_EQ(s.rate_limited_count, 1);
  auto d = DecideAcquire(s, kT0 + std::chrono::seconds(5), p);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.retry_at, o.received_at + std::chrono::seconds(30));
  EXPECT_EQ(LimitedUntil(s, kT0 + std::chrono::seconds(5), p), o.received_at + std::chrono::seconds(30));
  EXPECT_FALSE(LimitedUntil(s, kT0 + std::chrono::seconds(31), p));
}

TEST(BudgetDecision, EachResponseMovesItsOwnGrantPastItsArrival) {
  RateBudgetPolicy p;
  RateBudgetState s;
  // A is granted at 0 ms and B at 10 ms. A's thread is held up until 20 ms before it sends; A's response
  // comes back at 30 ms. B sends at 40 ms and is answered at 50 ms.
  ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  ASSERT_TRUE(DecideAcquire(s, kT0 + Millis(10), p).granted);
  auto answered = [&](SysTime granted, SysTime sent, SysTime received) {
    RateObservation o;
    o.granted_at = granted;
    o.sent_at = sent;
    o.received_at = received;
    ApplyObservation(s, o, p);
  };
  answered(kT0, kT0 + Millis(20), kT0 + Millis(30));
  answered(kT0 + Millis(10), kT0 + Millis(40), kT0 + Millis(50));
  // Procore counted A between 20 and 30 ms and B between 40 and 50 ms: each entry is at its response, so
  // neither frees its slot before Procore does. (Moving the latest entry before each send instead left A's
  // at 0 ms.)
  const int64_t t0 = Secs(kT0) * 1000;
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{t0 + 30, t0 + 50}));
}

TEST(BudgetDecision, ARequestThatFailedUnansweredKeepsItsSlotUntilAWindowAfterTheFailure) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  // No response: the connection was reset after 4 s. Procore may have counted the request at any time
  // before that.
  RateObservation o;
  o.granted_at = kT0;
  o.sent_at = kT0;
  o.received_at = kT0 + std::chrono::seconds(4);
  o.answered = false;
  ApplyObservation(s, o, p);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{Secs(kT0) * 1000 + 4000}));
  // Nothing else was learned: no response has said what the limits are yet.
  EXPECT_FALSE(s.saw_response);
  EXPECT_EQ(s.rate_limited_count, 0);
}

TEST(BudgetDecision, ARequestStillInFlightAWindowAfterItsGrantStillCounts) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0 - std::chrono::seconds(60), 20, 19, 10), p);
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  // A window later none of the 19 has come back: Procore may count them from any moment now on, so nothing
  // more goes out. (Their log entries alone had left the window, and 19 more were granted.)
  const SysTime later = kT0 + p.spike_window + p.window_slack + Millis(1);
  auto d = DecideAcquire(s, later, p);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.retry_at, later + p.spike_window + p.window_slack + Millis(1));
  EXPECT_EQ(s.in_flight_ms.size(), 19u);
  // They are answered at 10.5 s: each now counts from its answer, so the next send waits a window after it.
  const SysTime answered_at = kT0 + Millis(10'500);
  for (int i = 0; i < 19; ++i) {
    RateObservation o = Seen(kT0, 20, 19 - i, 10);
    o.granted_at = kT0;
    o.received_at = answered_at;
    o.server_date = answered_at;
    o.headers.reset = Secs(answered_at) + 10;
    ApplyObservation(s, o, p);
  }
  EXPECT_TRUE(s.in_flight_ms.empty());
  EXPECT_FALSE(DecideAcquire(s, answered_at + Millis(1), p).granted);
  EXPECT_TRUE(DecideAcquire(s, answered_at + p.spike_window + p.window_slack + Millis(1), p).granted);
}

TEST(BudgetDecision, AGrantNeverAnsweredIsForgottenAfterTheInFlightExpiry) {
  RateBudgetPolicy p;
  RateBudgetState s;
  ApplyObservation(s, Seen(kT0 - std::chrono::seconds(60), 20, 19, 10), p);
  // The process that was granted these died before any response: after the expiry (longer than a request
  // can take) they no longer hold the budget back.
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  EXPECT_FALSE(DecideAcquire(s, kT0 + p.in_flight_expiry - Millis(1), p).granted);
  EXPECT_TRUE(DecideAcquire(s, kT0 + p.in_flight_expiry + Millis(1), p).granted);
  EXPECT_EQ(s.in_flight_ms.size(), 1u) << "only the grant just made";
}

TEST(BudgetDecision, AnAnswerWhoseGrantExpiredLeavesTheOtherRequestsInFlight) {
  RateBudgetPolicy p;
  RateBudgetState s;
  // A is granted and its thread stalls past the in-flight expiry; B is granted after that and is still out
  // when A's answer comes back.
  ASSERT_TRUE(DecideAcquire(s, kT0, p).granted);
  const SysTime b_granted = kT0 + p.in_flight_expiry + Millis(1);
  ASSERT_TRUE(DecideAcquire(s, b_granted, p).granted);
  ASSERT_EQ(s.in_flight_ms.size(), 1u) << "A's grant expired";
  RateObservation a;
  a.granted_at = kT0;
  a.sent_at = b_granted + Millis(1);
  a.received_at = b_granted + Millis(2);
  a.answered = false;
  ApplyObservation(s, a, p);
  // A's own entry is gone already; B's must stay, or B would stop counting while Procore may still count it.
  const int64_t b_ms = std::chrono::duration_cast<Millis>(b_granted.time_since_epoch()).count();
  EXPECT_EQ(s.in_flight_ms, (std::vector<int64_t>{b_ms}));
}

TEST(BudgetPacing, SteadySyncUnderTwentyPerTenSecondsSeesNoTooManyRequests) {
  Harness h;
  h.procore.spike_limit = 20;
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [](const http::ClientRequest&) { return Respond(200, "[]"); });
  const auto start = h.manual_clock.Now();
  constexpr int kRequests = 300;
  for (int i = 0; i < kRequests; ++i) {
    ApiRequest r;
    r.path = "/rest/v1.0/projects/5/rfis";
    r.company_id = 8;
    r.priority = Priority::kInitialSync;
    ASSERT_TRUE(h.client.Send(r)) << i;
  }
  EXPECT_EQ(h.procore.rate_limited(), 0);
  EXPECT_LE(h.procore.MaxInAnyWindow(), 20);
  // And not needlessly slow: 18 per 10 s is the target.
  EXPECT_LE(h.manual_clock.Now() - start, std::chrono::seconds(kRequests * 10 / 18 + 15));
  auto snapshot = h.client.RateBudgetStatus(8);
  EXPECT_EQ(snapshot.spike_limit, 20);
  EXPECT_EQ(snapshot.rate_limited_count, 0);
}

TEST(BudgetPacing, ManyThreadsOnTheRealClockStayUnderTheLimit) {
  // A 1-second spike window keeps this quick; the logic is the same as for Procore's 10 seconds.
  RateBudgetPolicy policy;
  policy.spike_window = Millis(1000);
  Harness h(&SystemClock::Instance(), policy);
  h.procore.spike_limit = 20;
  h.procore.spike_window = Millis(1000);
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [](const http::ClientRequest&) { return Respond(200, "[]"); });
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        ApiRequest r;
        r.path = "/rest/v1.0/projects/5/rfis";
        r.company_id = 8;
        r.priority = t % 2 ? Priority::kInitialSync : Priority::kReconciliation;
        if (!h.client.Send(r)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(h.procore.rate_limited(), 0);
  EXPECT_LE(h.procore.MaxInAnyWindow(), 20);
}

// A clock whose sleeps wait at a gate until the test opens it; then it advances like a manual clock.
class GateClock final : public Clock {
 public:
  SysTime Now() override { return inner_.Now(); }
  void SleepFor(Millis d) override {
    {
      std::unique_lock lock(mu_);
      ++sleeping_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      --sleeping_;
    }
    inner_.Advance(d);
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void WaitForSleepers(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return sleeping_ >= n; });
  }

 private:
  ManualClock inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int sleeping_ = 0;
};

// Records which caller each grant went to, at the moment it is granted (callers tag themselves).
thread_local int tl_caller = -1;
class RecordingStore final : public RateBudgetStore {
 public:
  AcquireDecision TryAcquire(const std::string& key, SysTime now, const RateBudgetPolicy& policy) override {
    auto d = inner_.TryAcquire(key, now, policy);
    if (d.granted) {
      std::lock_guard lock(mu_);
      granted_.push_back(tl_caller);
    }
    return d;
  }
  void Observe(const std::string& key, const RateObservation& o, const RateBudgetPolicy& p) override {
    inner_.Observe(key, o, p);
  }
  RateBudgetState Load(const std::string& key) override { return inner_.Load(key); }
  std::vector<int> granted() {
    std::lock_guard lock(mu_);
    return granted_;
  }

 private:
  InMemoryRateBudgetStore inner_;
  std::mutex mu_;
  std::vector<int> granted_;
};

TEST(BudgetPriority, WebhookFollowUpsFirstThenReconciliationThenInitialSync) {
  GateClock clock;
  RecordingStore store;
  RateBudgetPolicy policy;
  policy.initial_spike_limit = 1;
  RateBudget budget(store, clock, policy);
  const std::string key = "app|8";
  const SysTime far = clock.Now() + std::chrono::hours(10);
  ASSERT_TRUE(budget.Acquire(key, Priority::kInitialSync, far));  // uses up the window

  auto waiter = [&](Priority p) {
    return std::thread([&, p] {
      tl_caller = static_cast<int>(p);
      ASSERT_TRUE(budget.Acquire(key, p, far));
    });
  };
  // The initial sync arrives first and is already sleeping on the window when the others arrive.
  std::thread initial = waiter(Priority::kInitialSync);
  clock.WaitForSleepers(1);
  std::thread reconciliation = waiter(Priority::kReconciliation);
  std::thread webhook = waiter(Priority::kWebhookFollowUp);
  while (budget.Snapshot(key).waiting < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  clock.Open();
  initial.join();
  reconciliation.join();
  webhook.join();
  // The first grant (-1) went to the main thread before the others queued.
  EXPECT_EQ(store.granted(), (std::vector<int>{-1, static_cast<int>(Priority::kWebhookFollowUp),
                                               static_cast<int>(Priority::kReconciliation),
                                               static_cast<int>(Priority::kInitialSync)}));
}

TEST(BudgetPriority, SameClassIsFirstComeFirstServed) {
  GateClock clock;
  RecordingStore store;
  RateBudgetPolicy policy;
  policy.initial_spike_limit = 1;
  RateBudget budget(store, clock, policy);
  const std::string key = "app|8";
  const SysTime far = clock.Now() + std::chrono::hours(10);
  ASSERT_TRUE(budget.Acquire(key, Priority::kReconciliation, far));
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    tl_caller = 0;
    ASSERT_TRUE(budget.Acquire(key, Priority::kReconciliation, far));
  });
  clock.WaitForSleepers(1);
  for (int i = 1; i <= 3; ++i) {
    threads.emplace_back([&, i] {
      tl_caller = i;
      ASSERT_TRUE(budget.Acquire(key, Priority::kReconciliation, far));
    });
    while (budget.Snapshot(key).waiting < i + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  clock.Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(store.granted(), (std::vector<int>{-1, 0, 1, 2, 3}));
}

TEST(BudgetPriority, FirstResponseLiftsTheConservativeBudgetPromptly) {
  GateClock clock;
  InMemoryRateBudgetStore store;
  RateBudgetPolicy policy;
  RateBudget budget(store, clock, policy);
  const std::string key = "app|8";
  const SysTime t0 = clock.Now();
  const SysTime far = t0 + std::chrono::hours(1);
  for (int i = 0; i < policy.initial_spike_limit; ++i)
    ASSERT_TRUE(budget.Acquire(key, Priority::kInitialSync, far));
  SysTime granted_at;
  std::thread waiter([&] {
    ASSERT_TRUE(budget.Acquire(key, Priority::kInitialSync, far));
    granted_at = clock.Now();
  });
  clock.WaitForSleepers(1);
  // Meanwhile the first response arrives: the spike limit is 100, not the 5 assumed.
  budget.Observe(key, Seen(t0, 100, 95, 10));
  clock.Open();
  waiter.join();
  EXPECT_LE(granted_at - t0, policy.max_sleep_slice) << "not held for the whole conservative window";
}

TEST(BudgetPriority, DeadlineReturnsWhenTheBudgetFreesUp) {
  ManualClock clock;
  InMemoryRateBudgetStore store;
  RateBudgetPolicy policy;
  policy.initial_spike_limit = 1;
  RateBudget budget(store, clock, policy);
  ASSERT_TRUE(budget.Acquire("k", Priority::kInteractive, clock.Now()));
  auto refused = budget.Acquire("k", Priority::kInteractive, clock.Now() + std::chrono::seconds(2));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), clock.Now() + policy.spike_window + policy.window_slack + Millis(1));
  EXPECT_EQ(budget.Snapshot("k").waiting, 0);
}

TEST(BudgetKeys, SeparatePerAppAndCompany) {
  EXPECT_NE(BudgetKey("https://api.procore.com", "a", 1), BudgetKey("https://api.procore.com", "a", 2));
  EXPECT_NE(BudgetKey("https://api.procore.com", "a", 1), BudgetKey("https://api.procore.com", "b", 1));
  EXPECT_NE(BudgetKey("https://api.procore.com", "a", 1), BudgetKey("https://sandbox.procore.com", "a", 1));
}

}  // namespace
}  // namespace kt::procore
