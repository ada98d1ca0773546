// KTrack's copy of Procore records: upserts that never move a record backwards, deletion marks, the sweep
// that ends a full read, the typed projects/users/vendors tables kept in the same transaction, and checksums.
// A full read's pages are stored a row a page (WritePage, record_pages.h); every other change is a row a
// record in procore_records, which shadows the pages. The readers here merge the two.
//
// Key: (client_id, stream, project_id, procore_id), project_id 0 for company streams. Procore's ids are
// unique across a company for every stream but budget_detail_rows, whose ids are unique within a budget view;
// KTrack reads one budget view per project, so the project in the key keeps the rows of different projects
// apart.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "util/error.h"

namespace kt::sync {

// Which records: one stream of one client, in one project (0 for company streams).
struct RecordScope {
  int64_t client_id = 0;
  int64_t company_id = 0;
  std::string stream;
  int64_t project_id = 0;
};

// One record as read from Procore. The views must outlive the call that takes them.
struct IncomingRecord {
  int64_t id = 0;
  std::string_view updated_at;  // exactly as Procore sent it ("" when absent)
  std::string_view deleted_at;  // "" when absent or null
  std::string_view json;        // the record's JSON text, stored as it is
};

// How far a record's state is trusted when records disagree (see UpsertRecords).
struct WriteStats {
  int64_t written = 0;            // records offered
  int64_t max_updated_at_ms = 0;  // the newest updated_at among them
  std::string max_updated_at;
};

// Upserts records read at `seen_ms` (KTrack's clock, when the request went out). A stored record is replaced
// only by a strictly newer updated_at, by a deletion observed at the same updated_at, or (when it is marked
// deleted) by the same version observed live after the deletion mark was made. Every live observation
// refreshes the record's seen time, which SweepUnseen relies on. Users and vendors that are not active count
// as deleted: Procore lists them apart (…/inactive), and the stream is the active list.
Result<WriteStats> UpsertRecords(store::Tx& tx, const RecordScope& scope,
                                 std::span<const IncomingRecord> records, int64_t seen_ms);

// Stores one page of a full read (pass_ms: when the read started; seq: the page's number in it) as one
// record_pages row (record_pages.h), and applies it to the procore_records rows of its records that have one
// (by UpsertRecords' rules), since such a row shadows the page. Typed streams go through UpsertRecords.
Result<WriteStats> WritePage(store::Tx& tx, const RecordScope& scope, int64_t pass_ms, int64_t seq,
                             std::span<const IncomingRecord> records, int64_t seen_ms);

// Marks one record deleted (a delete event, or a 404 on re-reading it). procore_time_ms is Procore's time of
// the deletion when known (the event's timestamp; 0 otherwise): a tombstone at that time keeps an older copy
// read before the deletion from bringing the record back.
Status MarkDeleted(store::Tx& tx, const RecordScope& scope, int64_t procore_id, int64_t procore_time_ms,
                   int64_t seen_ms);

// After a complete read of a stream that started at since_ms: live records not seen since then are deleted in
// Procore. Returns how many were marked. Rows of procore_records only: SweepAndDigest sweeps the pages too.
Result<int64_t> SweepUnseen(store::Tx& tx, const RecordScope& scope, int64_t since_ms);

// The local state of one record, if stored.
struct StoredRecord {
  int64_t procore_id = 0;
  int64_t project_id = 0;
  std::string updated_at;
  int64_t updated_at_ms = 0;
  bool deleted = false;
  std::string body;
};
Result<std::optional<StoredRecord>> FindRecord(store::Tx& tx, const RecordScope& scope, int64_t procore_id,
                                               bool with_body = false);

// Live records and the interfaces.md checksum of one stream.
struct StreamDigest {
  int64_t count = 0;
  std::string checksum;
};
Result<StreamDigest> DigestStream(store::Store& store, const RecordScope& scope);
Result<StreamDigest> DigestStream(store::Tx& tx, const RecordScope& scope);
// Ends a full read that started at since_ms, in its last page's transaction: the pages of earlier reads go,
// and what only they held becomes procore_records rows, which the sweep marks deleted (gone from Procore);
// then SweepUnseen and DigestStream, in one read of the stream's records. Returns how many were marked
// deleted beside the digest.
struct SweptDigest {
  int64_t swept = 0;
  StreamDigest digest;
};
Result<SweptDigest> SweepAndDigest(store::Tx& tx, const RecordScope& scope, int64_t since_ms);

// The checksum of lines "<id>:<updated_at>": sorted as byte strings, joined with "\n", SHA-256, lowercase
// hex.
std::string ChecksumOfLines(std::vector<std::string> lines);

// "client_id = $1", then " AND stream = $n" and " AND project_id = $m" for those given, with the values
// appended to params (which must start empty): the rows of a client, a stream, a project or one scope.
std::string ScopeWhere(store::Params& params, int64_t client_id, const std::optional<std::string>& stream,
                       std::optional<int64_t> project_id);

// Deletes records (and typed rows) of a client: all, or one project's project streams.
Status DeleteRecords(store::Tx& tx, int64_t client_id, std::optional<int64_t> project_id,
                     std::optional<std::string> stream = std::nullopt);

// The records of one stream as the records API lists them: sorted by project, then id; deleted ones only when
// asked; with a search, only those whose JSON holds the text (ASCII letters in any case).
struct ListedRecord {
  int64_t procore_id = 0;
  int64_t project_id = 0;
  std::string updated_at;
  bool deleted = false;
  std::string body;
};
struct RecordList {
  int64_t total = 0;  // matching records, of every page
  std::vector<ListedRecord> records;
};
struct RecordListQuery {
  int64_t client_id = 0;
  std::string stream;
  std::optional<int64_t> project_id;  // absent: every project's
  bool include_deleted = false;
  std::string search;
  int64_t offset = 0;
  int64_t limit = 100;
};
Result<RecordList> ListStoredRecords(store::Store& store, const RecordListQuery& query);

// The state of records as KTrack holds them, by Procore id (absent: not held).
struct RecordState {
  int64_t updated_at_ms = 0;
  bool deleted = false;
};
Result<std::map<int64_t, RecordState>> RecordStates(store::Store& store, const RecordScope& scope,
                                                    std::vector<int64_t> ids);

// Parses one record's JSON (a single-record GET) into the fields UpsertRecords needs. Unwraps REST v2's
// {"data": {...}}. Fails with kInvalidInput when the text is not an object with an id.
struct ParsedRecord {
  int64_t id = 0;
  std::string updated_at;
  std::string deleted_at;
  std::string json;
};
Result<ParsedRecord> ParseRecordJson(std::string_view text);

}  // namespace kt::sync
