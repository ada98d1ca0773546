// Token requests (POST {login}/oauth/token, form-encoded client credentials) and the per-app cache.
#include "procore/token_cache.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "procore/headers.h"
#include "util/hash.h"
#include "util/strings.h"

namespace kt::procore {
namespace {

void Redact(std::string& text, const std::string& secret) {
  if (secret.size() < 4) return;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "[redacted]");
  }
}

std::optional<int64_t> JsonInt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return static_cast<int64_t>(it->get<double>());
  if (it->is_string()) return ParseInt64(it->get<std::string>());
  return std::nullopt;
}

}  // namespace

TokenCache::TokenCache(Transport& transport, Clock& clock, Random& random, TokenPolicy policy,
                       ClientMetrics* metrics)
    : transport_(transport),
      clock_(clock),
      random_(random),
      policy_(policy),
      metrics_(metrics ? *metrics : NoMetrics()) {}

std::string TokenCache::SlotKey(const AppCredentials& app) {
  return app.urls.login_url + "\n" + app.client_id;
}

ProcoreResult<std::string> TokenCache::Get(const AppCredentials& app) {
  std::unique_lock lock(mu_);
  auto& ptr = slots_[SlotKey(app)];
  if (!ptr) ptr = std::make_unique<Slot>();
  Slot& slot = *ptr;
  // Keyed SipHash, not SHA-256: this runs on every Procore request (SHA-256 was 0.5% of a sync's CPU).
  const uint64_t fingerprint = SecretFingerprint(app.client_secret);
  if (slot.secret_fingerprint != fingerprint) {
    // New credentials for the same app: the old token must not be used for them.
    slot.token.reset();
    slot.secret_fingerprint = fingerprint;
  }
  SysTime now = clock_.Now();
  if (slot.token && now < slot.token->renew_at) return slot.token->value;
  if (slot.renewing) {
    if (slot.token && now < slot.token->expires_at) return slot.token->value;  // still valid: no need to wait
    return AwaitRenewal(lock, slot);
  }
  slot.renewing = true;
  return Renew(lock, slot, app);
}

ProcoreResult<std::string> TokenCache::RenewAfterRejection(const AppCredentials& app,
                                                           const std::string& rejected) {
  std::unique_lock lock(mu_);
  auto& ptr = slots_[SlotKey(app)];
  if (!ptr) ptr = std::make_unique<Slot>();
  Slot& slot = *ptr;
  if (slot.renewing) return AwaitRenewal(lock, slot);
  if (slot.token && slot.token->value != rejected) return slot.token->value;  // someone renewed already
  slot.token.reset();
  slot.renewing = true;
  return Renew(lock, slot, app);
}

void TokenCache::Forget(const AppCredentials& app) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(SlotKey(app));
  if (it != slots_.end() && !it->second->renewing) slots_.erase(it);
}

int64_t TokenCache::fetch_count() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

ProcoreResult<std::string> TokenCache::AwaitRenewal(std::unique_lock<std::mutex>& lock, Slot& slot) {
  uint64_t generation = slot.generation;
  cv_.wait(lock, [&] { return slot.generation != generation; });
  if (slot.last_error) return tl::unexpected(*slot.last_error);
  if (!slot.token) return FailWith(ErrorCode::kInvalidResponse, {});
  return slot.token->value;
}

ProcoreResult<std::string> TokenCache::Renew(std::unique_lock<std::mutex>& lock, Slot& slot,
                                             const AppCredentials& app) {
  lock.unlock();
  auto fetched = Fetch(app);
  lock.lock();
  slot.renewing = false;
  ++slot.generation;
  cv_.notify_all();
  if (!fetched) {
    // A still-valid older token stays usable until it expires.
    slot.last_error = fetched.error();
    return tl::unexpected(fetched.error());
  }
  slot.last_error.reset();
  slot.token = std::move(*fetched);
  return slot.token->value;
}

ProcoreResult<AccessToken> TokenCache::Fetch(const AppCredentials& app) {
  {
    std::lock_guard lock(mu_);
    ++fetches_;
  }
  http::ClientRequest request;
  request.method = "POST";
  request.url = app.urls.login_url + "/oauth/token";
  request.timeout = policy_.timeout;
  request.connect_timeout = policy_.connect_timeout;
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.headers.Set("Accept", "application/json");
  request.headers.Set("User-Agent", UserAgent());
  // Form encoding is the safest of the three encodings Procore's docs show (§2.2).
  request.body = "grant_type=client_credentials&client_id=" + UrlEncode(app.client_id) +
                 "&client_secret=" + UrlEncode(app.client_secret);

  const SysTime start = clock_.Now();
  for (int attempt = 1;; ++attempt) {
    http::ClientResponse response = transport_.Send(request);
    const SysTime now = clock_.Now();
    if (response.transport_error.empty() && response.status == 200) {
      auto j = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
      auto token = j.is_object() ? j.find("access_token") : j.end();
      if (j.is_object() && token != j.end() && token->is_string() && !token->get<std::string>().empty()) {
        metrics_.OnTokenRequest(true);
        AccessToken out;
        out.value = token->get<std::string>();
        out.obtained_at = now;
        auto expires_in = JsonInt(j, "expires_in");
        Millis lifetime =
            expires_in && *expires_in > 0 ? Millis(*expires_in * 1000) : policy_.assumed_lifetime;
        auto lead = std::min(
            policy_.max_lead,
            Millis(static_cast<int64_t>(static_cast<double>(lifetime.count()) * policy_.renew_lead_share)));
        out.expires_at = now + lifetime;
        out.renew_at = out.expires_at - lead;
        return out;
      }
      metrics_.OnTokenRequest(false);
      Evidence ev;
      ev.status = response.status;
      ev.method = "POST";
      ev.path = "/oauth/token";
      ev.request_id = response.headers.Get("X-Request-Id").value_or("");
      ev.environment = std::string(EnvironmentName(app.urls.environment));
      return FailWith(ErrorCode::kInvalidResponse, {}, ev);  // the body may hold a token: never kept
    }
    metrics_.OnTokenRequest(false);

    Evidence ev;
    ev.status = response.status;
    ev.transport_error = response.transport_error;
    ev.method = "POST";
    ev.path = "/oauth/token";
    ev.request_id = response.headers.Get("X-Request-Id").value_or("");
    ev.environment = std::string(EnvironmentName(app.urls.environment));
    ev.body = ParseErrorBody(response.body);
    Redact(ev.body.message, app.client_secret);
    for (auto& f : ev.body.fields) Redact(f.message, app.client_secret);
    std::optional<Millis> hint;
    if (auto ra = response.headers.Get("Retry-After")) hint = ParseRetryAfter(*ra, now);
    if (hint) ev.retry_at = now + *hint;
    ErrorCode code = ClassifyTokenFailure(ev);

    const bool retryable = code == ErrorCode::kProcoreUnavailable || code == ErrorCode::kRateLimited;
    if (!retryable || attempt >= policy_.retry.max_attempts) return FailWith(code, {}, ev);
    Millis delay =
        hint ? HintedDelay(policy_.retry, *hint, random_) : BackoffDelay(policy_.retry, attempt - 1, random_);
    if (now + delay - start > policy_.retry.max_total) return FailWith(code, {}, ev);
    metrics_.OnRetry("oauth", code == ErrorCode::kRateLimited ? "429" : response.status ? "5xx" : "network");
    clock_.SleepFor(delay);
  }
}

}  // namespace kt::procore
