// The PostgreSQL Store: libpq connections in a pool, values typed by column OID, transient errors retried.
#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include "store/pool.h"
#include "store/recording_tx.h"

namespace kt::store {
namespace {

constexpr int kMaxAttempts = 5;

// PostgreSQL type OIDs (pg_type.h) that map to something other than text.
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kOidOid = 26,
              kFloat4Oid = 700, kFloat8Oid = 701, kNumericOid = 1700;

struct PgConn {
  PGconn* conn = nullptr;
  ~PgConn() {
    if (conn) PQfinish(conn);
  }
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string Shorten(std::string_view sql) {
  constexpr size_t kMax = 300;
  return sql.size() <= kMax ? std::string(sql) : std::string(sql.substr(0, kMax)) + "...";
}

std::string TrimMessage(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

Error PgError(PGconn* c, PGresult* r, std::string_view sql) {
  const char* state_ptr = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_ptr ? state_ptr : "";
  std::string message =
      TrimMessage(r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c));
  std::string detail = message + (state.empty() ? "" : " [" + state + "]") + " in: " + Shorten(sql);
  bool lost = PQstatus(c) != CONNECTION_OK || state.starts_with("08") || state == "57P01" ||
              state == "57P02" || state == "57P03";
  if (lost) {
    return Error{ErrorKind::kUnavailable, kStoreUnavailable, "The database cannot be reached right now.",
                 "Check that PostgreSQL is running and reachable.", detail};
  }
  if (state == "40001" || state == "40P01") {
    return Error{ErrorKind::kUnavailable, kStoreBusy, "The database is busy; try again.", "", detail};
  }
  if (state == "23505")
    return Error{ErrorKind::kConflict, kUniqueViolation, "That already exists.", "", detail};
  if (state.starts_with("23")) {
    return Error{ErrorKind::kConflict, kConstraintViolation, "The change breaks a rule of the stored data.",
                 "", detail};
  }
  return Error{ErrorKind::kInternal, kStoreError, "The database could not run the operation.", "", detail};
}

bool IsTransient(const Error& e) {
  return e.code == kStoreBusy || e.code == kStoreUnavailable;
}

void BackoffBeforeRetry(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt * attempt));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Blob DecodeBytea(const char* text, size_t len) {
  Blob b;
  if (len >= 2 && text[0] == '\\' && text[1] == 'x') {
    b.bytes.reserve((len - 2) / 2);
    for (size_t i = 2; i + 1 < len; i += 2) {
      b.bytes.push_back(static_cast<char>(HexDigit(text[i]) * 16 + HexDigit(text[i + 1])));
    }
    return b;
  }
  // The old "escape" output format (bytea_output = escape).
  size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &n);
  if (raw) {
    b.bytes.assign(reinterpret_cast<char*>(raw), n);
    PQfreemem(raw);
  }
  return b;
}

Value ParseValue(Oid type, const char* text, size_t len) {
  switch (type) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kOidOid: {
      int64_t n = 0;
      std::from_chars(text, text + len, n);
      return n;
    }
    case kBoolOid:
      return static_cast<int64_t>(len > 0 && text[0] == 't');
    case kNumericOid: {
      // Integral numerics (SUM of BIGINT) stay exact as int64 when they fit.
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text, text + len, n);
      if (ec == std::errc() && end == text + len) return n;
      [[fallthrough]];
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      std::string s(text, len);
      if (s == "NaN") return std::nan("");
      if (s == "Infinity") return HUGE_VAL;
      if (s == "-Infinity") return -HUGE_VAL;
      return std::strtod(s.c_str(), nullptr);
    }
    case kByteaOid:
      return DecodeBytea(text, len);
    default:
      return std::string(text, len);
  }
}

QueryResult ToQueryResult(PGresult* r) {
  QueryResult out;
  int ncols = PQnfields(r);
  int nrows = PQntuples(r);
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    auto columns = std::make_shared<std::vector<std::string>>();
    std::vector<Oid> types;
    for (int i = 0; i < ncols; ++i) {
      columns->emplace_back(PQfname(r, i));
      types.push_back(PQftype(r, i));
    }
    out.columns = *columns;
    out.rows.reserve(static_cast<size_t>(nrows));
    for (int row = 0; row < nrows; ++row) {
      std::vector<Value> values;
      values.reserve(static_cast<size_t>(ncols));
      for (int i = 0; i < ncols; ++i) {
        if (PQgetisnull(r, row, i)) {
          values.emplace_back(nullptr);
        } else {
          values.push_back(ParseValue(types[static_cast<size_t>(i)], PQgetvalue(r, row, i),
                                      static_cast<size_t>(PQgetlength(r, row, i))));
        }
      }
      out.rows.emplace_back(columns, std::move(values));
    }
  }
  const char* tuples = PQcmdTuples(r);
  if (tuples && *tuples) std::from_chars(tuples, tuples + std::strlen(tuples), out.affected);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && std::string_view(PQcmdStatus(r)).starts_with("SELECT"))
    out.affected = 0;
  return out;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

// Runs one statement with parameters, or any SQL (several statements) without.
Result<QueryResult> Execute(PgConn& c, std::string_view sql, const Params& params) {
  std::string sql_z(sql);
  PgResult r;
  if (params.empty()) {
    r.reset(PQexec(c.conn, sql_z.c_str()));
  } else {
    size_t n = params.size();
    std::vector<std::string> texts(n);
    std::vector<const char*> values(n, nullptr);
    std::vector<int> lengths(n, 0), formats(n, 0);
    std::vector<Oid> types(n, 0);  // 0: let the server infer text parameters' types from the statement
    for (size_t i = 0; i < n; ++i) {
      const Value& v = params[i];
      if (auto* num = std::get_if<int64_t>(&v)) {
        texts[i] = std::to_string(*num);
        types[i] = kInt8Oid;
        values[i] = texts[i].c_str();
      } else if (auto* d = std::get_if<double>(&v)) {
        texts[i] = FormatDouble(*d);
        types[i] = kFloat8Oid;
        values[i] = texts[i].c_str();
      } else if (auto* s = std::get_if<std::string>(&v)) {
        values[i] = s->c_str();
      } else if (auto* b = std::get_if<Blob>(&v)) {
        types[i] = kByteaOid;
        values[i] = b->bytes.data();
        lengths[i] = static_cast<int>(b->bytes.size());
        formats[i] = 1;  // binary: the bytes as they are, zeros included
      }
    }
    r.reset(PQexecParams(c.conn, sql_z.c_str(), static_cast<int>(n), types.data(), values.data(),
                         lengths.data(), formats.data(), 0));
  }
  ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    return Fail(PgError(c.conn, r.get(), sql));
  }
  return ToQueryResult(r.get());
}

using PgTx = RecordingTx<PgConn, Dialect::kPostgres, Execute, IsTransient>;

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string url, size_t pool_size)
      : url_(std::move(url)), pool_(pool_size, [this] { return Connect(); }) {}

  Dialect dialect() const override { return Dialect::kPostgres; }

  Status Transact(const std::function<Status(Tx&)>& fn) override {
    for (int attempt = 1;; ++attempt) {
      Status status = TransactOnce(fn);
      if (status || !IsTransient(status.error()) || attempt >= kMaxAttempts) return status;
      BackoffBeforeRetry(attempt);
    }
  }

  Result<QueryResult> Query(std::string_view sql, const Params& params) override {
    for (int attempt = 1;; ++attempt) {
      auto lease = pool_.Acquire();
      Result<QueryResult> r = lease ? Execute(**lease, sql, params) : tl::unexpected(lease.error());
      if (lease && !r) DropIfBroken(*lease);
      if (r || !IsTransient(r.error()) || attempt >= kMaxAttempts) return r;
      BackoffBeforeRetry(attempt);
    }
  }

  std::string Describe() const override { return RedactPostgresUrl(url_); }

  Status Check() {
    auto lease = pool_.Acquire();
    if (!lease) return tl::unexpected(lease.error());
    return {};
  }

 private:
  Status TransactOnce(const std::function<Status(Tx&)>& fn) {
    auto lease = pool_.Acquire();
    if (!lease) return tl::unexpected(lease.error());
    PgConn& c = **lease;
    if (auto begun = Execute(c, "BEGIN", {}); !begun) {
      DropIfBroken(*lease);
      return tl::unexpected(begun.error());
    }
    PgTx tx(c);
    Status status = tx.Run(
        fn, [&] { return Execute(c, "COMMIT", {}); }, [&] { Rollback(*lease); });
    if (status) return {};
    if (tx.transient_failure() && !IsTransient(status.error())) {
      Error e = *tx.first_error();  // fn turned a transient failure into another error; retry all the same
      return tl::unexpected(e);
    }
    return status;
  }

  void Rollback(ConnectionPool<PgConn>::Lease& lease) {
    if (PQstatus(lease->conn) != CONNECTION_OK) {
      DropIfBroken(lease);
      return;
    }
    PgResult r(PQexec(lease->conn, "ROLLBACK"));
    if (PQstatus(lease->conn) != CONNECTION_OK || PQtransactionStatus(lease->conn) != PQTRANS_IDLE)
      lease.Discard();
  }

  void DropIfBroken(ConnectionPool<PgConn>::Lease& lease) {
    if (PQstatus(lease->conn) != CONNECTION_OK) {
      lease.Discard();
      pool_.DropIdle();
    }
  }

  Result<std::unique_ptr<PgConn>> Connect() {
    const char* keywords[] = {"connect_timeout", "application_name", "client_encoding", "dbname", nullptr};
    const char* values[] = {"10", "ktrack", "UTF8", url_.c_str(), nullptr};
    auto c = std::make_unique<PgConn>();
    c->conn = PQconnectdbParams(keywords, values, 1);
    if (!c->conn) {
      return Fail(ErrorKind::kUnavailable, kStoreUnavailable, "The database cannot be reached right now.", "",
                  "out of memory creating a libpq connection");
    }
    if (PQstatus(c->conn) != CONNECTION_OK) {
      return Fail(ErrorKind::kUnavailable, kStoreUnavailable, "The database cannot be reached right now.",
                  "Check that PostgreSQL is running at " + Describe() + " and accepts KTrack's user.",
                  TrimMessage(PQerrorMessage(c->conn)));
    }
    PQsetNoticeProcessor(
        c->conn, [](void*, const char*) {}, nullptr);
    return c;
  }

  const std::string url_;
  ConnectionPool<PgConn> pool_;
};

}  // namespace

std::string RedactPostgresUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "postgresql://";
  std::string rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('?'));
  size_t path_start = rest.find('/');
  std::string authority = rest.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : rest.substr(path_start);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  return url.substr(0, scheme_end) + "://" + authority + path;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const StoreOptions& options) {
  auto store = std::make_unique<PostgresStore>(url, options.pool_size);
  if (auto s = store->Check(); !s) return tl::unexpected(s.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace kt::store
