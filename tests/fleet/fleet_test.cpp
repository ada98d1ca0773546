// Two "processes" on one database: each has its own Store connection and its own RateBudget, FleetLease or
// queue Worker, as two `ktrack serve` processes would. Every test runs on SQLite and on PostgreSQL.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "fleet/lease.h"
#include "fleet/shared_rate_budget.h"
#include "postgres.h"
#include "process.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt {
namespace {

using namespace std::chrono_literals;

enum class Backend { kSqlite, kPostgres };

std::string BackendName(Backend b) {
  return b == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class Fleet : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      url_ = "sqlite:" + dir_.path() + "/ktrack.db";
    } else {
      std::string why_not;
      if (!testing::PostgresServer::Available(&why_not)) GTEST_SKIP() << "no PostgreSQL here: " << why_not;
      std::string name =
          std::string("fleet_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
      url_ = testing::PostgresServer::Instance().CreateDatabase(name.substr(0, 60));
    }
    a_ = Open();
    ASSERT_TRUE(store::Migrate(*a_));
    b_ = Open();
  }

  std::unique_ptr<store::Store> Open() {
    auto s = store::OpenStore(url_);
    EXPECT_TRUE(s) << s.error().message << " " << s.error().detail;
    return s ? std::move(*s) : nullptr;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<store::Store> a_, b_;  // two processes' connections
};

TEST(SharedRateBudgetEncoding, SendLogRoundTripsCompactly) {
  std::vector<int64_t> sends;
  int64_t t = 1'764'000'000'000;
  for (int i = 0; i < 3600; ++i) sends.push_back(t += 400 + (i * 37) % 900);  // an hour at full rate
  const std::string text = fleet::EncodeSendLog(sends);
  EXPECT_LT(text.size(), 12'000u) << "about 3 characters per send";
  auto back = fleet::DecodeSendLog(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sends);
  EXPECT_EQ(*fleet::DecodeSendLog(""), std::vector<int64_t>{});
  for (const char* bad : {"1,,2", "1,", "zz!", ",1", "5,-1"}) EXPECT_FALSE(fleet::DecodeSendLog(bad)) << bad;
}

TEST(SharedRateBudgetEncoding, StateRoundTrips) {
  procore::RateBudgetState state;
  state.spike = {25, 7, 1'764'000'010'000, 1'764'000'000'500, 3};
  state.hourly = {3600, 3500, 1'764'003'600'000, 1'764'000'000'400, 0};
  state.saw_response = true;
  state.sends_ms = {1'764'000'000'000, 1'764'000'000'001, 1'764'000'000'500};
  state.blocked_until_ms = 1'764'000'020'000;
  state.rate_limited_count = 2;
  state.in_flight_ms = {1'764'000'000'001};
  auto back = fleet::DecodeBudgetState(fleet::EncodeBudgetState(state));
  ASSERT_TRUE(back) << back.error().detail;
  EXPECT_EQ(back->spike.limit, 25);
  EXPECT_EQ(back->spike.foreign, 3);
  EXPECT_EQ(back->hourly.reset_ms, state.hourly.reset_ms);
  EXPECT_EQ(back->sends_ms, state.sends_ms);
  EXPECT_EQ(back->blocked_until_ms, state.blocked_until_ms);
  EXPECT_EQ(back->rate_limited_count, 2);
  EXPECT_EQ(back->in_flight_ms, state.in_flight_ms);
  EXPECT_TRUE(back->saw_response);
  EXPECT_FALSE(fleet::DecodeBudgetState("{\"s\": 1}"));
  EXPECT_FALSE(fleet::DecodeBudgetState("not json"));
  // A row written before requests in flight were kept reads as none in flight.
  auto old_row = nlohmann::json::parse(fleet::EncodeBudgetState(state));
  old_row.erase("f");
  auto old_back = fleet::DecodeBudgetState(old_row.dump());
  ASSERT_TRUE(old_back);
  EXPECT_TRUE(old_back->in_flight_ms.empty());
  EXPECT_EQ(old_back->sends_ms, state.sends_ms);
}

// Two processes, two threads each, asking one budget as fast as it grants: together they never exceed the
// spike limit in any window, and they use it (nearly) fully.
TEST_P(Fleet, TwoProcessesShareOneSpikeLimit) {
  procore::RateBudgetPolicy policy;
  policy.spike_window = 1'000ms;
  policy.initial_spike_limit = 6;
  policy.max_sleep_slice = 50ms;
  fleet::SharedRateBudgetStore store_a(*a_), store_b(*b_);
  procore::RateBudget budget_a(store_a, SystemClock::Instance(), policy);
  procore::RateBudget budget_b(store_b, SystemClock::Instance(), policy);
  const std::string key = procore::BudgetKey("https://api.procore.test", "app", 42);

  std::mutex mu;
  std::vector<int64_t> granted;
  const auto end = std::chrono::steady_clock::now() + 3500ms;
  auto run = [&](procore::RateBudget& budget) {
    while (std::chrono::steady_clock::now() < end) {
      auto got = budget.Acquire(key, procore::Priority::kInitialSync, SystemClock::Instance().Now() + 10s);
      ASSERT_TRUE(got);
      // Over at once (a request still in flight would keep counting after its window). Unanswered, so it
      // teaches no limit and the initial 6 stays in force.
      procore::RateObservation seen;
      seen.granted_at = got->at;
      seen.sent_at = seen.received_at = got->at;
      seen.answered = false;
      budget.Observe(key, seen);
      std::lock_guard lock(mu);
      granted.push_back(SystemClock::Instance().NowUnixMs());
    }
  };
  std::vector<std::thread> threads;
  for (auto* b : {&budget_a, &budget_b, &budget_a, &budget_b}) threads.emplace_back(run, std::ref(*b));
  for (auto& t : threads) t.join();

  // The shared send log holds the time of every grant as decided (responses observed at once move nothing),
  // both processes' together: no window of the spike's length holds more than the limit. (Times read by the
  // threads after Acquire returned would be late by however long a loaded machine took to run them.)
  const std::vector<int64_t> sends = store_a.Load(key).sends_ms;
  ASSERT_EQ(sends.size(), granted.size()) << "every grant is in the shared log";
  size_t worst = 0;
  for (size_t i = 0; i < sends.size(); ++i) {
    size_t j = i;
    while (j < sends.size() && sends[j] < sends[i] + 1'000) ++j;
    worst = std::max(worst, j - i);
  }
  EXPECT_LE(worst, 6u) << "sends in one spike window, both processes together";
  EXPECT_GE(granted.size(), 18u) << "the budget is used: 6 a second for about 3.5 s";
  EXPECT_EQ(sends, store_b.Load(key).sends_ms);
}

// What one process learns (a 429 with Retry-After) holds back the other.
TEST_P(Fleet, A429SeenByOneProcessHoldsBackTheOther) {
  procore::RateBudgetPolicy policy;
  fleet::SharedRateBudgetStore store_a(*a_), store_b(*b_);
  const std::string key = procore::BudgetKey("https://api.procore.test", "app", 7);
  const SysTime now = SysTime(std::chrono::seconds(1'764'000'000));
  ASSERT_TRUE(store_a.TryAcquire(key, now, policy).granted);
  procore::RateObservation seen;
  seen.sent_at = now;
  seen.received_at = now + 100ms;
  seen.rate_limited = true;
  seen.retry_after = 30s;
  store_a.Observe(key, seen, policy);
  auto refused = store_b.TryAcquire(key, now + 1s, policy);
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.retry_at, now + 100ms + 30s);
  EXPECT_EQ(store_b.Load(key).rate_limited_count, 1);
  EXPECT_TRUE(store_b.TryAcquire(key, now + 31s, policy).granted);
}

TEST_P(Fleet, OneLeaseHolderAtATime) {
  ManualClock clock;
  fleet::FleetLease a(*a_, clock, "scheduler", "a"), b(*b_, clock, "scheduler", "b");
  EXPECT_TRUE(*a.Hold(10s));
  EXPECT_FALSE(*b.Hold(10s));
  clock.Advance(5s);
  EXPECT_TRUE(*a.Hold(10s)) << "renewed";
  clock.Advance(9s);
  EXPECT_FALSE(*b.Hold(10s)) << "the renewal counts from its own time";
  clock.Advance(2s);
  EXPECT_TRUE(*b.Hold(10s)) << "a's lease expired";
  EXPECT_FALSE(*a.Hold(10s));
  ASSERT_TRUE(b.Release());
  EXPECT_TRUE(*a.Hold(10s)) << "released: taken at once";
  fleet::FleetLease other(*b_, clock, "another", "b");
  EXPECT_TRUE(*other.Hold(10s)) << "leases are per name";
}

// A server killed on this machine and started again takes the scheduler lease at once on SQLite (one machine)
// rather than after it; a holder on another host, or alive, keeps it. PostgreSQL's holders may be elsewhere.
TEST_P(Fleet, ALeaseOfAProcessGoneFromThisMachineIsTakenAtOnce) {
  ManualClock clock;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string here = std::string(host) + "-";
  const bool sqlite = a_->dialect() == store::Dialect::kSqlite;

  fleet::FleetLease alive(*a_, clock, "alive", here + std::to_string(::getppid()) + "-1");
  ASSERT_TRUE(*alive.Hold(60s));
  EXPECT_FALSE(*fleet::FleetLease(*b_, clock, "alive", fleet::ProcessHolderName()).Hold(60s));

  fleet::FleetLease elsewhere(*a_, clock, "elsewhere", "another-host-" + std::to_string(child) + "-1");
  ASSERT_TRUE(*elsewhere.Hold(60s));
  EXPECT_FALSE(*fleet::FleetLease(*b_, clock, "elsewhere", fleet::ProcessHolderName()).Hold(60s));

  fleet::FleetLease killed(*a_, clock, "scheduler", here + std::to_string(child) + "-1");
  ASSERT_TRUE(*killed.Hold(60s));
  fleet::FleetLease restarted(*b_, clock, "scheduler", fleet::ProcessHolderName());
  EXPECT_EQ(*restarted.Hold(60s), sqlite);
  EXPECT_NE(*killed.Hold(60s), sqlite) << "taken over: the old holder no longer has it";
}

// Many contenders at once: exactly one wins each round.
TEST_P(Fleet, ContendedLeaseHasOneWinner) {
  ManualClock clock;
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i) {
      threads.emplace_back([&, i] {
        fleet::FleetLease lease(i % 2 ? *a_ : *b_, clock, "contended", "p" + std::to_string(round * 10 + i));
        auto held = lease.Hold(10s);
        ASSERT_TRUE(held) << held.error().detail;
        if (*held) ++winners;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(winners.load(), 1) << "round " << round;
    clock.Advance(11s);
  }
}

// A handler that outlives its lease while another worker takes the job over: both completions are counted,
// so a job run to completion twice is visible in jobs.completions.
TEST_P(Fleet, CompletionsCountJobsRunTwice) {
  ManualClock clock;
  SeededRandom random(1);
  queue::Queue qa(*a_, clock, random), qb(*b_, clock, random);
  auto id = qa.Enqueue("work", "{}");
  ASSERT_TRUE(id);
  auto first = qa.Claim("worker-a", {}, 5s);
  ASSERT_TRUE(first && *first);
  clock.Advance(6s);  // a's lease runs out mid-handler
  auto second = qb.Claim("worker-b", {}, 5s);
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->id, *id);
  ASSERT_TRUE(qb.Complete(**second));
  auto late = qa.Complete(**first);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "lease_lost");
  auto n = a_->Query("SELECT completions, status FROM jobs WHERE id = $1", {*id});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->rows[0].Int(0), 2);
  EXPECT_EQ(n->rows[0].Text(1), "done");

  auto once = qa.Enqueue("work", "{}");
  auto claimed = qb.Claim("worker-b", {}, 5s);
  ASSERT_TRUE(claimed && *claimed);
  ASSERT_TRUE(qb.Complete(**claimed));
  EXPECT_EQ(a_->Query("SELECT completions FROM jobs WHERE id = $1", {*once})->rows[0].Int(0), 1);
}

// What the shared budget costs per Procore request (one TryAcquire and one Observe transaction), printed for
// docs/SCALING.md; the in-memory store is the baseline.
TEST_P(Fleet, CostPerRequestIsPrinted) {
  procore::RateBudgetPolicy policy;
  policy.initial_spike_limit = 100'000;
  fleet::SharedRateBudgetStore shared(*a_);
  procore::InMemoryRateBudgetStore memory;
  const std::string key = procore::BudgetKey("https://api.procore.test", "app", 9);
  auto measure = [&](procore::RateBudgetStore& store) {
    const auto start = std::chrono::steady_clock::now();
    SysTime now = SysTime(std::chrono::seconds(1'764'000'000));
    procore::RateObservation seen;
    seen.headers.limit = 100'000;
    seen.headers.remaining = 99'000;
    seen.headers.reset = 9;
    for (int i = 0; i < 500; ++i) {
      now += 7ms;  // ~500 sends kept in the log, as under a busy hour
      EXPECT_TRUE(store.TryAcquire(key, now, policy).granted);
      seen.sent_at = now;
      seen.received_at = now + 1ms;
      store.Observe(key, seen, policy);
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / 500;
  };
  const double in_memory = measure(memory), in_db = measure(shared);
  EXPECT_EQ(shared.Load(key).sends_ms.size(), 500u);
  std::printf("[ figures  ] %s: %.0f us per request's budget round trip in the database, %.1f us in memory\n",
              BackendName(GetParam()).c_str(), in_db, in_memory);
}

INSTANTIATE_TEST_SUITE_P(fleet, Fleet, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace kt
