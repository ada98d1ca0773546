// Inbox inserts with ON CONFLICT DO NOTHING on (client_id, event_key), each new event's payload in
// webhook_inbox_payloads, and the processing job queued alongside.
#include "sync/inbox.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include <nlohmann/json.hpp>

#include "obs/log.h"
#include "util/thread_name.h"

namespace kt::sync {
namespace {

std::string RenderEvent(const WebhookEvent& e) {
  nlohmann::json j = {{"payload_version", e.payload_version},
                      {"event_key", e.event_key},
                      {"timestamp", e.timestamp},
                      {"resource_name", e.resource_name},
                      {"event_type", e.event_type},
                      {"resource_id", e.resource_id},
                      {"company_id", e.company_id}};
  j["project_id"] = e.project_id ? nlohmann::json(*e.project_id) : nlohmann::json();
  if (e.event_id) j["id"] = e.event_id;
  if (e.user_id) j["user_id"] = *e.user_id;
  if (e.source_application_id) j["source_application_id"] = *e.source_application_id;
  return j.dump();
}

// A journaled event the database refused this many times while it took others is set aside (left in the
// journal for the next start).
constexpr int kRefusalsAlone = 3;
// Journaled events a commit takes at most (a few milliseconds of storing): see TakeBatchLocked.
constexpr size_t kJournaledPerCommit = 1'000;
// The shortest window ArrivalsPerSecond counts over.
constexpr auto kRateWindow = std::chrono::milliseconds(100);
// How often a journal's backlog that keeps filling up is logged.
constexpr auto kBacklogLogEvery = std::chrono::minutes(1);

// A batch is stored with multi-row INSERTs of these sizes (largest first), so that a handful of statement
// texts serve every batch size and stay prepared in the store's statement cache.
constexpr size_t kRowSizes[] = {64, 16, 4, 1};
constexpr size_t kInboxColumns = 11;
constexpr size_t kPayloadColumns = 3;

size_t RowsForNextInsert(size_t left) {
  for (size_t rows : kRowSizes) {
    if (rows <= left) return rows;
  }
  return 1;
}

// Calls insert(at, rows) for consecutive pieces of `count` items, each of a size in kRowSizes, until one
// fails.
template <typename Insert>
Status InPieces(size_t count, Insert&& insert) {
  for (size_t at = 0; at < count;) {
    const size_t rows = RowsForNextInsert(count - at);
    if (auto s = insert(at, rows); !s) return s;
    at += rows;
  }
  return {};
}

// One text per row count of kRowSizes: `head` VALUES, then each row's `columns` placeholders and `row_end`
// (")" or a literal and ")"), then `tail`.
std::vector<std::string> MultiRowTexts(std::string_view head, size_t columns, std::string_view row_end,
                                       std::string_view tail) {
  std::vector<std::string> out;
  for (size_t n : kRowSizes) {
    std::string sql(head);
    sql += " VALUES ";
    for (size_t row = 0; row < n; ++row) {
      sql += row ? ", (" : "(";
      for (size_t col = 1; col <= columns; ++col) {
        if (col > 1) sql += ", ";
        sql += '$';
        sql += std::to_string(row * columns + col);
      }
      sql += row_end;
    }
    sql += tail;
    out.push_back(std::move(sql));
  }
  return out;
}

const std::string& ForRows(const std::vector<std::string>& texts, size_t rows) {
  for (size_t i = 0; i < std::size(kRowSizes); ++i) {
    if (kRowSizes[i] == rows) return texts[i];
  }
  return texts.back();
}

const std::string& InsertSql(size_t rows) {
  static const std::vector<std::string> texts = MultiRowTexts(
      "INSERT INTO webhook_inbox (client_id, event_key, payload_version, resource_name, event_type, "
      "resource_id, company_id, project_id, source_application_id, event_at_ms, received_at, status)",
      kInboxColumns, ", 'pending')",
      " ON CONFLICT (client_id, event_key) DO NOTHING RETURNING id, client_id, event_key");
  return ForRows(texts, rows);
}

// SQLite's: each row with the id the committer gives it (see InsertNumbered), nothing returned.
const std::string& NumberedInsertSql(size_t rows) {
  static const std::vector<std::string> texts = MultiRowTexts(
      "INSERT INTO webhook_inbox (id, client_id, event_key, payload_version, resource_name, event_type, "
      "resource_id, company_id, project_id, source_application_id, event_at_ms, received_at, status)",
      kInboxColumns + 1, ", 'pending')", " ON CONFLICT (client_id, event_key) DO NOTHING");
  return ForRows(texts, rows);
}

// What the inbox takes at all: an event of a client, with a key and a resource.
bool IsComplete(int64_t client_id, const WebhookEvent& event) {
  return client_id > 0 && !event.event_key.empty() && !event.resource_name.empty();
}

// An event's columns of InsertSql, from client_id on.
void AppendInboxColumns(store::Params& params, int64_t client_id, const WebhookEvent& event, int64_t now) {
  params.emplace_back(client_id);
  params.emplace_back(event.event_key);
  params.emplace_back(event.payload_version);
  params.emplace_back(event.resource_name);
  params.emplace_back(event.event_type);
  params.emplace_back(event.resource_id);
  params.emplace_back(event.company_id);
  params.push_back(event.project_id ? store::Value(*event.project_id) : store::Value(nullptr));
  params.push_back(event.source_application_id ? store::Value(*event.source_application_id)
                                               : store::Value(nullptr));
  params.emplace_back(event.timestamp_ms);
  params.emplace_back(now);
}

const std::string& PayloadSql(size_t rows) {
  static const std::vector<std::string> texts = MultiRowTexts(
      "INSERT INTO webhook_inbox_payloads (inbox_id, client_id, payload)", kPayloadColumns, ")", "");
  return ForRows(texts, rows);
}

}  // namespace

Inbox::Inbox(store::Store& store, queue::Queue& queue, Clock& clock, InboxOptions options)
    : store_(store), queue_(queue), clock_(clock), options_(std::move(options)) {
  if (!options_.journal_dir.empty()) journal_ = std::make_unique<InboxJournal>(options_.journal_dir);
}

Inbox::~Inbox() {
  {
    std::lock_guard lock(group_mu_);
    stopping_ = true;
  }
  group_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

std::string Inbox::ProcessingKey(int64_t client_id, char slot) {
  return std::string(kWebhookJob) + ":" + std::to_string(client_id) + ":" + slot;
}

Status Inbox::ProcessNow(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t now_ms) {
  for (const char slot : {'a', 'b'})
    if (auto s = queue.BringForward(tx, ProcessingKey(client_id, slot), now_ms); !s) return s;
  return {};
}

Status Inbox::QueueProcessing(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t run_at_ms,
                              int64_t priority, char slot) {
  queue::EnqueueOptions options;
  options.run_at_ms = run_at_ms;
  options.priority = priority;
  options.client_id = client_id;
  options.max_attempts = 20;
  options.dedupe_key = ProcessingKey(client_id, slot);
  nlohmann::json payload = {{"client_id", client_id}, {"slot", std::string(1, slot)}};
  auto id = queue.Enqueue(tx, kWebhookJob, payload.dump(), options);
  if (!id) return tl::unexpected(id.error());
  return {};
}

Result<AcceptResult> Inbox::Accept(int64_t client_id, const WebhookEvent& event, std::string_view raw_body) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<AcceptResult>> out;
  AcceptAsync(client_id, event, std::string(raw_body), [&](Result<AcceptResult> r) {
    std::lock_guard lock(mu);  // notified under the lock: this frame may end as soon as `out` is seen
    out = std::move(r);
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

void Inbox::AcceptAsync(int64_t client_id, WebhookEvent event, std::string raw_body, AcceptDone done) {
  if (!IsComplete(client_id, event)) {
    done(Fail(ErrorKind::kInvalidInput, "invalid_webhook_event", "The webhook event is incomplete."));
    return;
  }
  PendingAccept pending;
  pending.client_id = client_id;
  pending.payload = raw_body.empty() ? RenderEvent(event) : std::move(raw_body);
  pending.event = std::move(event);
  pending.done = std::move(done);
  bool wake;
  {
    std::lock_guard lock(group_mu_);
    if (stopping_) {
      pending.done(Fail(ErrorKind::kUnavailable, "inbox_stopped", "The webhook inbox is shutting down."));
      return;
    }
    wake = QueueLocked(std::move(pending));
  }
  if (wake) group_cv_.notify_one();
}

double Inbox::ArrivalsPerSecond() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(group_mu_);
  const double seconds = std::chrono::duration<double>(now - window_started_).count();
  const double span = std::chrono::duration<double>(kRateWindow).count();
  if (seconds < span) return std::max(last_window_rate_, static_cast<double>(window_arrivals_) / span);
  return static_cast<double>(window_arrivals_) / seconds;
}

bool Inbox::QueueLocked(PendingAccept pending) {
  if (!committer_.joinable())
    committer_ = std::thread([this] {
      SetThreadName("kt-inbox-commit");
      RunCommitter();
    });
  // The committer looks at the queues again after each commit; only an idle or gathering one needs waking:
  // for the first event, for one whose caller waits for its commit, or when a commit's worth of journaled
  // ones is there.
  const bool wake = (waiting_.empty() && journaled_.empty()) || pending.journal_segment == 0 ||
                    journaled_.size() + 1 == kJournaledPerCommit;
  const auto now = std::chrono::steady_clock::now();
  if (now - window_started_ >= kRateWindow) {
    last_window_rate_ =
        static_cast<double>(window_arrivals_) / std::chrono::duration<double>(now - window_started_).count();
    window_started_ = now;
    window_arrivals_ = 0;
  }
  ++window_arrivals_;
  if (pending.journal_segment != 0) {
    journaled_.push_back(std::move(pending));
  } else {
    waiting_.push_back(std::move(pending));
  }
  return wake;
}

bool Inbox::AcceptJournaled(int64_t client_id, WebhookEvent& event, std::string& raw_body) {
  JournaledDelivery one{.client_id = client_id, .event = std::move(event), .raw_body = std::move(raw_body)};
  AcceptJournaled(std::span<JournaledDelivery>(&one, 1));
  if (one.journaled) return true;
  event = std::move(one.event);
  raw_body = std::move(one.raw_body);
  return false;
}

void Inbox::AcceptJournaled(std::span<JournaledDelivery> deliveries) {
  if (!journal_) return;
  std::vector<InboxJournal::Entry> entries;
  std::vector<JournaledDelivery*> taken;
  entries.reserve(deliveries.size());
  taken.reserve(deliveries.size());
  for (JournaledDelivery& d : deliveries) {
    if (!IsComplete(d.client_id, d.event) || d.raw_body.empty()) continue;
    entries.push_back({d.client_id, d.raw_body});
    taken.push_back(&d);
  }
  if (taken.empty()) return;
  {
    std::lock_guard lock(group_mu_);
    if (stopping_) return;
    if (journaled_.size() + taken.size() > options_.journal_backlog) {
      // More arrive than the database stores: deliveries wait for their commits again until it catches up.
      const auto now = std::chrono::steady_clock::now();
      if (now - backlog_logged_at_ >= kBacklogLogEvery) {
        backlog_logged_at_ = now;
        obs::Log(obs::Level::kWarn, "inbox_journal_backlog_full",
                 {{"events", journaled_.size()},
                  {"message",
                   "Webhook deliveries arrive faster than the database stores them: they are "
                   "answered after their commit until it catches up."}});
      }
      return;
    }
  }
  auto segment = journal_->Append(entries);
  std::unique_lock lock(group_mu_);
  if (!segment) {
    if (!journal_failing_)
      obs::Log(obs::Level::kWarn, "inbox_journal_append_failed",
               {{"message", segment.error().message}, {"fix", segment.error().fix}});
    journal_failing_ = true;  // logged once until an append succeeds; meanwhile deliveries wait for commits
    return;
  }
  journal_failing_ = false;
  bool wake = false;
  for (JournaledDelivery* d : taken) {
    d->journaled = true;
    // Stopping: the committer may be gone, and the event stays in the journal for the next start.
    if (stopping_) continue;
    PendingAccept pending;
    pending.client_id = d->client_id;
    pending.payload = std::move(d->raw_body);
    pending.event = std::move(d->event);
    pending.journal_segment = *segment;
    wake = QueueLocked(std::move(pending)) || wake;
  }
  lock.unlock();
  if (wake) group_cv_.notify_one();
}

Result<int64_t> Inbox::RecoverJournals() {
  if (!journal_) return int64_t{0};
  return InboxJournal::RecoverOrphans(
      options_.journal_dir, [this](const std::vector<InboxJournal::Record>& records) -> Status {
        std::mutex mu;
        std::condition_variable cv;
        size_t left = 0;
        std::optional<Error> failure;
        for (const InboxJournal::Record& record : records) {
          auto event = ParseWebhookEvent(record.body);
          if (!event) continue;  // it was parsed before it was journaled; a damaged one is not an event
          {
            std::lock_guard lock(mu);
            ++left;
          }
          // One group commit for the whole journal rather than a transaction an event.
          AcceptAsync(record.client_id, std::move(*event), record.body, [&](Result<AcceptResult> r) {
            std::lock_guard lock(mu);
            if (!r && !failure) failure = r.error();
            if (--left == 0) cv.notify_one();
          });
        }
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return left == 0; });
        if (failure) return tl::unexpected(*failure);
        return {};
      });
}

void Inbox::RunCommitter() {
  std::vector<PendingAccept> batch, failed_journaled;
  std::unique_lock lock(group_mu_);
  for (;;) {
    group_cv_.wait(lock, [this] { return stopping_ || !waiting_.empty() || !journaled_.empty(); });
    if (waiting_.empty() && journaled_.empty()) return;  // stopping, and everything handed in was stored
    group_cv_.wait_for(lock, options_.journaled_gather, [this] {
      return stopping_ || !waiting_.empty() || journaled_.size() >= kJournaledPerCommit;
    });
    batch.clear();
    TakeBatchLocked(batch);
    lock.unlock();
    try {
      CommitBatch(batch);
    } catch (const std::exception& e) {
      // Never lose the thread (or a caller's answer) to an exception from below.
      for (PendingAccept& p : batch)
        p.result = Fail(ErrorKind::kInternal, "inbox_commit_failed", "The webhook event was not stored.", "",
                        e.what());
    }
    bool stored_new = false, stored_any = false;
    for (const PendingAccept& p : batch) stored_any = stored_any || p.result.has_value();
    failed_journaled.clear();
    uint64_t segment = 0;  // journaled events stored are reported a run of one segment at a time
    int64_t stored_in_segment = 0;
    auto report_stored = [&] {
      if (stored_in_segment > 0) journal_->Stored(segment, stored_in_segment);
      stored_in_segment = 0;
    };
    for (PendingAccept& p : batch) {
      if (p.result && !p.result->duplicate) stored_new = true;
      if (!p.journal_segment) {
        p.done(std::move(p.result));
      } else if (p.result) {
        if (p.journal_segment != segment) report_stored();
        segment = p.journal_segment;
        ++stored_in_segment;
      } else if (stored_any && ++p.refusals_alone >= kRefusalsAlone) {
        // The database takes other events but not this one: it stays in the journal, which is kept for the
        // next start to try again, rather than hold up the events behind it.
        obs::Log(obs::Level::kError, "inbox_event_set_aside",
                 {{"client_id", p.client_id},
                  {"event_key", p.event.event_key},
                  {"code", p.result.error().code},
                  {"message", p.result.error().message}});
      } else {
        failed_journaled.push_back(std::move(p));
      }
    }
    report_stored();
    if (stored_new) Wake(options_.coalesce_window);
    lock.lock();
    if (const Millis pause = RetryLater(failed_journaled); pause > Millis(0))
      group_cv_.wait_for(lock, pause, [this] { return stopping_; });
  }
}

void Inbox::TakeBatchLocked(std::vector<PendingAccept>& batch) {
  batch.swap(waiting_);  // waiting_ takes the emptied vector (and keeps its capacity)
  const size_t journaled = std::min(journaled_.size(), kJournaledPerCommit);
  for (size_t i = 0; i < journaled; ++i) {
    batch.push_back(std::move(journaled_.front()));
    journaled_.pop_front();
  }
}

Millis Inbox::RetryLater(std::vector<PendingAccept>& failed_journaled) {
  if (failed_journaled.empty()) {
    failed_commits_ = 0;
    return Millis(0);
  }
  const Error& error = failed_journaled.front().result.error();
  if (stopping_) {
    // They stay in the journal, whose segments holding them are kept: the next start stores them.
    obs::Log(obs::Level::kError, "inbox_journal_kept",
             {{"events", failed_journaled.size()}, {"code", error.code}, {"message", error.message}});
    return Millis(0);
  }
  // Procore has its answer already: they are tried again, first in line, until the database takes them.
  if (failed_commits_++ == 0)
    obs::Log(obs::Level::kError, "inbox_commit_failing",
             {{"events", failed_journaled.size()}, {"code", error.code}, {"message", error.message}});
  journaled_.insert(journaled_.begin(), std::make_move_iterator(failed_journaled.begin()),
                    std::make_move_iterator(failed_journaled.end()));
  return std::min(Millis(100) * (1 << std::min(failed_commits_, 9)), Millis(30'000));
}

// The payloads of the batch's new events (a duplicate's was stored with its first delivery).
Status Inbox::InsertPayloads(store::Tx& tx, const std::vector<PendingAccept*>& batch) {
  std::vector<const PendingAccept*> stored;
  for (const PendingAccept* p : batch) {
    if (p->result && !p->result->duplicate) stored.push_back(p);
  }
  store::Params params;
  return InPieces(stored.size(), [&](size_t at, size_t rows) -> Status {
    params.clear();
    params.reserve(rows * kPayloadColumns);
    for (size_t i = at; i < at + rows; ++i) {
      params.emplace_back(stored[i]->result->inbox_id);
      params.emplace_back(stored[i]->client_id);
      params.emplace_back(stored[i]->payload);
    }
    if (auto r = tx.Exec(PayloadSql(rows), params); !r) return tl::unexpected(r.error());
    return {};
  });
}

Status Inbox::InsertReturning(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now) {
  store::Params params;
  return InPieces(batch.size(), [&](size_t at, size_t rows) -> Status {
    params.clear();
    params.reserve(rows * kInboxColumns);
    for (size_t i = at; i < at + rows; ++i)
      AppendInboxColumns(params, batch[i]->client_id, batch[i]->event, now);
    auto r = tx.Query(InsertSql(rows), params);
    if (!r) return tl::unexpected(r.error());
    // The rows inserted come back; every other event of the piece is a duplicate: stored before, or earlier
    // in this batch (a redelivery racing the first). Both databases return the rows in the order given,
    // though neither promises it: each is looked for first just after the last one found, then everywhere.
    for (size_t i = at; i < at + rows; ++i) batch[i]->result = AcceptResult{.duplicate = true};
    size_t next = at;
    for (const auto& row : r->rows) {
      const int64_t client_id = row.Int(1);
      const std::string* event_key = std::get_if<std::string>(&row.At(2));
      auto is_row = [&](const PendingAccept& p) {
        return p.client_id == client_id && event_key && p.event.event_key == *event_key &&
               p.result->duplicate;
      };
      for (size_t k = 0; k < rows; ++k) {
        const size_t i = at + (next - at + k) % rows;
        PendingAccept& p = *batch[i];
        if (!is_row(p)) continue;
        p.result = AcceptResult{.duplicate = false, .inbox_id = row.Int(0)};
        next = i + 1 < at + rows ? i + 1 : at;
        break;
      }
    }
    return {};
  });
}

Status Inbox::InsertNumbered(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now) {
  // The transaction holds SQLite's only write lock, so no other insert takes an id meanwhile. The next id is
  // past every id used, the purged ones included (AUTOINCREMENT's sequence keeps those).
  auto last = tx.Query(
      "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'webhook_inbox'), 0), "
      "COALESCE((SELECT MAX(id) FROM webhook_inbox), 0))");
  if (!last) return tl::unexpected(last.error());
  int64_t next_id = last->rows.empty() ? 1 : last->rows[0].Int(0) + 1;
  store::Params params;
  return InPieces(batch.size(), [&](size_t at, size_t rows) -> Status {
    params.clear();
    params.reserve(rows * (kInboxColumns + 1));
    const int64_t first_id = next_id;
    for (size_t i = at; i < at + rows; ++i) {
      params.emplace_back(next_id++);
      AppendInboxColumns(params, batch[i]->client_id, batch[i]->event, now);
    }
    auto inserted = tx.Exec(NumberedInsertSql(rows), params);
    if (!inserted) return tl::unexpected(inserted.error());
    for (size_t i = at; i < at + rows; ++i) {
      batch[i]->result =
          AcceptResult{.duplicate = false, .inbox_id = first_id + static_cast<int64_t>(i - at)};
    }
    if (*inserted == static_cast<int64_t>(rows)) return {};
    // Some were duplicates (stored before, or earlier in this batch): the ids that are there are the rows
    // inserted; an id skipped stays unused.
    auto found = tx.Query("SELECT id FROM webhook_inbox WHERE id BETWEEN $1 AND $2 ORDER BY id",
                          {first_id, next_id - 1});
    if (!found) return tl::unexpected(found.error());
    size_t row = 0;
    for (size_t i = at; i < at + rows; ++i) {
      if (row < found->rows.size() && found->rows[row].Int(0) == batch[i]->result->inbox_id) {
        ++row;
      } else {
        batch[i]->result = AcceptResult{.duplicate = true};
      }
    }
    return {};
  });
}

Status Inbox::InsertAll(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now) {
  // On SQLite the committer numbers the rows itself: RETURNING cost about a microsecond an event there, a
  // fifth of its commit (measured). PostgreSQL's committers may be in several processes: they let the
  // sequence number the rows.
  Status inserted = tx.dialect() == store::Dialect::kSqlite ? InsertNumbered(tx, batch, now)
                                                            : InsertReturning(tx, batch, now);
  if (!inserted) return inserted;
  std::vector<int64_t> queue_for;  // clients with a new event, each queued once
  for (const PendingAccept* p : batch) {
    if (!p->result->duplicate &&
        std::find(queue_for.begin(), queue_for.end(), p->client_id) == queue_for.end())
      queue_for.push_back(p->client_id);
  }
  if (auto s = InsertPayloads(tx, batch); !s) return s;
  for (int64_t client_id : queue_for) {
    if (auto s = QueueProcessing(tx, queue_, client_id, now + options_.coalesce_window.count(),
                                 options_.job_priority);
        !s)
      return s;
  }
  return {};
}

void Inbox::CommitBatch(std::vector<PendingAccept>& batch) {
  const int64_t now = clock_.NowUnixMs();
  std::vector<PendingAccept*> all;
  all.reserve(batch.size());
  for (PendingAccept& p : batch) all.push_back(&p);
  Status s = store_.Transact([&](store::Tx& tx) { return InsertAll(tx, all, now); });
  if (s) return;
  if (batch.size() == 1) {
    batch[0].result = tl::unexpected(s.error());
    return;
  }
  // Something in the batch failed: store each event alone so only the failing one is refused.
  for (PendingAccept* p : all) {
    const std::vector<PendingAccept*> one{p};
    Status alone = store_.Transact([&](store::Tx& tx) { return InsertAll(tx, one, now); });
    if (!alone) p->result = tl::unexpected(alone.error());
  }
}

Result<int64_t> Inbox::PurgeProcessed(int64_t processed_before_ms) {
  // Payloads first: they are found through the events that are deleted next.
  static const std::string kProcessedBefore =
      " FROM webhook_inbox WHERE status <> 'pending' AND processed_at < $1";
  Result<int64_t> purged;
  Status s = store_.Transact([&](store::Tx& tx) -> Status {
    auto payloads =
        tx.Exec("DELETE FROM webhook_inbox_payloads WHERE inbox_id IN (SELECT id" + kProcessedBefore + ")",
                {processed_before_ms});
    if (!payloads) return tl::unexpected(payloads.error());
    purged = tx.Exec("DELETE" + kProcessedBefore, {processed_before_ms});
    if (!purged) return tl::unexpected(purged.error());
    return {};
  });
  if (!s) return tl::unexpected(s.error());
  return purged;
}

Result<bool> Inbox::HasPending(int64_t client_id) {
  auto r = store_.Query(
      "SELECT EXISTS (SELECT 1 FROM webhook_inbox WHERE client_id = $1 AND status = 'pending')", {client_id});
  if (!r) return tl::unexpected(r.error());
  return !r->rows.empty() && r->rows[0].Int(0) != 0;
}

Result<std::optional<Inbox::ProcessingRetry>> Inbox::ProcessingRetryOf(int64_t client_id) {
  std::optional<ProcessingRetry> out;
  for (const char slot : {'a', 'b'}) {
    auto job = queue_.GetLive(ProcessingKey(client_id, slot));
    if (!job) return tl::unexpected(job.error());
    // A failed attempt leaves its error on the job it puts back to pending.
    if (!*job || (*job)->status != queue::kPending || (*job)->last_error.empty()) continue;
    ProcessingRetry r{(*job)->LastErrorCode(), (*job)->run_at_ms, (*job)->attempts};
    if (!out || r.retry_at_ms < out->retry_at_ms) out = std::move(r);
  }
  return out;
}

Result<RecentInbox> Inbox::Recent(int64_t client_id, int64_t limit, int64_t window) {
  // On SQLite, `+client_id` keeps the planner from answering through the (client_id, event_key) index, which
  // sorts all of the client's events to find the newest: it walks the key backwards instead and stops at the
  // limit (one node serves a few clients). PostgreSQL, with its statistics, picks its own way.
  const std::string client =
      store_.dialect() == store::Dialect::kSqlite ? "+client_id = $1" : "client_id = $1";
  RecentInbox out;
  auto events = store_.Query(
      "SELECT id, received_at, resource_name, event_type, resource_id, project_id, status, outcome, "
      "processed_at FROM webhook_inbox WHERE " +
          client + " ORDER BY id DESC LIMIT $2",
      {client_id, limit});
  if (!events) return tl::unexpected(events.error());
  for (const auto& row : events->rows) {
    InboxEntry e;
    e.id = row.Int(0);
    e.received_at_ms = row.Int(1);
    e.resource_name = row.Text(2);
    e.event_type = row.Text(3);
    e.resource_id = row.Int(4);
    e.project_id = row.OptInt("project_id");
    e.status = row.Text(6);
    e.outcome = row.OptText("outcome").value_or("");
    e.processed_at_ms = row.OptInt("processed_at");
    out.events.push_back(std::move(e));
  }
  const std::string newest =
      "SELECT status, outcome FROM webhook_inbox WHERE " + client + " ORDER BY id DESC LIMIT $2";
  auto counts = store_.Query("SELECT status, COALESCE(outcome, ''), count(*) FROM (" + newest +
                                 ") newest GROUP BY status, COALESCE(outcome, '') ORDER BY 3 DESC, 2",
                             {client_id, window});
  if (!counts) return tl::unexpected(counts.error());
  for (const auto& row : counts->rows) {
    const std::string status = row.Text(0);
    const int64_t n = row.Int(2);
    out.window += n;
    if (status == "pending") out.counts.pending += n;
    if (status == "done") out.counts.done += n;
    if (status == "dropped") out.counts.dropped += n;
    if (status != "pending") out.by_outcome.emplace_back(row.Text(1), n);
  }
  return out;
}

Result<InboxCounts> Inbox::Counts(int64_t client_id) {
  auto r = store_.Query("SELECT status, count(*) FROM webhook_inbox WHERE client_id = $1 GROUP BY status",
                        {client_id});
  if (!r) return tl::unexpected(r.error());
  InboxCounts out;
  for (const auto& row : r->rows) {
    std::string status = row.Text(0);
    if (status == "pending") out.pending = row.Int(1);
    if (status == "done") out.done = row.Int(1);
    if (status == "dropped") out.dropped = row.Int(1);
  }
  return out;
}

}  // namespace kt::sync
