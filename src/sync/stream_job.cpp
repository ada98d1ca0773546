// One stream's reads: full reads (initial sync, refresh, reconciliation) that end with a sweep, incremental
// reads from the watermark that end with a count probe, each page committed with its checkpoint.
#include <algorithm>

#include "procore/pagination.h"
#include "sync/engine.h"
#include "sync/engine_internal.h"
#include "sync/records.h"
#include "util/strings.h"

namespace kt::sync {

using store::Tx;
using store::Value;

enum class SyncEngine::PageOutcome { kKeepReading, kStop, kProbe };

namespace {

// Failures that will not go away by retrying soon: they wait for the customer. A list that is not found (a
// tool or project gone) waits for the customer too.
bool WaitsForCustomer(procore::ErrorCode code) {
  return procore::NeedsCustomer(code) || code == procore::ErrorCode::kNotFound;
}

Millis Exponential(Millis base, Millis cap, int64_t failures) {
  const int64_t shift = std::clamp<int64_t>(failures - 1, 0, 20);
  const int64_t ms = base.count() << shift;
  return Millis(std::min(ms, cap.count()));
}

Value ErrorJson(const std::optional<StreamError>& e) {
  if (!e) return Value(nullptr);
  return Value(nlohmann::json{{"code", e->code}, {"message", e->message}, {"fix", e->fix}}.dump());
}

Value OptInt(const std::optional<int64_t>& v) {
  return v ? Value(*v) : Value(nullptr);
}

// The columns of a pass's checkpoint (where the read is, what it has seen, how it began), as more of an
// UPDATE of sync_streams' SET list, their parameters numbered after those already in params. A page's
// checkpoint and the end of a read write them alike.
std::string PassCheckpointSets(const internal::StreamRow& row, const std::string& wants,
                               store::Params& params) {
  std::string sets;
  auto set = [&](std::string_view column, Value value) {
    params.push_back(std::move(value));
    sets += ", ";
    sets += column;
    sets += " = $" + std::to_string(params.size());
  };
  set("next_page", Value(row.next_page));
  set("pass_read", Value(row.pass_read));
  set("pass_first_total", OptInt(row.pass_first_total));
  set("pass_max_updated_at", Value(row.pass_max_updated_at));
  set("pass_max_updated_ms", Value(row.pass_max_updated_ms));
  set("page_size", Value(row.page_size));
  set("watermark", Value(row.watermark));
  set("watermark_ms", Value(row.watermark_ms));
  set("wants", Value(wants));
  set("parent_id", Value(row.parent_id));
  set("pass_started_at", Value(row.pass_started_at));
  sets += ", started_at = COALESCE(started_at, $" + std::to_string(params.size()) + ")";
  return sets;
}

// Runs fn in a transaction that, when is_last() says the job ends with it, also completes the job the worker
// is running: one commit for a stream's last page (or its reschedule) and the job's completion, instead of
// two.
Status TransactEnding(store::Store& store, queue::Queue& queue, const std::function<Status(Tx&)>& fn,
                      const std::function<bool()>& is_last) {
  bool completed = false;
  Status s = store.Transact([&](Tx& tx) -> Status {
    completed = false;
    if (auto r = fn(tx); !r) return r;
    if (!is_last()) return {};
    auto done = queue.CompleteRunning(tx);
    if (!done) return tl::unexpected(done.error());
    completed = *done;
    return {};
  });
  if (s && completed) queue::Worker::CompletedInTransaction();
  return s;
}

}  // namespace

Millis SyncEngine::Backoff(const procore::ProcoreError& error, int64_t failures) const {
  if (WaitsForCustomer(error.code))
    return Exponential(options_.error_backoff_base, options_.error_backoff_cap, failures);
  return Exponential(options_.transient_backoff_base, options_.transient_backoff_cap, failures);
}

Status SyncEngine::RunStreamJob(int64_t stream_id, int64_t seq) {
  auto loaded = store_.Lookup(std::string("SELECT ") + kStreamColumns + " FROM sync_streams WHERE id = $1",
                              {stream_id});
  if (!loaded) return tl::unexpected(loaded.error());
  if (loaded->rows.empty()) return {};  // purged
  StreamRow row = StreamRowFrom(loaded->rows[0]);
  if (row.seq != seq || row.status == "paused")
    return {};  // a newer job owns the stream, or it is out of scope
  if (!row.endpoint) {
    return Reschedule(
        row, "error",
        StreamError{"unknown_stream", "KTrack does not know the stream \"" + row.stream + "\".", ""},
        clock_.NowUnixMs() + options_.error_backoff_cap.count(), true, std::nullopt);
  }
  auto client = source_.ClientFor(row.client_id);
  if (!client) return OnClientUnavailable(row, client.error());

  if (row.pass.empty()) {
    if (row.phase != "initial" && row.wants.empty()) return {};  // nothing asked for
    // The initial sync reads everything; so does a refresh of a stream Procore cannot filter by updated_at.
    const bool full = row.phase == "initial" || row.wants == "full" || !row.endpoint->updated_at_filter ||
                      row.watermark_ms == 0;
    const std::string kind = full ? "full" : "incremental";
    // The pass starts with its first page's commit; until then nothing is written.
    row.starting = true;
    row.stored_pass = row.pass;
    row.stored_next_page = row.next_page;
    row.consumed_wants = row.wants;
    row.pass = kind;
    row.next_page = 1;
    row.pass_started_at = clock_.NowUnixMs();
    row.pass_read = 0;
    row.pass_first_total.reset();
    row.pass_max_updated_at.clear();
    row.pass_max_updated_ms = 0;
    row.full_passes = kind == "full" ? 1 : 0;
  }
  if (row.pass == "probe") return Probe(row, **client);
  return ReadPages(row, **client);
}

Result<bool> SyncEngine::StartPass(Tx& tx, StreamRow& row, const std::string& kind, int64_t full_passes,
                                   int64_t now, bool hand_over) {
  const int64_t next_seq = row.seq + (hand_over ? 1 : 0);
  auto r = tx.Exec(
      "UPDATE sync_streams SET pass = $3, next_page = 1, pass_started_at = $4, pass_read = 0, "
      "pass_first_total = NULL, "
      "pass_max_updated_at = '', pass_max_updated_ms = 0, full_passes = $5, wants = '', status = 'syncing', "
      "started_at = COALESCE(started_at, $4), retry_at = NULL, seq = $6, updated_at = $4 WHERE id = $1 AND "
      "seq = $2",
      {row.id, row.seq, kind, now, full_passes, next_seq});
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return false;
  row.pass = kind;
  row.next_page = 1;
  row.pass_started_at = now;
  row.pass_read = 0;
  row.pass_first_total.reset();
  row.pass_max_updated_at.clear();
  row.pass_max_updated_ms = 0;
  row.full_passes = full_passes;
  row.wants.clear();
  row.status = "syncing";
  row.seq = next_seq;
  if (hand_over) {
    if (auto s = EnqueueStream(tx, row.id, row.seq, now); !s) return tl::unexpected(s.error());
  }
  return true;
}

Status SyncEngine::ReadPages(StreamRow& row, procore::Client& client) {
  if (row.endpoint->needs_parent && row.parent_id == 0) {
    // Budget rows come from a budget view; KTrack reads the first view Procore lists for the project.
    auto views = client.ListBudgetViews(row.company_id, row.project_id);
    if (!views) return OnProcoreError(row, views.error());
    if (views->empty()) {
      auto outcome =
          CommitPage(row, nullptr, clock_.NowUnixMs(), static_cast<int>(row.next_page), true, false);
      if (!outcome) return tl::unexpected(outcome.error());
      if (*outcome == PageOutcome::kProbe) return Probe(row, client);
      return {};
    }
    row.parent_id = views->front().id;  // written with the first page's checkpoint
  }

  procore::StreamListOptions options;
  options.company_id = row.company_id;
  options.project_id = row.endpoint->scope == procore::Scope::kProject ? row.project_id : 0;
  options.project_name = row.project_name;
  options.parent_id = row.parent_id;
  options.priority =
      row.phase == "initial" ? procore::Priority::kInitialSync : procore::Priority::kReconciliation;
  options.start_page = static_cast<int>(std::max<int64_t>(1, row.next_page));
  options.end_date = FarEndDate(clock_.NowUnixMs());
  if (row.pass == "incremental") {
    options.updated_from = FormatIso8601(std::max<int64_t>(0, row.watermark_ms - options_.overlap.count()));
    options.updated_to = FarEndTime(clock_.NowUnixMs());
    options.include_deleted = true;  // soft deletions show up here where Procore offers it
  }
  auto list = procore::StreamListRequest(*row.endpoint, options, clock_.Now());
  if (!list) return OnProcoreError(row, list.error());

  procore::Pager pager(client, std::move(*list));
  int pages = 0;
  while (true) {
    const int64_t seen = clock_.NowUnixMs();
    auto more = pager.Next();
    if (!more) return OnProcoreError(row, more.error());
    const bool done = !*more || pager.done();
    ++pages;
    const bool hand_over = !done && pages >= options_.pages_per_job;
    auto outcome = CommitPage(row, *more ? &pager.page() : nullptr, seen, pager.next_page(), done, hand_over);
    if (!outcome) return tl::unexpected(outcome.error());
    if (*outcome == PageOutcome::kProbe) return Probe(row, client);
    if (*outcome == PageOutcome::kStop) return {};
  }
}

Result<SyncEngine::PageOutcome> SyncEngine::CommitPage(StreamRow& row, const procore::Page* page,
                                                       int64_t seen_ms, int next_page, bool done,
                                                       bool hand_over) {
  std::vector<IncomingRecord> records;
  if (page) {
    records.reserve(page->records.size());
    for (const auto& r : page->records) records.push_back({r.id, r.updated_at, r.deleted_at, r.json});
  }
  StreamRow next;
  PageOutcome outcome = PageOutcome::kStop;
  auto write = [&](Tx& tx) -> Status {
    const int64_t now = clock_.NowUnixMs();
    next = row;
    outcome = PageOutcome::kStop;
    // The checkpoint this page continues from must still be the stream's: otherwise another job has moved on.
    const std::string& stored_pass = row.starting ? row.stored_pass : row.pass;
    const int64_t stored_next_page = row.starting ? row.stored_next_page : row.next_page;
    // A locking read of the row: the UPDATE ... RETURNING it replaces built a temporary b-tree for its one
    // value on every page.
    auto cas = tx.Query(
        "SELECT wants FROM sync_streams WHERE id = $1 AND seq = $2 AND next_page = $3 AND pass = $4" +
            std::string(tx.LockRows()),
        {row.id, row.seq, stored_next_page, stored_pass});
    if (!cas) return tl::unexpected(cas.error());
    if (cas->rows.empty()) return {};
    std::string wants = cas->rows[0].Text(0);
    if (row.starting) {
      // The pass now begins for good: it answers the request it was started for (a newer one stays). Its
      // start is written with the page's checkpoint below.
      if (wants == row.consumed_wants) wants.clear();
      next.starting = false;
    }

    // A full read's page is stored as one row (record_pages.h); other reads change records one by one.
    auto stats = row.pass == "full" ? WritePage(tx, row.Scope(), row.pass_started_at,
                                                std::max<int64_t>(1, row.next_page), records, seen_ms)
                                    : UpsertRecords(tx, row.Scope(), records, seen_ms);
    if (!stats) return tl::unexpected(stats.error());
    next.pass_read += static_cast<int64_t>(records.size());
    if (stats->max_updated_at_ms > next.pass_max_updated_ms) {
      next.pass_max_updated_ms = stats->max_updated_at_ms;
      next.pass_max_updated_at = stats->max_updated_at;
    }
    if (page && page->per_page > 0) next.page_size = page->per_page;
    // Only a full read's Total is the stream's size (an incremental read's is the size of the filtered list).
    if (row.pass == "full" && page && page->total) {
      next.total = page->total;
      if (!next.pass_first_total) next.pass_first_total = page->total;
    }
    next.next_page = next_page;
    if (done && next.pass_max_updated_ms > next.watermark_ms) {
      next.watermark_ms = next.pass_max_updated_ms;
      next.watermark = next.pass_max_updated_at;
    }
    if (!done) next.seq = row.seq + (hand_over ? 1 : 0);
    if (done && row.pass == "incremental") next.pass = "probe";

    auto save_checkpoint = [&]() -> Status {
      store::Params params{row.id, OptInt(next.total), next.seq, next.pass, now, next.full_passes};
      std::string sql =
          "UPDATE sync_streams SET total = $2, seq = $3, pass = $4, updated_at = $5, full_passes = $6, "
          "data_version = data_version + 1, status = 'syncing', error_json = NULL, failures = 0, retry_at = "
          "NULL, rate_limited_until = NULL";
      sql += PassCheckpointSets(next, wants, params);
      auto saved = tx.Exec(sql + " WHERE id = $1", params);
      if (!saved) return tl::unexpected(saved.error());
      next.status = "syncing";
      next.failures = 0;
      return {};
    };

    if (!done || row.pass == "incremental") {
      if (auto s = save_checkpoint(); !s) return s;
      if (done) {
        outcome = PageOutcome::kProbe;
        return {};
      }
      if (hand_over) return EnqueueStream(tx, row.id, next.seq, now);
      outcome = PageOutcome::kKeepReading;
      return {};
    }
    // A full read is complete: what it did not see since it started is gone from Procore.
    const RecordScope scope = row.Scope();
    auto swept = SweepAndDigest(tx, scope, row.pass_started_at);
    if (!swept) return tl::unexpected(swept.error());
    const StreamDigest& digest = swept->digest;
    const bool settled = !next.total || (digest.count == *next.total && next.pass_first_total == next.total);
    if (!settled && row.full_passes < options_.max_full_passes) {
      // Procore's list changed under the read (pages shift), or the counts disagree: read it again.
      if (auto s = save_checkpoint(); !s) return s;
      auto again = StartPass(tx, next, "full", row.full_passes + 1, now, /*hand_over=*/true);
      if (!again) return tl::unexpected(again.error());
      return {};
    }
    // The last page's checkpoint is written with the read's end, in one UPDATE.
    return FinishRead(tx, next, digest, next.total, wants, now, /*with_checkpoint=*/true);
  };
  // A page after which the job stops (the read is done, or handed over to the next job) completes the job.
  Status s = TransactEnding(store_, queue_, write, [&] { return outcome == PageOutcome::kStop; });
  if (!s) return tl::unexpected(s.error());
  row = next;
  return outcome;
}

Status SyncEngine::FinishRead(Tx& tx, StreamRow& row, const StreamDigest& digest,
                              std::optional<int64_t> total, const std::string& wants, int64_t now,
                              bool with_checkpoint) {
  // The digest is of the records as this transaction leaves them, so it is cached for the new data_version
  // (ListStreams then has nothing to recompute).
  std::string sql =
      "UPDATE sync_streams SET pass = '', status = 'synced', phase = 'incremental', last_synced_at = $3, "
      "count = $4, total = $5, full_passes = 0, error_json = NULL, failures = 0, retry_at = NULL, "
      "rate_limited_until = NULL, data_version = data_version + 1, checksum = $6, "
      "checksum_version = data_version + 1, seq = $2 + 1, updated_at = $3";
  store::Params params{row.id, row.seq, now, digest.count, OptInt(total), digest.checksum};
  // The read's last page: its checkpoint is written here rather than by an UPDATE of its own.
  if (with_checkpoint) sql += PassCheckpointSets(row, wants, params);
  auto r = tx.Exec(sql + " WHERE id = $1 AND seq = $2", params);
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return {};
  row.pass.clear();
  row.status = "synced";
  row.phase = "incremental";
  row.total = total;
  row.full_passes = 0;
  row.failures = 0;
  row.seq += 1;
  if (wants.empty()) return {};
  // A reconciliation was asked for while this read ran: it starts now, in a job of its own.
  const std::string kind =
      (wants == "full" || !row.endpoint->updated_at_filter || row.watermark_ms == 0) ? "full" : "incremental";
  auto started = StartPass(tx, row, kind, kind == "full" ? 1 : 0, now, /*hand_over=*/true);
  if (!started) return tl::unexpected(started.error());
  return {};
}

Status SyncEngine::Probe(StreamRow& row, procore::Client& client) {
  procore::StreamListOptions options;
  options.company_id = row.company_id;
  options.project_id = row.endpoint->scope == procore::Scope::kProject ? row.project_id : 0;
  options.project_name = row.project_name;
  options.parent_id = row.parent_id;
  options.priority = procore::Priority::kReconciliation;
  options.per_page = 1;
  options.end_date = FarEndDate(clock_.NowUnixMs());
  auto list = procore::StreamListRequest(*row.endpoint, options, clock_.Now());
  if (!list) return OnProcoreError(row, list.error());
  procore::Pager pager(client, std::move(*list));
  auto read = pager.Next();
  if (!read) return OnProcoreError(row, read.error());
  const std::optional<int64_t> total = pager.total();

  StreamRow next;
  auto write = [&](Tx& tx) -> Status {
    const int64_t now = clock_.NowUnixMs();
    next = row;
    auto cas = tx.Query(
        "UPDATE sync_streams SET updated_at = $3 WHERE id = $1 AND seq = $2 AND pass = 'probe' RETURNING "
        "wants",
        {row.id, row.seq, now});
    if (!cas) return tl::unexpected(cas.error());
    if (cas->rows.empty()) return {};
    const std::string wants = cas->rows[0].Text(0);
    auto digest = DigestStream(tx, row.Scope());
    if (!digest) return tl::unexpected(digest.error());
    if (total && digest->count != *total && options_.max_full_passes > 0) {
      // Every record changed since the watermark is in; a different count means deletions (or records a
      // shifting page hid) that only a full read finds.
      auto again = StartPass(tx, next, "full", 1, now, /*hand_over=*/true);
      if (!again) return tl::unexpected(again.error());
      return {};
    }
    return FinishRead(tx, next, *digest, total ? total : row.total, wants, now);
  };
  Status s = TransactEnding(store_, queue_, write, [] { return true; });
  if (!s) return s;
  row = next;
  return {};
}

Status SyncEngine::OnProcoreError(const StreamRow& row, const procore::ProcoreError& error) {
  const int64_t now = clock_.NowUnixMs();
  if (error.code == procore::ErrorCode::kRateLimited) {
    int64_t until = error.retry_at ? UnixMs(*error.retry_at) : now + options_.rate_limit_fallback.count();
    until = std::max(until, now + 1000);
    return Reschedule(row, "rate_limited", std::nullopt, until, false, until);
  }
  Millis delay = Backoff(error, row.failures + 1);
  if (error.retry_at) delay = std::max(delay, Millis(UnixMs(*error.retry_at) - now));
  return Reschedule(row, "error", StreamError{error.error.code, error.error.message, error.error.fix},
                    now + delay.count(), true, std::nullopt);
}

Status SyncEngine::OnClientUnavailable(const StreamRow& row, const Error& error) {
  const bool lasting = error.kind == ErrorKind::kNotFound || error.kind == ErrorKind::kConflict ||
                       error.kind == ErrorKind::kForbidden || error.kind == ErrorKind::kUnauthenticated ||
                       error.kind == ErrorKind::kInvalidInput || error.kind == ErrorKind::kUnprocessable;
  const int64_t failures = row.failures + 1;
  Millis delay = lasting
                     ? Exponential(options_.error_backoff_base, options_.error_backoff_cap, failures)
                     : Exponential(options_.transient_backoff_base, options_.transient_backoff_cap, failures);
  return Reschedule(
      row, "error",
      StreamError{error.code.empty() ? DefaultCodeFor(error.kind) : error.code, error.message, error.fix},
      clock_.NowUnixMs() + delay.count(), true, std::nullopt);
}

Status SyncEngine::Reschedule(const StreamRow& row, const std::string& status,
                              const std::optional<StreamError>& error, int64_t run_at_ms, bool count_failure,
                              std::optional<int64_t> rate_limited_until) {
  auto write = [&](Tx& tx) -> Status {
    const int64_t now = clock_.NowUnixMs();
    auto r = tx.Exec(
        "UPDATE sync_streams SET status = $3, error_json = $4, failures = failures + $5, retry_at = $6, "
        "rate_limited_until = $7, seq = $2 + 1, updated_at = $8 WHERE id = $1 AND seq = $2",
        {row.id, row.seq, status, ErrorJson(error), int64_t{count_failure ? 1 : 0}, run_at_ms,
         OptInt(rate_limited_until), now});
    if (!r) return tl::unexpected(r.error());
    if (*r == 0) return {};
    return EnqueueStream(tx, row.id, row.seq + 1, run_at_ms);
  };
  return TransactEnding(store_, queue_, write, [] { return true; });
}

}  // namespace kt::sync
