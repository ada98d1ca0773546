// The transaction handle both backends give to Store::Transact callers: it runs each statement on the
// transaction's connection and remembers the first failure and whether any was transient, so the backend
// decides after the callback whether to roll back and retry.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "store/store.h"

namespace kt::store {

// Conn: the backend's connection. Execute: Result<QueryResult>(Conn&, std::string_view, const Params&).
// IsTransient: bool(const Error&), true for failures a retry of the whole transaction may cure.
template <typename Conn, Dialect kDialect, auto Execute, auto IsTransient>
class RecordingTx final : public Tx {
 public:
  explicit RecordingTx(Conn& c) : c_(c) {}

  Result<QueryResult> Query(std::string_view sql, const Params& params) override {
    auto r = Execute(c_, sql, params);
    if (!r) {
      if (!first_error_) first_error_ = r.error();
      if (IsTransient(r.error())) transient_failure_ = true;
    }
    return r;
  }
  Dialect dialect() const override { return kDialect; }
  bool transient_failure() const { return transient_failure_; }
  const std::optional<Error>& first_error() const { return first_error_; }

  // Runs fn in the transaction the backend has begun on this connection, then commits it (commit(): the
  // backend's COMMIT) if fn succeeded and no statement failed, or rolls it back (rollback()) otherwise, and
  // when fn throws. A statement that failed makes the whole transaction fail even when fn went on: PostgreSQL
  // aborts the transaction there (its COMMIT would silently roll back), and SQLite is held to the same rule,
  // so half of fn's work is never committed. The backend decides about retrying from what this returns.
  template <typename Commit, typename Rollback>
  Status Run(const std::function<Status(Tx&)>& fn, Commit commit, Rollback rollback) {
    Status status;
    try {
      status = fn(*this);
    } catch (...) {
      rollback();
      throw;
    }
    if (status && first_error_) {
      Error e = *first_error_;
      e.detail = "a statement failed inside the transaction, which went on: " + e.detail;
      status = tl::unexpected(e);
    }
    if (status) {
      auto committed = commit();
      if (committed) return {};
      status = tl::unexpected(committed.error());
    }
    rollback();
    return status;
  }

 private:
  Conn& c_;
  bool transient_failure_ = false;
  std::optional<Error> first_error_;
};

}  // namespace kt::store
