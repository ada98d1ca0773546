// The one storage interface. Two backends implement it: SQLite (default) and PostgreSQL.
//
// Code above the store writes portable SQL once: `$1, $2, ...` placeholders, BIGINT/TEXT/DOUBLE PRECISION
// columns, `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING`. Times are stored as BIGINT unix milliseconds,
// booleans as BIGINT 0/1. Migrations may use the tokens of migrations.h for the few dialect differences.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/error.h"

namespace kt::store {

enum class Dialect { kSqlite, kPostgres };

// Binary data (BLOB in SQLite, BYTEA in PostgreSQL).
struct Blob {
  std::string bytes;
};

using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;
using Params = std::vector<Value>;

// One result row. Columns are read by index or by name; the types convert where it is lossless.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  bool IsNull(std::string_view name) const { return IsNull(Index(name)); }
  int64_t Int(size_t i) const;
  int64_t Int(std::string_view name) const { return Int(Index(name)); }
  double Double(size_t i) const;
  double Double(std::string_view name) const { return Double(Index(name)); }
  std::string Text(size_t i) const;  // a BLOB comes back as its bytes
  std::string Text(std::string_view name) const { return Text(Index(name)); }
  std::optional<int64_t> OptInt(std::string_view name) const;
  std::optional<std::string> OptText(std::string_view name) const;
  const Value& At(size_t i) const { return values_.at(i); }
  size_t Index(std::string_view name) const;  // throws std::out_of_range for an unknown column (a bug)

 private:
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Value> values_;
};

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
  bool empty() const { return rows.empty(); }
};

// A transaction. Everything done through it commits together or not at all.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<QueryResult> Query(std::string_view sql, const Params& params = {}) = 0;
  Result<int64_t> Exec(std::string_view sql, const Params& params = {}) {
    auto r = Query(sql, params);
    if (!r) return tl::unexpected(r.error());
    return r->affected;
  }
  virtual Dialect dialect() const = 0;
  // Appended to a SELECT to lock the rows it reads for the rest of the transaction: " FOR UPDATE" on
  // PostgreSQL; nothing on SQLite, whose write transaction (BEGIN IMMEDIATE) keeps every other writer out.
  std::string_view LockRows() const { return dialect() == Dialect::kPostgres ? " FOR UPDATE" : ""; }
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Dialect dialect() const = 0;
  // Runs fn in a write transaction; commits when it returns a value, rolls back on an error or exception.
  // Transient conflicts (SQLite busy, PostgreSQL serialization failure/deadlock) are retried a few times.
  // fn may run more than once, so it must not have side effects outside tx. Inside fn use only tx: calling
  // the Store again would wait for a second connection (and, on SQLite, for the write lock fn holds). A
  // statement that fails dooms the transaction on both backends (as PostgreSQL aborts it): return its error;
  // Transact fails anyway when fn succeeds after a failed statement. Use ON CONFLICT rather than catching
  // violations.
  virtual Status Transact(const std::function<Status(Tx&)>& fn) = 0;
  // One statement in its own transaction.
  virtual Result<QueryResult> Query(std::string_view sql, const Params& params = {}) = 0;
  Result<int64_t> Exec(std::string_view sql, const Params& params = {}) {
    auto r = Query(sql, params);
    if (!r) return tl::unexpected(r.error());
    return r->affected;
  }
  // A SELECT of a few rows by key, as Query. A backend may run it where it is cheaper: SQLite runs it on the
  // connection writes use when no write holds it (that connection's page cache is current, where a pool
  // connection reads again every page a write changed), so it must be short.
  virtual Result<QueryResult> Lookup(std::string_view sql, const Params& params = {}) {
    return Query(sql, params);
  }
  // Cheap reachability check for /readyz: a trivial query on a connection of the pool.
  virtual Status Ping() {
    auto r = Query("SELECT 1", {});
    if (!r) return tl::unexpected(r.error());
    return {};
  }
  // "sqlite:/path/ktrack.db" or "postgresql://host:port/db" (never a password).
  virtual std::string Describe() const = 0;
};

// Error codes the backends give (Error::code), so callers can react without knowing the backend:
// kConflict for a UNIQUE/PRIMARY KEY clash or a broken FOREIGN KEY/CHECK/NOT NULL rule; kUnavailable for a
// transient conflict (Transact retries it) or an unreachable database; kInternal for bad SQL and the rest.
inline constexpr char kUniqueViolation[] = "unique_violation";
inline constexpr char kConstraintViolation[] = "constraint_violation";
inline constexpr char kStoreBusy[] = "store_busy";
inline constexpr char kStoreUnavailable[] = "store_unavailable";
inline constexpr char kStoreError[] = "store_error";

struct StoreOptions {
  size_t pool_size = 8;  // connections kept open
};

// Opens "sqlite:PATH" or "postgresql://..." / "postgres://...". Does not migrate.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const StoreOptions& options = {});

}  // namespace kt::store
