// The convergence checker: compares every stream of a running KTrack (its JSON API, and its database for
// duplicates) with the emulator's truth, and reports the streams that differ record by record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kt::testing {

// Where KTrack's copy is read: the JSON API as the client's admin, and optionally its database.
struct KtrackSide {
  std::string base_url;  // http://HOST:PORT of `ktrack serve`
  int64_t client_id = 0;
  std::string admin_token;
  std::string database;  // e.g. sqlite:/tmp/x/ktrack.db; empty: no database checks
};

// Where the truth is read: the emulator's control API, for what the app sees in the company.
struct TruthSide {
  std::string emulator_url;
  int64_t company_id = 0;
  std::string app_client_id;  // empty: every project of the company
};

// One record that differs: missing from KTrack, extra in KTrack, or held with another updated_at.
struct RecordDifference {
  enum class Kind { kMissing, kExtra, kStale, kDuplicate };
  Kind kind;
  int64_t id = 0;
  std::string ours;   // KTrack's updated_at (empty when missing)
  std::string truth;  // the emulator's updated_at (empty when extra)
};

struct StreamDifference {
  std::string stream;
  int64_t project_id = 0;  // 0 for company streams
  std::string problem;     // "not synced", "count and checksum differ", "not in the truth", ...
  int64_t our_count = -1, truth_count = -1;
  std::string our_status;  // the stream's status in KTrack, with its error code when it has one
  std::vector<RecordDifference> records;  // for streams compared by record
};

struct ConvergenceReport {
  int64_t streams_compared = 0;
  int64_t records_in_truth = 0;
  std::vector<StreamDifference> streams;
  // Rows holding the same Procore record more than once ("stream:id x N"), from the database.
  std::vector<std::string> duplicate_rows;
  std::string failure;  // the check itself could not run (KTrack or the emulator did not answer)

  bool Converged() const { return failure.empty() && streams.empty() && duplicate_rows.empty(); }
  // A readable summary: the first max_streams differing streams with up to max_records records each.
  std::string Describe(size_t max_streams = 10, size_t max_records = 8) const;
};

struct CheckOptions {
  // Streams compared record by record when they differ (reading every page of each costs time).
  size_t max_streams_by_record = 20;
};

ConvergenceReport CheckConvergence(const KtrackSide& ktrack, const TruthSide& truth,
                                   const CheckOptions& options = {});

// Records KTrack holds twice for the client (live or not, in procore_records or in a full read's pages): the
// same stream and id under two projects, as "stream:id x N". Empty when there are none.
std::vector<std::string> DuplicateRows(const std::string& database, int64_t client_id);

}  // namespace kt::testing
