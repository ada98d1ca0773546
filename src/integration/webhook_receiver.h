// The webhook receiver's logic: integration key → (client, secret hash) from an in-memory cache, a
// constant-time Authorization check, then the event parsed and stored durably in the sync inbox.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
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
};

class WebhookReceiver {
 public:
  WebhookReceiver(store::Store& store, crypto::SecretStore& secrets, sync::Inbox& inbox, Clock& clock,
                  ReceiverOptions options = {});

  ReceiveOutcome Receive(const Delivery& delivery);
  // Drops cached keys of a client (called on every change of its hook, secret or status).
  void Invalidate(int64_t client_id);

 private:
  struct Cached {
    std::optional<ReceiverEntry> entry;  // nullopt: the key is unknown
    int64_t loaded_at_ms = 0;
  };
  Result<Cached> Lookup(const std::string& key, bool force_reload);

  store::Store& store_;
  crypto::SecretStore& secrets_;
  sync::Inbox& inbox_;
  Clock& clock_;
  ReceiverOptions options_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, Cached> cache_;
};

// True for a JSON media type ("application/json", "application/json; charset=utf-8", "application/x+json").
bool IsJsonContentType(std::string_view content_type);

}  // namespace kt::integration
