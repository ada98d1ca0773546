// Receiving one webhook delivery: checks in order of cost, and nothing stored unless every check passed.
#include "integration/webhook_receiver.h"

#include <mutex>

#include "sync/webhook_event.h"
#include "util/hash.h"
#include "util/strings.h"

namespace kt::integration {
namespace {

// Unknown keys are cached too, but only briefly, so a flood of bad keys does not hit the database each time
// while a new integration's key is found within a second.
constexpr int64_t kUnknownKeyTtlMs = 1'000;
constexpr size_t kMaxCachedKeys = 10'000;

ReceiveOutcome Reject(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message)};
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  std::string type = ToLower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type == "application/json") return true;
  return StartsWith(type, "application/") && type.size() > 5 && type.substr(type.size() - 5) == "+json";
}

WebhookReceiver::WebhookReceiver(store::Store& store, crypto::SecretStore& secrets, sync::Inbox& inbox,
                                 Clock& clock, ReceiverOptions options)
    : store_(store), secrets_(secrets), inbox_(inbox), clock_(clock), options_(options) {}

void WebhookReceiver::Invalidate(int64_t client_id) {
  std::unique_lock lock(mu_);
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (!it->second.entry || it->second.entry->client_id == client_id) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<WebhookReceiver::Cached> WebhookReceiver::Lookup(const std::string& key, bool force_reload) {
  const int64_t now = clock_.NowUnixMs();
  if (!force_reload) {
    std::shared_lock lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      int64_t ttl = it->second.entry ? options_.cache_ttl.count() : kUnknownKeyTtlMs;
      if (now - it->second.loaded_at_ms < ttl) return it->second;
    }
  }
  auto loaded = LoadReceiverEntry(store_, secrets_, key);
  if (!loaded) return tl::unexpected(loaded.error());
  Cached fresh{std::move(*loaded), now};
  std::unique_lock lock(mu_);
  if (cache_.size() >= kMaxCachedKeys) cache_.clear();
  cache_[key] = fresh;
  return fresh;
}

ReceiveOutcome WebhookReceiver::Receive(const Delivery& d) {
  // Integration keys are base64url tokens; anything else cannot be one (and never reaches the database).
  if (d.integration_key.empty() || d.integration_key.size() > 128 ||
      d.integration_key.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != std::string_view::npos)
    return Reject(404, "unknown_integration", "No integration has this webhook address.");
  const std::string key(d.integration_key);
  auto cached = Lookup(key, false);
  if (!cached)
    return Reject(503, "unavailable", "KTrack cannot receive webhooks right now; Procore will retry.");
  if (!cached->entry) return Reject(404, "unknown_integration", "No integration has this webhook address.");

  std::string_view presented = Trim(d.authorization);
  if (presented.size() > 7 && IEquals(presented.substr(0, 7), "bearer "))
    presented = Trim(presented.substr(7));
  auto matches = [&](const ReceiverEntry& e) {
    const std::string hash = Sha256Hex(presented);
    bool ok = ConstantTimeEquals(hash, e.secret_hash);
    if (!e.previous_secret_hash.empty()) ok = ConstantTimeEquals(hash, e.previous_secret_hash) || ok;
    return ok && !presented.empty();
  };
  if (!matches(*cached->entry)) {
    // The secret may have been rotated by another process since the key was cached.
    if (clock_.NowUnixMs() - cached->loaded_at_ms < options_.reload_after_failure.count())
      return Reject(401, "unauthorized",
                    "The Authorization header does not match this integration's webhook secret.");
    cached = Lookup(key, true);
    if (!cached)
      return Reject(503, "unavailable", "KTrack cannot receive webhooks right now; Procore will retry.");
    if (!cached->entry) return Reject(404, "unknown_integration", "No integration has this webhook address.");
    if (!matches(*cached->entry))
      return Reject(401, "unauthorized",
                    "The Authorization header does not match this integration's webhook secret.");
  }
  const ReceiverEntry& entry = *cached->entry;

  if (!IsJsonContentType(d.content_type))
    return Reject(415, "unsupported_media_type", "Webhook deliveries must be sent as application/json.");
  if (d.body.size() > options_.max_body_bytes)
    return Reject(413, "payload_too_large", "The delivery is larger than KTrack accepts.");
  auto event = sync::ParseWebhookEvent(d.body);
  if (!event)
    return Reject(400, event.error().code.empty() ? "invalid_webhook_payload" : event.error().code,
                  event.error().message);
  if (entry.company_id != 0 && event->company_id != 0 && event->company_id != entry.company_id)
    return Reject(400, "wrong_company",
                  "The event belongs to another Procore company than this integration's.");

  auto accepted = inbox_.Accept(entry.client_id, *event, d.body);
  if (!accepted) return Reject(503, "unavailable", "KTrack could not store the event; Procore will retry.");
  return {200, accepted->duplicate ? "duplicate" : "accepted", ""};
}

}  // namespace kt::integration
