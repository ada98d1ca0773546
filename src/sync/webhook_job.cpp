// Webhook event processing: claim a batch of the inbox, coalesce it per record, drop echoes of KTrack's own
// app, re-read each record once (webhook priority) and upsert it or mark it deleted, marking its events done
// in the same transaction. A job's first batch gathers a burst before it reads; after that the webhook reads'
// share of the rate budget goes, as it accrues, to the (stream, project) pairs that have waited longest.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "procore/pagination.h"
#include "procore/streams.h"
#include "sync/engine.h"
#include "sync/engine_internal.h"
#include "sync/records.h"
#include "util/hash.h"
#include "util/process.h"
#include "util/thread_name.h"

namespace kt::sync {

using store::Params;
using store::Tx;
using store::Value;

namespace {

using internal::FetchItem;
using internal::FetchOutcome;
using internal::Group;
using internal::InboxEvent;
using internal::StreamRef;

// Records re-read in one list request (filters[id][]); the URL stays a few kilobytes long.
constexpr size_t kIdsPerRead = 100;
// Reads of one batch in flight at once (the rate budget still decides how fast they may go): at 50 ms a call,
// a batch of forty-odd (stream, project) reads takes about one call's time.
constexpr size_t kConcurrentReads = 48;
constexpr std::chrono::milliseconds kSpikeWindow{10'000};  // Procore's (procore-api.md §6)
// Share of the spike limit the webhook batches pace themselves to; the rest is for reconciliation and the
// delivery health check (which wait behind webhook follow-ups in the budget's queue anyway).
constexpr int64_t kWebhookSharePercent = 90;
// How often the inbox is looked at while a batch gathers or waits for the budget.
constexpr std::chrono::milliseconds kGatherPoll{20};
// Reads may run this far ahead of the budget's share (a few reads at once after a quiet spell).
constexpr std::chrono::milliseconds kBurstTolerance{200};
// The longest a job sleeps at once while it waits for the budget's share.
constexpr std::chrono::milliseconds kLongestBudgetNap{250};
// How often a job waiting out a flood of deliveries looks at their rate again.
constexpr std::chrono::milliseconds kFloodNap{50};

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

// The time `reads` requests take of the webhook reads' share of the spike limit: paced so, a steady flow of
// events spends at most that share however it is spread. Zero while the limit is not known.
SteadyDuration BudgetTime(int64_t reads, int64_t spike_limit) {
  if (reads <= 0 || spike_limit <= 0) return {};
  return std::chrono::duration_cast<SteadyDuration>(kSpikeWindow) * reads * 100 /
         (spike_limit * kWebhookSharePercent);
}

// Keeps a job's inbox claims alive while it runs: every third of the claim's lease, on its own thread (a read
// may wait on the budget or on Procore far longer than that), the claims are extended by a whole lease. So
// the lease can be short, and a crashed server's claimed events go back to the inbox within one lease of its
// last renewal rather than after a lease long enough for the slowest batch.
class ClaimKeeper {
 public:
  ClaimKeeper(store::Store& store, Clock& clock, int64_t client_id, std::string token, Millis lease)
      : store_(store), clock_(clock), client_id_(client_id), token_(std::move(token)), lease_(lease) {
    thread_ = std::thread([this] {
      SetThreadName("kt-claim-keeper");
      Run();
    });
  }
  ~ClaimKeeper() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ClaimKeeper(const ClaimKeeper&) = delete;
  ClaimKeeper& operator=(const ClaimKeeper&) = delete;

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, lease_ / 3, [this] { return stopping_; })) {
      lock.unlock();
      // A failed renewal is not fatal: the claims then lapse after the lease and the events are read again.
      (void)store_.Exec(
          "UPDATE webhook_inbox SET claimed_until = $3 WHERE client_id = $1 AND status = 'pending' AND "
          "claim_token = $2",
          {client_id_, token_, clock_.NowUnixMs() + lease_.count()});
      lock.lock();
    }
  }

  store::Store& store_;
  Clock& clock_;
  const int64_t client_id_;
  const std::string token_;
  const Millis lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// Events of one (resource, project) pair waiting in the inbox: about one list read.
struct PendingPair {
  std::string resource_name;
  std::optional<int64_t> project_id;
  int64_t oldest_id = 0;
};

// What a claim could take now, by pair: the pair with the oldest event first. Only the oldest `window`
// claimable events are looked at (one batch's worth: the pairs that have waited longest are among them), so
// polling costs the same however many events a flood has queued behind them. `events` counts the events
// looked at (at most `window`).
Result<std::vector<PendingPair>> PendingPairs(store::Store& store, int64_t client_id, int64_t now_ms,
                                              int64_t window, int64_t* events) {
  auto r = store.Query(
      "SELECT resource_name, project_id, min(id), count(*) FROM (SELECT id, resource_name, project_id FROM "
      "webhook_inbox WHERE client_id = $1 AND status = 'pending' AND (claimed_until IS NULL OR "
      "claimed_until < $2) ORDER BY id LIMIT $3) AS oldest GROUP BY resource_name, project_id ORDER BY 3",
      {client_id, now_ms, window});
  if (!r) return tl::unexpected(r.error());
  std::vector<PendingPair> out;
  *events = 0;
  for (const auto& row : r->rows) {
    out.push_back({row.Text(0), row.OptInt("project_id"), row.Int(2)});
    *events += row.Int(3);
  }
  return out;
}

// `column IN` the ids of a JSON array bound at `placeholder`: one statement text for any number of ids.
std::string InJsonIds(store::Dialect dialect, std::string_view column, std::string_view placeholder) {
  std::string clause(column);
  clause += dialect == store::Dialect::kSqlite ? " IN (SELECT value FROM json_each("
                                               : " IN (SELECT jsonb_array_elements_text(";
  clause += placeholder;
  clause += dialect == store::Dialect::kSqlite ? "))" : "::jsonb)::bigint)";
  return clause;
}

// Marks the given claimed events with their outcome.
Status FinishEvents(Tx& tx, const std::vector<int64_t>& ids, const std::string& token, const char* status,
                    const std::string& outcome, int64_t now) {
  if (ids.empty()) return {};
  // The ids go as one JSON array, so the statement's text is the same for any number of them: it is
  // prepared once and cached, where an IN list of up to a batch's 1,000 placeholders was a new statement
  // each time (and SQLite's parse of numbered placeholders is quadratic in their number).
  std::string list = nlohmann::json(ids).dump();
  auto r = tx.Exec(std::string("UPDATE webhook_inbox SET status = $1, outcome = $2, processed_at = $3, "
                               "claim_token = NULL, claimed_until = NULL WHERE claim_token = $4 AND ") +
                       InJsonIds(tx.dialect(), "id", "$5"),
                   {std::string(status), outcome, now, token, list});
  if (!r) return tl::unexpected(r.error());
  return {};
}

// What KTrack holds of a record a batch's events name.
struct LocalState {
  int64_t updated_at_ms = 0;
  bool deleted = false;
};
using RecordKey = std::tuple<std::string, int64_t, int64_t>;  // stream, project (0: company), Procore id

// The local state of every group's record (absent: KTrack has no such record), read with one query per
// (stream, project) rather than one per record.
Result<std::map<RecordKey, LocalState>> LocalStates(store::Store& store, int64_t client_id,
                                                    const std::vector<Group>& groups) {
  std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> ids_by_pair;
  for (const Group& g : groups) ids_by_pair[{g.stream, g.project_id}].push_back(g.resource_id);
  std::map<RecordKey, LocalState> out;
  for (auto& [pair, ids] : ids_by_pair) {
    auto states = RecordStates(store, RecordScope{client_id, 0, pair.first, pair.second}, std::move(ids));
    if (!states) return tl::unexpected(states.error());
    for (const auto& [id, state] : *states)
      out[{pair.first, pair.second, id}] = LocalState{state.updated_at_ms, state.deleted};
  }
  return out;
}

// Writes what a batch learnt of one stream's records (`write`) and marks the events done with `outcome`, in
// one transaction. Unless the stream has gone since the batch looked it up (its project unlinked and its data
// purged, the integration's kept data deleted, or the stream moved to another Procore company): then nothing
// is written and the events are dropped as out of scope, so a read that was in flight during a purge brings
// nothing back. The stream's row is updated first: on PostgreSQL its lock orders this transaction against a
// purge, which deletes the row before the records.
Status WriteForStream(store::Store& store, Clock& clock, const StreamRef& ref,
                      const std::vector<int64_t>& ids, const std::string& token, const std::string& outcome,
                      const std::function<Status(Tx&)>& write) {
  return store.Transact([&](Tx& tx) -> Status {
    auto live = tx.Query(
        "UPDATE sync_streams SET data_version = data_version + 1 WHERE id = $1 AND company_id = $2 RETURNING "
        "id",
        {ref.id, ref.company_id});
    if (!live) return tl::unexpected(live.error());
    if (live->rows.empty()) return FinishEvents(tx, ids, token, "dropped", "not_in_scope", clock.NowUnixMs());
    if (auto s = write(tx); !s) return s;
    return FinishEvents(tx, ids, token, "done", outcome, clock.NowUnixMs());
  });
}

}  // namespace

Result<int64_t> SyncEngine::ReleaseInboxClaimsOfDeadProcesses() {
  if (store_.dialect() != store::Dialect::kSqlite) return int64_t{0};
  const int64_t now = clock_.NowUnixMs();
  auto claims = store_.Query(
      "SELECT DISTINCT claim_token FROM webhook_inbox WHERE status = 'pending' AND claimed_until >= $1",
      {now});
  if (!claims) return tl::unexpected(claims.error());
  int64_t released = 0;
  for (const auto& row : claims->rows) {
    const std::string token = row.Text(0);
    if (!WrittenByAProcessGoneFromHere(token)) continue;
    auto r = store_.Exec(
        "UPDATE webhook_inbox SET claim_token = NULL, claimed_until = NULL WHERE claim_token = $1 AND "
        "status = 'pending'",
        {token});
    if (!r) return tl::unexpected(r.error());
    released += *r;
  }
  return released;
}

Status SyncEngine::RunWebhookJob(int64_t client_id, char slot) {
  const char other_slot = slot == 'a' ? 'b' : 'a';
  auto client = source_.ClientFor(client_id);
  if (!client) {
    const Error& e = client.error();
    if (e.kind == ErrorKind::kNotFound || e.kind == ErrorKind::kConflict) {
      // Nothing can be fetched for these events: there is no integration any more (no_integration), or its
      // credentials cannot be used now (the error's code: not verified, or the server lacks the Marketplace
      // app's). In the second case the streams are asked to reconcile, so once the admin or the operator has
      // fixed it, they bring what these events announced; meanwhile they show the same fix.
      const bool gone = e.kind == ErrorKind::kNotFound;
      auto r = store_.Exec(
          "UPDATE webhook_inbox SET status = 'dropped', outcome = $3, processed_at = $2, "
          "claim_token = NULL, claimed_until = NULL WHERE client_id = $1 AND status = 'pending'",
          {client_id, clock_.NowUnixMs(), gone ? std::string("no_integration") : e.code});
      if (!r) return tl::unexpected(r.error());
      if (!gone && *r > 0) {
        if (auto asked = RequestReconcile(client_id); !asked) return tl::unexpected(asked.error());
      }
      return {};
    }
    return tl::unexpected(e);
  }
  procore::Client& procore_client = **client;
  const std::string app_id = procore_client.app().client_id;

  auto stream_rows = store_.Query(
      "SELECT id, stream, project_id, company_id, parent_id, project_name, status FROM sync_streams "
      "WHERE client_id = $1",
      {client_id});
  if (!stream_rows) return tl::unexpected(stream_rows.error());
  std::map<std::pair<std::string, int64_t>, StreamRef> streams;
  for (const auto& row : stream_rows->rows) {
    streams[{row.Text(1), row.Int(2)}] =
        StreamRef{row.Int(0), row.Int(3), row.Int(4), row.Text(5), row.Text(6)};
  }

  // "<host>-<pid>-<random>": a server started after this one was killed can tell the claim is of a process
  // gone.
  const std::string token = ProcessTag() + RandomHex(12);
  ClaimKeeper keeper(store_, clock_, client_id, token, options_.inbox_claim_lease);
  auto release = [&]() -> Status {
    auto r = store_.Exec(
        "UPDATE webhook_inbox SET claim_token = NULL, claimed_until = NULL WHERE claim_token = $1 AND "
        "status = 'pending'",
        {token});
    if (!r) return tl::unexpected(r.error());
    return {};
  };
  auto finish = [&](const std::vector<int64_t>& ids, const char* status,
                    const std::string& outcome) -> Status {
    return store_.Transact(
        [&](Tx& tx) { return FinishEvents(tx, ids, token, status, outcome, clock_.NowUnixMs()); });
  };

  const int64_t company_id = streams.empty() ? 0 : streams.begin()->second.company_id;
  bool processed_any = false;
  const SteadyTime job_started = std::chrono::steady_clock::now();
  // Pacing (a virtual schedule): the time by which the reads made so far have had their share of the
  // budget. A read may go when this is at most kBurstTolerance ahead of now.
  SteadyTime paid_until = job_started;
  // Streams whose lists have honoured filters[id][] in this job: their reads need no lone probe.
  std::set<std::string> filter_confirmed;

  // Waits until some pending pairs should be read: those pairs, nullopt for everything pending, or an empty
  // list when nothing is pending. The job's first batch gathers a burst: reading what is there at once would
  // read the same (stream, project) pairs again for what follows, so it waits until the inbox has been quiet
  // a while, for half the time its reads take of the budget's share, or until it is full, then reads
  // everything. After that the budget's share is handed out as it accrues, to the pairs that have waited
  // longest: at 100 events/s over 40 projects and a 50 requests/s budget, a pair is read about half a second
  // after its first event.
  auto await_reads = [&]() -> Result<std::optional<std::vector<PendingPair>>> {
    const int64_t limit = company_id != 0 ? procore_client.RateBudgetStatus(company_id).spike_limit : 0;
    int64_t seen_events = -1;
    SteadyTime grew_at = std::chrono::steady_clock::now();
    while (true) {
      if (processed_any && limit > 0) {
        // Nothing is read before the budget's share allows it: wait for that first rather than look at the
        // inbox meanwhile (each look scans up to a batch of pending events; under a flood, every other look
        // was one of these). In short naps, so a stopping server is not kept waiting on a small budget.
        const SteadyDuration ahead =
            paid_until + BudgetTime(1, limit) - (std::chrono::steady_clock::now() + kBurstTolerance);
        if (ahead > SteadyDuration::zero()) {
          std::this_thread::sleep_for(std::min<SteadyDuration>(ahead, kLongestBudgetNap));
          continue;
        }
      }
      const SteadyTime now = std::chrono::steady_clock::now();
      int64_t events = 0;
      auto pairs =
          PendingPairs(store_, client_id, clock_.NowUnixMs(), int64_t{options_.webhook_batch}, &events);
      if (!pairs) return tl::unexpected(pairs.error());
      if (pairs->empty()) return std::vector<PendingPair>{};
      if (limit <= 0) return std::nullopt;  // no budget known: everything, now
      if (!processed_any) {
        if (events != seen_events) {
          seen_events = events;
          grew_at = now;
        }
        // At twice the share's pace: the job starts after the inbox was empty, so the window has had no
        // webhook reads for a while (and a steady flow's first events should not wait a full share).
        if (events >= options_.webhook_batch || now - grew_at >= options_.webhook_gather_quiet ||
            now >= job_started + BudgetTime(static_cast<int64_t>(pairs->size()), limit) / 2 ||
            now >= job_started + options_.webhook_gather_max)
          return std::nullopt;
      } else {
        // The budget's share allows a read by now (the wait above): the pairs it allows (at least one),
        // oldest first.
        const SteadyDuration room = now + kBurstTolerance - paid_until;
        const auto n = static_cast<size_t>(std::max<int64_t>(1, room / BudgetTime(1, limit)));
        if (n >= pairs->size()) return std::nullopt;
        pairs->resize(n);
        return std::move(*pairs);
      }
      std::this_thread::sleep_for(kGatherPoll);  // gathering the first batch
    }
  };

  // Under a flood of deliveries, a batch waits for it to ease (SyncOptions::webhook_flood_rate), between
  // transactions: nothing this job holds keeps the inbox's committer waiting meanwhile.
  auto wait_out_flood = [&] {
    const SteadyTime until = std::chrono::steady_clock::now() + options_.webhook_flood_wait;
    while (inbox_.ArrivalsPerSecond() > options_.webhook_flood_rate &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(kFloodNap);
  };

  while (true) {
    wait_out_flood();
    auto selected = await_reads();
    if (!selected) return tl::unexpected(selected.error());
    if (*selected && (*selected)->empty()) break;
    const SteadyTime batch_started = std::chrono::steady_clock::now();
    int64_t batch_reads = 0;
    const int64_t now = clock_.NowUnixMs();
    // All pending events, or those of the selected pairs.
    Params claim_params{client_id, token, now + options_.inbox_claim_lease.count(), now,
                        int64_t{options_.webhook_batch}};
    std::string of_pairs;
    if (*selected) {
      for (const PendingPair& pair : **selected) {
        claim_params.emplace_back(pair.resource_name);
        of_pairs += of_pairs.empty() ? " AND (" : " OR ";
        of_pairs += "(resource_name = $" + std::to_string(claim_params.size());
        if (pair.project_id) {
          claim_params.emplace_back(*pair.project_id);
          of_pairs += " AND project_id = $" + std::to_string(claim_params.size()) + ")";
        } else {
          of_pairs += " AND project_id IS NULL)";
        }
      }
      of_pairs += ")";
    }
    auto claimed = store_.Query(
        "UPDATE webhook_inbox SET claim_token = $2, claimed_until = $3 WHERE status = 'pending' AND "
        "(claimed_until IS NULL OR claimed_until < $4) AND id IN (SELECT id FROM webhook_inbox WHERE "
        "client_id = $1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $4)" +
            of_pairs +
            " ORDER BY id LIMIT $5) RETURNING id, resource_name, event_type, resource_id, project_id, "
            "source_application_id, event_at_ms",
        claim_params);
    if (!claimed) return tl::unexpected(claimed.error());
    if (claimed->rows.empty()) break;
    processed_any = true;

    std::vector<InboxEvent> events;
    for (const auto& row : claimed->rows) {
      events.push_back(InboxEvent{row.Int(0), row.Text(1), row.Text(2), row.Int(3), row.OptInt("project_id"),
                                  row.OptText("source_application_id"), row.Int(6)});
    }
    std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

    // Coalesce: one group per (stream, project, record), in the order of each group's first event.
    std::vector<Group> groups;
    std::map<std::tuple<std::string, int64_t, int64_t>, size_t> group_index;
    std::vector<int64_t> unsynced;
    for (auto& e : events) {
      auto stream = StreamForWebhookResource(e.resource_name);
      if (!stream) {
        unsynced.push_back(e.id);
        continue;
      }
      int64_t project = 0;
      if (!IsCompanyStream(*stream)) {
        if (!e.project_id) {
          unsynced.push_back(e.id);
          continue;
        }
        project = *e.project_id;
      }
      auto key = std::make_tuple(*stream, project, e.resource_id);
      auto [it, inserted] = group_index.emplace(key, groups.size());
      if (inserted) groups.push_back(Group{*stream, project, e.resource_id, {}});
      groups[it->second].events.push_back(std::move(e));
    }
    if (auto s = finish(unsynced, "dropped", "resource_not_synced"); !s) return s;

    auto local_states = LocalStates(store_, client_id, groups);
    if (!local_states) return tl::unexpected(local_states.error());
    std::map<std::pair<std::string, int64_t>, std::vector<FetchItem>> fetches;
    for (const Group& g : groups) {
      std::vector<int64_t> ids;
      std::vector<const InboxEvent*> own;  // not echoes of KTrack's own writes
      for (const auto& e : g.events) {
        ids.push_back(e.id);
        if (app_id.empty() || !e.source_application_id || *e.source_application_id != app_id)
          own.push_back(&e);
      }
      if (own.empty()) {
        if (auto s = finish(ids, "dropped", "echo"); !s) return s;
        continue;
      }
      auto ref = streams.find({g.stream, g.project_id});
      if (ref == streams.end() || ref->second.status == "paused") {
        if (auto s = finish(ids, "dropped", "not_in_scope"); !s) return s;
        continue;
      }
      const StreamRef& stream = ref->second;
      const InboxEvent& latest = **std::max_element(own.begin(), own.end(), [](auto* a, auto* b) {
        return std::tie(a->event_at_ms, a->id) < std::tie(b->event_at_ms, b->id);
      });
      const RecordScope scope{client_id, stream.company_id, g.stream, g.project_id};
      // A fan-out event's type concerns the project directory, not the company record: always re-read.
      const bool fan_out = IsDirectoryFanOutResource(latest.resource_name);

      if (latest.event_type == "delete" && !fan_out) {
        Status s = WriteForStream(store_, clock_, stream, ids, token, "deleted", [&](Tx& tx) {
          return MarkDeleted(tx, scope, g.resource_id, latest.event_at_ms, clock_.NowUnixMs());
        });
        if (!s) return s;
        continue;
      }

      // Already holding this version or a newer one (a redelivery, or a record the sync read since): no
      // fetch.
      auto local = local_states->find({g.stream, g.project_id, g.resource_id});
      if (local != local_states->end() && !local->second.deleted && latest.event_at_ms > 0 &&
          local->second.updated_at_ms >= latest.event_at_ms) {
        if (auto s = finish(ids, "done", "current"); !s) return s;
        continue;
      }
      const procore::StreamEndpoint* endpoint = procore::FindStream(g.stream);
      if (endpoint && endpoint->needs_parent && stream.parent_id == 0) {
        // The budget view is not known until the stream's first read: leave the record to that read.
        if (auto s = finish(ids, "dropped", "no_budget_view"); !s) return s;
        if (auto s = RequestReconcile(client_id, g.stream, g.project_id); !s)
          return tl::unexpected(s.error());
        continue;
      }

      // Re-read below, together with the other records of the same stream and project.
      fetches[{g.stream, g.project_id}].push_back(FetchItem{&g, std::move(ids), scope, &stream});
    }

    // The reads of different (stream, project) pairs, and chunks of one, run concurrently: at 50 ms a call,
    // one read after another would fall behind a steady 100 events/s spread over many projects. Each read
    // stores its own records and finishes its own events; the outcomes are then looked at in order.
    std::vector<std::vector<FetchItem>> chunks;
    for (auto& [key, items] : fetches) {
      for (size_t from = 0; from < items.size(); from += kIdsPerRead) {
        chunks.emplace_back(
            items.begin() + static_cast<std::ptrdiff_t>(from),
            items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), from + kIdsPerRead)));
      }
    }
    std::vector<Result<FetchOutcome>> outcomes(chunks.size());
    // The first read of a stream not yet seen to honour the id filter goes alone: it learns whether the
    // stream's lists do, which the others then rely on (as when the reads ran one after another).
    std::set<std::string> probed;
    std::vector<size_t> rest;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const std::string& stream = chunks[i].front().group->stream;
      if (!filter_confirmed.count(stream) && probed.insert(stream).second) {
        outcomes[i] = FetchRecords(procore_client, client_id, token, chunks[i]);
      } else {
        rest.push_back(i);
      }
    }
    // The rest: a few readers take them in turn.
    std::atomic<size_t> next{0};
    auto read_rest = [&] {
      for (size_t k = next++; k < rest.size(); k = next++)
        outcomes[rest[k]] = FetchRecords(procore_client, client_id, token, chunks[rest[k]]);
    };
    std::vector<std::future<void>> readers;
    for (size_t r = 1; r < std::min(rest.size(), kConcurrentReads); ++r)
      readers.push_back(std::async(std::launch::async, read_rest));
    read_rest();
    for (auto& reader : readers) reader.get();
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (!outcomes[i]) continue;
      batch_reads += outcomes[i]->requests;
      if (outcomes[i]->filter_confirmed) filter_confirmed.insert(chunks[i].front().group->stream);
    }
    paid_until = std::max(paid_until, batch_started) +
                 BudgetTime(batch_reads,
                            company_id != 0 ? procore_client.RateBudgetStatus(company_id).spike_limit : 0);
    std::optional<int64_t> rate_limited_until;
    std::optional<Error> transient;
    for (auto& outcome : outcomes) {
      if (!outcome) return tl::unexpected(outcome.error());
      if (outcome->rate_limited_until)
        rate_limited_until = std::max(rate_limited_until.value_or(0), *outcome->rate_limited_until);
      if (outcome->transient && !transient) transient = outcome->transient;
    }
    if (rate_limited_until) {
      // Keep the rest for when the budget frees up.
      if (auto s = release(); !s) return s;
      return store_.Transact([&](Tx& tx) {
        return Inbox::QueueProcessing(tx, queue_, client_id, *rate_limited_until, options_.inbox.job_priority,
                                      other_slot);
      });
    }
    if (transient) {
      // Procore unavailable or unreadable: put the events back and let the queue retry with backoff.
      if (auto s = release(); !s) return s;
      return tl::unexpected(*transient);
    }
  }

  if (processed_any) {
    // A successor a moment later picks up events that arrived while this job was finishing (their own job
    // request found this one still running).
    const int64_t at = clock_.NowUnixMs() + options_.inbox.coalesce_window.count();
    Status queued = store_.Transact([&](Tx& tx) {
      return Inbox::QueueProcessing(tx, queue_, client_id, at, options_.inbox.job_priority, other_slot);
    });
    if (queued) inbox_.Wake(options_.inbox.coalesce_window);
    return queued;
  }
  return {};
}

bool SyncEngine::ListsFilterById(const std::string& stream) {
  std::lock_guard lock(id_filter_mu_);
  return no_id_filter_.count(stream) == 0;
}

void SyncEngine::NoIdFilter(const std::string& stream) {
  std::lock_guard lock(id_filter_mu_);
  no_id_filter_.insert(stream);
}

Result<FetchOutcome> SyncEngine::FetchRecords(procore::Client& client, int64_t client_id,
                                              const std::string& token, const std::vector<FetchItem>& items) {
  FetchOutcome out;
  if (items.empty()) return out;
  const FetchItem& first = items.front();
  const std::string& stream_key = first.group->stream;
  const RecordScope& scope = first.scope;
  const StreamRef& ref = *first.stream;
  const procore::StreamEndpoint* endpoint = procore::FindStream(stream_key);
  auto finish = [&](const std::vector<int64_t>& ids, const char* status,
                    const std::string& outcome) -> Status {
    return store_.Transact(
        [&](Tx& tx) { return FinishEvents(tx, ids, token, status, outcome, clock_.NowUnixMs()); });
  };
  // Drops the events whose change was not fetched and asks their stream to read its list again, so it brings
  // the change, or shows why Procore refuses it (and catches up once that is fixed; its retries back off).
  auto drop_and_reread = [&](const std::vector<int64_t>& ids, const std::string& outcome) -> Status {
    if (auto s = finish(ids, "dropped", outcome); !s) return s;
    if (auto r = RequestReconcile(client_id, stream_key, scope.project_id); !r)
      return tl::unexpected(r.error());
    return {};
  };
  // Returns true when processing must stop (rate limited, or Procore unavailable).
  auto failed = [&](const procore::ProcoreError& error, const std::vector<int64_t>& ids) -> Result<bool> {
    if (error.code == procore::ErrorCode::kRateLimited) {
      out.rate_limited_until = std::max(error.retry_at ? UnixMs(*error.retry_at) : 0,
                                        clock_.NowUnixMs() + options_.transient_backoff_base.count() / 15);
      return true;
    }
    // A record's own 404 (it was deleted) never reaches here; a list's 404 means Procore will not show KTrack
    // the list at all (procore-api.md §9.1: no read access, or the project is gone): not an outage to retry.
    const bool not_visible = error.code == procore::ErrorCode::kNotFound;
    if (procore::NeedsCustomer(error.code) || not_visible) {
      const std::string outcome =
          not_visible ? "not_visible" : std::string(procore::ErrorCodeName(error.code));
      if (auto s = drop_and_reread(ids, outcome); !s) return tl::unexpected(s.error());
      return false;
    }
    out.transient = error.error;
    return true;
  };

  if (endpoint && items.size() > 1 && ListsFilterById(stream_key)) {
    // One list request for the lot: filters[id][] (budget rows: budget_line_item_id[]), deleted ones included
    // where Procore offers it. Ids it does not return are gone (or, for users and vendors, inactive).
    procore::StreamListOptions options;
    options.company_id = ref.company_id;
    options.project_id = endpoint->scope == procore::Scope::kProject ? first.group->project_id : 0;
    options.project_name = ref.project_name;
    options.parent_id = ref.parent_id;
    options.priority = procore::Priority::kWebhookFollowUp;
    options.end_date = FarEndDate(clock_.NowUnixMs());
    options.include_deleted = true;
    const char* param = endpoint->needs_parent ? "budget_line_item_id[]" : "filters[id][]";
    std::set<int64_t> wanted;
    std::vector<int64_t> all_events;
    for (const auto& item : items) {
      options.extra_filters.emplace_back(param, std::to_string(item.group->resource_id));
      wanted.insert(item.group->resource_id);
      all_events.insert(all_events.end(), item.event_ids.begin(), item.event_ids.end());
    }
    const int64_t seen = clock_.NowUnixMs();
    auto list = procore::StreamListRequest(*endpoint, options, clock_.Now());
    if (!list) {
      auto stop = failed(list.error(), all_events);
      if (!stop) return tl::unexpected(stop.error());
      return out;
    }
    struct Owned {
      int64_t id;
      std::string updated_at, deleted_at, json;
    };
    std::vector<Owned> got;
    bool foreign = false;
    std::optional<int64_t> total;
    procore::Pager pager(client, std::move(*list));
    while (!foreign) {
      auto more = pager.Next();
      ++out.requests;
      if (!more) {
        auto stop = failed(more.error(), all_events);
        if (!stop) return tl::unexpected(stop.error());
        return out;
      }
      if (!*more) break;
      const procore::Page& page = pager.page();
      if (page.total) total = page.total;
      for (const auto& r : page.records) {
        if (!wanted.count(r.id)) {
          foreign = true;  // the list ignored the filter
          break;
        }
        got.push_back({r.id, std::string(r.updated_at), std::string(r.deleted_at), std::string(r.json)});
      }
      if (pager.done()) break;
    }
    if (!foreign && (!total || *total <= static_cast<int64_t>(wanted.size()))) {
      Status s = WriteForStream(store_, clock_, ref, all_events, token, "fetched", [&](Tx& tx) -> Status {
        std::vector<IncomingRecord> records;
        std::set<int64_t> present;
        for (const auto& g : got) {
          records.push_back({g.id, g.updated_at, g.deleted_at, g.json});
          present.insert(g.id);
        }
        auto w = UpsertRecords(tx, scope, records, seen);
        if (!w) return tl::unexpected(w.error());
        for (int64_t id : wanted) {
          if (present.count(id)) continue;
          if (auto m = MarkDeleted(tx, scope, id, 0, seen); !m) return m;
        }
        return {};
      });
      if (!s) return tl::unexpected(s.error());
      out.filter_confirmed = true;
      return out;
    }
    NoIdFilter(stream_key);  // from now on this stream's records are read one by one
  }

  for (const auto& item : items) {
    const Group& g = *item.group;
    procore::RecordRequest request;
    request.stream = g.stream;
    request.company_id = ref.company_id;
    request.project_id = g.project_id;
    request.id = g.resource_id;
    request.parent_id = ref.parent_id;
    request.project_name = ref.project_name;
    request.priority = procore::Priority::kWebhookFollowUp;
    const int64_t seen = clock_.NowUnixMs();
    auto fetched = client.GetRecord(request);
    ++out.requests;
    if (fetched) {
      auto parsed = ParseRecordJson(*fetched);
      if (!parsed) {
        // Not stored; the list brings the change in its own shape (or stops the stream on the same record,
        // saying so).
        if (auto s = drop_and_reread(item.event_ids, "invalid_record"); !s) return tl::unexpected(s.error());
        continue;
      }
      Status s = WriteForStream(store_, clock_, ref, item.event_ids, token, "fetched", [&](Tx& tx) -> Status {
        IncomingRecord in{parsed->id, parsed->updated_at, parsed->deleted_at, parsed->json};
        auto w = UpsertRecords(tx, scope, std::span<const IncomingRecord>(&in, 1), seen);
        if (!w) return tl::unexpected(w.error());
        return {};
      });
      if (!s) return tl::unexpected(s.error());
      continue;
    }
    if (fetched.error().code == procore::ErrorCode::kNotFound) {
      Status s = WriteForStream(store_, clock_, ref, item.event_ids, token, "not_found",
                                [&](Tx& tx) { return MarkDeleted(tx, scope, g.resource_id, 0, seen); });
      if (!s) return tl::unexpected(s.error());
      continue;
    }
    auto stop = failed(fetched.error(), item.event_ids);
    if (!stop) return tl::unexpected(stop.error());
    if (*stop) return out;
  }
  return out;
}

}  // namespace kt::sync
