// The pages of full reads, stored a row a page (record_pages) rather than a row a record: one INSERT for up
// to a thousand records, where a row each cost SQLite more than half the sync's CPU target
// (docs/RECORD-PAGES.md).
//
// A row holds a page as Procore sent it: its records' ids, versions and deletion flags packed in `idx` (ids
// ascending), their JSON bodies one after another in `bodies`. It is keyed by the full read (`pass_ms`, the
// time the read started) and the page's number in it. A procore_records row of the same record shadows every
// page entry of it: the records changed outside full reads (webhooks, incremental reads, deletions) live
// there, and records.cpp keeps that row current when a page brings the record again. So a record's state is
// its procore_records row if it has one, else its newest page entry (newest updated_at, then the later page).
//
// Only records.cpp writes these rows; readers come through records.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "sync/records.h"
#include "util/error.h"

namespace kt::sync::pages {

// A statement runner: a transaction's or the store's own Query.
using QueryFn = std::function<Result<store::QueryResult>(std::string_view, const store::Params&)>;
QueryFn QueryOf(store::Tx& tx);
QueryFn QueryOf(store::Store& store);

// One record of a stored page, without its body.
struct Entry {
  int64_t id = 0;
  int64_t updated_at_ms = 0;
  std::string_view updated_at;  // a view into the page's index
  bool deleted = false;
  uint32_t body_offset = 0;
  uint32_t body_length = 0;
};

// A stored page's index.
struct Page {
  int64_t project_id = 0;
  int64_t pass_ms = 0;
  int64_t seq = 0;
  int64_t seen_ms = 0;
  std::string index;  // packed (see record_pages.cpp)

  size_t size() const;
  Entry at(size_t i) const;
  std::optional<size_t> Find(int64_t id) const;  // binary search
};

// A page's records packed for its row. `records` must be sorted by id, each id once.
struct Packed {
  std::string index;
  std::string bodies;
  int64_t min_id = 0;
  int64_t max_id = 0;
};
Packed Pack(std::span<const IncomingRecord* const> records, std::span<const int64_t> updated_at_ms);

// Writes (or rewrites) one page row.
Status Insert(const QueryFn& q, const RecordScope& scope, int64_t pass_ms, int64_t seq, int64_t seen_ms,
              Packed packed);

// The pages of a stream's scope, indexes only; project_id absent: every project's. With a range, only the
// pages whose ids overlap [lo, hi].
Result<std::vector<Page>> Load(const QueryFn& q, int64_t client_id, const std::string& stream,
                               std::optional<int64_t> project_id,
                               std::optional<std::pair<int64_t, int64_t>> range = std::nullopt);

// Deletes the pages of a scope (or of a client: project and stream absent) begun before before_ms (all when
// absent).
Status Delete(const QueryFn& q, int64_t client_id, std::optional<int64_t> project_id,
              const std::optional<std::string>& stream, std::optional<int64_t> before_ms = std::nullopt);

// One record's body, or a page's bodies whole.
Result<std::string> Body(const QueryFn& q, int64_t client_id, const std::string& stream, const Page& page,
                         const Entry& entry);
Result<std::string> Bodies(const QueryFn& q, int64_t client_id, const std::string& stream, const Page& page);

// A record's newest entry among pages, and the latest time a page saw it live (for the sweep's seen_ms).
struct Best {
  int64_t project_id = 0;
  int64_t id = 0;
  const Page* page = nullptr;
  size_t index = 0;
  int64_t live_seen_ms = 0;

  Entry entry() const { return page->at(index); }
};
// Every record's newest entry, sorted by (project, id).
std::vector<Best> Newest(const std::vector<Page>& pages);

}  // namespace kt::sync::pages
