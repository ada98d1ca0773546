// The webhook inbox: the receiver makes each parsed event durable here before it answers Procore; it is
// stored once (deduplicated by its ULID or id), and the insert queues the processing job in the same
// transaction.
//
// Group commit: events are handed to one committer thread, which stores everything waiting in one
// transaction, then tells each caller its result. While a transaction commits, the next batch gathers, so N
// concurrent deliveries cost one commit instead of N. AcceptAsync returns at once and reports from the
// committer once the event is durable (the HTTP receiver's I/O thread never waits); Accept waits for it.
//
// With a journal (a SQLite store: InboxOptions::journal_dir), AcceptJournaled makes the event durable with
// one append to this process's journal file (sync/inbox_journal.h) and returns, so the receiver answers
// Procore without waiting for the committer; the committer stores it in the database afterwards, as above,
// at most a thousand journaled events a transaction after the events whose callers wait for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "queue/queue.h"
#include "store/store.h"
#include "sync/inbox_journal.h"
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
  // Where this process's journal goes; empty: no journal (every accept waits for its commit). Only for a
  // database of this machine (SQLite): a journal is local, and PostgreSQL's processes may be on other hosts.
  std::string journal_dir;
  // AcceptJournaled declines while this many journaled events wait for the committer: the deliveries then
  // wait for their commits, which slows Procore's sending to what the database takes (and bounds memory).
  size_t journal_backlog = 20'000;
  // Journaled events alone (their deliveries answered, nobody waiting for the commit) are gathered this long,
  // or until a commit's worth (a thousand) is there, before the committer stores them: a commit rewrites the
  // pages it touches (the ends of the inbox's table and indexes) whole, so under a flood a few large commits
  // cost less CPU a delivery than many small ones. An event whose caller waits is committed at once, with
  // them. Events reach the database up to this much later; processing waits coalesce_window anyway.
  Millis journaled_gather{10};
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

// One event as the inbox keeps it, for people: what arrived and what processing made of it.
struct InboxEntry {
  int64_t id = 0;
  int64_t received_at_ms = 0;
  std::string resource_name;
  std::string event_type;
  int64_t resource_id = 0;
  std::optional<int64_t> project_id;
  std::string status;   // pending, done or dropped
  std::string outcome;  // empty while pending: fetched, deleted, current, not_found, echo, not_in_scope, ...
  std::optional<int64_t> processed_at_ms;
};

// The newest events of a client, newest first, and what became of the last `window` of them (by status and
// by outcome).
struct RecentInbox {
  std::vector<InboxEntry> events;
  int64_t window = 0;  // how many events the counts cover (at most the window asked for)
  InboxCounts counts;
  std::vector<std::pair<std::string, int64_t>> by_outcome;  // most frequent first
};

class Inbox {
 public:
  Inbox(store::Store& store, queue::Queue& queue, Clock& clock, InboxOptions options = {});
  // Stores what is still waiting, then stops the committer.
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Stores the event durably (once per client and event key) and queues its processing. `raw_body` is kept as
  // the payload when given; otherwise a JSON rendering of the event is. Safe to call from many threads.
  Result<AcceptResult> Accept(int64_t client_id, const WebhookEvent& event, std::string_view raw_body = {});
  // The same without waiting: `done` runs exactly once, on the committer thread after the transaction holding
  // the event committed (or failed), or at once on this thread for an incomplete event. It must not block.
  using AcceptDone = std::function<void(Result<AcceptResult>)>;
  void AcceptAsync(int64_t client_id, WebhookEvent event, std::string raw_body, AcceptDone done);
  // With a journal: appends the delivery (`raw_body`, from which `event` was parsed) to it and queues it for
  // the committer, returning true once it is durable; the caller answers Procore "accepted" (a redelivery is
  // recognised when it is stored). False, having done nothing, without a journal, for an incomplete event,
  // while the backlog is full or when the append failed: the caller then uses AcceptAsync.
  // `event` and `raw_body` are moved from only when it returns true.
  bool AcceptJournaled(int64_t client_id, WebhookEvent& event, std::string& raw_body);
  // The same for several deliveries with one append: each taken is marked `journaled` (its event and body
  // moved from); the others are left as they were.
  struct JournaledDelivery {
    int64_t client_id = 0;
    WebhookEvent event;
    std::string raw_body;
    bool journaled = false;
  };
  void AcceptJournaled(std::span<JournaledDelivery> deliveries);
  // Stores the events of the journals of this machine's processes that are gone (a server killed after
  // answering Procore, before its committer stored them) and removes those journals. Returns how many events
  // were read (redeliveries of stored events included). Without a journal, 0.
  Result<int64_t> RecoverJournals();

  // Deletes processed events older than the cutoff (keep them past Procore's 12-hour redelivery horizon so
  // redeliveries are still recognised). Returns how many went.
  Result<int64_t> PurgeProcessed(int64_t processed_before_ms);
  // Every event the inbox keeps for the client, by status: a scan of all of them (for tests and reports).
  Result<InboxCounts> Counts(int64_t client_id);
  // The client's `limit` newest events and the outcomes of its `window` newest, each read newest first
  // through the inbox's key (no scan of the client's whole inbox).
  Result<RecentInbox> Recent(int64_t client_id, int64_t limit, int64_t window = 1000);
  // Whether an event of the client waits: one probe of the pending index, however many events are kept.
  Result<bool> HasPending(int64_t client_id);

  // Why the client's events wait, when processing failed and waits to try again: the error code of its last
  // attempt (procore_unavailable, rate_limited, invalid_credentials, ...), when it tries again and how many
  // attempts failed. Null when processing has not failed (it runs, or waits only for the coalescing window).
  struct ProcessingRetry {
    std::string code;
    int64_t retry_at_ms = 0;
    int64_t failed_attempts = 0;
  };
  Result<std::optional<ProcessingRetry>> ProcessingRetryOf(int64_t client_id);

  // Deliveries handed to this inbox a second (stored or not, for every client): over the last 100 ms or so
  // (a window starts at a delivery; one shorter than that counts as 100 ms long). Processing waits while it
  // is high.
  double ArrivalsPerSecond();

  // Queues processing of the client's inbox (used by the engine and its scheduler). `slot` picks one of two
  // dedupe keys, so a finishing processor can queue its successor.
  static Status QueueProcessing(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t run_at_ms,
                                int64_t priority, char slot = 'a');
  // The dedupe key of the client's processing job in a slot ('a' or 'b').
  static std::string ProcessingKey(int64_t client_id, char slot);
  // Processing waiting a retry's backoff runs now (Procore answers again).
  static Status ProcessNow(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t now_ms);

  // Called (outside any transaction) after processing was queued to run `delay` from now, so an in-process
  // worker can wake for it instead of waiting for its next poll. Set before serving; may be empty. The hook
  // runs under wake_mu_: once SetWakeHook returns, the hook it replaced is neither running nor called again,
  // so what it points to (serve's worker) may be destroyed.
  using WakeHook = std::function<void(Millis delay)>;
  void SetWakeHook(WakeHook hook) {
    std::lock_guard lock(wake_mu_);
    wake_hook_ = std::move(hook);
  }
  void Wake(Millis delay) const {
    std::lock_guard lock(wake_mu_);
    if (wake_hook_) wake_hook_(delay);
  }

 private:
  struct PendingAccept {
    int64_t client_id = 0;
    WebhookEvent event;
    std::string payload;
    Result<AcceptResult> result;
    AcceptDone done;               // empty for a journaled event: its caller was answered at the append
    uint64_t journal_segment = 0;  // the journal's segment holding it; 0: not journaled
    int refusals_alone = 0;        // commits that refused it while storing others (journaled only)
  };
  // Queues an accept for the committer, starting it if need be. Returns whether it must be woken. Under
  // group_mu_.
  bool QueueLocked(PendingAccept pending);
  // The committer thread: takes what waits (TakeBatchLocked), stores it, reports, until stopped with nothing
  // waiting.
  void RunCommitter();
  // The next commit's events, under group_mu_: every one whose caller waits for this commit, then journaled
  // ones (answered already) from the oldest, at most kJournaledPerCommit. So when a flood fills the journal's
  // backlog and deliveries wait for their commits again, each waits for a commit or two, not for the whole
  // backlog stored ahead of it.
  void TakeBatchLocked(std::vector<PendingAccept>& batch);
  // Stores a batch in one transaction (each event alone if that fails, so one bad event fails only itself).
  void CommitBatch(std::vector<PendingAccept>& batch);
  // After a commit, under group_mu_: journaled events that failed go back to the front of the queue (they
  // were acknowledged; the committer tries again after a pause). Returns the pause (zero when none failed).
  Millis RetryLater(std::vector<PendingAccept>& failed_journaled);
  // Inserts a batch's events (a duplicate is recognised, not inserted), their payloads, and queues
  // processing for the clients with a new one.
  Status InsertAll(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now);
  // InsertAll's events, the ids given by the database (RETURNING; PostgreSQL).
  Status InsertReturning(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now);
  // InsertAll's events, the ids given by the committer (SQLite).
  Status InsertNumbered(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now);
  Status InsertPayloads(store::Tx& tx, const std::vector<PendingAccept*>& batch);

  store::Store& store_;
  queue::Queue& queue_;
  Clock& clock_;
  InboxOptions options_;
  mutable std::mutex wake_mu_;
  WakeHook wake_hook_;  // guarded by wake_mu_

  // The arrival rate's windows, guarded by group_mu_: when the current one started (at a delivery), the
  // deliveries in it so far, and the rate of the one before.
  std::chrono::steady_clock::time_point window_started_{};
  int64_t window_arrivals_ = 0;
  double last_window_rate_ = 0;

  std::mutex group_mu_;
  std::condition_variable group_cv_;
  // Not yet taken by the committer, guarded by group_mu_: accepts whose callers wait for the commit, and
  // journaled events (their deliveries answered), oldest first.
  std::vector<PendingAccept> waiting_;
  std::deque<PendingAccept> journaled_;
  bool stopping_ = false;                  // guarded by group_mu_
  std::thread committer_;                  // started by the first accept (under group_mu_)
  std::unique_ptr<InboxJournal> journal_;  // with options_.journal_dir; its file appears with the first event
  bool journal_failing_ = false;           // the last append failed (logged once); guarded by group_mu_
  // When a full backlog was last logged; guarded by group_mu_.
  std::chrono::steady_clock::time_point backlog_logged_at_;
  int failed_commits_ = 0;  // consecutive commits of journaled events that failed (committer only)
};

}  // namespace kt::sync
