// Tokens: the client-credentials request, renewal ahead of expiry, one renewal for many callers after a 401,
// typed failures, and secrets kept out of errors.
#include "procore/token_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_procore.h"

namespace kt::procore {
namespace {

using testing::Harness;
using testing::Respond;

ApiRequest Me(int64_t company = 8) {
  ApiRequest r;
  r.path = "/rest/v1.0/me";
  r.company_id = company;
  return r;
}

TEST(Tokens, ClientCredentialsRequestIsFormEncoded) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/me", [](const http::ClientRequest&) { return Respond(200, R"({"id":1})"); });
  ASSERT_TRUE(h.client.Send(Me()));
  auto requests = h.transport.requests();
  ASSERT_GE(requests.size(), 2u);
  const auto& token = requests[0];
  EXPECT_EQ(token.method, "POST");
  EXPECT_EQ(token.url, "http://127.0.0.1:9/oauth/token");
  EXPECT_EQ(token.headers.Get("Content-Type"), "application/x-www-form-urlencoded");
  auto form = ParseQuery(token.body);
  EXPECT_EQ(FindParam(form, "grant_type"), "client_credentials");
  EXPECT_EQ(FindParam(form, "client_id"), "client");
  EXPECT_EQ(FindParam(form, "client_secret"), "kt-Zq9-secret-value");
  EXPECT_FALSE(token.headers.Get("Procore-Company-Id"));
}

TEST(Tokens, CachedAndRenewedAheadOfExpiry) {
  Harness h;
  h.procore.token_lifetime_s = 5400;
  h.procore.AddRoute("/rest/v1.0/me", [](const http::ClientRequest&) { return Respond(200, "{}"); });
  ASSERT_TRUE(h.client.Send(Me()));
  ASSERT_TRUE(h.client.Send(Me()));
  EXPECT_EQ(h.procore.tokens_issued(), 1);
  // 5,400 s token: renewed 5 minutes before expiry, not after.
  h.manual_clock.Advance(std::chrono::seconds(5400 - 301));
  ASSERT_TRUE(h.client.Send(Me()));
  EXPECT_EQ(h.procore.tokens_issued(), 1);
  h.manual_clock.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(h.client.Send(Me()));
  EXPECT_EQ(h.procore.tokens_issued(), 2);
  // Renewed ahead of time: no request was ever refused.
  EXPECT_EQ(h.transport.Count("/rest/v1.0/me"), 4);
}

TEST(Tokens, ShortLifetimeRenewsAtEightyPercent) {
  Harness h;
  h.procore.token_lifetime_s = 60;
  h.procore.AddRoute("/rest/v1.0/me", [](const http::ClientRequest&) { return Respond(200, "{}"); });
  ASSERT_TRUE(h.client.Send(Me()));
  h.manual_clock.Advance(std::chrono::seconds(47));
  ASSERT_TRUE(h.client.Send(Me()));
  EXPECT_EQ(h.procore.tokens_issued(), 1);
  h.manual_clock.Advance(std::chrono::seconds(2));  // 49 s: past 48 s (80 %)
  ASSERT_TRUE(h.client.Send(Me()));
  EXPECT_EQ(h.procore.tokens_issued(), 2);
}

TEST(Tokens, OneRenewalForManyCallersAfter401) {
  Harness h;
  std::atomic<int> served{0};
  h.procore.AddRoute("/rest/v1.0/me", [&](const http::ClientRequest&) {
    ++served;
    return Respond(200, "{}");
  });
  ASSERT_TRUE(h.client.Send(Me()));
  ASSERT_EQ(h.procore.tokens_issued(), 1);
  // Procore invalidates the token early (say, revoked); every in-flight caller gets a 401.
  h.procore.RevokeAllTokens();
  // Slow token endpoint so callers pile up behind the one renewal.
  h.transport.SetHandler([&](const http::ClientRequest& r) {
    if (testing::PathOf(r.url) == "/oauth/token") std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return h.procore.Handle(r);
  });
  constexpr int kThreads = 12;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (h.client.Send(Me())) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(h.procore.tokens_issued(), 2) << "exactly one renewal after the 401s";
}

TEST(Tokens, PersistentUnauthorizedIsAppNotInstalledAfterOneRenewal) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/companies/8/me",
                     [](const http::ClientRequest&) { return Respond(401, R"({"error":"unauthorized"})"); });
  ApiRequest r;
  r.path = "/rest/v1.0/companies/8/me";
  r.company_id = 8;
  auto result = h.client.Send(r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAppNotInstalled);
  EXPECT_EQ(h.transport.Count("/rest/v1.0/companies/8/me"), 2) << "sent, renewed once, sent again, then stop";
  EXPECT_EQ(h.procore.tokens_issued(), 2);
}

TEST(Tokens, WrongSecretIsInvalidCredentialsAndSecretNeverInError) {
  Harness h;
  h.procore.expected_secret = "the-right-one";
  auto token = h.client.VerifyCredentials();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kInvalidCredentials);
  EXPECT_EQ(token.error().error.code, "invalid_credentials");
  EXPECT_NE(token.error().error.fix.find("OAuth Credentials"), std::string::npos);
  for (const std::string* s : {&token.error().error.message, &token.error().error.fix,
                               &token.error().error.detail, &token.error().procore_message}) {
    EXPECT_EQ(s->find("kt-Zq9-secret-value"), std::string::npos) << *s;
  }
  // An API call with bad credentials fails the same way, without retrying the token endpoint.
  auto call = h.client.Send(Me());
  ASSERT_FALSE(call);
  EXPECT_EQ(call.error().code, ErrorCode::kInvalidCredentials);
}

TEST(Tokens, EchoedSecretIsRedacted) {
  Harness h;
  h.transport.SetHandler([](const http::ClientRequest&) {
    return Respond(401,
                   R"({"error":"invalid_client","error_description":"bad secret: kt-Zq9-secret-value"})");
  });
  auto token = h.client.VerifyCredentials();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().error.detail.find("kt-Zq9-secret-value"), std::string::npos)
      << token.error().error.detail;
  EXPECT_NE(token.error().error.detail.find("[redacted]"), std::string::npos) << token.error().error.detail;
}

TEST(Tokens, RetiredServiceAccount) {
  Harness h;
  h.transport.SetHandler([](const http::ClientRequest&) {
    return Respond(
        401,
        R"({"error":"invalid_client","error_description":"This traditional service account was retired; use a Developer Managed Service Account."})");
  });
  auto token = h.client.VerifyCredentials();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kServiceAccountRetired);
  EXPECT_NE(token.error().error.fix.find("Developer Managed Service Account"), std::string::npos);
}

TEST(Tokens, TokenEndpointOutageIsRetriedThenReported) {
  Harness h;
  int calls = 0;
  h.transport.SetHandler([&](const http::ClientRequest&) {
    ++calls;
    return Respond(503, "<html><title>Down</title></html>");
  });
  auto token = h.client.VerifyCredentials();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kProcoreUnavailable);
  EXPECT_EQ(calls, TokenPolicy{}.retry.max_attempts);
}

TEST(Tokens, MissingExpiresInUsesConservativeLifetime) {
  ManualClock clock;
  SeededRandom random(1);
  testing::FakeTransport transport;
  transport.SetHandler([](const http::ClientRequest&) {
    return Respond(200, R"({"access_token":"abc","token_type":"bearer"})");
  });
  TokenCache cache(transport, clock, random);
  AppCredentials app;
  app.urls = {Environment::kCustom, "http://127.0.0.1:9", "http://127.0.0.1:9"};
  app.client_id = "c";
  app.client_secret = "s";
  auto t = cache.Fetch(app);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->expires_at - t->obtained_at, std::chrono::minutes(15));
  EXPECT_LT(t->renew_at, t->expires_at);
}

TEST(Tokens, NewSecretDropsTheCachedToken) {
  ManualClock clock;
  SeededRandom random(1);
  testing::FakeTransport transport;
  int issued = 0;
  transport.SetHandler([&](const http::ClientRequest&) {
    return Respond(200, R"({"access_token":"t)" + std::to_string(++issued) + R"(","expires_in":5400})");
  });
  TokenCache cache(transport, clock, random);
  AppCredentials app;
  app.urls = {Environment::kCustom, "http://127.0.0.1:9", "http://127.0.0.1:9"};
  app.client_id = "c";
  app.client_secret = "s1";
  EXPECT_EQ(cache.Get(app).value(), "t1");
  EXPECT_EQ(cache.Get(app).value(), "t1");
  app.client_secret = "s2";
  EXPECT_EQ(cache.Get(app).value(), "t2");
}

}  // namespace
}  // namespace kt::procore
