// The webhook inbox: the receiver stores each parsed event here (deduplicated by its ULID or id) before it
// answers Procore, and the insert queues the processing job in the same transaction.
//
// Group commit: concurrent Accept calls are committed together. The first caller to find no commit in
// progress becomes the leader and stores every waiting event in one transaction; the others sleep until the
// transaction that holds their event has committed. Each caller still returns only after its own event is
// durable, but N concurrent deliveries cost one commit instead of N.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "queue/queue.h"
#include "store/store.h"
#include "sync/webhook_event.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::sync {

// Job kind that processes a client's inbox.
inline constexpr char kWebhookJob[] = "sync.webhook";

struct InboxOptions {
  // Processing starts this long after the first event of a burst, so the burst's events for one record
  // coalesce into one fetch (a burst keeps coalescing anyway: events arriving while a job runs wait for its
  // successor).
  Millis coalesce_window{150};
  int64_t job_priority = 10;  // before bulk reads (lower runs first)
};

struct AcceptResult {
  bool duplicate = false;  // the event was already stored (Procore redelivered it)
  int64_t inbox_id = 0;    // 0 for a duplicate
};

struct InboxCounts {
  int64_t pending = 0;
  int64_t done = 0;
  int64_t dropped = 0;
};

class Inbox {
 public:
  Inbox(store::Store& store, queue::Queue& queue, Clock& clock, InboxOptions options = {});

  // Stores the event durably (once per client and event key) and queues its processing. `raw_body` is kept as
  // the payload when given; otherwise a JSON rendering of the event is. Safe to call from many threads.
  Result<AcceptResult> Accept(int64_t client_id, const WebhookEvent& event, std::string_view raw_body = {});

  // Deletes processed events older than the cutoff (keep them past Procore's 12-hour redelivery horizon so
  // redeliveries are still recognised). Returns how many went.
  Result<int64_t> PurgeProcessed(int64_t processed_before_ms);
  Result<InboxCounts> Counts(int64_t client_id);

  // Queues processing of the client's inbox (used by the engine and its scheduler). `slot` picks one of two
  // dedupe keys, so a finishing processor can queue its successor.
  static Status QueueProcessing(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t run_at_ms,
                                int64_t priority, char slot = 'a');

  // Called (outside any transaction) after processing was queued to run `delay` from now, so an in-process
  // worker can wake for it instead of waiting for its next poll. Set before serving; may be empty.
  using WakeHook = std::function<void(Millis delay)>;
  void SetWakeHook(WakeHook hook) { wake_hook_ = std::move(hook); }
  void Wake(Millis delay) const {
    if (wake_hook_) wake_hook_(delay);
  }

 private:
  struct PendingAccept {
    int64_t client_id = 0;
    const WebhookEvent* event = nullptr;
    std::string payload;
    Result<AcceptResult> result;
    bool done = false;
  };
  // Stores a batch in one transaction (each event alone if that fails, so one bad event fails only itself).
  void CommitBatch(const std::vector<PendingAccept*>& batch);
  Status InsertAll(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now);

  store::Store& store_;
  queue::Queue& queue_;
  Clock& clock_;
  InboxOptions options_;
  WakeHook wake_hook_;

  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::vector<PendingAccept*> waiting_;  // not yet taken by a leader
  bool committing_ = false;
};

}  // namespace kt::sync
