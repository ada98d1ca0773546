// The sync engine's scope, scheduling and read side; stream reads are in stream_job.cpp and webhook
// processing in webhook_job.cpp.
#include "sync/engine.h"

#include <algorithm>
#include <map>
#include <set>

#include "procore/streams.h"
#include "sync/engine_internal.h"
#include "sync/records.h"
#include "util/strings.h"

namespace kt::sync {

using store::Params;
using store::Tx;
using store::Value;

SyncEngine::SyncEngine(store::Store& store, queue::Queue& queue, ProcoreClientSource& source, Clock& clock,
                       SyncOptions options)
    : store_(store),
      queue_(queue),
      source_(source),
      clock_(clock),
      options_(options),
      inbox_(store, queue, clock, options.inbox) {}

void SyncEngine::RegisterHandlers(queue::Worker& worker) {
  for (const char* kind : {kStreamJob, kReconcileJob, kWebhookJob}) {
    worker.Register(kind, [this](const queue::Job& job) { return HandleJob(job); });
  }
}

Status SyncEngine::HandleJob(const queue::Job& job) {
  nlohmann::json payload = nlohmann::json::parse(job.payload_json, nullptr, /*allow_exceptions=*/false);
  auto field = [&](const char* key) -> int64_t {
    if (!payload.is_object()) return 0;
    auto it = payload.find(key);
    return it != payload.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  auto bad = [&] {
    return Fail(ErrorKind::kInvalidInput, "invalid_job", "The sync job's payload is invalid.", "",
                job.kind + ": " + job.payload_json);
  };
  if (job.kind == kStreamJob) {
    int64_t id = field("stream_id");
    if (id <= 0) return bad();
    return RunStreamJob(id, field("seq"));
  }
  if (job.kind == kReconcileJob) {
    int64_t client = field("client_id");
    if (client <= 0) return bad();
    return RunReconcileJob(client);
  }
  if (job.kind == kWebhookJob) {
    int64_t client = field("client_id");
    if (client <= 0) return bad();
    char slot = 'a';
    if (payload.contains("slot") && payload["slot"] == "b") slot = 'b';
    return RunWebhookJob(client, slot);
  }
  return bad();
}

Status SyncEngine::EnqueueStream(Tx& tx, int64_t stream_id, int64_t seq, int64_t run_at_ms) {
  queue::EnqueueOptions options;
  options.run_at_ms = run_at_ms;
  options.priority = options_.stream_job_priority;
  options.max_attempts = 10;
  options.dedupe_key = std::string(kStreamJob) + ":" + std::to_string(stream_id) + ":" + std::to_string(seq);
  nlohmann::json payload = {{"stream_id", stream_id}, {"seq", seq}};
  auto id = queue_.Enqueue(tx, kStreamJob, payload.dump(), options);
  if (!id) return tl::unexpected(id.error());
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Scope

namespace {

struct DesiredStream {
  std::string stream;
  int64_t project_id = 0;
  std::string project_name;
  std::optional<PauseReason> paused;
};

// A stream key KTrack does not know, in a query or a request: the keys to use instead.
Error UnknownStream(const std::string& key) {
  std::string known;
  for (const procore::StreamEndpoint& e : procore::StreamEndpoints())
    known += (known.empty() ? "" : ", ") + std::string(e.key);
  return Error{ErrorKind::kInvalidInput,
               "unknown_stream",
               "There is no stream \"" + key + "\".",
               "Use one of KTrack's stream keys (GET /streams lists those synced for you): " + known + ".",
               {}};
}

Value PauseErrorJson(const PauseReason& reason) {
  return Value(
      nlohmann::json{{"code", reason.code}, {"message", reason.message}, {"fix", reason.fix}}.dump());
}

Result<std::vector<DesiredStream>> DesiredStreams(const SyncScope& scope) {
  auto invalid = [](std::string message) {
    return Fail(ErrorKind::kInvalidInput, "invalid_sync_scope", std::move(message));
  };
  if (scope.client_id <= 0) return invalid("A client is needed.");
  if (scope.company_id <= 0) return invalid("A Procore company is needed.");
  std::vector<DesiredStream> out;
  std::set<std::pair<std::string, int64_t>> seen;
  for (const auto& s : scope.company_streams) {
    const procore::StreamEndpoint* e = procore::FindStream(s);
    if (!e || e->scope != procore::Scope::kCompany) return invalid("\"" + s + "\" is not a company stream.");
    if (seen.insert({s, 0}).second) out.push_back({s, 0, ""});
  }
  for (const auto& p : scope.projects) {
    if (p.project_id <= 0) return invalid("A project id is needed.");
    for (const auto& s : p.streams) {
      const procore::StreamEndpoint* e = procore::FindStream(s);
      if (!e || e->scope != procore::Scope::kProject)
        return invalid("\"" + s + "\" is not a project stream.");
      if (seen.insert({s, p.project_id}).second) out.push_back({s, p.project_id, p.name, p.paused});
    }
  }
  return out;
}

}  // namespace

Status SyncEngine::ApplyScope(const SyncScope& scope) {
  return ApplyScope([&](Tx&) -> Result<std::optional<SyncScope>> { return scope; });
}

Status SyncEngine::ApplyScope(const ScopeSource& source) {
  return store_.Transact([&](Tx& tx) -> Status {
    auto wanted = source(tx);
    if (!wanted) return tl::unexpected(wanted.error());
    if (!*wanted) return {};
    const SyncScope& scope = **wanted;
    auto desired = DesiredStreams(scope);
    if (!desired) return tl::unexpected(desired.error());
    const int64_t now = clock_.NowUnixMs();
    const int64_t interval =
        scope.reconcile_interval_s > 0 ? scope.reconcile_interval_s : options_.default_reconcile_interval_s;
    auto client = tx.Exec(
        "INSERT INTO sync_clients (client_id, company_id, reconcile_interval_s, next_reconcile_at, "
        "updated_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO UPDATE SET company_id = excluded.company_id, "
        "reconcile_interval_s = CASE WHEN $6 > 0 THEN excluded.reconcile_interval_s "
        "ELSE sync_clients.reconcile_interval_s END, updated_at = excluded.updated_at",
        {scope.client_id, scope.company_id, interval, now + interval * 1000, now,
         scope.reconcile_interval_s});
    if (!client) return tl::unexpected(client.error());

    auto existing = tx.Query(
        "SELECT id, stream, project_id, company_id, status, phase, seq FROM sync_streams WHERE client_id = "
        "$1",
        {scope.client_id});
    if (!existing) return tl::unexpected(existing.error());
    struct Existing {
      int64_t id, company_id, seq;
      std::string status, phase;
      bool keep = false;
    };
    std::map<std::pair<std::string, int64_t>, Existing> by_key;
    for (const auto& row : existing->rows) {
      by_key[{row.Text("stream"), row.Int("project_id")}] = Existing{
          row.Int("id"), row.Int("company_id"), row.Int("seq"), row.Text("status"), row.Text("phase")};
    }

    for (const auto& d : *desired) {
      auto it = by_key.find({d.stream, d.project_id});
      if (it == by_key.end() && d.paused) {
        // A project linked while its permissions are short: it waits, paused, for the fix.
        auto inserted = tx.Exec(
            "INSERT INTO sync_streams (client_id, company_id, stream, project_id, project_name, status, "
            "phase, error_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'paused', 'initial', $6, "
            "$7, $7)",
            {scope.client_id, scope.company_id, d.stream, d.project_id, d.project_name,
             PauseErrorJson(*d.paused), now});
        if (!inserted) return tl::unexpected(inserted.error());
        continue;
      }
      if (it == by_key.end()) {
        auto inserted = tx.Query(
            "INSERT INTO sync_streams (client_id, company_id, stream, project_id, project_name, status, "
            "phase, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 'initial', $6, $6) RETURNING id, "
            "seq",
            {scope.client_id, scope.company_id, d.stream, d.project_id, d.project_name, now});
        if (!inserted) return tl::unexpected(inserted.error());
        const auto& row = inserted->rows.at(0);
        if (auto s = EnqueueStream(tx, row.Int(0), row.Int(1), now); !s) return s;
        continue;
      }
      Existing& e = it->second;
      e.keep = true;
      if (e.company_id != scope.company_id) {
        // Another Procore company: what was synced belongs to the old one (the row first, as in a purge).
        auto reset = tx.Exec(
            "UPDATE sync_streams SET company_id = $2, project_name = $3, status = 'pending', phase = "
            "'initial', "
            "pass = '', wants = '', next_page = 1, parent_id = 0, watermark = '', watermark_ms = 0, total = "
            "NULL, "
            "count = 0, data_version = data_version + 1, error_json = NULL, failures = 0, retry_at = NULL, "
            "rate_limited_until = NULL, last_synced_at = NULL, started_at = NULL, seq = seq + 1, updated_at "
            "= $4 "
            "WHERE id = $1",
            {e.id, scope.company_id, d.project_name, now});
        if (!reset) return tl::unexpected(reset.error());
        if (auto s = DeleteRecords(tx, scope.client_id, d.project_id, d.stream); !s) return s;
        if (auto s = EnqueueStream(tx, e.id, e.seq + 1, now); !s) return s;
        continue;
      }
      if (d.paused) {
        // Permissions drift: the stream waits for the fix, its job (if any) stops at its next checkpoint.
        auto held = tx.Exec(
            "UPDATE sync_streams SET project_name = $2, status = 'paused', error_json = $3, seq = CASE WHEN "
            "status = 'paused' THEN seq ELSE seq + 1 END, retry_at = NULL, rate_limited_until = NULL, "
            "updated_at = $4 WHERE id = $1",
            {e.id, d.project_name, PauseErrorJson(*d.paused), now});
        if (!held) return tl::unexpected(held.error());
        continue;
      }
      if (e.status == "paused") {
        // Back in scope (or its permissions fixed): carry on (an interrupted read resumes) and catch up with
        // what changed meanwhile.
        const bool initial = e.phase == "initial";
        auto resumed = tx.Exec(
            "UPDATE sync_streams SET project_name = $2, status = $3, wants = $4, error_json = NULL, failures "
            "= "
            "0, retry_at = NULL, seq = seq + 1, updated_at = $5 "
            "WHERE id = $1",
            {e.id, d.project_name, std::string(initial ? "pending" : "syncing"),
             std::string(initial ? "" : "reconcile"), now});
        if (!resumed) return tl::unexpected(resumed.error());
        if (auto s = EnqueueStream(tx, e.id, e.seq + 1, now); !s) return s;
        continue;
      }
      auto renamed = tx.Exec("UPDATE sync_streams SET project_name = $2 WHERE id = $1 AND project_name <> $2",
                             {e.id, d.project_name});
      if (!renamed) return tl::unexpected(renamed.error());
    }
    for (const auto& [key, e] : by_key) {
      if (e.keep || e.status == "paused") continue;
      // seq moves on so a job in flight for the stream stops at its next checkpoint.
      auto paused = tx.Exec(
          "UPDATE sync_streams SET status = 'paused', seq = seq + 1, retry_at = NULL, updated_at = $2 WHERE "
          "id = $1",
          {e.id, now});
      if (!paused) return tl::unexpected(paused.error());
    }
    return {};
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Requests for work

Result<int64_t> SyncEngine::RequestWork(Tx& tx, const std::string& where, const Params& params,
                                        const char* wants) {
  Params p = params;
  p.emplace_back(std::string(wants));
  const std::string wants_param = "$" + std::to_string(p.size());
  p.emplace_back(clock_.NowUnixMs());
  const std::string now_param = "$" + std::to_string(p.size());
  auto r = tx.Query("UPDATE sync_streams SET wants = CASE WHEN wants = 'full' THEN 'full' ELSE " +
                        wants_param + " END, updated_at = " + now_param + " WHERE " + where +
                        " AND status <> 'paused' RETURNING id, seq, pass",
                    p);
  if (!r) return tl::unexpected(r.error());
  for (const auto& row : r->rows) {
    // A stream in the middle of a read sees `wants` when that read ends.
    if (!row.Text(2).empty()) continue;
    if (auto s = EnqueueStream(tx, row.Int(0), row.Int(1), clock_.NowUnixMs()); !s)
      return tl::unexpected(s.error());
  }
  return static_cast<int64_t>(r->rows.size());
}

Result<int64_t> SyncEngine::RequestReconcile(int64_t client_id, std::optional<std::string> stream,
                                             std::optional<int64_t> project_id) {
  if (stream && !procore::FindStream(*stream)) return tl::unexpected(UnknownStream(*stream));
  Params params;
  const std::string where = ScopeWhere(params, client_id, stream, project_id);
  int64_t asked = 0;
  auto done = store_.Transact([&](Tx& tx) -> Status {
    auto n = RequestWork(tx, where, params, "reconcile");
    if (!n) return tl::unexpected(n.error());
    asked = *n;
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  return asked;
}

Status SyncEngine::RetryNow(int64_t client_id) {
  Status done = store_.Transact([&](Tx& tx) -> Status {
    const int64_t now = clock_.NowUnixMs();
    auto r = tx.Query(
        "UPDATE sync_streams SET seq = seq + 1, retry_at = NULL, failures = 0, updated_at = $2 "
        "WHERE client_id = $1 AND status IN ('error', 'rate_limited') RETURNING id, seq",
        {client_id, now});
    if (!r) return tl::unexpected(r.error());
    for (const auto& row : r->rows) {
      if (auto s = EnqueueStream(tx, row.Int(0), row.Int(1), now); !s) return s;
    }
    // The webhook events waiting a retry's backoff too.
    return Inbox::ProcessNow(tx, queue_, client_id, now);
  });
  if (done) inbox_.Wake(Millis(0));
  return done;
}

Status SyncEngine::RunReconcileJob(int64_t client_id) {
  if (auto asked = RequestReconcile(client_id); !asked) return tl::unexpected(asked.error());
  return {};
}

Status SyncEngine::Tick() {
  const int64_t now = clock_.NowUnixMs();
  // 1. Reconciliations that are due.
  auto due = store_.Query(
      "SELECT client_id, reconcile_interval_s FROM sync_clients WHERE next_reconcile_at IS NOT NULL AND "
      "next_reconcile_at <= $1",
      {now});
  if (!due) return tl::unexpected(due.error());
  for (const auto& row : due->rows) {
    const int64_t client = row.Int(0);
    const int64_t interval = std::max<int64_t>(1, row.Int(1));
    Status s = store_.Transact([&](Tx& tx) -> Status {
      auto moved = tx.Exec(
          "UPDATE sync_clients SET next_reconcile_at = $2 WHERE client_id = $1 AND next_reconcile_at <= $3",
          {client, now + interval * 1000, now});
      if (!moved) return tl::unexpected(moved.error());
      if (*moved == 0) return {};  // another process took it
      queue::EnqueueOptions options;
      options.priority = options_.reconcile_job_priority;
      options.client_id = client;
      options.dedupe_key = std::string(kReconcileJob) + ":" + std::to_string(client);
      auto id = queue_.Enqueue(tx, kReconcileJob, nlohmann::json{{"client_id", client}}.dump(), options);
      if (!id) return tl::unexpected(id.error());
      return {};
    });
    if (!s) return s;
  }

  // 2. Streams with work and no progress for a while: their job may have been dead-lettered or a wake-up
  // lost. The dedupe key makes this a no-op when their job is still waiting (behind a long backlog, say), so
  // the check runs at most every half stuck_after, for the longest-waiting streams first.
  if (now - last_stuck_check_ms_.load() >= options_.stuck_after.count() / 2) {
    last_stuck_check_ms_ = now;
    auto stuck = store_.Query(
        "SELECT id, seq FROM sync_streams WHERE status <> 'paused' AND (pass <> '' OR wants <> '' OR "
        "phase = 'initial') AND updated_at < $1 AND (retry_at IS NULL OR retry_at <= $2) ORDER BY updated_at "
        "LIMIT $3",
        {now - options_.stuck_after.count(), now, int64_t{200}});
    if (!stuck) return tl::unexpected(stuck.error());
    for (const auto& row : stuck->rows) {
      Status s = store_.Transact([&](Tx& tx) { return EnqueueStream(tx, row.Int(0), row.Int(1), now); });
      if (!s) return s;
    }
  }

  // 3. Inboxes with events waiting longer than a burst's coalescing should take.
  auto stranded = store_.Query(
      "SELECT DISTINCT client_id FROM webhook_inbox WHERE status = 'pending' AND received_at < $1 AND "
      "(claimed_until IS NULL OR claimed_until < $2)",
      {now - options_.stranded_inbox_after.count(), now});
  if (!stranded) return tl::unexpected(stranded.error());
  for (const auto& row : stranded->rows) {
    Status s = store_.Transact([&](Tx& tx) {
      return Inbox::QueueProcessing(tx, queue_, row.Int(0), now, options_.inbox.job_priority, 'a');
    });
    if (!s) return s;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Purges

// A purge deletes the stream rows before the records: a webhook job's write takes its stream's row first
// (WriteForStream), so on PostgreSQL the row lock orders the two, and a write that comes second finds no
// stream and writes nothing.
Status SyncEngine::PurgeProject(int64_t client_id, int64_t project_id) {
  if (project_id <= 0) return Fail(ErrorKind::kInvalidInput, "invalid_project", "A project id is needed.");
  return store_.Transact([&](Tx& tx) -> Status {
    auto r =
        tx.Exec("DELETE FROM sync_streams WHERE client_id = $1 AND project_id = $2", {client_id, project_id});
    if (!r) return tl::unexpected(r.error());
    return DeleteRecords(tx, client_id, project_id);
  });
}

Status SyncEngine::PurgeClient(int64_t client_id) {
  return store_.Transact([&](Tx& tx) -> Status {
    for (const char* table : {"sync_streams", "sync_clients", "webhook_inbox_payloads", "webhook_inbox"}) {
      auto r = tx.Exec(std::string("DELETE FROM ") + table + " WHERE client_id = $1", {client_id});
      if (!r) return tl::unexpected(r.error());
    }
    return DeleteRecords(tx, client_id, std::nullopt);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Read side

namespace {

std::optional<StreamError> ParseStreamError(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  StreamError e;
  e.code = j.value("code", "");
  e.message = j.value("message", "");
  e.fix = j.value("fix", "");
  return e;
}

// Requests per second the company's budget allows, from what Procore's headers taught the client; 0 if
// unknown.
double RequestRate(const procore::RateBudgetSnapshot& budget) {
  double rate = 0;
  if (budget.spike_limit > 0) rate = static_cast<double>(budget.spike_limit) * 0.9 / 10.0;
  if (budget.hourly_limit > 0) {
    double hourly = static_cast<double>(budget.hourly_limit) * 0.98 / 3600.0;
    rate = rate > 0 ? std::min(rate, hourly) : hourly;
  }
  return rate;
}

}  // namespace

Result<std::vector<StreamStatus>> SyncEngine::ListStreams(int64_t client_id) {
  auto rows = store_.Query(
      "SELECT id, company_id, stream, project_id, project_name, status, phase, pass, total, count, "
      "data_version, "
      "checksum, checksum_version, last_synced_at, error_json, rate_limited_until, pass_read, page_size "
      "FROM sync_streams WHERE client_id = $1 ORDER BY project_id, id",
      {client_id});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<StreamStatus> out;
  std::vector<std::pair<size_t, int64_t>> remaining;  // (index in out, requests left) of reads under way
  int64_t company_id = 0;
  for (const auto& row : rows->rows) {
    StreamStatus s;
    s.id = row.Int("id");
    company_id = row.Int("company_id");
    s.stream = row.Text("stream");
    const int64_t project = row.Int("project_id");
    if (!IsCompanyStream(s.stream)) s.project_id = project;
    s.project_name = row.Text("project_name");
    s.status = row.Text("status");
    s.phase = row.Text("phase");
    s.procore_total = row.OptInt("total");
    s.count = row.Int("count");
    s.checksum = row.OptText("checksum").value_or("");
    s.last_synced_at_ms = row.OptInt("last_synced_at");
    s.error = ParseStreamError(row.OptText("error_json"));
    s.rate_limited_until_ms = row.OptInt("rate_limited_until");
    s.pass_read = row.Int("pass_read");
    const int64_t version = row.Int("data_version");
    const std::string pass = row.Text("pass");
    const bool reading = !pass.empty() && s.status != "paused";
    if (reading && s.phase == "initial") {
      // Mid-read the digest would change with every page: show progress, and digest once the read ends.
      s.count = std::max(s.count, s.pass_read);
    } else if (row.Int("checksum_version") != version && !(reading && !s.checksum.empty())) {
      RecordScope scope{client_id, company_id, s.stream, project};
      auto digest = DigestStream(store_, scope);
      if (!digest) return tl::unexpected(digest.error());
      s.count = digest->count;
      s.checksum = digest->checksum;
      // Cached only if nothing was written meanwhile.
      auto cached = store_.Exec(
          "UPDATE sync_streams SET checksum = $2, count = $3, checksum_version = $4 WHERE id = $1 AND "
          "data_version = $4",
          {s.id, s.checksum, s.count, version});
      if (!cached) return tl::unexpected(cached.error());
    }
    if ((pass == "full" || s.status == "pending") && s.status != "paused") {
      const int64_t page_size = std::max<int64_t>(
          1, row.Int("page_size") > 0 ? row.Int("page_size") : [&] {
            const procore::StreamEndpoint* e = procore::FindStream(s.stream);
            return e ? static_cast<int64_t>(e->max_per_page) : int64_t{100};
          }());
      if (s.procore_total) {
        const int64_t left = std::max<int64_t>(0, *s.procore_total - (pass == "full" ? s.pass_read : 0));
        remaining.emplace_back(out.size(), (left + page_size - 1) / page_size);
      } else {
        // Not read yet: Procore tells the size with the first page, and that page is a request to wait for.
        // Counting it keeps the ETA from ending with the streams whose size is known.
        remaining.emplace_back(out.size(), 1);
      }
    }
    out.push_back(std::move(s));
  }

  // ETA: the streams share the company's budget evenly, so each finishes when the requests of the streams
  // shorter than it, and its own share, have gone out (processor sharing).
  if (!remaining.empty() && company_id != 0) {
    auto client = source_.ClientFor(client_id);
    double rate = client ? RequestRate((*client)->RateBudgetStatus(company_id)) : 0;
    if (rate > 0) {
      std::sort(remaining.begin(), remaining.end(), [](auto& a, auto& b) { return a.second < b.second; });
      double t = 0;
      int64_t before = 0;
      size_t active = remaining.size();
      for (const auto& [index, left] : remaining) {
        t += static_cast<double>(left - before) * static_cast<double>(active) / rate;
        before = left;
        --active;
        out[index].eta_s = static_cast<int64_t>(t + 0.999);
      }
    }
  }
  return out;
}

nlohmann::json StreamStatusJson(const StreamStatus& s) {
  auto time_or_null = [](const std::optional<int64_t>& ms) {
    return ms ? nlohmann::json(FormatIso8601(*ms)) : nlohmann::json();
  };
  nlohmann::json j = {
      {"stream", s.stream},
      {"project_id", s.project_id ? nlohmann::json(*s.project_id) : nlohmann::json()},
      {"status", s.status},
      {"count", s.count},
      {"procore_total", s.procore_total ? nlohmann::json(*s.procore_total) : nlohmann::json()},
      {"checksum", s.checksum},
      {"last_synced_at", time_or_null(s.last_synced_at_ms)},
      {"project_name", s.project_name},
      {"phase", s.phase},
      {"rate_limited_until", time_or_null(s.rate_limited_until_ms)},
      {"progress",
       {{"read", s.pass_read},
        {"total", s.procore_total ? nlohmann::json(*s.procore_total) : nlohmann::json()}}},
      {"eta_s", s.eta_s ? nlohmann::json(*s.eta_s) : nlohmann::json()}};
  if (s.error) {
    j["error"] = {{"code", s.error->code}, {"message", s.error->message}, {"fix", s.error->fix}};
  } else {
    j["error"] = nullptr;
  }
  return j;
}

Result<RecordsPage> SyncEngine::ListRecords(const RecordsQuery& query) {
  const procore::StreamEndpoint* endpoint = procore::FindStream(query.stream);
  if (!endpoint) return tl::unexpected(UnknownStream(query.stream));
  RecordsPage out;
  out.page = std::max<int64_t>(1, query.page);
  out.per_page = std::clamp<int64_t>(query.per_page, 1, 1000);
  RecordListQuery list;
  list.client_id = query.client_id;
  list.stream = query.stream;
  if (query.project_id && endpoint->scope == procore::Scope::kProject) list.project_id = query.project_id;
  list.include_deleted = query.include_deleted;
  list.search = query.search;
  list.offset = PageOffset(out.page, out.per_page);
  list.limit = out.per_page;
  auto listed = ListStoredRecords(store_, list);
  if (!listed) return tl::unexpected(listed.error());
  out.total = listed->total;
  for (ListedRecord& rec : listed->records) {
    RecordItem item;
    item.procore_id = rec.procore_id;
    if (endpoint->scope == procore::Scope::kProject) item.project_id = rec.project_id;
    item.updated_at = std::move(rec.updated_at);
    item.deleted = rec.deleted;
    item.body = std::move(rec.body);
    out.records.push_back(std::move(item));
  }
  return out;
}

std::string RecordsPageJson(const RecordsPage& page) {
  std::string out = "{\"records\":[";
  for (size_t i = 0; i < page.records.size(); ++i) {
    const RecordItem& r = page.records[i];
    if (i) out += ',';
    out += "{\"procore_id\":" + std::to_string(r.procore_id) +
           ",\"project_id\":" + (r.project_id ? std::to_string(*r.project_id) : std::string("null")) +
           ",\"updated_at\":" + nlohmann::json(r.updated_at).dump() +
           ",\"deleted\":" + (r.deleted ? "true" : "false") +
           ",\"record\":" + (r.body.empty() ? std::string("null") : r.body) + "}";
  }
  out += "],\"total\":" + std::to_string(page.total) + ",\"page\":" + std::to_string(page.page) +
         ",\"per_page\":" + std::to_string(page.per_page) + "}";
  return out;
}

}  // namespace kt::sync
