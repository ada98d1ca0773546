// Retries: the backoff schedule and its jitter bounds, Retry-After and X-Rate-Limit-Reset honoured, what is
// retried and what is not, and the bound on total time.
#include "procore/retry.h"

#include <gtest/gtest.h>

#include "fake_procore.h"

namespace kt::procore {
namespace {

using testing::FixedRandom;
using testing::Harness;
using testing::Respond;
using testing::TransportFailure;

TEST(Backoff, ScheduleDoublesUpToTheCap) {
  RetryPolicy p;  // 500 ms base, 30 s cap
  std::vector<int64_t> expected = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(BackoffCeiling(p, static_cast<int>(i)).count(), expected[i]);
  EXPECT_EQ(BackoffCeiling(p, 1000).count(), 30000);  // no overflow
}

TEST(Backoff, FullJitterStaysWithinBounds) {
  RetryPolicy p;
  FixedRandom low(0.0), high(1.0);
  for (int retry = 0; retry < 10; ++retry) {
    EXPECT_EQ(BackoffDelay(p, retry, low).count(), 0);
    EXPECT_EQ(BackoffDelay(p, retry, high), BackoffCeiling(p, retry));
  }
  SeededRandom random(99);
  for (int retry = 0; retry < 8; ++retry) {
    const int64_t ceiling = BackoffCeiling(p, retry).count();
    double sum = 0;
    constexpr int kSamples = 4000;
    for (int i = 0; i < kSamples; ++i) {
      int64_t d = BackoffDelay(p, retry, random).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      sum += static_cast<double>(d);
    }
    // Full jitter: uniform over [0, ceiling], so the mean is near half the ceiling.
    EXPECT_NEAR(sum / kSamples, ceiling / 2.0, ceiling * 0.05);
  }
}

TEST(Backoff, HintedDelayIsAtLeastTheHint) {
  RetryPolicy p;
  FixedRandom high(1.0), low(0.0);
  EXPECT_EQ(HintedDelay(p, Millis(7000), low).count(), 7000);
  EXPECT_EQ(HintedDelay(p, Millis(7000), high).count(), 7000 + p.hint_jitter.count());
}

ApiRequest Get() {
  ApiRequest r;
  r.path = "/rest/v1.0/projects/5/rfis";
  r.company_id = 8;
  return r;
}

class Retries : public ::testing::Test {
 protected:
  FixedRandom high_{1.0};
  Harness h{nullptr, {}, {}, &high_};
  std::vector<http::ClientResponse> script_;
  size_t next_ = 0;

  void Script(std::vector<http::ClientResponse> responses) {
    script_ = std::move(responses);
    next_ = 0;
    h.procore.AddRoute("/rest/v1.0/projects/5/rfis", [this](const http::ClientRequest&) {
      return next_ < script_.size() ? script_[next_++] : Respond(200, "[]");
    });
  }
  int Sent() { return h.transport.Count("/rest/v1.0/projects/5/rfis"); }
  Millis Slept() { return h.manual_clock.SleptTotal(); }
};

TEST_F(Retries, ServerErrorsBackOffExponentially) {
  Script({Respond(500, ""), Respond(502, ""), Respond(503, ""), Respond(200, "[]")});
  auto r = h.client.Send(Get());
  ASSERT_TRUE(r) << r.error().error.detail;
  EXPECT_EQ(r->attempts, 4);
  EXPECT_EQ(Sent(), 4);
  // Random pinned high: the waits are exactly the ceilings 0.5 s, 1 s, 2 s.
  EXPECT_EQ(Slept(), Millis(3500));
}

TEST_F(Retries, RetryAfterSecondsHonoured) {
  Script({Respond(503, "busy", {{"Retry-After", "7"}}), Respond(200, "[]")});
  ASSERT_TRUE(h.client.Send(Get()));
  EXPECT_EQ(Slept(), Millis(7000 + 250));
}

TEST_F(Retries, RetryAfterHttpDateHonoured) {
  auto when = FormatHttpDate(h.manual_clock.Now() + std::chrono::seconds(20));
  Script({Respond(503, "busy", {{"Retry-After", when}}), Respond(200, "[]")});
  ASSERT_TRUE(h.client.Send(Get()));
  EXPECT_GE(Slept(), Millis(20000));
  EXPECT_LE(Slept(), Millis(20250));
}

TEST_F(Retries, TooManyRequestsWaitsForRetryAfter) {
  Script({Respond(429, R"({"errors":"You have surpassed the max number of requests for an hour."})",
                  {{"Retry-After", "12"}}),
          Respond(200, "[]")});
  auto start = h.manual_clock.Now();
  ASSERT_TRUE(h.client.Send(Get()));
  auto requests = h.transport.requests();
  EXPECT_GE(h.manual_clock.Now() - start, std::chrono::seconds(12));
  EXPECT_EQ(Sent(), 2);
}

TEST_F(Retries, TooManyRequestsWithoutRetryAfterWaitsForReset) {
  int64_t reset = h.manual_clock.NowUnixS() + 40;
  Script({Respond(429, "{}",
                  {{"X-Rate-Limit-Limit", "600"},
                   {"X-Rate-Limit-Remaining", "0"},
                   {"X-Rate-Limit-Reset", std::to_string(reset)}}),
          Respond(200, "[]")});
  auto start = h.manual_clock.Now();
  ASSERT_TRUE(h.client.Send(Get()));
  EXPECT_GE(h.manual_clock.Now() - start, std::chrono::seconds(40));
  EXPECT_LE(h.manual_clock.Now() - start, std::chrono::seconds(42));
}

TEST_F(Retries, OtherClientErrorsAreNotRetried) {
  for (int status : {400, 403, 404, 406, 409, 422}) {
    Script({Respond(status, "{}")});
    int before = Sent();
    auto r = h.client.Send([] {
      auto g = Get();
      g.diagnose = false;
      return g;
    }());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().http_status, status);  // Procore's answer, not a failure of the client's own
    EXPECT_EQ(Sent() - before, 1) << status;
  }
}

TEST_F(Retries, NetworkFailuresAreRetriedForReads) {
  Script({TransportFailure("timeout"), TransportFailure("connection_refused"), Respond(200, "[]")});
  auto r = h.client.Send(Get());
  ASSERT_TRUE(r);
  EXPECT_EQ(Sent(), 3);
}

TEST_F(Retries, PostsAreRetriedOnlyWhenNotProcessed) {
  auto post = [] {
    ApiRequest r = Get();
    r.method = "POST";
    r.body = "{}";
    return r;
  };
  Script({TransportFailure("timeout")});
  EXPECT_FALSE(h.client.Send(post()));
  EXPECT_EQ(Sent(), 1);
  Script({Respond(500, "")});
  EXPECT_FALSE(h.client.Send(post()));
  EXPECT_EQ(Sent(), 2);
  Script({TransportFailure("connection_refused"), Respond(503, ""), Respond(201, "{}")});
  EXPECT_TRUE(h.client.Send(post()));
  EXPECT_EQ(Sent(), 5);
}

TEST_F(Retries, TotalTimeIsBounded) {
  std::vector<http::ClientResponse> outage(100, Respond(503, ""));
  Script(outage);
  ApiRequest r = Get();
  r.max_total = Millis(10'000);
  auto result = h.client.Send(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProcoreUnavailable);
  EXPECT_LE(Slept(), Millis(10'000));
  // 0.5 + 1 + 2 + 4 = 7.5 s slept; the next 8 s wait would pass the bound.
  EXPECT_EQ(Sent(), 5);
  EXPECT_TRUE(result.error().retry_at.has_value());
}

TEST_F(Retries, AttemptsAreBounded) {
  std::vector<http::ClientResponse> outage(100, TransportFailure("timeout"));
  Script(outage);
  ApiRequest r = Get();
  r.max_total = Millis(3'600'000);
  auto result = h.client.Send(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(Sent(), RetryPolicy{}.max_attempts);
  EXPECT_EQ(result.error().code, ErrorCode::kProcoreUnavailable);
  EXPECT_NE(result.error().error.message.find("did not answer in time"), std::string::npos);
}

TEST_F(Retries, LongRetryAfterBeyondTheBoundFailsFastWithUntil) {
  Script({Respond(429, "{}", {{"Retry-After", "600"}})});
  ApiRequest r = Get();
  r.max_total = Millis(60'000);
  auto start = h.manual_clock.Now();
  auto result = h.client.Send(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kRateLimited);
  ASSERT_TRUE(result.error().retry_at);
  EXPECT_GE(*result.error().retry_at - start, std::chrono::seconds(600));
  EXPECT_LT(h.manual_clock.Now() - start, std::chrono::seconds(2))
      << "does not sleep when it cannot succeed in time";
  // The status page can say until when.
  auto until = h.client.RateLimitedUntil(8);
  ASSERT_TRUE(until);
  EXPECT_GE(*until - start, std::chrono::seconds(600));
}

}  // namespace
}  // namespace kt::procore
