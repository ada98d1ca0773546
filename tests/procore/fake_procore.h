// Test doubles for the Procore client: a scriptable transport and a small in-process fake of Procore
// (OAuth tokens, a spike-window rate limiter, routes) driven by an injected clock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "procore/client.h"
#include "procore/headers.h"
#include "procore/rate_budget.h"
#include "procore/token_cache.h"
#include "procore/transport.h"
#include "util/clock.h"
#include "util/random.h"
#include "util/strings.h"

namespace kt::procore::testing {

inline http::ClientResponse Respond(int status, std::string body = "",
                                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  for (auto& [k, v] : headers) r.headers.Add(k, v);
  return r;
}

inline http::ClientResponse TransportFailure(std::string error) {
  http::ClientResponse r;
  r.transport_error = std::move(error);
  r.timed_out = r.transport_error == "timeout";
  return r;
}

// "/rest/v1.0/me" from "http://host:1/rest/v1.0/me?x=1".
inline std::string PathOf(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : url.find('/', scheme + 3);
  if (start == std::string::npos) return "/";
  size_t q = url.find('?', start);
  return url.substr(start, q == std::string::npos ? std::string::npos : q - start);
}

inline QueryParams QueryOf(const std::string& url) {
  size_t q = url.find('?');
  if (q == std::string::npos) return {};
  return ParseQuery(std::string_view(url).substr(q + 1));
}

class FakeTransport final : public Transport {
 public:
  using Handler = std::function<http::ClientResponse(const http::ClientRequest&)>;
  void SetHandler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }
  http::ClientResponse Send(const http::ClientRequest& request) override {
    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      handler = handler_;
    }
    return handler ? handler(request) : Respond(500, "no handler");
  }
  std::vector<http::ClientRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int Count(std::string_view path) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& r : requests_) n += PathOf(r.url) == path;
    return n;
  }

 private:
  std::mutex mu_;
  Handler handler_;
  std::vector<http::ClientRequest> requests_;
};

// A fake Procore: issues tokens, checks them, limits requests per sliding spike window, and routes the rest.
class FakeProcore {
 public:
  using Route = std::function<http::ClientResponse(const http::ClientRequest&)>;

  explicit FakeProcore(Clock& clock) : clock_(clock) {}

  int64_t token_lifetime_s = 5400;
  // Requests answered per spike window (0: no limit) and the window; hourly limit likewise.
  int64_t spike_limit = 0;
  Millis spike_window{10'000};
  bool send_rate_headers = true;
  std::string expected_secret = "kt-Zq9-secret-value";

  void AddRoute(std::string path, Route route) {
    std::lock_guard lock(mu_);
    routes_[std::move(path)] = std::move(route);
  }
  // Makes every token issued so far invalid (as an expiry would).
  void RevokeAllTokens() {
    std::lock_guard lock(mu_);
    valid_tokens_.clear();
  }
  int tokens_issued() {
    std::lock_guard lock(mu_);
    return tokens_issued_;
  }
  int rate_limited() {
    std::lock_guard lock(mu_);
    return rate_limited_;
  }
  // Arrival times (ms) of the API requests that were let through.
  std::vector<int64_t> served_ms() {
    std::lock_guard lock(mu_);
    return served_ms_;
  }
  // The most requests served within any spike window.
  int64_t MaxInAnyWindow() {
    auto served = served_ms();
    int64_t best = 0;
    size_t lo = 0;
    for (size_t hi = 0; hi < served.size(); ++hi) {
      while (served[hi] - served[lo] >= spike_window.count()) ++lo;
      best = std::max<int64_t>(best, static_cast<int64_t>(hi - lo + 1));
    }
    return best;
  }

  http::ClientResponse Handle(const http::ClientRequest& request) {
    const std::string path = PathOf(request.url);
    if (path == "/oauth/token") return Token(request);
    std::unique_lock lock(mu_);
    auto auth = request.headers.Get("Authorization").value_or("");
    if (!StartsWith(auth, "Bearer ") || !valid_tokens_.count(auth.substr(7))) {
      return Respond(401, R"({"error":"invalid_token","error_description":"The access token is invalid"})");
    }
    const int64_t now = clock_.NowUnixMs();
    std::vector<std::pair<std::string, std::string>> headers;
    if (spike_limit > 0) {
      // Sliding window over arrival times.
      while (!window_.empty() && window_.front() <= now - spike_window.count())
        window_.erase(window_.begin());
      int64_t reset_s = (window_.empty() ? now : window_.front()) / 1000 + spike_window.count() / 1000;
      if (static_cast<int64_t>(window_.size()) >= spike_limit) {
        ++rate_limited_;
        return Respond(
            429,
            R"({"errors":"You have surpassed the max number of requests. Please wait until your limit resets."})",
            {{"X-Rate-Limit-Limit", std::to_string(spike_limit)},
             {"X-Rate-Limit-Remaining", "0"},
             {"X-Rate-Limit-Reset", std::to_string(reset_s)},
             {"Date", FormatHttpDate(clock_.Now())}});
      }
      window_.push_back(now);
      if (send_rate_headers) {
        headers = {
            {"X-Rate-Limit-Limit", std::to_string(spike_limit)},
            {"X-Rate-Limit-Remaining", std::to_string(spike_limit - static_cast<int64_t>(window_.size()))},
            {"X-Rate-Limit-Reset", std::to_string(reset_s)},
            {"Date", FormatHttpDate(clock_.Now())}};
      }
    }
    served_ms_.push_back(now);
    auto it = routes_.find(path);
    Route route = it == routes_.end() ? Route() : it->second;
    lock.unlock();
    http::ClientResponse response = route ? route(request) : Respond(404, R"({"errors":"Not Found"})");
    for (auto& [k, v] : headers) response.headers.Add(k, v);
    return response;
  }

 private:
  http::ClientResponse Token(const http::ClientRequest& request) {
    auto form = ParseQuery(request.body);
    std::lock_guard lock(mu_);
    if (FindParam(form, "grant_type") != "client_credentials" ||
        FindParam(form, "client_secret") != expected_secret) {
      return Respond(
          401,
          R"({"error":"invalid_client","error_description":"Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."})");
    }
    std::string token = "token-" + std::to_string(++tokens_issued_);
    valid_tokens_[token] = true;
    return Respond(200, R"({"access_token":")" + token + R"(","token_type":"bearer","expires_in":)" +
                            std::to_string(token_lifetime_s) + R"(,"created_at":1700000000})");
  }

  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, bool> valid_tokens_;
  int tokens_issued_ = 0;
  int rate_limited_ = 0;
  std::vector<int64_t> window_;
  std::vector<int64_t> served_ms_;
};

// Randomness pinned to one point of its range (0: always the low end, 1: always the high end).
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double at) : at_(at) {}
  double Uniform() override { return at_; }
  int64_t UniformInt(int64_t lo, int64_t hi) override {
    return lo + static_cast<int64_t>(static_cast<double>(hi - lo) * at_);
  }

 private:
  double at_;
};

// A client wired to fakes: a manual clock by default, a seeded random, in-memory budget.
struct Harness {
  explicit Harness(Clock* clock_override = nullptr, RateBudgetPolicy policy = {}, RetryPolicy retry = {},
                   Random* random_override = nullptr)
      : clock(clock_override ? *clock_override : manual_clock),
        random(random_override ? *random_override : seeded),
        procore(clock),
        budget(store, clock, policy),
        tokens(transport, clock, random),
        client(MakeOptions(retry), ClientDeps{transport, clock, random, tokens, budget, nullptr}) {
    transport.SetHandler([this](const http::ClientRequest& r) { return procore.Handle(r); });
  }

  static ClientOptions MakeOptions(RetryPolicy retry) {
    ClientOptions o;
    o.app.urls = EnvironmentUrls{Environment::kCustom, "http://127.0.0.1:9", "http://127.0.0.1:9"};
    o.app.client_id = "client";
    o.app.client_secret = "kt-Zq9-secret-value";
    o.retry = retry;
    return o;
  }

  ManualClock manual_clock;
  Clock& clock;
  SeededRandom seeded{42};
  Random& random;
  FakeTransport transport;
  FakeProcore procore;
  InMemoryRateBudgetStore store;
  RateBudget budget;
  TokenCache tokens;
  Client client;
};

}  // namespace kt::procore::testing
