// The webhook receiver's logic: integration key → (client, secret hash) from an in-memory cache, a
// constant-time Authorization check, then the event parsed and stored durably in the sync inbox.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/secret_store.h"
#include "integration/integration_store.h"
#include "store/store.h"
#include "sync/inbox.h"
#include "util/clock.h"

namespace kt::integration {

struct Delivery {
  std::string_view integration_key;
  std::string_view authorization;  // the Authorization header as sent ("" when absent)
  std::string_view content_type;
  std::string_view body;
};

// The answer to Procore. Rejections store nothing.
struct ReceiveOutcome {
  int http_status = 200;  // 200, 400, 401, 404, 413, 415, 503
  std::string code;       // "accepted", "duplicate", "unknown_integration", "unauthorized", ...
  std::string message;
};

struct ReceiverOptions {
  size_t max_body_bytes = 256 << 10;
  // How long a cached key is trusted before it is read again (other processes may rotate or disconnect).
  Millis cache_ttl{30'000};
  // After a failed Authorization check, the key is re-read at most this often (a rotation elsewhere).
  Millis reload_after_failure{2'000};
  // Runs a function on the calling thread once the requests that were ready with the current one are
  // handled, returning false where it cannot (the HTTP server's http::AfterReadyRequests). When set,
  // TryReceive journals the deliveries an I/O thread took together with one append, and answers them after
  // it; when empty, or where it returns false, each delivery is journaled alone at once.
  std::function<bool(std::function<void()>)> after_ready;
};

class WebhookReceiver {
 public:
  WebhookReceiver(store::Store& store, crypto::SecretStore& secrets, sync::Inbox& inbox, Clock& clock,
                  ReceiverOptions options = {});

  // Checks the delivery and stores it (in the inbox's journal when it has one), blocking until the event is
  // durable (or refused). May read the database (a key not cached, or a secret that may have been rotated).
  ReceiveOutcome Receive(const Delivery& delivery);
  // The same without blocking, for the HTTP I/O thread: when everything it needs is cached it takes the
  // delivery (returns true) and calls `done` exactly once: at once for a refusal or for an event durable in
  // the inbox's journal, else from the inbox's committer once the event is stored. Returns false, having done
  // nothing, when the key must be read from the database first: the caller then runs Receive where blocking
  // is fine. `done` must not block.
  using ReceiveDone = std::function<void(ReceiveOutcome)>;
  bool TryReceive(const Delivery& delivery, ReceiveDone done);
  // Drops cached keys of a client (called on every change of its hook, secret or status).
  void Invalidate(int64_t client_id);

 private:
  struct Cached {
    std::optional<ReceiverEntry> entry;  // nullopt: the key is unknown
    int64_t loaded_at_ms = 0;
  };
  Result<Cached> Lookup(const std::string& key, bool force_reload);
  // The cached entry when it is fresh; nullopt when the key must be read from the database.
  std::optional<Cached> CachedEntry(std::string_view key);
  // The checks after the secret: content type, size, the event itself. Sets `event` when all pass.
  std::optional<ReceiveOutcome> CheckEvent(const ReceiverEntry& entry, const Delivery& d,
                                           sync::WebhookEvent& event) const;
  // Takes a checked delivery for the inbox: into this thread's turn (see ReceiverOptions::after_ready), or
  // journaled at once.
  void Store(int64_t client_id, sync::WebhookEvent event, std::string body, ReceiveDone done);
  // Journals deliveries with one append and answers them; those the journal does not take (no journal, a
  // full backlog, a failed append) are answered once their commit is done.
  void Journal(std::span<sync::Inbox::JournaledDelivery> deliveries, std::span<ReceiveDone> done);
  // What a thread's turn gathered: run after its ready requests, for each receiver in it.
  static void RunTurn();

  store::Store& store_;
  crypto::SecretStore& secrets_;
  sync::Inbox& inbox_;
  Clock& clock_;
  ReceiverOptions options_;
  std::shared_mutex mu_;
  struct KeyHash {
    using is_transparent = void;  // looked up by string_view, without a copy of the key
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, Cached, KeyHash, std::equal_to<>> cache_;
};

// True for a JSON media type ("application/json", "application/json; charset=utf-8", "application/x+json").
bool IsJsonContentType(std::string_view content_type);

}  // namespace kt::integration
