// The Store and job queue contract, run unchanged against SQLite and a real PostgreSQL (test names end in the
// backend).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "postgres.h"
#include "process.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/process.h"
#include "util/random.h"
#include "util/thread_name.h"

// GCC 12 warns about members left out of designated initializers even when they have defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kt {
namespace {

using queue::EnqueueOptions;
using queue::Job;
using queue::Queue;
using store::Blob;
using store::Dialect;
using store::Params;
using store::Store;
using store::Tx;
using namespace std::chrono_literals;

enum class Backend { kSqlite, kPostgres };

std::string BackendName(Backend b) {
  return b == Backend::kSqlite ? "Sqlite" : "Postgres";
}
void PrintTo(Backend b, std::ostream* os) {
  *os << BackendName(b);
}

// A database name for this test: its name in lower case, [a-z0-9_].
std::string DatabaseNameForTest(const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("t_") + info->name() + suffix;
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '_';
  }
  return name.substr(0, 60);
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::cout << "[ backend  ] " << BackendName(GetParam()) << std::endl;
    RecordProperty("backend", BackendName(GetParam()));
    url_ = FreshDatabaseUrl();
    if (url_.empty()) return;  // skipped
    auto opened = store::OpenStore(url_);
    ASSERT_TRUE(opened) << opened.error().message << ": " << opened.error().detail;
    store_ = std::move(*opened);
    auto migrated = store::Migrate(*store_);
    ASSERT_TRUE(migrated) << migrated.error().message << ": " << migrated.error().detail;
    migrated_ = *migrated;
  }

  // A URL to an empty database of the backend under test.
  std::string FreshDatabaseUrl(const std::string& suffix = "") {
    if (GetParam() == Backend::kSqlite)
      return "sqlite:" + dir_.path() + "/nested/folder" + suffix + "/ktrack.db";
    std::string why_not;
    if (!testing::PostgresServer::Available(&why_not)) {
      ADD_FAILURE() << "PostgreSQL is not available for the contract tests: " << why_not;
      return "";
    }
    return testing::PostgresServer::Instance().CreateDatabase(DatabaseNameForTest(suffix));
  }

  Store& db() { return *store_; }

  // A new database with every migration before `name` applied, to check what `name` does to data stored
  // before it. Null (and a failure recorded) if that went wrong.
  std::unique_ptr<Store> MigratedUpTo(const std::string& name) {
    auto opened = store::OpenStore(FreshDatabaseUrl("_" + name));
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return nullptr;
    }
    std::vector<store::Migration> before;
    for (const auto& m : store::AllMigrations()) {
      if (m.name == name) break;
      before.push_back(m);
    }
    auto migrated = store::Migrate(**opened, before);
    if (!migrated || before.size() == store::AllMigrations().size()) {
      ADD_FAILURE() << "no migration " << name << " to stop before";
      return nullptr;
    }
    return std::move(*opened);
  }

  template <typename T>
  static void Ok(const Result<T>& r) {
    ASSERT_TRUE(r) << r.error().code << ": " << r.error().message << " " << r.error().detail;
  }

  template <typename T>
  static T Must(Result<T> r) {
    if (!r) {
      ADD_FAILURE() << r.error().code << ": " << r.error().message << " " << r.error().detail;
      throw std::runtime_error("store call failed");
    }
    return std::move(*r);
  }

  int64_t Count(const std::string& table) {
    return Must(db().Query("SELECT COUNT(*) AS n FROM " + table)).rows.at(0).Int("n");
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
  int migrated_ = 0;
};

#define SKIP_IF_NO_STORE() \
  if (!store_) return

// ---- Migrations ----

TEST_P(StoreContract, MigratesEmptyDatabaseAndRerunIsNoOp) {
  SKIP_IF_NO_STORE();
  const auto& all = store::AllMigrations();
  EXPECT_EQ(migrated_, static_cast<int>(all.size()));
  EXPECT_EQ(Must(store::Migrate(db())), 0);
  EXPECT_EQ(Must(store::Migrate(db())), 0);
  EXPECT_EQ(Must(store::SchemaVersion(db())), all.back().version);
  EXPECT_EQ(Count("schema_migrations"), static_cast<int64_t>(all.size()));
  auto first = Must(db().Query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version"));
  EXPECT_EQ(first.rows[0].Int("version"), 1);
  EXPECT_EQ(first.rows[0].Text("name"), "foundation");
  EXPECT_GT(first.rows[0].Int("applied_at"), 1'600'000'000'000);
  for (const char* table : {"clients", "users", "memberships", "sessions", "api_tokens", "secrets",
                            "audit_log", "sign_in_attempts", "jobs"}) {
    EXPECT_EQ(Count(table), 0) << table;
  }
}

TEST_P(StoreContract, MigrationsRunAtOnceFromTwoProcessesApplyOnce) {
  SKIP_IF_NO_STORE();
  std::string url = FreshDatabaseUrl("_second");
  auto a = store::OpenStore(url);
  auto b = store::OpenStore(url);
  ASSERT_TRUE(a && b);
  Result<int> ra = 0, rb = 0;
  std::thread ta([&] { ra = store::Migrate(**a); });
  std::thread tb([&] { rb = store::Migrate(**b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra) << ra.error().detail;
  ASSERT_TRUE(rb) << rb.error().detail;
  EXPECT_EQ(*ra + *rb, static_cast<int>(store::AllMigrations().size()));
  EXPECT_EQ(Must(store::SchemaVersion(**a)), store::AllMigrations().back().version);
}

// Migration 6 moves the webhook inbox's payloads into a table of their own: events stored before it keep
// theirs, under their inbox id.
TEST_P(StoreContract, InboxPayloadsMigrationKeepsStoredPayloads) {
  SKIP_IF_NO_STORE();
  auto opened = MigratedUpTo("inbox_payloads");
  ASSERT_TRUE(opened);
  Store& old = *opened;
  for (int i = 1; i <= 2; ++i) {
    Ok(old.Exec(
        "INSERT INTO webhook_inbox (client_id, event_key, payload_version, resource_name, event_type, "
        "resource_id, company_id, event_at_ms, payload, received_at) VALUES (1, $1, 'v2.0', 'RFIs', "
        "'update', "
        "$2, 9, 0, $3, 0)",
        {"key-" + std::to_string(i), int64_t{i}, "{\"raw\": " + std::to_string(i) + "}"}));
  }
  EXPECT_GE(Must(store::Migrate(old)), 1);
  auto moved = Must(old.Query(
      "SELECT i.event_key, p.payload, p.client_id FROM webhook_inbox i JOIN webhook_inbox_payloads p ON "
      "p.inbox_id = i.id ORDER BY i.id"));
  ASSERT_EQ(moved.rows.size(), 2u);
  EXPECT_EQ(moved.rows[0].Text(0), "key-1");
  EXPECT_EQ(moved.rows[0].Text(1), "{\"raw\": 1}");
  EXPECT_EQ(moved.rows[1].Text(1), "{\"raw\": 2}");
  EXPECT_EQ(moved.rows[1].Int(2), 1);  // the event's client, for a table distributed by client
  EXPECT_FALSE(old.Query("SELECT payload FROM webhook_inbox"));  // the column is gone
}

// Migration 7 deletes the payloads a client's purge used to leave behind (their events gone), and keeps the
// others.
TEST_P(StoreContract, OrphanPayloadsMigrationDeletesOnlyPayloadsWithoutTheirEvent) {
  SKIP_IF_NO_STORE();
  auto opened = MigratedUpTo("orphan_payloads");
  ASSERT_TRUE(opened);
  Store& old = *opened;
  auto kept = Must(old.Query(
      "INSERT INTO webhook_inbox (client_id, event_key, payload_version, resource_name, event_type, "
      "resource_id, company_id, event_at_ms, received_at) VALUES (1, 'kept', 'v2.0', 'RFIs', 'update', 1, 9, "
      "0, 0) RETURNING id"));
  const int64_t kept_id = kept.rows.at(0).Int(0);
  Ok(old.Exec("INSERT INTO webhook_inbox_payloads (inbox_id, client_id, payload) VALUES ($1, 1, '{}')",
              {kept_id}));
  Ok(old.Exec("INSERT INTO webhook_inbox_payloads (inbox_id, client_id, payload) VALUES ($1, 2, '{}')",
              {kept_id + 1000}));
  EXPECT_GE(Must(store::Migrate(old)), 1);
  auto left = Must(old.Query("SELECT inbox_id FROM webhook_inbox_payloads"));
  ASSERT_EQ(left.rows.size(), 1u);
  EXPECT_EQ(left.rows[0].Int(0), kept_id);
}

// SQLite keeps statement journals and temporary b-trees in memory (a webhook batch's multi-row statements
// would otherwise spill theirs to temporary files).
TEST_P(StoreContract, SqliteConnectionSettings) {
  SKIP_IF_NO_STORE();
  if (GetParam() != Backend::kSqlite) return;
  EXPECT_EQ(Must(db().Query("PRAGMA temp_store")).rows.at(0).Int(0), 2);  // 2 = MEMORY
  // A WAL grown by a burst is cut back to 64 MiB when the log next starts again.
  EXPECT_EQ(Must(db().Query("PRAGMA journal_size_limit")).rows.at(0).Int(0), 64 << 20);
}

TEST_P(StoreContract, SchemaEnforcesUniqueEmailsRolesAndForeignKeys) {
  SKIP_IF_NO_STORE();
  Ok(db().Exec("INSERT INTO users (email, password_hash, created_at) VALUES ($1, 'h', 1)",
               {"a@example.com"}));
  auto dup = db().Exec("INSERT INTO users (email, password_hash, created_at) VALUES ($1, 'h', 1)",
                       {"a@example.com"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, store::kUniqueViolation);
  EXPECT_EQ(dup.error().kind, ErrorKind::kConflict);
  auto orphan = db().Exec("INSERT INTO memberships (client_id, user_id, role) VALUES (999, 999, 'admin')");
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, store::kConstraintViolation);
  int64_t client = Must(db().Query("INSERT INTO clients (name, created_at) VALUES ('Acme', 1) RETURNING id"))
                       .rows[0]
                       .Int("id");
  int64_t user = Must(db().Query("SELECT id FROM users")).rows[0].Int(0);
  auto bad_role = db().Exec("INSERT INTO memberships (client_id, user_id, role) VALUES ($1, $2, 'owner')",
                            {client, user});
  ASSERT_FALSE(bad_role);
  EXPECT_EQ(bad_role.error().code, store::kConstraintViolation);
  Ok(db().Exec("INSERT INTO memberships (client_id, user_id, role) VALUES ($1, $2, 'admin')",
               {client, user}));
  auto twice = db().Exec("INSERT INTO memberships (client_id, user_id, role) VALUES ($1, $2, 'member')",
                         {client, user});
  EXPECT_EQ(twice.error().code, store::kUniqueViolation);
}

// ---- Statements ----

TEST_P(StoreContract, CrudKeepsBigIdsUnicodeNullsAndBlobs) {
  SKIP_IF_NO_STORE();
  Ok(
      db().Exec(store::ExpandDialectTokens("CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT, score "
                                           "DOUBLE PRECISION, data {{blob}}, note TEXT)",
                                           db().dialect())));
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable as a double
  const int64_t max = std::numeric_limits<int64_t>::max();
  const std::string name = "Zürich — 工地 🚧 \"quoted\" 'single' $1 \\ end";
  const Blob data{std::string("\0\x01\xff\0zero\0", 10)};
  auto inserted = db().Exec("INSERT INTO things (id, name, score, data, note) VALUES ($1, $2, $3, $4, $5)",
                            {big, name, 2.5, data, nullptr});
  ASSERT_TRUE(inserted) << inserted.error().detail;
  EXPECT_EQ(*inserted, 1);
  Ok(db().Exec("INSERT INTO things (id, name, score, data, note) VALUES ($1, 'costs $2', $2, $3, 'n')",
               {max, -0.125, Blob{}}));

  auto r = Must(db().Query("SELECT id, name, score, data, note FROM things WHERE id = $1", {big}));
  ASSERT_EQ(r.rows.size(), 1u);
  const auto& row = r.rows[0];
  EXPECT_EQ(row.Int("id"), big);
  EXPECT_EQ(row.Text("name"), name);
  EXPECT_DOUBLE_EQ(row.Double("score"), 2.5);
  ASSERT_TRUE(std::holds_alternative<Blob>(row.At(3)));
  EXPECT_EQ(std::get<Blob>(row.At(3)).bytes, data.bytes);
  EXPECT_EQ(row.Text("data"), data.bytes);
  EXPECT_TRUE(row.IsNull("note"));
  EXPECT_EQ(row.OptText("note"), std::nullopt);
  EXPECT_EQ(row.OptInt("id"), big);

  auto second = Must(db().Query("SELECT id, name, score, data FROM things WHERE id = $1", {max})).rows.at(0);
  EXPECT_EQ(second.Int("id"), max);
  EXPECT_EQ(second.Text("name"), "costs $2");  // placeholders inside literals are left alone
  EXPECT_DOUBLE_EQ(second.Double("score"), -0.125);
  EXPECT_FALSE(second.IsNull("data"));  // an empty blob is not NULL
  EXPECT_EQ(second.Text("data"), "");

  EXPECT_EQ(Must(db().Exec("UPDATE things SET note = $1 WHERE id = $2", {"updated", big})), 1);
  EXPECT_EQ(Must(db().Query("SELECT note FROM things WHERE id = $1", {big})).rows[0].Text(0), "updated");
  EXPECT_EQ(Must(db().Exec("UPDATE things SET note = 'x' WHERE id = $1", {int64_t{42}})), 0);
  EXPECT_EQ(Must(db().Query("SELECT id FROM things ORDER BY id")).rows.size(), 2u);
  EXPECT_EQ(Must(db().Exec("DELETE FROM things WHERE id = $1", {big})), 1);
  EXPECT_TRUE(Must(db().Query("SELECT id FROM things WHERE id = $1", {big})).empty());
  EXPECT_EQ(Must(db().Query("SELECT SUM(id) AS s, COUNT(*) AS n FROM things")).rows[0].Int("s"), max);
}

TEST_P(StoreContract, UpsertWithOnConflict) {
  SKIP_IF_NO_STORE();
  Ok(db().Exec("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL, label TEXT)"));
  const std::string upsert =
      "INSERT INTO counters (name, n, label) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n, label = excluded.label";
  for (int64_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(Must(db().Exec(upsert, {"hits", i, "v" + std::to_string(i)})), 1);
  }
  auto row = Must(db().Query("SELECT n, label FROM counters WHERE name = $1", {"hits"})).rows.at(0);
  EXPECT_EQ(row.Int("n"), 6);
  EXPECT_EQ(row.Text("label"), "v3");
  EXPECT_EQ(
      Must(db().Exec("INSERT INTO counters (name, n) VALUES ('hits', 1) ON CONFLICT (name) DO NOTHING")), 0);
  EXPECT_EQ(Count("counters"), 1);
}

TEST_P(StoreContract, ReturningGivesGeneratedIdsAndRows) {
  SKIP_IF_NO_STORE();
  auto a = Must(db().Query("INSERT INTO clients (name, created_at) VALUES ($1, $2) RETURNING id, name",
                           {"A", int64_t{1}}));
  auto b = Must(
      db().Query("INSERT INTO clients (name, created_at) VALUES ($1, $2) RETURNING id", {"B", int64_t{2}}));
  ASSERT_EQ(a.rows.size(), 1u);
  EXPECT_EQ(a.affected, 1);
  EXPECT_GT(a.rows[0].Int("id"), 0);
  EXPECT_EQ(a.rows[0].Text("name"), "A");
  EXPECT_GT(b.rows[0].Int("id"), a.rows[0].Int("id"));
  auto renamed = Must(db().Query("UPDATE clients SET name = name || '!' RETURNING id, name"));
  EXPECT_EQ(renamed.rows.size(), 2u);
  EXPECT_EQ(renamed.affected, 2);
  auto gone = Must(db().Query("DELETE FROM clients WHERE id = $1 RETURNING name", {a.rows[0].Int("id")}));
  EXPECT_EQ(gone.rows.at(0).Text("name"), "A!");
}

// ---- Transactions ----

TEST_P(StoreContract, TransactCommitsOrRollsBackAsAWhole) {
  SKIP_IF_NO_STORE();
  Ok(db().Transact([](Tx& tx) -> Status {
    if (auto r = tx.Exec("INSERT INTO clients (name, created_at) VALUES ('kept', 1)"); !r)
      return tl::unexpected(r.error());
    auto r = tx.Query("SELECT COUNT(*) FROM clients");  // sees its own write
    if (!r || r->rows[0].Int(0) != 1) return Fail(ErrorKind::kInternal, "x", "own write not visible");
    return {};
  }));

  Status failed = db().Transact([](Tx& tx) -> Status {
    if (auto r = tx.Exec("INSERT INTO clients (name, created_at) VALUES ('lost', 1)"); !r)
      return tl::unexpected(r.error());
    return Fail(ErrorKind::kConflict, "changed_mind", "no");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "changed_mind");

  EXPECT_THROW(db().Transact([](Tx& tx) -> Status {
    (void)tx.Exec("INSERT INTO clients (name, created_at) VALUES ('lost too', 1)");
    throw std::runtime_error("bug");
  }),
               std::runtime_error);

  // A failed statement dooms the transaction even if fn carries on.
  Status carried_on = db().Transact([](Tx& tx) -> Status {
    (void)tx.Exec("INSERT INTO clients (name, created_at) VALUES ('lost three', 1)");
    (void)tx.Exec("INSERT INTO no_such_table VALUES (1)");
    return {};
  });
  ASSERT_FALSE(carried_on);
  EXPECT_NE(carried_on.error().detail.find("a statement failed inside the transaction"), std::string::npos)
      << carried_on.error().detail;

  auto names = Must(db().Query("SELECT name FROM clients ORDER BY id"));
  ASSERT_EQ(names.rows.size(), 1u);
  EXPECT_EQ(names.rows[0].Text("name"), "kept");
  // The connections went back to the pool clean: more transactions work.
  for (int i = 0; i < 20; ++i) Ok(db().Exec("INSERT INTO clients (name, created_at) VALUES ('more', 1)"));
  EXPECT_EQ(Count("clients"), 21);
}

TEST_P(StoreContract, ConcurrentWritersAllSucceed) {
  SKIP_IF_NO_STORE();
  Ok(db().Exec("CREATE TABLE tally (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"));
  Ok(db().Exec("INSERT INTO tally (id, n) VALUES (1, 0)"));
  constexpr int kThreads = 6, kPerThread = 30;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Status s = db().Transact([&](Tx& tx) -> Status {
          if (auto r = tx.Exec("UPDATE tally SET n = n + 1 WHERE id = 1"); !r)
            return tl::unexpected(r.error());
          auto r = tx.Exec(
              "INSERT INTO audit_log (client_id, user_id, action, created_at) VALUES ($1, $2, 'w', 1)",
              {int64_t{t}, int64_t{i}});
          if (!r) return tl::unexpected(r.error());
          return {};
        });
        if (!s) {
          ++failures;
          ADD_FAILURE() << s.error().code << " " << s.error().detail;
        }
        if (!db().Query("SELECT COUNT(*) FROM audit_log")) ++failures;  // readers alongside
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Must(db().Query("SELECT n FROM tally WHERE id = 1")).rows[0].Int(0), kThreads * kPerThread);
  EXPECT_EQ(Count("audit_log"), kThreads * kPerThread);
}

// Lookup may run on the connection writes use (SQLite): it sees what is committed, never what a
// transaction in progress has written, and it answers while that transaction holds the write lock.
TEST_P(StoreContract, ALookupSeesWhatIsCommittedAndNotAWriteInProgress) {
  SKIP_IF_NO_STORE();
  Ok(db().Exec("INSERT INTO clients (name, created_at) VALUES ('committed', 1)"));
  const std::string count = "SELECT COUNT(*) FROM clients";
  EXPECT_EQ(Must(db().Lookup(count)).rows[0].Int(0), 1);

  std::promise<void> written, looked;
  std::thread writer([&] {
    Ok(db().Transact([&](Tx& tx) -> Status {
      if (auto r = tx.Exec("INSERT INTO clients (name, created_at) VALUES ('in progress', 1)"); !r)
        return tl::unexpected(r.error());
      written.set_value();
      looked.get_future().wait();
      return {};
    }));
  });
  written.get_future().wait();
  auto during = db().Lookup(count);
  looked.set_value();
  writer.join();
  ASSERT_TRUE(during) << during.error().detail;
  EXPECT_EQ(during->rows[0].Int(0), 1);
  EXPECT_EQ(Must(db().Lookup(count)).rows[0].Int(0), 2);
  EXPECT_EQ(
      Must(db().Lookup("SELECT name FROM clients WHERE name = $1", {std::string("in progress")})).rows.size(),
      1u);
}

TEST_P(StoreContract, PingAndDescribeWithoutPassword) {
  SKIP_IF_NO_STORE();
  Ok(db().Ping());
  std::string described = db().Describe();
  if (GetParam() == Backend::kSqlite) {
    EXPECT_EQ(described, url_);
    return;
  }
  EXPECT_TRUE(described.starts_with("postgresql://")) << described;
  std::string with_password = url_;
  with_password.replace(with_password.find("postgres@"), 9, "postgres:s3cret-pw@");
  auto opened = store::OpenStore(with_password + "?application_name=x");
  ASSERT_TRUE(opened) << opened.error().detail;
  Ok((*opened)->Ping());
  EXPECT_EQ((*opened)->Describe().find("s3cret"), std::string::npos) << (*opened)->Describe();
  EXPECT_NE((*opened)->Describe().find("127.0.0.1"), std::string::npos);
}

// ---- Queue ----

class QueueContract : public StoreContract {
 protected:
  void SetUp() override {
    StoreContract::SetUp();
    if (store_)
      queue_ = std::make_unique<Queue>(*store_, clock_, random_, queue::BackoffPolicy{1000ms, 60'000ms});
  }
  Queue& q() { return *queue_; }
  int64_t Enqueue(const std::string& kind, const EnqueueOptions& o = {}, const std::string& payload = "{}") {
    return Must(q().Enqueue(kind, payload, o));
  }
  std::optional<Job> Claim(const std::string& worker, std::vector<std::string> kinds = {},
                           Millis lease = 30s) {
    return Must(q().Claim(worker, kinds, lease));
  }

  ManualClock clock_;
  SeededRandom random_{42};
  std::unique_ptr<Queue> queue_;
};

TEST_P(QueueContract, EnqueueClaimComplete) {
  SKIP_IF_NO_STORE();
  EXPECT_FALSE(Must(q().HasLiveJobs()));
  int64_t id = Enqueue("sync.stream", {.client_id = 7}, R"({"stream":"rfis"})");
  EXPECT_TRUE(Must(q().HasLiveJobs()));  // pending
  EXPECT_FALSE(Claim("w1", {"other.kind"}));
  auto job = Claim("w1", {"sync.stream", "other.kind"});
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, id);
  EXPECT_EQ(job->kind, "sync.stream");
  EXPECT_EQ(job->payload_json, R"({"stream":"rfis"})");
  EXPECT_EQ(job->status, queue::kRunning);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->client_id, 7);
  EXPECT_EQ(job->worker_id, "w1");
  EXPECT_EQ(job->lease_until_ms, clock_.NowUnixMs() + 30'000);
  EXPECT_FALSE(Claim("w2"));  // held
  auto counts = Must(q().CountByStatus());
  EXPECT_EQ(counts.running, 1);
  EXPECT_TRUE(Must(q().HasLiveJobs()));  // running
  Ok(q().Complete(*job));
  auto stored = Must(q().Get(id));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, queue::kDone);
  EXPECT_EQ(stored->finished_at_ms, clock_.NowUnixMs());
  counts = Must(q().CountByStatus());
  EXPECT_EQ(counts.done, 1);
  EXPECT_EQ(counts.pending + counts.running + counts.dead, 0);
  EXPECT_FALSE(Must(q().HasLiveJobs()));  // done only
  EXPECT_EQ(Must(q().CountByKindAndStatus())["sync.stream"].done, 1);
  EXPECT_FALSE(Claim("w2"));
  EXPECT_FALSE(q().Complete(*job));  // twice is a lost lease
}

TEST_P(QueueContract, ClaimsByPriorityThenRunAtThenId) {
  SKIP_IF_NO_STORE();
  int64_t now = clock_.NowUnixMs();
  int64_t low = Enqueue("k", {.priority = 100});
  int64_t urgent_later = Enqueue("k", {.run_at_ms = now - 10, .priority = 10});
  int64_t urgent_sooner = Enqueue("k", {.run_at_ms = now - 20, .priority = 10});
  int64_t urgent_same = Enqueue("k", {.run_at_ms = now - 10, .priority = 10});
  int64_t future = Enqueue("k", {.run_at_ms = now + 60'000, .priority = 0});
  std::vector<int64_t> order;
  while (auto job = Claim("w")) order.push_back(job->id);
  EXPECT_EQ(order, (std::vector<int64_t>{urgent_sooner, urgent_later, urgent_same, low}));
  clock_.Advance(60s);
  auto job = Claim("w");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, future);
}

TEST_P(QueueContract, JobOfDeadWorkerIsReclaimedAfterLeaseExpires) {
  SKIP_IF_NO_STORE();
  int64_t id = Enqueue("k");
  auto first = Claim("crashed-worker", {}, 30s);
  ASSERT_TRUE(first);
  clock_.Advance(29s);
  EXPECT_FALSE(Claim("w2"));
  clock_.Advance(1s);  // the lease ends now
  auto second = Claim("w2", {}, 30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, id);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_EQ(second->worker_id, "w2");
  // The first worker comes back: its lease is gone.
  auto lost = q().Complete(*first);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, "lease_lost");
  EXPECT_FALSE(q().Heartbeat(id, "crashed-worker", 30s));
  EXPECT_FALSE(q().Fail(*first, "late"));
  // The second keeps it alive by heartbeats past the original lease.
  clock_.Advance(20s);
  Ok(q().Heartbeat(id, "w2", 30s));
  clock_.Advance(20s);
  EXPECT_FALSE(Claim("w3"));
  Ok(q().Complete(*second));
}

// A server killed on this machine and started again (the same SQLite file) takes its jobs back at once; a job
// of a process still alive, or of another machine, keeps its lease. PostgreSQL's workers may be on other
// hosts, whose processes this one cannot see: there every lease runs out.
TEST_P(QueueContract, JobsOfAProcessGoneFromThisMachineAreClaimableAtOnce) {
  SKIP_IF_NO_STORE();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: no such process any more
  const std::string prefix = "worker-" + HostName() + "-";
  const int64_t orphaned = Enqueue("k", {.dedupe_key = "orphaned"});
  ASSERT_TRUE(Claim(prefix + std::to_string(child) + "-0", {}, 60s));
  const int64_t alive = Enqueue("k", {.dedupe_key = "alive"});
  ASSERT_TRUE(Claim(prefix + std::to_string(::getppid()) + "-1", {}, 60s));
  const int64_t elsewhere = Enqueue("k", {.dedupe_key = "elsewhere"});
  ASSERT_TRUE(Claim("worker-otherhost-" + std::to_string(child) + "-0", {}, 60s));
  const bool sqlite = store_->dialect() == store::Dialect::kSqlite;
  EXPECT_EQ(Must(q().ReleaseLeasesOfDeadProcesses("worker")), sqlite ? 1 : 0);
  auto resumed = Claim(prefix + "restarted-0");
  if (!sqlite) {
    EXPECT_FALSE(resumed) << "PostgreSQL: every lease runs out first";
    return;
  }
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->id, orphaned);
  EXPECT_EQ(resumed->attempts, 2);
  EXPECT_FALSE(Claim(prefix + "restarted-1")) << "the others' jobs stay theirs";
  EXPECT_EQ(Must(q().Get(alive))->status, queue::kRunning);
  EXPECT_EQ(Must(q().Get(elsewhere))->status, queue::kRunning);
}

TEST_P(QueueContract, RetriesBackOffExponentiallyWithFullJitter) {
  SKIP_IF_NO_STORE();
  // The delay for attempt n lies in [0, min(cap, base * 2^(n-1))] and uses the range, not just its bottom.
  for (int64_t n = 1; n <= 12; ++n) {
    int64_t ceiling = std::min<int64_t>(60'000, 1000 * (int64_t{1} << (n - 1)));
    int64_t largest = 0;
    for (int i = 0; i < 200; ++i) {
      int64_t d = q().RetryDelay(n).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << n;
      largest = std::max(largest, d);
    }
    EXPECT_GT(largest, ceiling / 2) << "attempt " << n;
  }
  // Through the queue: a failed job waits out its backoff before it can be claimed again.
  Enqueue("k", {.max_attempts = 6});
  for (int64_t attempt = 1; attempt <= 5; ++attempt) {
    auto job = Claim("w");
    ASSERT_TRUE(job) << "attempt " << attempt;
    EXPECT_EQ(job->attempts, attempt);
    auto outcome = Must(q().Fail(*job, "boom " + std::to_string(attempt)));
    EXPECT_FALSE(outcome.dead);
    int64_t delay = outcome.retry_at_ms - clock_.NowUnixMs();
    EXPECT_GE(delay, 0);
    EXPECT_LE(delay, 1000 * (int64_t{1} << (attempt - 1)));
    EXPECT_EQ(Must(q().Get(job->id))->last_error, "boom " + std::to_string(attempt));
    if (delay > 0) {
      clock_.Advance(Millis(delay - 1));
      EXPECT_FALSE(Claim("w")) << "claimable before its backoff ended";
      clock_.Advance(1ms);
    }
  }
}

TEST_P(QueueContract, DeadLettersAfterMaxAttempts) {
  SKIP_IF_NO_STORE();
  int64_t id = Enqueue("flaky", {.max_attempts = 3});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto job = Claim("w");
    ASSERT_TRUE(job);
    auto outcome = Must(q().Fail(*job, "failure " + std::to_string(attempt)));
    EXPECT_EQ(outcome.dead, attempt == 3);
    clock_.Advance(10min);
  }
  EXPECT_FALSE(Claim("w"));
  auto dead = Must(q().ListDead());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, id);
  EXPECT_EQ(dead[0].status, queue::kDead);
  EXPECT_EQ(dead[0].attempts, 3);
  EXPECT_EQ(dead[0].last_error, "failure 3");
  EXPECT_EQ(Must(q().CountByStatus()).dead, 1);

  // A permanent failure dead-letters at once; a worker that dies on the last attempt dead-letters too.
  Enqueue("bad-payload", {.max_attempts = 5});
  auto bad = Claim("w");
  ASSERT_TRUE(bad);
  EXPECT_TRUE(Must(q().Fail(*bad, "cannot parse", /*permanent=*/true)).dead);
  Enqueue("poison", {.max_attempts = 1});
  ASSERT_TRUE(Claim("w-that-crashes"));
  clock_.Advance(10min);
  EXPECT_FALSE(Claim("w"));
  EXPECT_EQ(Must(q().CountByStatus()).dead, 3);

  // An operator can revive a dead job.
  Ok(q().Revive(id));
  auto revived = Claim("w", {"flaky"});
  ASSERT_TRUE(revived);
  EXPECT_EQ(revived->attempts, 1);
}

// The job whose last attempt lost its worker is buried by the next claim that could have taken it; that claim
// takes a due job instead. A claim for other kinds leaves it (it would not take it either).
TEST_P(QueueContract, AClaimBuriesTheExpiredLastAttemptItWouldOtherwiseTake) {
  SKIP_IF_NO_STORE();
  int64_t poison = Enqueue("poison", {.max_attempts = 1});
  ASSERT_TRUE(Claim("w-that-crashes"));
  clock_.Advance(10min);
  int64_t fresh = Enqueue("poison");
  EXPECT_FALSE(Claim("w", {"other"}));
  if (store_->dialect() == store::Dialect::kSqlite) {
    EXPECT_EQ(Must(q().CountByStatus()).dead, 0);
  }
  auto next = Claim("w", {"poison"});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, fresh);
  auto dead = Must(q().ListDead());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, poison);
  EXPECT_EQ(dead[0].last_error, "the worker stopped heartbeating on the last attempt");
}

TEST_P(QueueContract, DedupeKeyKeepsOneLiveJob) {
  SKIP_IF_NO_STORE();
  int64_t a = Enqueue("sync", {.dedupe_key = "sync:company:1"});
  EXPECT_EQ(Enqueue("sync", {.dedupe_key = "sync:company:1"}), a);
  int64_t other = Enqueue("sync", {.dedupe_key = "sync:company:2"});
  EXPECT_NE(other, a);
  auto job = Claim("w", {}, 30s);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, a);
  EXPECT_EQ(Enqueue("sync", {.dedupe_key = "sync:company:1"}), a);  // running still counts
  auto live = q().GetLive("sync:company:1");
  ASSERT_TRUE(live && *live);
  EXPECT_EQ((*live)->id, a);
  EXPECT_EQ((*live)->status, queue::kRunning);
  Ok(q().Complete(*job));
  live = q().GetLive("sync:company:1");
  ASSERT_TRUE(live);
  EXPECT_FALSE(*live);  // done: no live job has the key
  live = q().GetLive("no such key");
  ASSERT_TRUE(live);
  EXPECT_FALSE(*live);
  int64_t again = Enqueue("sync", {.dedupe_key = "sync:company:1"});
  EXPECT_NE(again, a);  // once done, the key is free
  live = q().GetLive("sync:company:1");
  ASSERT_TRUE(live && *live);
  EXPECT_EQ((*live)->id, again);

  // Racing enqueuers agree on one job.
  std::vector<int64_t> ids(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = q().Enqueue("sync", "{}", {.dedupe_key = "race"});
      ids[i] = r ? *r : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_GT(ids[0], 0);
}

TEST_P(QueueContract, ConcurrentClaimersTakeEveryJobExactlyOnce) {
  SKIP_IF_NO_STORE();
  constexpr int kJobs = 200, kThreads = 4;
  Ok(db().Transact([&](Tx& tx) -> Status {
    for (int i = 0; i < kJobs; ++i) {
      if (auto r = q().Enqueue(tx, "work", "{\"n\":" + std::to_string(i) + "}"); !r)
        return tl::unexpected(r.error());
    }
    return {};
  }));
  std::mutex mu;
  std::map<int64_t, int> seen;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string worker = "w" + std::to_string(t);
      while (true) {
        auto job = q().Claim(worker, {"work"}, 60s);
        if (!job) {
          ++errors;
          ADD_FAILURE() << job.error().detail;
          return;
        }
        if (!*job) return;
        {
          std::lock_guard lock(mu);
          ++seen[(*job)->id];
        }
        if (!q().Complete(**job)) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << "job " << id;
  EXPECT_EQ(Must(q().CountByStatus()).done, kJobs);
}

TEST_P(QueueContract, WorkerRunsHandlersRetriesAndDeadLetters) {
  SKIP_IF_NO_STORE();
  Queue real_time(db(), SystemClock::Instance(), random_, queue::BackoffPolicy{1ms, 5ms});
  queue::Worker worker(real_time, {.threads = 3, .name = "test", .lease = 30s, .idle_poll = 20ms});
  std::atomic<int> ok_runs{0}, flaky_runs{0}, bad_runs{0};
  worker.Register("ok", [&](const Job&) -> Status {
    ++ok_runs;
    return {};
  });
  worker.Register("flaky", [&](const Job& job) -> Status {
    ++flaky_runs;
    if (job.attempts < 3) return Fail(ErrorKind::kUnavailable, "procore_down", "try later");
    return {};
  });
  worker.Register("bad", [&](const Job&) -> Status {
    ++bad_runs;
    return Fail(ErrorKind::kInvalidInput, "bad_payload", "never works");
  });
  worker.Register("throws", [&](const Job&) -> Status { throw std::runtime_error("handler bug"); });
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(real_time.Enqueue("ok", "{}"));
  ASSERT_TRUE(real_time.Enqueue("flaky", "{}"));
  ASSERT_TRUE(real_time.Enqueue("bad", "{}"));
  ASSERT_TRUE(real_time.Enqueue("throws", "{}", {.max_attempts = 2}));
  ASSERT_TRUE(real_time.Enqueue("unregistered", "{}"));
  worker.Start();
  worker.Notify();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  queue::StatusCounts counts;
  while (std::chrono::steady_clock::now() < deadline) {
    counts = Must(real_time.CountByStatus());
    if (counts.done == 21 && counts.dead == 2) break;
    std::this_thread::sleep_for(20ms);
  }
  worker.Stop();
  EXPECT_EQ(counts.done, 21);
  EXPECT_EQ(counts.dead, 2);
  EXPECT_EQ(counts.pending, 1);  // nobody handles "unregistered"
  EXPECT_EQ(ok_runs.load(), 20);
  EXPECT_EQ(flaky_runs.load(), 3);
  EXPECT_EQ(bad_runs.load(), 1);
  auto dead = Must(real_time.ListDead());
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& job : dead) {
    const char* expected = job.kind == "throws" ? "handler bug" : "bad_payload";
    EXPECT_NE(job.last_error.find(expected), std::string::npos) << job.last_error;
  }
}

TEST_P(QueueContract, AJobsCompletingTransactionClaimsTheThreadsNextJobAndStopGivesItBack) {
  SKIP_IF_NO_STORE();
  Queue real_time(db(), SystemClock::Instance(), random_);
  queue::Worker worker(real_time, {.threads = 1, .name = "chain", .lease = 30s, .idle_poll = 10ms});
  std::vector<int64_t> ran;
  std::optional<Job> seen_next;  // the next job as the first one's commit left it
  std::thread stopper;
  std::atomic<bool> stopping{false};
  worker.Register("page", [&](const Job& job) -> Status {
    ran.push_back(job.id);
    bool completed = false;
    Status s = db().Transact([&](Tx& tx) -> Status {
      auto done = real_time.CompleteRunning(tx);
      if (!done) return tl::unexpected(done.error());
      completed = *done;
      return {};
    });
    if (!s) return s;
    if (completed) queue::Worker::CompletedInTransaction();
    if (ran.size() == 1) {
      seen_next = Must(real_time.Get(job.id + 1));
      // Stop while the next job is claimed but not begun: Stop() waits for this handler, so from a thread.
      stopper = std::thread([&] { worker.Stop(); });
      stopping = true;
      std::this_thread::sleep_for(200ms);
    }
    return {};
  });
  const int64_t first = Must(real_time.Enqueue("page", "{}"));
  const int64_t second = Must(real_time.Enqueue("page", "{}"));
  ASSERT_EQ(second, first + 1);
  worker.Start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!stopping && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(stopping) << "the first job never ran";
  stopper.join();

  ASSERT_EQ(ran, std::vector<int64_t>{first});
  EXPECT_EQ(Must(real_time.Get(first))->status, queue::kDone);
  // The first job's completing transaction had claimed the second for the same thread.
  ASSERT_TRUE(seen_next);
  EXPECT_EQ(seen_next->status, queue::kRunning);
  EXPECT_EQ(seen_next->attempts, 1);
  EXPECT_EQ(seen_next->worker_id.rfind("chain-", 0), 0u) << seen_next->worker_id;
  // Stopping gave it back unbegun: pending at once, the attempt not counted.
  auto given_back = Must(real_time.Get(second));
  ASSERT_TRUE(given_back);
  EXPECT_EQ(given_back->status, queue::kPending);
  EXPECT_EQ(given_back->attempts, 0);
  EXPECT_TRUE(given_back->worker_id.empty());
  auto again = Must(real_time.Claim("w2", {"page"}, 10s));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, second);
}

TEST_P(QueueContract, WorkerHeartbeatsKeepLongJobsLeased) {
  SKIP_IF_NO_STORE();
  Queue real_time(db(), SystemClock::Instance(), random_);
  queue::Worker worker(real_time,
                       {.threads = 1, .lease = 1000ms, .heartbeat_interval = 100ms, .idle_poll = 10ms});
  std::atomic<bool> started{false};
  worker.Register("long", [&](const Job&) -> Status {
    started = true;
    std::this_thread::sleep_for(3000ms);  // three leases long
    return {};
  });
  int64_t id = Must(real_time.Enqueue("long", "{}"));
  worker.Start();
  while (!started) std::this_thread::sleep_for(5ms);
  auto until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < until) {
    auto stolen = Must(real_time.Claim("thief", {"long"}, 10s));
    EXPECT_FALSE(stolen) << "the lease lapsed while the handler ran";
    if (stolen) break;
    std::this_thread::sleep_for(100ms);
  }
  worker.Stop();  // waits for the handler
  auto job = Must(real_time.Get(id));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, queue::kDone);
  EXPECT_EQ(job->attempts, 1);
}

TEST_P(QueueContract, WorkerThreadsRunAtTheirNiceValueAndTheCallerKeepsItsOwn) {
  SKIP_IF_NO_STORE();
  Queue real_time(db(), SystemClock::Instance(), random_);
  const int process_nice = ThreadNice();
  ASSERT_LT(process_nice, 19) << "the test needs room to raise the nice value";
  const int wanted = std::min(process_nice + 7, 19);
  queue::Worker worker(real_time,
                       {.threads = 2, .heartbeat_interval = 20ms, .idle_poll = 10ms, .nice = wanted});
  std::mutex mu;
  std::vector<int> seen;
  worker.Register("nice", [&](const Job&) -> Status {
    std::lock_guard lock(mu);
    seen.push_back(ThreadNice());
    return {};
  });
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(real_time.Enqueue("nice", "{}"));
  worker.Start();
  worker.Notify();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && Must(real_time.CountByStatus()).done < 6)
    std::this_thread::sleep_for(10ms);
  worker.Stop();
  ASSERT_EQ(seen.size(), 6u);
  for (int n : seen) EXPECT_EQ(n, wanted);
  EXPECT_EQ(ThreadNice(), process_nice) << "the caller's own value is untouched";
}

TEST_P(QueueContract, ClaimTakesTheBetterOfDuePendingAndExpiredLease) {
  SKIP_IF_NO_STORE();
  int64_t now = clock_.NowUnixMs();
  int64_t crashed = Enqueue("k", {.run_at_ms = now - 50, .priority = 10});
  ASSERT_EQ(Claim("crashed-worker", {}, 10s)->id, crashed);
  int64_t later = Enqueue("k", {.run_at_ms = now - 10, .priority = 10});
  int64_t low = Enqueue("k", {.priority = 100});
  for (int i = 0; i < 20; ++i) {  // jobs done before: never claimed again
    Enqueue("done-before");
    Ok(q().Complete(*Claim("busy", {"done-before"})));
  }
  clock_.Advance(10s);  // the crashed worker's lease ends
  std::vector<int64_t> order;
  while (auto job = Claim("w", {"k"})) order.push_back(job->id);
  EXPECT_EQ(order, (std::vector<int64_t>{crashed, later, low}));
}

TEST_P(QueueContract, WorkerPurgesDoneJobsOlderThanKeepDone) {
  SKIP_IF_NO_STORE();
  Queue real_time(db(), SystemClock::Instance(), random_);
  int64_t old_done = Must(real_time.Enqueue("old", "{}"));
  auto finished = Must(real_time.Claim("w", {"old"}, 10s));
  ASSERT_TRUE(finished);
  Ok(real_time.Complete(*finished));
  int64_t dead = Must(real_time.Enqueue("bad", "{}", {.max_attempts = 1}));
  auto claimed = Must(real_time.Claim("w", {"bad"}, 10s));
  ASSERT_TRUE(claimed);
  ASSERT_TRUE(real_time.Fail(*claimed, "never works"));
  int64_t waiting = Must(real_time.Enqueue("unhandled", "{}"));
  std::this_thread::sleep_for(50ms);
  queue::Worker worker(real_time, {.threads = 1,
                                   .heartbeat_interval = 20ms,
                                   .idle_poll = 10ms,
                                   .keep_done = 30ms,
                                   .purge_interval = 20ms});
  worker.Register("other", [](const Job&) -> Status { return {}; });
  worker.Start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && Must(real_time.Get(old_done)))
    std::this_thread::sleep_for(10ms);
  worker.Stop();
  EXPECT_FALSE(Must(real_time.Get(old_done))) << "a done job past keep_done is purged";
  EXPECT_TRUE(Must(real_time.Get(dead))) << "dead jobs stay for inspection";
  EXPECT_TRUE(Must(real_time.Get(waiting))) << "pending jobs stay";
}

// PostgreSQL only: connections killed under the pool (a server restart, a failover) are replaced
// transparently.
TEST(store_Postgres, ReconnectsAfterItsConnectionsAreKilled) {
  std::string why_not;
  if (!testing::PostgresServer::Available(&why_not)) GTEST_FAIL() << why_not;
  std::string url = testing::PostgresServer::Instance().CreateDatabase("t_reconnect");
  auto opened = store::OpenStore(url, {.pool_size = 4});
  ASSERT_TRUE(opened) << opened.error().detail;
  Store& db = **opened;
  // Fill the pool with open connections.
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ASSERT_TRUE(db.Query("SELECT pg_sleep(0.05)")); });
  for (auto& t : threads) t.join();

  auto admin = store::OpenStore(testing::PostgresServer::Instance().UrlFor("postgres"), {.pool_size = 1});
  ASSERT_TRUE(admin);
  // The database's real name: on a shared server CreateDatabase makes it unique to this process.
  const std::string name = url.substr(url.rfind('/') + 1);
  auto killed = (*admin)->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      {name});
  ASSERT_TRUE(killed) << killed.error().detail;
  EXPECT_EQ(killed->rows.size(), 4u);

  ASSERT_TRUE(db.Ping());
  Status s = db.Transact([](Tx& tx) -> Status {
    auto r = tx.Query("SELECT 1");
    if (!r) return tl::unexpected(r.error());
    return {};
  });
  EXPECT_TRUE(s) << s.error().detail;
}

auto BackendTestName = [](const ::testing::TestParamInfo<Backend>& info) { return BackendName(info.param); };

// The prefixes make `ctest -R 'store|queue'` select these.
INSTANTIATE_TEST_SUITE_P(store, StoreContract, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendTestName);
INSTANTIATE_TEST_SUITE_P(queue, QueueContract, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendTestName);

}  // namespace
}  // namespace kt
