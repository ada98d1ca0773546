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

// Integration keys are base64url tokens; anything else cannot be one (and never reaches the database).
bool IsIntegrationKey(std::string_view key) {
  return !key.empty() && key.size() <= 128 &&
         key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
             std::string_view::npos;
}

ReceiveOutcome UnknownKey() {
  return Reject(404, "unknown_integration", "No integration has this webhook address.");
}
ReceiveOutcome BadSecret() {
  return Reject(401, "unauthorized",
                "The Authorization header does not match this integration's webhook secret.");
}
// The deliveries an I/O thread took in its current turn, journaled together once it is done with them
// (ReceiverOptions::after_ready). A thread serves one server, but the receiver is kept with each delivery.
struct Turn {
  std::vector<WebhookReceiver*> receivers;
  std::vector<sync::Inbox::JournaledDelivery> deliveries;
  std::vector<WebhookReceiver::ReceiveDone> done;
};
thread_local Turn turn;

ReceiveOutcome Unavailable() {
  return Reject(503, "unavailable", "KTrack cannot receive webhooks right now; Procore will retry.");
}

std::string_view PresentedSecret(std::string_view authorization) {
  std::string_view presented = Trim(authorization);
  if (IStartsWith(presented, "bearer ")) presented = Trim(presented.substr(7));
  return presented;
}

// Compares the presented secret's SHA-256 with the stored one in constant time (both are 64 hex digits, so
// the length tells nothing), against the previous secret too during a rotation's grace period.
bool SecretMatches(const ReceiverEntry& e, std::string_view presented) {
  const std::string hash = Sha256Hex(presented);
  bool ok = DigestEquals(hash, e.secret_hash);
  if (!e.previous_secret_hash.empty()) ok = DigestEquals(hash, e.previous_secret_hash) || ok;
  return ok && !presented.empty();
}

// Durable in the inbox's journal: whether it is a redelivery is known once it is stored.
ReceiveOutcome Accepted() {
  return {200, "accepted", ""};
}

ReceiveOutcome AcceptOutcome(const Result<sync::AcceptResult>& accepted) {
  if (!accepted) return Reject(503, "unavailable", "KTrack could not store the event; Procore will retry.");
  return {200, accepted->duplicate ? "duplicate" : "accepted", ""};
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  const std::string_view type = Trim(content_type.substr(0, content_type.find(';')));
  if (IEquals(type, "application/json")) return true;
  constexpr std::string_view kPrefix = "application/", kSuffix = "+json";  // application/vnd.x+json
  return type.size() > kPrefix.size() + kSuffix.size() && IEquals(type.substr(0, kPrefix.size()), kPrefix) &&
         IEquals(type.substr(type.size() - kSuffix.size()), kSuffix);
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

std::optional<WebhookReceiver::Cached> WebhookReceiver::CachedEntry(std::string_view key) {
  const int64_t now = clock_.NowUnixMs();
  std::shared_lock lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  int64_t ttl = it->second.entry ? options_.cache_ttl.count() : kUnknownKeyTtlMs;
  if (now - it->second.loaded_at_ms >= ttl) return std::nullopt;
  return it->second;
}

Result<WebhookReceiver::Cached> WebhookReceiver::Lookup(const std::string& key, bool force_reload) {
  if (!force_reload) {
    if (auto cached = CachedEntry(key)) return *cached;
  }
  const int64_t now = clock_.NowUnixMs();
  auto loaded = LoadReceiverEntry(store_, secrets_, key);
  if (!loaded) return tl::unexpected(loaded.error());
  Cached fresh{std::move(*loaded), now};
  std::unique_lock lock(mu_);
  if (cache_.size() >= kMaxCachedKeys) cache_.clear();
  cache_[key] = fresh;
  return fresh;
}

std::optional<ReceiveOutcome> WebhookReceiver::CheckEvent(const ReceiverEntry& entry, const Delivery& d,
                                                          sync::WebhookEvent& event) const {
  if (!IsJsonContentType(d.content_type))
    return Reject(415, "unsupported_media_type", "Webhook deliveries must be sent as application/json.");
  if (d.body.size() > options_.max_body_bytes)
    return Reject(413, "payload_too_large", "The delivery is larger than KTrack accepts.");
  auto parsed = sync::ParseWebhookEvent(d.body);
  if (!parsed)
    return Reject(400, parsed.error().code.empty() ? "invalid_webhook_payload" : parsed.error().code,
                  parsed.error().message);
  if (entry.company_id != 0 && parsed->company_id != 0 && parsed->company_id != entry.company_id)
    return Reject(400, "wrong_company",
                  "The event belongs to another Procore company than this integration's.");
  event = std::move(*parsed);
  return std::nullopt;
}

ReceiveOutcome WebhookReceiver::Receive(const Delivery& d) {
  if (!IsIntegrationKey(d.integration_key)) return UnknownKey();
  const std::string key(d.integration_key);
  auto cached = Lookup(key, false);
  if (!cached) return Unavailable();
  if (!cached->entry) return UnknownKey();

  const std::string_view presented = PresentedSecret(d.authorization);
  if (!SecretMatches(*cached->entry, presented)) {
    // The secret may have been rotated by another process since the key was cached.
    if (clock_.NowUnixMs() - cached->loaded_at_ms < options_.reload_after_failure.count()) return BadSecret();
    cached = Lookup(key, true);
    if (!cached) return Unavailable();
    if (!cached->entry) return UnknownKey();
    if (!SecretMatches(*cached->entry, presented)) return BadSecret();
  }
  const ReceiverEntry& entry = *cached->entry;

  sync::WebhookEvent event;
  if (auto refused = CheckEvent(entry, d, event)) return *refused;
  if (std::string body(d.body); inbox_.AcceptJournaled(entry.client_id, event, body)) return Accepted();
  auto accepted = inbox_.Accept(entry.client_id, event, d.body);
  return AcceptOutcome(accepted);
}

bool WebhookReceiver::TryReceive(const Delivery& d, ReceiveDone done) {
  if (!IsIntegrationKey(d.integration_key)) {
    done(UnknownKey());
    return true;
  }
  auto cached = CachedEntry(d.integration_key);
  if (!cached) return false;  // the key must be read from the database
  if (!cached->entry) {
    done(UnknownKey());
    return true;
  }
  if (!SecretMatches(*cached->entry, PresentedSecret(d.authorization))) {
    // A rotation elsewhere is looked for (in the database) at most every reload_after_failure.
    if (clock_.NowUnixMs() - cached->loaded_at_ms >= options_.reload_after_failure.count()) return false;
    done(BadSecret());
    return true;
  }
  const ReceiverEntry& entry = *cached->entry;
  sync::WebhookEvent event;
  if (auto refused = CheckEvent(entry, d, event)) {
    done(std::move(*refused));
    return true;
  }
  Store(entry.client_id, std::move(event), std::string(d.body), std::move(done));
  return true;
}

void WebhookReceiver::Store(int64_t client_id, sync::WebhookEvent event, std::string body, ReceiveDone done) {
  turn.receivers.push_back(this);
  turn.deliveries.push_back({.client_id = client_id, .event = std::move(event), .raw_body = std::move(body)});
  turn.done.push_back(std::move(done));
  // The first of a turn asks for the turn's end; without one (or outside an I/O thread) it is journaled now.
  if (turn.done.size() == 1 && !(options_.after_ready && options_.after_ready(RunTurn))) RunTurn();
}

void WebhookReceiver::RunTurn() {
  Turn taken;
  std::swap(taken, turn);  // answering may start the next turn's deliveries on this thread
  for (size_t at = 0; at < taken.receivers.size();) {
    size_t end = at + 1;
    while (end < taken.receivers.size() && taken.receivers[end] == taken.receivers[at]) ++end;
    taken.receivers[at]->Journal(std::span(taken.deliveries).subspan(at, end - at),
                                 std::span(taken.done).subspan(at, end - at));
    at = end;
  }
}

void WebhookReceiver::Journal(std::span<sync::Inbox::JournaledDelivery> deliveries,
                              std::span<ReceiveDone> done) {
  inbox_.AcceptJournaled(deliveries);
  for (size_t i = 0; i < deliveries.size(); ++i) {
    sync::Inbox::JournaledDelivery& d = deliveries[i];
    if (d.journaled) {
      done[i](Accepted());
      continue;
    }
    inbox_.AcceptAsync(d.client_id, std::move(d.event), std::move(d.raw_body),
                       [answer = std::move(done[i])](const Result<sync::AcceptResult>& accepted) {
                         answer(AcceptOutcome(accepted));
                       });
  }
}

}  // namespace kt::integration
