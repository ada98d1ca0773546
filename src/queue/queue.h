// A durable job queue in the Store (table jobs): leases, retries with backoff, dead letters, and a Worker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/random.h"

namespace kt::queue {

// Job statuses as stored in jobs.status.
inline constexpr char kPending[] = "pending";  // waiting for run_at, or for a worker
inline constexpr char kRunning[] = "running";  // claimed; the lease runs until lease_until
inline constexpr char kDone[] = "done";
inline constexpr char kDead[] = "dead";  // failed max_attempts times; kept for inspection

struct Job {
  int64_t id = 0;
  std::string kind;
  std::string payload_json;
  std::string status;
  int64_t priority = 0;
  int64_t run_at_ms = 0;
  int64_t attempts = 0;  // claims so far, this one included
  int64_t max_attempts = 0;
  std::optional<std::string> dedupe_key;
  std::optional<int64_t> client_id;
  std::string worker_id;
  int64_t lease_until_ms = 0;
  std::string last_error;  // of the last failed attempt: "code: message (detail)"
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> finished_at_ms;

  // The error code of the last failed attempt (empty when none failed).
  std::string LastErrorCode() const { return last_error.substr(0, last_error.find(':')); }
};

struct EnqueueOptions {
  std::optional<int64_t> run_at_ms;  // default: now
  int64_t priority = 100;            // lower runs first
  int64_t max_attempts = 5;
  std::string dedupe_key;            // non-empty: at most one pending or running job has it
  std::optional<int64_t> client_id;  // the tenant the job works for, if any
};

// Retry delays: attempt n (1-based) waits a uniformly random time in [0, min(cap, base * 2^(n-1))] ("full
// jitter").
struct BackoffPolicy {
  Millis base{1000};
  Millis cap{Millis(15 * 60 * 1000)};
};

struct FailOutcome {
  bool dead = false;        // true: dead-lettered, no more attempts
  int64_t retry_at_ms = 0;  // when it becomes claimable again (when not dead)
};

struct StatusCounts {
  int64_t pending = 0;
  int64_t running = 0;
  int64_t done = 0;
  int64_t dead = 0;
};

// What a Worker's thread claims with: set while its handler runs, so the handler's completing transaction can
// claim the thread's next job (Queue::CompleteRunning).
struct NextClaim {
  std::string worker_id;
  std::vector<std::string> kinds;
  Millis lease{60'000};
};

class Queue {
 public:
  Queue(store::Store& store, Clock& clock, Random& random, BackoffPolicy backoff = {});

  // Adds a job; returns its id. With a dedupe_key that a pending or running job has, returns that job's id.
  Result<int64_t> Enqueue(std::string_view kind, std::string_view payload_json,
                          const EnqueueOptions& options = {});
  // The same inside the caller's transaction, so the job exists exactly when the caller's change commits.
  Result<int64_t> Enqueue(store::Tx& tx, std::string_view kind, std::string_view payload_json,
                          const EnqueueOptions& options = {});

  // Takes the next due job of one of kinds (all kinds when empty) for lease: pending jobs whose run_at has
  // come, and running jobs whose lease has expired (their worker died). Order: priority, run_at, id.
  Result<std::optional<Job>> Claim(std::string_view worker_id, const std::vector<std::string>& kinds,
                                   Millis lease);
  // Running jobs held by workers "<worker_name>-<host>-<pid>-<thread>" whose process no longer exists on this
  // machine (a server killed and restarted on the same SQLite file) become claimable now instead of at their
  // lease's end. Returns how many. Only where the store is SQLite: its processes share one machine (and, the
  // safe reading, one process namespace); PostgreSQL's workers on other hosts keep their leases.
  Result<int64_t> ReleaseLeasesOfDeadProcesses(std::string_view worker_name);
  // Extends the lease; fails with kConflict ("lease_lost") when the job is no longer this worker's.
  Status Heartbeat(int64_t job_id, std::string_view worker_id, Millis lease);
  // Marks the job done and counts the completion (jobs.completions); fails with kConflict ("lease_lost")
  // when it is no longer this worker's (the completion is counted then too: the handler did finish).
  Status Complete(const Job& job);
  // Completes the job the calling thread's Worker is running, inside the handler's own (last) transaction, so
  // the work and the completion commit together: a crash cannot leave the work done and the job to run again.
  // True when it was marked done; false when the thread runs no job (a direct call, not through a Worker) or
  // the job is no longer this worker's (the Worker then completes it as usual and reports the lost lease).
  // Once the transaction has committed, the handler calls Worker::CompletedInTransaction().
  //
  // On a Worker's own threads the same transaction also claims the thread's next job (Worker::Loop runs it
  // next), so a stream of short jobs takes one transaction each rather than two.
  Result<bool> CompleteRunning(store::Tx& tx);
  // Gives back a job claimed but never begun (a Worker stopping): pending again at once, the attempt not
  // counted. Fails with kConflict ("lease_lost") when it is no longer this worker's.
  Status Release(const Job& job);
  // Records a failed attempt: the job is retried after a backoff, or dead-lettered after max_attempts
  // (at once when permanent). Fails with kConflict ("lease_lost") when it is no longer this worker's.
  Result<FailOutcome> Fail(const Job& job, std::string_view error, bool permanent = false);

  // The delay before retrying after the given number of attempts (draws from the injected Random).
  Millis RetryDelay(int64_t attempts);

  Result<std::optional<Job>> Get(int64_t job_id);
  // The pending or running job with this dedupe key, if any (one probe of the index that keeps it unique).
  Result<std::optional<Job>> GetLive(std::string_view dedupe_key);
  // The pending job with this dedupe key, if it waits past `run_at_ms` (a retry's backoff, say), runs at
  // `run_at_ms` instead: what it waited for has passed.
  Status BringForward(store::Tx& tx, std::string_view dedupe_key, int64_t run_at_ms);
  Result<StatusCounts> CountByStatus();
  // Whether any job is pending or running: index probes for the two statuses, where CountByStatus counts
  // every job kept.
  Result<bool> HasLiveJobs();
  // Pending/running/done/dead counts per kind, for metrics.
  Result<std::map<std::string, StatusCounts>> CountByKindAndStatus();
  // Dead jobs, most recent first.
  Result<std::vector<Job>> ListDead(int64_t limit = 100);
  // Puts a dead job back to pending with a fresh set of attempts.
  Status Revive(int64_t job_id);
  // Deletes done jobs finished before the cutoff; returns how many.
  Result<int64_t> PurgeDone(int64_t finished_before_ms);

  Clock& clock() { return clock_; }

 private:
  // Claim's work inside the caller's transaction.
  Result<std::optional<Job>> ClaimIn(store::Tx& tx, std::string_view worker_id,
                                     const std::vector<std::string>& kinds, Millis lease);

  store::Store& store_;
  Clock& clock_;
  Random& random_;
  BackoffPolicy backoff_;
};

struct WorkerOptions {
  int threads = 2;
  std::string name = "worker";  // worker ids are "<name>-<host>-<pid>-<thread>"
  Millis lease{60'000};
  Millis heartbeat_interval{15'000};  // must be well under lease
  Millis idle_poll{250};              // how long an idle thread waits before looking again (real time)
  // Done jobs are deleted this long after they finish (by the queue's clock), looked for every purge_interval
  // (real time); zero keeps them.
  Millis keep_done{3'600'000};
  Millis purge_interval{300'000};
  // The threads' nice value (Linux; 0 keeps the process's). Background work given a higher value yields the
  // CPU to the server's answering threads when both want it, and still uses every idle cycle.
  int nice = 0;
};

// Runs registered handlers on N threads: claim, run, complete or fail, heartbeat while a handler runs.
// A handler's error is retried with backoff; ErrorKind::kInvalidInput means the payload can never work and
// dead-letters the job at once. An exception from a handler counts as a failed attempt.
class Worker {
 public:
  using Handler = std::function<Status(const Job&)>;

  Worker(Queue& queue, WorkerOptions options = {});
  ~Worker();  // Stop()s
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Register handlers before Start().
  void Register(std::string kind, Handler handler);
  void Start();
  // Stops claiming, waits for running handlers to finish and joins the threads.
  void Stop();
  // Wakes idle threads now (e.g. right after enqueueing urgent work).
  void Notify();
  // Wakes idle threads `delay` from now (work was queued to run then), rather than at their next poll.
  void WakeIn(Millis delay);
  // Tells the Worker running the calling thread's job that the handler completed it in its own committed
  // transaction (Queue::CompleteRunning), so it is not completed again.
  static void CompletedInTransaction();
  // Claims and runs one job on the calling thread; false when there was nothing to do (for tests and tools).
  Result<bool> RunOnce(std::string_view worker_id = "inline");
  // How many jobs of a killed process of this machine Start() made claimable at once (for the log).
  int64_t ReleasedAtStart() const { return released_at_start_; }

 private:
  void Loop(int index);
  // Runs a claimed job's handler and completes or fails it. With next_claim, returns the next job its
  // completing transaction claimed, if any.
  Result<std::optional<Job>> Run(const Job& job, const NextClaim* next_claim);
  void HeartbeatLoop();
  bool Stopping();

  Queue& queue_;
  WorkerOptions options_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::string> kinds_;
  std::vector<std::thread> threads_;
  std::thread heartbeat_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool heartbeat_stopping_ = false;
  uint64_t wakeups_ = 0;
  std::set<std::chrono::steady_clock::time_point> wake_times_;  // WakeIn's, future ones only
  uint64_t wake_times_changed_ = 0;
  std::map<int64_t, std::string> in_flight_;  // job id -> worker id, for heartbeats
  int64_t released_at_start_ = 0;
};

}  // namespace kt::queue
