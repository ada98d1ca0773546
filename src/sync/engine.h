// The sync engine: streams per client and scope, initial and incremental reads committed page by page with
// their checkpoint, reconciliation, webhook event processing, stream status and the read side.
//
// Work runs as queue jobs, one live job per stream (dedupe key "sync.stream:<id>:<seq>"): a job reads a few
// pages, each committed with the stream's checkpoint in one transaction, then hands over to a successor job
// with the next seq. A job whose seq no longer matches the stream's does nothing, and every page commit
// checks the checkpoint it started from, so a crash or a reclaimed lease can neither skip nor double-apply a
// page.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "procore/errors.h"
#include "procore/pagination.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/client_source.h"
#include "sync/inbox.h"
#include "sync/scope.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::sync {

struct StreamDigest;  // sync/records.h

inline constexpr char kStreamJob[] = "sync.stream";
inline constexpr char kReconcileJob[] = "sync.reconcile";

struct SyncOptions {
  int pages_per_job = 4;    // pages one job reads before handing over (fairness between streams)
  Millis overlap{120'000};  // incremental reads start this far before the watermark
  int max_full_passes = 3;  // full reads in a row while Procore's Total and ours disagree
  int64_t default_reconcile_interval_s = 3600;
  Millis error_backoff_base{60'000};  // permission/tool/project errors: retried later, not hot
  Millis error_backoff_cap{3'600'000};
  Millis transient_backoff_base{15'000};  // Procore unavailable, unreadable pages
  Millis transient_backoff_cap{900'000};
  Millis rate_limit_fallback{60'000};  // when a rate-limit error names no time
  Millis stuck_after{300'000};         // Tick re-queues streams with work and no progress for this long
  Millis stranded_inbox_after{2'000};  // Tick re-queues inboxes with events pending this long
  // Inbox events claimed at a time: coalesced per record, and re-read per (stream, project) with id-filtered
  // lists. While Procore's budget makes a run slow, the next one finds more events waiting and batches more.
  int webhook_batch = 1000;
  // Before a webhook job's first batch is claimed, a burst may keep arriving: the claim waits until the inbox
  // has not grown for webhook_gather_quiet, or for half the time the batch's reads take of the budget's
  // share, whichever comes first (at most webhook_gather_max).
  Millis webhook_gather_quiet{300};
  Millis webhook_gather_max{5'000};
  // Under a flood of deliveries (more than webhook_flood_rate a second to this server), a webhook job waits
  // for it to ease before each batch, for at most webhook_flood_wait at a time: the CPU goes to acknowledging
  // and storing the deliveries (Procore's 5 s timeout), and a burst's events for one record coalesce into one
  // read. Then it processes one batch and looks again, so processing never stops altogether.
  double webhook_flood_rate = 2'000;
  Millis webhook_flood_wait{2'000};
  // How long a webhook job's claim on inbox events lasts; the running job renews it every third of that, so
  // it bounds only how soon a crashed job's events are read again.
  Millis inbox_claim_lease{60'000};
  int64_t stream_job_priority = 100;  // queue priorities: lower runs first
  int64_t reconcile_job_priority = 50;
  InboxOptions inbox;
};

struct StreamError {
  std::string code;
  std::string message;
  std::string fix;
};

// One stream as GET /streams shows it (interfaces.md), with progress beside it.
struct StreamStatus {
  int64_t id = 0;
  std::string stream;
  std::optional<int64_t> project_id;  // none for company streams
  std::string project_name;
  std::string status;  // pending, syncing, synced, rate_limited, error, paused
  std::string phase;   // initial, incremental
  int64_t count = 0;   // live records KTrack holds
  std::optional<int64_t> procore_total;
  std::string checksum;
  std::optional<int64_t> last_synced_at_ms;
  std::optional<StreamError> error;
  std::optional<int64_t> rate_limited_until_ms;
  int64_t pass_read = 0;         // records read in the current read
  std::optional<int64_t> eta_s;  // estimated seconds until the current read completes
};

// A stream stopped on an error: in error, or paused waiting for a fix in Procore (one paused by the settings
// has no error). The pages count these as failing.
inline bool StoppedOnError(const StreamStatus& s) {
  return s.status == "error" || (s.status == "paused" && s.error);
}

// interfaces.md shape plus extras: {"stream", "project_id", "status", "count", "procore_total", "checksum",
// "last_synced_at" (ISO-8601 or null), "error" ({code, message, fix} or null), "project_name", "phase",
// "rate_limited_until", "progress", "eta_s"}.
nlohmann::json StreamStatusJson(const StreamStatus& status);

struct RecordsQuery {
  int64_t client_id = 0;
  std::string stream;
  std::optional<int64_t> project_id;  // project streams: one project, or all when absent
  int64_t page = 1;
  int64_t per_page = 100;  // capped at 1,000
  bool include_deleted = false;
  // Only records whose Procore JSON contains this text (ASCII letters in any case); empty: every record.
  std::string search;
};

struct RecordItem {
  int64_t procore_id = 0;
  std::optional<int64_t> project_id;
  std::string updated_at;
  bool deleted = false;
  std::string body;  // the Procore JSON as received
};

struct RecordsPage {
  std::vector<RecordItem> records;
  int64_t total = 0;
  int64_t page = 1;
  int64_t per_page = 100;
};

// {"records": [<body with nothing re-serialised>...], "total", "page", "per_page"}: the JSON of the page.
std::string RecordsPageJson(const RecordsPage& page);

namespace internal {
struct StreamRow;  // one sync_streams row (engine_internal.h)
struct FetchItem;  // records a burst of webhook events asks to re-read (engine_internal.h)
struct FetchOutcome;
}  // namespace internal

class SyncEngine {
 public:
  SyncEngine(store::Store& store, queue::Queue& queue, ProcoreClientSource& source, Clock& clock,
             SyncOptions options = {});

  // --- Called by the integration ---
  // Creates or updates the client's streams (status pending, initial sync queued for new ones), resumes
  // paused ones back in scope, and pauses those no longer in scope (their data is kept).
  Status ApplyScope(const SyncScope& scope);
  // The same with the scope read inside the applying transaction, so it is never older than what it
  // replaces; nothing is applied when the source answers no scope.
  using ScopeSource = std::function<Result<std::optional<SyncScope>>(store::Tx&)>;
  Status ApplyScope(const ScopeSource& source);
  // Reconciles now: all streams of the client, or one stream and/or one project's streams. Answers how many
  // streams were asked (paused ones are not: they reconcile when they resume).
  Result<int64_t> RequestReconcile(int64_t client_id, std::optional<std::string> stream = std::nullopt,
                                   std::optional<int64_t> project_id = std::nullopt);
  // Retries streams in error or rate_limited now, and webhook processing waiting a retry's backoff (e.g.
  // after the customer fixed a permission, or Procore answers again).
  Status RetryNow(int64_t client_id);
  // Forgets a project's (or a client's) synced data and streams.
  Status PurgeProject(int64_t client_id, int64_t project_id);
  Status PurgeClient(int64_t client_id);

  // --- Called by the app ---
  // Registers the handlers for kStreamJob, kReconcileJob and kWebhookJob.
  void RegisterHandlers(queue::Worker& worker);
  // On SQLite (one machine): webhook events claimed by a process of this machine that is gone (a server
  // killed mid-batch) are processed at once rather than when their claim ends. Returns how many; the worker's
  // start does the same for jobs (queue::Queue::ReleaseLeasesOfDeadProcesses).
  Result<int64_t> ReleaseInboxClaimsOfDeadProcesses();
  // Runs one job of one of those kinds (the worker's handler).
  Status HandleJob(const queue::Job& job);
  // The scheduler's periodic call (every few seconds): queues due reconciliations, and re-queues streams and
  // inboxes whose work stalled (a job dead-lettered, a wake-up lost).
  Status Tick();

  // --- Read side (API and pages) ---
  Result<std::vector<StreamStatus>> ListStreams(int64_t client_id);
  Result<RecordsPage> ListRecords(const RecordsQuery& query);

  Inbox& inbox() { return inbox_; }

 private:
  using StreamRow = internal::StreamRow;
  enum class PageOutcome;

  Status RunStreamJob(int64_t stream_id, int64_t seq);
  Status RunReconcileJob(int64_t client_id);
  Status RunWebhookJob(int64_t client_id, char slot);
  Result<internal::FetchOutcome> FetchRecords(procore::Client& client, int64_t client_id,
                                              const std::string& token,
                                              const std::vector<internal::FetchItem>& items);
  bool ListsFilterById(const std::string& stream);
  void NoIdFilter(const std::string& stream);

  Status ReadPages(StreamRow& row, procore::Client& client);
  Result<PageOutcome> CommitPage(StreamRow& row, const procore::Page* page, int64_t seen_ms, int next_page,
                                 bool done, bool hand_over);
  // Ends a read: the stream is synced with the digest. with_checkpoint: row holds the read's last page, whose
  // checkpoint this UPDATE writes too.
  Status FinishRead(store::Tx& tx, StreamRow& row, const StreamDigest& digest, std::optional<int64_t> total,
                    const std::string& wants, int64_t now, bool with_checkpoint = false);
  Result<bool> StartPass(store::Tx& tx, StreamRow& row, const std::string& kind, int64_t full_passes,
                         int64_t now, bool hand_over);
  Status Probe(StreamRow& row, procore::Client& client);
  Status OnProcoreError(const StreamRow& row, const procore::ProcoreError& error);
  Status OnClientUnavailable(const StreamRow& row, const Error& error);
  Status Reschedule(const StreamRow& row, const std::string& status, const std::optional<StreamError>& error,
                    int64_t run_at_ms, bool count_failure, std::optional<int64_t> rate_limited_until);
  Status EnqueueStream(store::Tx& tx, int64_t stream_id, int64_t seq, int64_t run_at_ms);
  Result<int64_t> RequestWork(store::Tx& tx, const std::string& where, const store::Params& params,
                              const char* wants);
  Millis Backoff(const procore::ProcoreError& error, int64_t failures) const;

  store::Store& store_;
  queue::Queue& queue_;
  ProcoreClientSource& source_;
  Clock& clock_;
  SyncOptions options_;
  Inbox inbox_;
  std::atomic<int64_t> last_stuck_check_ms_{0};
  std::mutex id_filter_mu_;
  std::set<std::string>
      no_id_filter_;  // streams whose lists ignored filters[id][] (then records are read one by one)
};

}  // namespace kt::sync
