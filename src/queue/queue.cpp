// The job queue on the Store: claims under leases, retries with full-jitter backoff, and the Worker threads.
#include "queue/queue.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <tuple>
#include <utility>

#include "util/process.h"
#include "util/thread_name.h"

namespace kt::queue {
namespace {

using store::Params;
using store::Row;
using store::Tx;
using store::Value;

constexpr const char* kColumns[] = {"id",         "kind",       "payload_json", "status",
                                    "priority",   "run_at",     "attempts",     "max_attempts",
                                    "dedupe_key", "client_id",  "worker_id",    "lease_until",
                                    "last_error", "created_at", "updated_at",   "finished_at"};
constexpr size_t kMaxErrorLength = 4000;

std::string ColumnList(std::string_view prefix = {}) {
  std::string out;
  for (const char* c : kColumns) {
    if (!out.empty()) out += ", ";
    out += prefix;
    out += c;
  }
  return out;
}

Job JobFromRow(const Row& row) {
  Job job;
  job.id = row.Int("id");
  job.kind = row.Text("kind");
  job.payload_json = row.Text("payload_json");
  job.status = row.Text("status");
  job.priority = row.Int("priority");
  job.run_at_ms = row.Int("run_at");
  job.attempts = row.Int("attempts");
  job.max_attempts = row.Int("max_attempts");
  job.dedupe_key = row.OptText("dedupe_key");
  job.client_id = row.OptInt("client_id");
  job.worker_id = row.OptText("worker_id").value_or("");
  job.lease_until_ms = row.OptInt("lease_until").value_or(0);
  job.last_error = row.OptText("last_error").value_or("");
  job.created_at_ms = row.Int("created_at");
  job.updated_at_ms = row.Int("updated_at");
  job.finished_at_ms = row.OptInt("finished_at");
  return job;
}

Value OptionalText(const std::string& s) {
  return s.empty() ? Value(nullptr) : Value(s);
}
Value OptionalInt(const std::optional<int64_t>& n) {
  return n ? Value(*n) : Value(nullptr);
}

// Marks a job done and counts the completion, if it is still the given worker's attempt: $1 now, $2 id,
// $3 worker_id, $4 attempts. Complete runs it alone, CompleteRunning inside the handler's transaction.
constexpr const char* kMarkDoneSql =
    "UPDATE jobs SET status = 'done', finished_at = $1, updated_at = $1, lease_until = NULL, "
    "completions = completions + 1 WHERE id = $2 AND worker_id = $3 AND attempts = $4 AND status = 'running'";

// The job the calling thread's Worker is running (null outside RunOnce's handler call), and whether the
// handler completed it in a committed transaction of its own.
struct RunningJob {
  const Job* job = nullptr;
  bool completed = false;
  // Set on a Worker's own threads: the transaction that completes this job also claims the thread's next one
  // (one transaction fewer a job, and the queue's pages written once for both). The claimed job is the
  // thread's only once that transaction has committed (completed).
  const NextClaim* next_claim = nullptr;
  std::optional<Job> claimed_next;
};
thread_local RunningJob running_job;

tl::unexpected<Error> LeaseLost(int64_t job_id) {
  return kt::Fail(ErrorKind::kConflict, "lease_lost", "The job is no longer held by this worker.", "",
                  "job " + std::to_string(job_id) + " was completed, failed or reclaimed by another worker");
}

// " AND kind IN ($k, ...)" with the kinds appended to params; empty for all kinds.
std::string KindFilter(const std::vector<std::string>& kinds, Params& params) {
  if (kinds.empty()) return "";
  std::string sql = " AND kind IN (";
  for (size_t i = 0; i < kinds.size(); ++i) {
    params.emplace_back(kinds[i]);
    sql += (i ? ", $" : "$") + std::to_string(params.size());
  }
  return sql + ")";
}

// Job::LastErrorCode reads the code back from the front of this.
std::string DescribeError(const Error& e) {
  std::string s = (e.code.empty() ? std::string(DefaultCodeFor(e.kind)) : e.code) + ": " + e.message;
  if (!e.detail.empty()) s += " (" + e.detail + ")";
  return s;
}

}  // namespace

Queue::Queue(store::Store& store, Clock& clock, Random& random, BackoffPolicy backoff)
    : store_(store), clock_(clock), random_(random), backoff_(backoff) {}

Result<int64_t> Queue::Enqueue(std::string_view kind, std::string_view payload_json,
                               const EnqueueOptions& options) {
  Result<int64_t> id;
  Status s = store_.Transact([&](Tx& tx) -> Status {
    id = Enqueue(tx, kind, payload_json, options);
    if (!id) return tl::unexpected(id.error());
    return {};
  });
  if (!s) return tl::unexpected(s.error());
  return id;
}

Result<int64_t> Queue::Enqueue(Tx& tx, std::string_view kind, std::string_view payload_json,
                               const EnqueueOptions& options) {
  int64_t now = clock_.NowUnixMs();
  Params params{std::string(kind),
                std::string(payload_json),
                options.priority,
                options.run_at_ms.value_or(now),
                options.max_attempts < 1 ? int64_t{1} : options.max_attempts,
                OptionalText(options.dedupe_key),
                OptionalInt(options.client_id),
                now};
  const std::string insert =
      "INSERT INTO jobs (kind, payload_json, status, priority, run_at, attempts, max_attempts, dedupe_key, "
      "client_id, created_at, updated_at) VALUES ($1, $2, 'pending', $3, $4, 0, $5, $6, $7, $8, $8)";
  if (options.dedupe_key.empty()) {
    auto r = tx.Query(insert + " RETURNING id", params);
    if (!r) return tl::unexpected(r.error());
    return r->rows.at(0).Int(0);
  }
  // A live job with the key wins. The partial unique index settles races: the loser's insert does nothing and
  // it reads the winner's id (or, if that job finished meanwhile, inserts again).
  for (int round = 0; round < 3; ++round) {
    auto existing = tx.Query(
        "SELECT id FROM jobs WHERE dedupe_key = $1 AND status IN ('pending', 'running') ORDER BY id LIMIT 1",
        {options.dedupe_key});
    if (!existing) return tl::unexpected(existing.error());
    if (!existing->empty()) return existing->rows[0].Int(0);
    auto inserted = tx.Query(insert + " ON CONFLICT DO NOTHING RETURNING id", params);
    if (!inserted) return tl::unexpected(inserted.error());
    if (!inserted->empty()) return inserted->rows[0].Int(0);
  }
  return kt::Fail(ErrorKind::kConflict, "enqueue_conflict", "The job could not be queued; try again.", "",
                  "dedupe key kept changing hands: " + options.dedupe_key);
}

Result<std::optional<Job>> Queue::Claim(std::string_view worker_id, const std::vector<std::string>& kinds,
                                        Millis lease) {
  std::optional<Job> claimed;
  Status s = store_.Transact([&](Tx& tx) -> Status {
    auto r = ClaimIn(tx, worker_id, kinds, lease);
    if (!r) return tl::unexpected(r.error());
    claimed = std::move(*r);
    return {};
  });
  if (!s) return tl::unexpected(s.error());
  return claimed;
}

Result<std::optional<Job>> Queue::ClaimIn(Tx& tx, std::string_view worker_id,
                                          const std::vector<std::string>& kinds, Millis lease) {
  int64_t now = clock_.NowUnixMs();
  // A job whose last allowed attempt lost its worker is dead rather than retried forever.
  auto bury = [&]() -> Status {
    auto buried = tx.Exec(
        "UPDATE jobs SET status = 'dead', last_error = 'the worker stopped heartbeating on the last "
        "attempt', finished_at = $1, updated_at = $1 WHERE status = 'running' AND lease_until <= $1 AND "
        "attempts >= max_attempts",
        {now});
    if (!buried) return tl::unexpected(buried.error());
    return {};
  };

  // Two index-backed candidates instead of one OR over both states: the first due pending job in the order of
  // jobs_pending, and the first expired lease from jobs_running; the better of the two wins. (An OR of both
  // states made SQLite read every pending row and sort them on each claim.)
  Params params{now};
  const std::string kind_filter = KindFilter(kinds, params);
  const std::string pending_where = " WHERE status = 'pending' AND run_at <= $1" + kind_filter;
  const std::string expired_where = " WHERE status = 'running' AND lease_until <= $1" + kind_filter;
  const std::string order = " ORDER BY priority, run_at, id LIMIT 1";
  const int64_t lease_until = now + lease.count();
  if (store_.dialect() == store::Dialect::kPostgres) {
    if (auto s = bury(); !s) return tl::unexpected(s.error());
    // SKIP LOCKED: concurrent claimers pass over each other's candidate rows instead of queueing on them.
    const std::string worker = "$" + std::to_string(params.size() + 1);
    const std::string until = "$" + std::to_string(params.size() + 2);
    params.emplace_back(std::string(worker_id));
    params.emplace_back(lease_until);
    const std::string sql =
        "WITH pending AS (SELECT id, priority, run_at FROM jobs" + pending_where + order +
        " FOR UPDATE SKIP LOCKED), expired AS (SELECT id, priority, run_at FROM jobs" + expired_where +
        order +
        " FOR UPDATE SKIP LOCKED), next AS (SELECT id FROM (SELECT * FROM pending UNION ALL SELECT * FROM "
        "expired) candidates" +
        order + ") UPDATE jobs SET status = 'running', worker_id = " + worker + ", lease_until = " + until +
        ", attempts = jobs.attempts + 1, updated_at = $1 FROM next WHERE jobs.id = next.id RETURNING " +
        ColumnList("jobs.");
    auto r = tx.Query(sql, params);
    if (!r) return tl::unexpected(r.error());
    if (r->empty()) return std::optional<Job>();
    return std::optional<Job>(JobFromRow(r->rows[0]));
  }

  // SQLite: Transact holds the write lock (BEGIN IMMEDIATE), so picking the job and then updating it by id is
  // one step. Plain statements: an UPDATE ... RETURNING over a UNION of the two built temporary b-trees on
  // every claim (about 6% of the `demo` sync's CPU went to claims). INDEXED BY: without statistics the
  // planner picked an index of every job by status (gone since migration 9) and sorted every pending row.
  bool expired_lease = false;
  auto pick = [&]() -> Result<std::optional<Job>> {
    std::optional<Job> best;
    for (const auto& [index, where] :
         {std::pair{"jobs_pending", &pending_where}, {"jobs_running", &expired_where}}) {
      auto r = tx.Query("SELECT " + ColumnList() + " FROM jobs INDEXED BY " + index + *where + order, params);
      if (!r) return tl::unexpected(r.error());
      if (r->empty()) continue;
      if (where == &expired_where) expired_lease = true;
      Job job = JobFromRow(r->rows[0]);
      if (!best ||
          std::tie(job.priority, job.run_at_ms, job.id) < std::tie(best->priority, best->run_at_ms, best->id))
        best = std::move(job);
    }
    return best;
  };
  auto picked = pick();
  if (!picked) return picked;
  // Burying is needed only where a lease has run out, which is rare: the statement ran on every claim before
  // (about 1% of the `large` sync). A job of another kind is buried by its own kind's next claim, before that
  // claim could take it.
  if (expired_lease) {
    if (auto s = bury(); !s) return tl::unexpected(s.error());
    picked = pick();
    if (!picked) return picked;
  }
  std::optional<Job> best = std::move(*picked);
  if (!best) return best;
  auto updated = tx.Exec(
      "UPDATE jobs SET status = 'running', worker_id = $2, lease_until = $3, attempts = attempts + 1, "
      "updated_at = $1 WHERE id = $4",
      {now, std::string(worker_id), lease_until, best->id});
  if (!updated) return tl::unexpected(updated.error());
  best->status = kRunning;
  best->worker_id = std::string(worker_id);
  best->lease_until_ms = lease_until;
  best->attempts += 1;
  best->updated_at_ms = now;
  return best;
}

Result<int64_t> Queue::ReleaseLeasesOfDeadProcesses(std::string_view worker_name) {
  if (store_.dialect() != store::Dialect::kSqlite) return int64_t{0};
  auto running = store_.Query("SELECT id, worker_id FROM jobs WHERE status = 'running'", {});
  if (!running) return tl::unexpected(running.error());
  std::vector<int64_t> orphaned;
  for (const auto& row : running->rows) {
    if (WrittenByAProcessGoneFromHere(row.OptText("worker_id").value_or(""), std::string(worker_name) + "-"))
      orphaned.push_back(row.Int("id"));
  }
  const int64_t now = clock_.NowUnixMs();
  for (int64_t id : orphaned) {
    auto r = store_.Exec(
        "UPDATE jobs SET lease_until = $1, updated_at = $1 WHERE id = $2 AND status = 'running' AND "
        "lease_until > $1",
        {now, id});
    if (!r) return tl::unexpected(r.error());
  }
  return static_cast<int64_t>(orphaned.size());
}

Status Queue::Heartbeat(int64_t job_id, std::string_view worker_id, Millis lease) {
  int64_t now = clock_.NowUnixMs();
  auto r = store_.Exec(
      "UPDATE jobs SET lease_until = $1, updated_at = $2 WHERE id = $3 AND worker_id = $4 AND status = "
      "'running'",
      {now + lease.count(), now, job_id, std::string(worker_id)});
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return LeaseLost(job_id);
  return {};
}

Status Queue::Complete(const Job& job) {
  int64_t now = clock_.NowUnixMs();
  auto r = store_.Exec(kMarkDoneSql, {now, job.id, job.worker_id, job.attempts});
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) {
    // The handler finished after losing its lease: counted all the same, so a job that ran to completion
    // twice (here and in whoever took it over) shows as completions > 1.
    (void)store_.Exec("UPDATE jobs SET completions = completions + 1 WHERE id = $1", {job.id});
    return LeaseLost(job.id);
  }
  return {};
}

Result<bool> Queue::CompleteRunning(Tx& tx) {
  const Job* job = running_job.job;
  if (!job) return false;
  running_job.claimed_next.reset();  // a retried transaction claims again
  int64_t now = clock_.NowUnixMs();
  auto r = tx.Exec(kMarkDoneSql, {now, job->id, job->worker_id, job->attempts});
  if (!r) return tl::unexpected(r.error());
  if (*r != 1) return false;
  if (const NextClaim* next = running_job.next_claim) {
    auto claimed = ClaimIn(tx, next->worker_id, next->kinds, next->lease);
    if (!claimed) return tl::unexpected(claimed.error());
    running_job.claimed_next = std::move(*claimed);
  }
  return true;
}

Status Queue::Release(const Job& job) {
  auto r = store_.Exec(
      "UPDATE jobs SET status = 'pending', worker_id = NULL, lease_until = NULL, attempts = attempts - 1, "
      "updated_at = $1 WHERE id = $2 AND worker_id = $3 AND attempts = $4 AND status = 'running'",
      {clock_.NowUnixMs(), job.id, job.worker_id, job.attempts});
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return LeaseLost(job.id);
  return {};
}

Result<FailOutcome> Queue::Fail(const Job& job, std::string_view error, bool permanent) {
  int64_t now = clock_.NowUnixMs();
  std::string message(error.substr(0, kMaxErrorLength));
  FailOutcome outcome;
  outcome.dead = permanent || job.attempts >= job.max_attempts;
  Result<int64_t> r;
  if (outcome.dead) {
    r = store_.Exec(
        "UPDATE jobs SET status = 'dead', last_error = $1, finished_at = $2, updated_at = $2, lease_until = "
        "NULL "
        "WHERE id = $3 AND worker_id = $4 AND attempts = $5 AND status = 'running'",
        {message, now, job.id, job.worker_id, job.attempts});
  } else {
    outcome.retry_at_ms = now + RetryDelay(job.attempts).count();
    r = store_.Exec(
        "UPDATE jobs SET status = 'pending', last_error = $1, run_at = $2, updated_at = $3, worker_id = "
        "NULL, "
        "lease_until = NULL WHERE id = $4 AND worker_id = $5 AND attempts = $6 AND status = 'running'",
        {message, outcome.retry_at_ms, now, job.id, job.worker_id, job.attempts});
  }
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return LeaseLost(job.id);
  return outcome;
}

Millis Queue::RetryDelay(int64_t attempts) {
  int64_t n = std::max<int64_t>(attempts, 1);
  int64_t cap = backoff_.cap.count();
  int64_t ceiling = backoff_.base.count();
  for (int64_t i = 1; i < n && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  return Millis(random_.UniformInt(0, std::max<int64_t>(ceiling, 0)));
}

Result<std::optional<Job>> Queue::Get(int64_t job_id) {
  auto r = store_.Query("SELECT " + ColumnList() + " FROM jobs WHERE id = $1", {job_id});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<Job>();
  return std::optional<Job>(JobFromRow(r->rows[0]));
}

Result<std::optional<Job>> Queue::GetLive(std::string_view dedupe_key) {
  // The predicate repeats jobs_dedupe_live's, so both databases answer from that index.
  auto r = store_.Query("SELECT " + ColumnList() +
                            " FROM jobs WHERE dedupe_key = $1 AND dedupe_key IS NOT NULL AND status IN "
                            "('pending', 'running')",
                        {std::string(dedupe_key)});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<Job>();
  return std::optional<Job>(JobFromRow(r->rows[0]));
}

Status Queue::BringForward(Tx& tx, std::string_view dedupe_key, int64_t run_at_ms) {
  // The first predicates repeat jobs_dedupe_live's, so both databases answer from that index.
  auto r = tx.Exec(
      "UPDATE jobs SET run_at = $2, updated_at = $3 WHERE dedupe_key = $1 AND dedupe_key IS NOT NULL AND "
      "status IN ('pending', 'running') AND status = 'pending' AND run_at > $2",
      {std::string(dedupe_key), run_at_ms, clock_.NowUnixMs()});
  if (!r) return tl::unexpected(r.error());
  return {};
}

namespace {
void AddCount(StatusCounts& c, const std::string& status, int64_t n) {
  if (status == kPending)
    c.pending += n;
  else if (status == kRunning)
    c.running += n;
  else if (status == kDone)
    c.done += n;
  else if (status == kDead)
    c.dead += n;
}
}  // namespace

Result<StatusCounts> Queue::CountByStatus() {
  auto r = store_.Query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status");
  if (!r) return tl::unexpected(r.error());
  StatusCounts counts;
  for (const Row& row : r->rows) AddCount(counts, row.Text(0), row.Int(1));
  return counts;
}

Result<bool> Queue::HasLiveJobs() {
  // One EXISTS a status, so each probes its partial index (jobs_pending, jobs_running).
  auto r = store_.Query(
      "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'pending') OR "
      "EXISTS (SELECT 1 FROM jobs WHERE status = 'running')");
  if (!r) return tl::unexpected(r.error());
  return !r->rows.empty() && r->rows[0].Int(0) != 0;
}

Result<std::map<std::string, StatusCounts>> Queue::CountByKindAndStatus() {
  auto r = store_.Query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status");
  if (!r) return tl::unexpected(r.error());
  std::map<std::string, StatusCounts> counts;
  for (const Row& row : r->rows) AddCount(counts[row.Text(0)], row.Text(1), row.Int(2));
  return counts;
}

Result<std::vector<Job>> Queue::ListDead(int64_t limit) {
  auto r = store_.Query("SELECT " + ColumnList() +
                            " FROM jobs WHERE status = 'dead' ORDER BY finished_at DESC, id DESC LIMIT $1",
                        {limit});
  if (!r) return tl::unexpected(r.error());
  std::vector<Job> jobs;
  for (const Row& row : r->rows) jobs.push_back(JobFromRow(row));
  return jobs;
}

Status Queue::Revive(int64_t job_id) {
  int64_t now = clock_.NowUnixMs();
  auto r = store_.Exec(
      "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, updated_at = $1, finished_at = NULL, "
      "worker_id = NULL, lease_until = NULL WHERE id = $2 AND status = 'dead'",
      {now, job_id});
  if (!r) return tl::unexpected(r.error());
  if (*r == 0) return kt::Fail(ErrorKind::kNotFound, "job_not_found", "There is no dead job with that id.");
  return {};
}

Result<int64_t> Queue::PurgeDone(int64_t finished_before_ms) {
  return store_.Exec("DELETE FROM jobs WHERE status = 'done' AND finished_at < $1", {finished_before_ms});
}

// ---- Worker ----

Worker::Worker(Queue& queue, WorkerOptions options) : queue_(queue), options_(std::move(options)) {}

Worker::~Worker() {
  Stop();
}

void Worker::Register(std::string kind, Handler handler) {
  std::lock_guard lock(mu_);
  if (!handlers_.count(kind)) kinds_.push_back(kind);
  handlers_[std::move(kind)] = std::move(handler);
}

void Worker::Start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty()) return;
  // A server killed on this machine and started again resumes the jobs it was running at once, rather than
  // after their leases (a minute by default). Should this fail, those leases end by themselves.
  auto released = queue_.ReleaseLeasesOfDeadProcesses(options_.name);
  released_at_start_ = released ? *released : 0;
  stopping_ = false;
  heartbeat_stopping_ = false;
  for (int i = 0; i < std::max(1, options_.threads); ++i)
    threads_.emplace_back([this, i] {
      SetThreadName("kt-job-" + std::to_string(i));
      // Only ever raised, which the kernel always allows; were it refused, the jobs run at the process's.
      if (options_.nice > 0) (void)SetThreadNice(options_.nice);
      Loop(i);
    });
  heartbeat_thread_ = std::thread([this] {
    SetThreadName("kt-job-beat");
    HeartbeatLoop();
  });
}

void Worker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // The heartbeat thread ends after the workers, so leases are kept alive while handlers finish.
  if (heartbeat_thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      heartbeat_stopping_ = true;
    }
    cv_.notify_all();
    heartbeat_thread_.join();
  }
}

void Worker::Notify() {
  {
    std::lock_guard lock(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void Worker::WakeIn(Millis delay) {
  if (delay.count() <= 0) return Notify();
  using namespace std::chrono;
  // A millisecond late, so the work queued to run at the same moment is due when the thread looks.
  const auto at = steady_clock::now() + delay + milliseconds(1);
  {
    std::lock_guard lock(mu_);
    // A wake-up already due by then serves this one too: a burst of events asks for many, but its job was
    // queued to run at the first event's time.
    if (!wake_times_.empty() && *wake_times_.begin() <= at + milliseconds(5)) return;
    wake_times_.insert(at);
    ++wake_times_changed_;
  }
  cv_.notify_all();
}

bool Worker::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Worker::CompletedInTransaction() {
  if (running_job.job) running_job.completed = true;
}

Result<bool> Worker::RunOnce(std::string_view worker_id) {
  std::vector<std::string> kinds;
  {
    std::lock_guard lock(mu_);
    kinds = kinds_;
  }
  if (kinds.empty()) return false;
  auto claimed = queue_.Claim(worker_id, kinds, options_.lease);
  if (!claimed) return tl::unexpected(claimed.error());
  if (!*claimed) return false;
  auto ran = Run(**claimed, nullptr);
  if (!ran) return tl::unexpected(ran.error());
  return true;
}

Result<std::optional<Job>> Worker::Run(const Job& job, const NextClaim* next_claim) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    handler = handlers_.at(job.kind);
    in_flight_[job.id] = job.worker_id;
  }
  Status status;
  running_job = RunningJob{&job, false, next_claim, std::nullopt};
  try {
    status = handler(job);
  } catch (const std::exception& e) {
    status =
        kt::Fail(ErrorKind::kInternal, "handler_exception", "The job failed unexpectedly.", "", e.what());
  } catch (...) {
    status = kt::Fail(ErrorKind::kInternal, "handler_exception", "The job failed unexpectedly.", "",
                      "unknown exception");
  }
  const bool completed = running_job.completed;
  // Claimed in the completing transaction, so the thread's only when that committed; otherwise the claim
  // was rolled back with it.
  std::optional<Job> next = completed ? std::move(running_job.claimed_next) : std::nullopt;
  running_job = RunningJob{};
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(job.id);
  }
  if (completed) return next;  // done, with the handler's last transaction
  if (status) {
    if (auto done = queue_.Complete(job); !done) return tl::unexpected(done.error());
  } else {
    bool permanent = status.error().kind == ErrorKind::kInvalidInput;
    if (auto failed = queue_.Fail(job, DescribeError(status.error()), permanent); !failed)
      return tl::unexpected(failed.error());
  }
  return std::nullopt;
}

void Worker::Loop(int index) {
  NextClaim next_claim;
  next_claim.worker_id = options_.name + "-" + ProcessTag() + std::to_string(index);
  next_claim.lease = options_.lease;
  {
    std::lock_guard lock(mu_);
    next_claim.kinds = kinds_;
  }
  std::optional<Job> next;  // claimed by the last job's completing transaction
  while (!Stopping()) {
    Result<bool> ran = false;
    if (!next && !next_claim.kinds.empty()) {
      auto claimed = queue_.Claim(next_claim.worker_id, next_claim.kinds, next_claim.lease);
      if (!claimed)
        ran = tl::unexpected(claimed.error());
      else
        next = std::move(*claimed);
    }
    if (next) {
      const Job job = std::move(*next);
      next.reset();
      auto after = Run(job, &next_claim);
      if (after) {
        next = std::move(*after);
        ran = true;
      } else {
        ran = tl::unexpected(after.error());
      }
    }
    if (ran && *ran) continue;  // there may be more work: look again at once
    std::unique_lock lock(mu_);
    const uint64_t seen = wakeups_;
    const auto poll_at = std::chrono::steady_clock::now() + options_.idle_poll;
    while (!stopping_ && wakeups_ == seen) {
      const auto now = std::chrono::steady_clock::now();
      // Past wake-ups are served: this thread has just looked.
      while (!wake_times_.empty() && *wake_times_.begin() <= now) wake_times_.erase(wake_times_.begin());
      auto until = poll_at;
      if (!wake_times_.empty() && *wake_times_.begin() < until) until = *wake_times_.begin();
      if (until <= now) break;
      const uint64_t changed = wake_times_changed_;
      bool woken = cv_.wait_until(
          lock, until, [&] { return stopping_ || wakeups_ != seen || wake_times_changed_ != changed; });
      if (woken) continue;
      if (until == poll_at) break;  // the poll is due
      // A requested wake-up is due: one thread takes it, the others keep waiting.
      if (wake_times_.erase(until) > 0) {
        ++wake_times_changed_;
        break;
      }
    }
  }
  // Stopping with a job claimed but not begun: it goes back to the queue at once, its attempt not counted
  // (were this to fail, its lease ends by itself).
  if (next) (void)queue_.Release(*next);
}

// Heartbeats for the jobs in flight, and now and then the purge of old done jobs (they would otherwise pile
// up: a sync writes one per page batch).
void Worker::HeartbeatLoop() {
  auto last_purge = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, options_.heartbeat_interval, [&] { return heartbeat_stopping_; });
    if (heartbeat_stopping_) return;
    auto jobs = in_flight_;
    lock.unlock();
    for (const auto& [job_id, worker_id] : jobs) queue_.Heartbeat(job_id, worker_id, options_.lease);
    if (options_.keep_done.count() > 0 &&
        std::chrono::steady_clock::now() - last_purge >= options_.purge_interval) {
      last_purge = std::chrono::steady_clock::now();
      (void)queue_.PurgeDone(queue_.clock().NowUnixMs() - options_.keep_done.count());
    }
    lock.lock();
  }
}

}  // namespace kt::queue
