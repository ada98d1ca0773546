// The SQLite Store: WAL, busy timeout, foreign keys, a statement cache per connection, BEGIN IMMEDIATE
// writes.
#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "store/pool.h"
#include "store/recording_tx.h"
#include "store/sqlite/wal_batch_vfs.h"
#include "util/thread_name.h"

namespace kt::store {
namespace {

constexpr int kBusyTimeoutMs = 10'000;
constexpr int kMaxAttempts = 5;
constexpr size_t kMaxCachedStatements = 256;
// The WAL is copied back into the database by a thread of its own once it holds this many pages (SQLite's
// own default threshold) or a second after the last copy, never inside a writer's commit.
constexpr int kCheckpointPages = 1000;
constexpr auto kCheckpointInterval = std::chrono::seconds(1);

// A prepared statement and its SQLite text.
struct CachedStatement {
  sqlite3_stmt* st = nullptr;
  std::string sql;
};

// Finds a std::string key by a string_view without building a string.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// One open database connection and its prepared statements, keyed by the portable SQL they were made from
// (so a cached statement is found without translating its text again).
struct SqliteConn {
  sqlite3* db = nullptr;
  std::unordered_map<std::string, CachedStatement, TextHash, std::equal_to<>> statements;

  ~SqliteConn() {
    for (auto& [portable, cached] : statements) sqlite3_finalize(cached.st);
    if (db) sqlite3_close_v2(db);
  }
};

std::string Shorten(std::string_view sql) {
  constexpr size_t kMax = 300;
  return sql.size() <= kMax ? std::string(sql) : std::string(sql.substr(0, kMax)) + "...";
}

Error SqliteError(sqlite3* db, int rc, std::string_view sql) {
  std::string detail = std::string(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + " [" + sqlite3_errstr(rc) +
                       "] in: " + Shorten(sql);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error{ErrorKind::kUnavailable, kStoreBusy, "The database is busy; try again.", "", detail};
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Error{ErrorKind::kConflict, kUniqueViolation, "That already exists.", "", detail};
      return Error{ErrorKind::kConflict, kConstraintViolation, "The change breaks a rule of the stored data.",
                   "", detail};
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Error{ErrorKind::kUnavailable, kStoreUnavailable, "The database cannot be used right now.",
                   "Check the database file, its folder's permissions and the free disk space.", detail};
    default:
      return Error{ErrorKind::kInternal, kStoreError, "The database could not run the operation.", "",
                   detail};
  }
}

bool OnlySpaceOrSemicolons(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') return false;
  }
  return true;
}

int Bind(sqlite3_stmt* st, int index, const Value& v) {
  // SQLITE_STATIC: params outlive the statement's use, and bindings are cleared before it is reused.
  if (std::holds_alternative<std::nullptr_t>(v)) return sqlite3_bind_null(st, index);
  if (auto* n = std::get_if<int64_t>(&v)) return sqlite3_bind_int64(st, index, *n);
  if (auto* d = std::get_if<double>(&v)) return sqlite3_bind_double(st, index, *d);
  if (auto* s = std::get_if<std::string>(&v))
    return sqlite3_bind_text64(st, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
  const auto& b = std::get<Blob>(v);
  if (b.bytes.empty()) return sqlite3_bind_zeroblob(st, index, 0);  // a null pointer would bind NULL
  return sqlite3_bind_blob64(st, index, b.bytes.data(), b.bytes.size(), SQLITE_STATIC);
}

Value Column(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(st, i);
    case SQLITE_TEXT: {
      auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
      return std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i)));
    }
    case SQLITE_BLOB: {
      auto* p = static_cast<const char*>(sqlite3_column_blob(st, i));
      size_t n = static_cast<size_t>(sqlite3_column_bytes(st, i));
      return Blob{p ? std::string(p, n) : std::string()};
    }
    default:
      return nullptr;
  }
}

// Binds, steps to the end and collects rows into out. The statement is reset afterwards either way.
Status RunStatement(SqliteConn& c, sqlite3_stmt* st, std::string_view sql, const Params& params, bool strict,
                    QueryResult& out) {
  struct ResetOnExit {
    sqlite3_stmt* st;
    ~ResetOnExit() {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    }
  } reset{st};

  int wanted = sqlite3_bind_parameter_count(st);
  if (strict && static_cast<size_t>(wanted) != params.size()) {
    return Fail(ErrorKind::kInternal, kStoreError, "The database could not run the operation.", "",
                "statement takes " + std::to_string(wanted) + " parameters but " +
                    std::to_string(params.size()) + " were given: " + Shorten(sql));
  }
  for (int i = 1; i <= wanted && static_cast<size_t>(i) <= params.size(); ++i) {
    int rc = Bind(st, i, params[static_cast<size_t>(i - 1)]);
    if (rc != SQLITE_OK) return Fail(SqliteError(c.db, rc, sql));
  }

  int ncols = sqlite3_column_count(st);
  std::shared_ptr<std::vector<std::string>> columns;
  if (ncols > 0) {
    columns = std::make_shared<std::vector<std::string>>();
    for (int i = 0; i < ncols; ++i) columns->emplace_back(sqlite3_column_name(st, i));
    out.columns = *columns;
    out.rows.clear();
  }
  int64_t changes_before = sqlite3_total_changes64(c.db);
  while (true) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Fail(SqliteError(c.db, rc, sql));
    std::vector<Value> values;
    values.reserve(static_cast<size_t>(ncols));
    for (int i = 0; i < ncols; ++i) values.push_back(Column(st, i));
    out.rows.emplace_back(columns, std::move(values));
  }
  out.affected = sqlite3_stmt_readonly(st) ? 0 : sqlite3_total_changes64(c.db) - changes_before;
  return {};
}

// Runs portable SQL (one statement, or several without parameters as in migrations) on a connection.
Result<QueryResult> Execute(SqliteConn& c, std::string_view portable_sql, const Params& params) {
  QueryResult result;
  if (auto it = c.statements.find(portable_sql); it != c.statements.end()) {
    const CachedStatement& cached = it->second;
    if (auto s = RunStatement(c, cached.st, cached.sql, params, true, result); !s) {
      return tl::unexpected(s.error());
    }
    return result;
  }
  std::string sql = SqliteSql(portable_sql);
  const char* p = sql.c_str();
  const char* end = p + sql.size();
  bool first = true;
  while (p < end && !OnlySpaceOrSemicolons(p, end)) {
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(c.db, p, static_cast<int>(end - p), SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) return Fail(SqliteError(c.db, rc, sql));
    if (!st) break;  // only a comment was left
    bool single = first && OnlySpaceOrSemicolons(tail, end);
    Status s = RunStatement(c, st, sql, params, single, result);
    if (single && s) {
      // A full cache gives up one statement (whichever the map yields first) so that statements a
      // long-running process first runs late (after one-off statements have filled it) are cached too.
      if (c.statements.size() >= kMaxCachedStatements) {
        auto victim = c.statements.begin();
        sqlite3_finalize(victim->second.st);
        c.statements.erase(victim);
      }
      c.statements.emplace(std::string(portable_sql), CachedStatement{st, sql});
    } else {
      sqlite3_finalize(st);
    }
    if (!s) return tl::unexpected(s.error());
    first = false;
    p = tail;
  }
  return result;
}

bool IsTransient(const Error& e) {
  return e.code == kStoreBusy;
}

void BackoffBeforeRetry(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt * attempt));
}

bool StartsWithSelect(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  if (sql.size() - i < 6) return false;
  for (size_t k = 0; k < 6; ++k) {
    if (std::toupper(static_cast<unsigned char>(sql[i + k])) != "SELECT"[k]) return false;
  }
  return true;
}

using SqliteTx = RecordingTx<SqliteConn, Dialect::kSqlite, Execute, IsTransient>;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, size_t pool_size)
      : path_(std::move(path)), pool_(pool_size, [this] { return Open(); }) {}

  ~SqliteStore() override {
    {
      std::lock_guard lock(checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  Status Transact(const std::function<Status(Tx&)>& fn) override {
    for (int attempt = 1;; ++attempt) {
      // Writers of this process queue here rather than in SQLite's sleeping busy handler; other processes
      // still meet the file lock, which busy_timeout waits for.
      std::unique_lock write_lock(write_mu_);
      std::optional<ConnectionPool<SqliteConn>::Lease> lease;  // a :memory: database's only connection
      SqliteConn* conn = nullptr;
      if (path_ == ":memory:") {
        auto leased = pool_.Acquire();
        if (!leased) return tl::unexpected(leased.error());
        lease.emplace(std::move(*leased));
        conn = &**lease;
      } else {
        auto writer = Writer();
        if (!writer) return tl::unexpected(writer.error());
        conn = *writer;
      }
      SqliteConn& c = *conn;
      auto begun = Execute(c, "BEGIN IMMEDIATE", {});
      if (!begun) {
        if (IsTransient(begun.error()) && attempt < kMaxAttempts) {
          write_lock.unlock();
          BackoffBeforeRetry(attempt);
          continue;
        }
        return tl::unexpected(begun.error());
      }
      SqliteTx tx(c);
      Status status = tx.Run(
          fn, [&] { return Execute(c, "COMMIT", {}); }, [&] { Rollback(c); });
      if (status) return {};
      bool transient = tx.transient_failure() || IsTransient(status.error());
      if (transient && attempt < kMaxAttempts) {
        write_lock.unlock();
        BackoffBeforeRetry(attempt);
        continue;
      }
      return status;
    }
  }

  Result<QueryResult> Query(std::string_view sql, const Params& params) override {
    if (!StartsWithSelect(sql)) {
      Result<QueryResult> result;
      Status s = Transact([&](Tx& tx) -> Status {
        result = tx.Query(sql, params);
        if (!result) return tl::unexpected(result.error());
        return {};
      });
      if (!s) return tl::unexpected(s.error());
      return result;
    }
    for (int attempt = 1;; ++attempt) {
      auto lease = pool_.Acquire();
      if (!lease) return tl::unexpected(lease.error());
      auto r = Execute(**lease, sql, params);
      if (r || !IsTransient(r.error()) || attempt >= kMaxAttempts) return r;
      BackoffBeforeRetry(attempt);
    }
  }

  Result<QueryResult> Lookup(std::string_view sql, const Params& params) override {
    if (path_ != ":memory:" && StartsWithSelect(sql)) {
      std::unique_lock write_lock(write_mu_, std::try_to_lock);
      if (write_lock) {
        auto writer = Writer();
        if (!writer) return tl::unexpected(writer.error());
        auto r = Execute(**writer, sql, params);
        if (r || !IsTransient(r.error())) return r;
      }
    }
    return Query(sql, params);
  }

  std::string Describe() const override { return "sqlite:" + path_; }

  Result<std::unique_ptr<SqliteConn>> Open() {
    auto c = std::make_unique<SqliteConn>();
    int rc =
        sqlite3_open_v2(path_.c_str(), &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, WalBatchVfsName());
    if (rc != SQLITE_OK) {
      Error e = SqliteError(c->db, rc, "open " + path_);
      e.kind = ErrorKind::kUnavailable;
      e.code = kStoreUnavailable;
      return Fail(e);
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, kBusyTimeoutMs);
    // synchronous=NORMAL is durable across application crashes in WAL mode and much faster than FULL.
    // temp_store=MEMORY keeps statement journals and temporary b-trees in memory: a multi-row statement
    // inside a transaction (a webhook batch's claim or finish, a group commit's insert) keeps a statement
    // journal, and SQLite otherwise spills one past 64 KiB to a temporary file, several hundred writes a
    // second under a webhook burst. They live only as long as their statement. Sorts still spill to files.
    // journal_size_limit: a burst of webhooks can grow the WAL to hundreds of megabytes (the log starts again
    // from its beginning only at a quiet moment); when it next does, SQLite cuts the file back to this size.
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
          "PRAGMA temp_store=MEMORY", "PRAGMA journal_size_limit=67108864"}) {
      if (path_ == ":memory:" && std::string_view(pragma).find("WAL") != std::string_view::npos) continue;
      char* err = nullptr;
      rc = sqlite3_exec(c->db, pragma, nullptr, nullptr, &err);
      if (err) sqlite3_free(err);
      if (rc != SQLITE_OK) return Fail(SqliteError(c->db, rc, pragma));
    }
    return c;
  }

  Status Check() {
    auto lease = pool_.Acquire();
    if (!lease) return tl::unexpected(lease.error());
    return {};
  }

 private:
  // The connection every write transaction of this process uses (write_mu_ held), except on :memory:, where
  // the pool's one connection is the database. One writer keeps its page cache valid from one transaction to
  // the next: SQLite drops a connection's whole cache when another connection changed the file, so writes
  // spread over the pool re-read the b-tree pages on almost every transaction.
  //
  // The writer does not checkpoint: a checkpoint inside a commit syncs the file while holding the write lock,
  // and every writer behind it (a webhook delivery waiting for its durable ack) waits that long. Its WAL hook
  // wakes the checkpointer thread instead, which copies what it can on a connection of its own (PASSIVE:
  // never blocks a writer or a reader). Durability is the WAL's, so it is unchanged.
  Result<SqliteConn*> Writer() {
    if (!writer_) {
      auto c = Open();
      if (!c) return tl::unexpected(c.error());
      writer_ = std::move(*c);
      sqlite3_wal_hook(writer_->db, &SqliteStore::OnWalCommit, this);  // replaces the auto-checkpoint
      if (!checkpointer_.joinable())
        checkpointer_ = std::thread([this] {
          SetThreadName("kt-checkpoint");
          CheckpointLoop();
        });
    }
    return writer_.get();
  }

  static int OnWalCommit(void* self, sqlite3*, const char*, int pages) {
    if (pages >= kCheckpointPages) static_cast<SqliteStore*>(self)->checkpoint_cv_.notify_one();
    return SQLITE_OK;
  }

  void CheckpointLoop() {
    auto conn = Open();
    if (!conn) return;  // the writer's next commits then only grow the WAL; the next store checkpoints it
    std::unique_lock lock(checkpoint_mu_);
    while (!stopping_) {
      checkpoint_cv_.wait_for(lock, kCheckpointInterval);
      if (stopping_) break;
      lock.unlock();
      sqlite3_wal_checkpoint_v2((*conn)->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  static void Rollback(SqliteConn& c) {
    if (!sqlite3_get_autocommit(c.db)) sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  const std::string path_;
  ConnectionPool<SqliteConn> pool_;
  std::mutex write_mu_;
  std::unique_ptr<SqliteConn> writer_;  // guarded by write_mu_
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;     // guarded by checkpoint_mu_
  std::thread checkpointer_;  // last: stopped (in the destructor) before the connections close
};

}  // namespace

std::string SqliteSql(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  auto copy_until = [&](std::string_view close) {
    size_t end = in.find(close, i);
    end = end == std::string_view::npos ? in.size() : end + close.size();
    out.append(in.substr(i, end - i));
    i = end;
  };
  while (i < in.size()) {
    char ch = in[i];
    if (ch == '\'' || ch == '"' || ch == '`') {
      out.push_back(ch);
      ++i;
      copy_until(std::string_view(&in[i - 1], 1));  // a doubled quote is just two literals back to back
    } else if (ch == '-' && i + 1 < in.size() && in[i + 1] == '-') {
      copy_until("\n");
    } else if (ch == '/' && i + 1 < in.size() && in[i + 1] == '*') {
      copy_until("*/");
    } else if (ch == '$' && i + 1 < in.size() && std::isdigit(static_cast<unsigned char>(in[i + 1]))) {
      out.push_back('?');
      ++i;
    } else {
      out.push_back(ch);
      ++i;
    }
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const StoreOptions& options) {
  if (path.empty()) {
    return Fail(ErrorKind::kInvalidInput, "bad_database_url", "The SQLite database URL has no file path.",
                "Use sqlite:PATH, e.g. sqlite:/var/lib/ktrack/ktrack.db.");
  }
  size_t pool_size = options.pool_size;
  if (path == ":memory:") {
    pool_size = 1;  // every connection to :memory: would be a database of its own
  } else {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Fail(ErrorKind::kUnavailable, kStoreUnavailable, "The database folder cannot be created.",
                  "Check that " + parent.string() + " can be created and written.", ec.message());
    }
  }
  // No bulk allocation when a page cache is created: SQLite makes one for every temporary b-tree (RETURNING,
  // ORDER BY without an index), and malloc gave each 80 KB block back to the system on free and took it again
  // on the next statement (brk, page faults and TLB shootdowns across the worker threads: 2/3 of the CPU
  // of a transaction inserting 500 streams with their jobs). Must come before SQLite initialises; if another
  // part of the process used SQLite first, the call fails harmlessly and the default stays.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0); });
  auto store = std::make_unique<SqliteStore>(path, pool_size);
  // Open one connection now, so a bad path fails here and WAL mode is set before anyone reads.
  if (auto s = store->Check(); !s) return tl::unexpected(s.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace kt::store
