// Record writes in portable SQL: multi-row upserts with the never-backwards rule in the ON CONFLICT clause.
#include "sync/records.h"

#include <algorithm>
#include <limits>
#include <map>

#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "procore/models.h"
#include "sync/record_pages.h"
#include "util/hash.h"
#include "util/strings.h"

namespace kt::sync {
namespace {

using store::Params;
using store::Tx;

// Rows per INSERT statement. A page is written in chunks of these sizes (largest first), so a handful of
// statement texts cover every page size and stay in the store's statement cache.
constexpr int kChunkSizes[] = {128, 32, 8, 1};

// Shared parameters: $1 client_id, $2 stream, $3 project_id, $4 company_id, $5 seen_ms; then five per row:
// procore_id, updated_at, updated_at_ms, deleted (0/1), body.
constexpr int kSharedParams = 5;
constexpr int kRowParams = 5;

// When the incoming row replaces the stored one (see UpsertRecords).
constexpr const char* kNewer =
    "(excluded.updated_at_ms > r.updated_at_ms"
    " OR (excluded.updated_at_ms = r.updated_at_ms AND excluded.deleted > r.deleted)"
    " OR (r.deleted = 1 AND excluded.deleted = 0 AND excluded.updated_at_ms = r.updated_at_ms"
    " AND excluded.seen_ms > r.deleted_seen_ms))";

std::string UpsertSql(int rows, bool returning) {
  std::string sql =
      "INSERT INTO procore_records AS r (client_id, stream, project_id, procore_id, company_id, updated_at, "
      "updated_at_ms, deleted, deleted_seen_ms, seen_ms, body) VALUES ";
  for (int i = 0; i < rows; ++i) {
    int b = kSharedParams + 1 + i * kRowParams;
    auto p = [&](int k) { return "$" + std::to_string(b + k); };
    if (i) sql += ", ";
    sql += "($1, $2, $3, " + p(0) + ", $4, " + p(1) + ", " + p(2) + ", " + p(3) + ", $5 * " + p(3) +
           ", $5 * (1 - " + p(3) + "), " + p(4) + ")";
  }
  const std::string n = kNewer;
  sql +=
      " ON CONFLICT (client_id, stream, project_id, procore_id) DO UPDATE SET"
      " updated_at = CASE WHEN " +
      n +
      " THEN excluded.updated_at ELSE r.updated_at END,"
      " updated_at_ms = CASE WHEN " +
      n +
      " THEN excluded.updated_at_ms ELSE r.updated_at_ms END,"
      " body = CASE WHEN " +
      n +
      " THEN excluded.body ELSE r.body END,"
      " deleted = CASE WHEN " +
      n +
      " THEN excluded.deleted ELSE r.deleted END,"
      " deleted_seen_ms = CASE WHEN " +
      n +
      " AND excluded.deleted = 1 THEN excluded.deleted_seen_ms"
      " ELSE r.deleted_seen_ms END,"
      " seen_ms = CASE WHEN excluded.deleted = 0 AND excluded.seen_ms > r.seen_ms THEN excluded.seen_ms"
      " ELSE r.seen_ms END,"
      " company_id = excluded.company_id";
  if (returning) sql += " RETURNING procore_id, updated_at_ms, deleted";
  return sql;
}

// The upserts of each of kChunkSizes' sizes, indexed by size.
std::vector<std::string> UpsertSqlBySize(bool returning) {
  std::vector<std::string> v(129);
  for (int n : kChunkSizes) v[static_cast<size_t>(n)] = UpsertSql(n, returning);
  return v;
}

// The upsert of `rows` rows (one of kChunkSizes), with or without the stored versions returned.
const std::string& CachedUpsertSql(int rows, bool returning) {
  static const std::vector<std::string> plain = UpsertSqlBySize(false);
  static const std::vector<std::string> with_versions = UpsertSqlBySize(true);
  return (returning ? with_versions : plain).at(static_cast<size_t>(rows));
}

enum class Typed { kNone, kProjects, kUsers, kVendors };

Typed TypedOf(std::string_view stream) {
  if (stream == "projects") return Typed::kProjects;
  if (stream == "company_users") return Typed::kUsers;
  if (stream == "vendors") return Typed::kVendors;
  return Typed::kNone;
}

const char* TypedTable(Typed t) {
  switch (t) {
    case Typed::kProjects:
      return "procore_projects";
    case Typed::kUsers:
      return "procore_users";
    case Typed::kVendors:
      return "procore_vendors";
    default:
      return nullptr;
  }
}

int64_t ParseTimeMs(std::string_view text) {
  if (text.empty()) return 0;
  return ParseIso8601(text).value_or(0);
}

// The top-level fields WriteTyped and UpsertTyped read (any typed stream). A record is parsed into an object
// of these alone: a project or user record has dozens of fields (Procore's project list schema about fifty),
// and building all of them in nlohmann-json was about half of the typed streams' cost (3% of `large`'s sync).
constexpr std::string_view kTypedFields[] = {
    "name",        "display_name", "project_number",   "project_stage", "stage",     "stage_name",
    "active",      "first_name",   "last_name",        "email_address", "job_title", "is_active",
    "is_employee", "vendor",       "abbreviated_name", "business_phone"};

// A simdjson value as nlohmann-json would have parsed it: non-negative integers unsigned, as nlohmann's
// parser makes them.
nlohmann::json ToNlohmann(simdjson::dom::element v) {
  using Type = simdjson::dom::element_type;
  switch (v.type()) {
    case Type::OBJECT: {
      nlohmann::json out = nlohmann::json::object();
      const simdjson::dom::object obj = v.get_object().value_unsafe();
      for (auto field : obj) out[std::string(field.key)] = ToNlohmann(field.value);
      return out;
    }
    case Type::ARRAY: {
      nlohmann::json out = nlohmann::json::array();
      const simdjson::dom::array items = v.get_array().value_unsafe();
      for (auto item : items) out.push_back(ToNlohmann(item));
      return out;
    }
    case Type::STRING:
      return std::string(v.get_string().value_unsafe());
    case Type::INT64: {
      const int64_t n = v.get_int64().value_unsafe();
      if (n >= 0) return static_cast<uint64_t>(n);
      return n;
    }
    case Type::UINT64:
      return v.get_uint64().value_unsafe();
    case Type::DOUBLE:
      return v.get_double().value_unsafe();
    case Type::BOOL:
      return v.get_bool().value_unsafe();
    case Type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

// The record's typed fields (kTypedFields) as an object; the empty object when the record is not one. A key
// given twice keeps its last value, as in nlohmann-json. A record simdjson refuses (an integer beyond 64
// bits, say) is parsed whole by nlohmann-json, whose reading stands, as it did before simdjson.
nlohmann::json TypedFieldsOf(std::string_view json) {
  thread_local simdjson::dom::parser parser;  // its buffers grow to the largest record and stay
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root)) {
    nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  nlohmann::json out = nlohmann::json::object();
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return out;
  for (auto field : obj) {
    if (std::find(std::begin(kTypedFields), std::end(kTypedFields), field.key) != std::end(kTypedFields))
      out[std::string(field.key)] = ToNlohmann(field.value);
  }
  return out;
}

// Writes the typed row of a record that is now the stored version. Reads only kTypedFields of `j`.
Status WriteTyped(Tx& tx, Typed typed, const RecordScope& scope, int64_t id, const nlohmann::json& j,
                  std::string_view updated_at, int64_t updated_at_ms, bool deleted) {
  using procore::JsonBool;
  using procore::JsonString;
  Result<int64_t> r;
  const int64_t del = deleted ? 1 : 0;
  switch (typed) {
    case Typed::kProjects: {
      std::string stage;
      if (auto it = j.find("project_stage"); it != j.end() && it->is_object())
        stage = JsonString(*it, "name");
      if (stage.empty()) stage = JsonString(j, "stage");
      if (stage.empty()) stage = JsonString(j, "stage_name");
      r = tx.Exec(
          "INSERT INTO procore_projects (client_id, procore_id, company_id, name, display_name, "
          "project_number, "
          "stage, active, updated_at, updated_at_ms, deleted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
          "$10, $11) "
          "ON CONFLICT (client_id, procore_id) DO UPDATE SET company_id = excluded.company_id, name = "
          "excluded.name, "
          "display_name = excluded.display_name, project_number = excluded.project_number, stage = "
          "excluded.stage, "
          "active = excluded.active, updated_at = excluded.updated_at, updated_at_ms = "
          "excluded.updated_at_ms, "
          "deleted = excluded.deleted",
          {scope.client_id, id, scope.company_id, JsonString(j, "name"), JsonString(j, "display_name"),
           JsonString(j, "project_number"), stage, int64_t{JsonBool(j, "active", true) ? 1 : 0},
           std::string(updated_at), updated_at_ms, del});
      break;
    }
    case Typed::kUsers: {
      int64_t vendor_id = 0;
      std::string vendor_name;
      if (auto it = j.find("vendor"); it != j.end() && it->is_object()) {
        vendor_id = procore::JsonId(*it, "id").value_or(0);
        vendor_name = JsonString(*it, "name");
      }
      r = tx.Exec(
          "INSERT INTO procore_users (client_id, procore_id, company_id, name, first_name, last_name, "
          "email_address, "
          "job_title, is_active, is_employee, vendor_id, vendor_name, updated_at, updated_at_ms, deleted) "
          "VALUES "
          "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
          "ON CONFLICT (client_id, procore_id) DO UPDATE SET company_id = excluded.company_id, name = "
          "excluded.name, "
          "first_name = excluded.first_name, last_name = excluded.last_name, email_address = "
          "excluded.email_address, "
          "job_title = excluded.job_title, is_active = excluded.is_active, is_employee = "
          "excluded.is_employee, "
          "vendor_id = excluded.vendor_id, vendor_name = excluded.vendor_name, updated_at = "
          "excluded.updated_at, "
          "updated_at_ms = excluded.updated_at_ms, deleted = excluded.deleted",
          {scope.client_id, id, scope.company_id, JsonString(j, "name"), JsonString(j, "first_name"),
           JsonString(j, "last_name"), JsonString(j, "email_address"), JsonString(j, "job_title"),
           int64_t{JsonBool(j, "is_active", true) ? 1 : 0},
           int64_t{JsonBool(j, "is_employee", false) ? 1 : 0}, vendor_id, vendor_name,
           std::string(updated_at), updated_at_ms, del});
      break;
    }
    case Typed::kVendors:
      r = tx.Exec(
          "INSERT INTO procore_vendors (client_id, procore_id, company_id, name, abbreviated_name, "
          "email_address, "
          "business_phone, is_active, updated_at, updated_at_ms, deleted) VALUES "
          "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
          "ON CONFLICT (client_id, procore_id) DO UPDATE SET company_id = excluded.company_id, name = "
          "excluded.name, "
          "abbreviated_name = excluded.abbreviated_name, email_address = excluded.email_address, "
          "business_phone = excluded.business_phone, is_active = excluded.is_active, "
          "updated_at = excluded.updated_at, updated_at_ms = excluded.updated_at_ms, deleted = "
          "excluded.deleted",
          {scope.client_id, id, scope.company_id, JsonString(j, "name"), JsonString(j, "abbreviated_name"),
           JsonString(j, "email_address"), JsonString(j, "business_phone"),
           int64_t{JsonBool(j, "is_active", true) ? 1 : 0}, std::string(updated_at), updated_at_ms, del});
      break;
    default:
      return {};
  }
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace

namespace {

// Sorted by id, each id once (its first copy: Procore pages hold each id once, and one statement may not
// update the same row twice on PostgreSQL).
std::vector<const IncomingRecord*> SortedUnique(std::span<const IncomingRecord> records) {
  std::vector<const IncomingRecord*> rows;
  rows.reserve(records.size());
  for (const auto& rec : records) {
    if (rec.id != 0) rows.push_back(&rec);
  }
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->id < b->id; });
  rows.erase(std::unique(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->id == b->id; }),
             rows.end());
  return rows;
}

// A row as the upsert left it: the version kept.
struct StoredVersion {
  int64_t id = 0;
  int64_t updated_at_ms = 0;
  bool deleted = false;
};

// Upserts sorted, unique records into procore_records, in chunks of the cached statement sizes. `deleted`
// (one per row, if given) overrides what the records' deleted_at say; `stored`, if given, receives the
// version each row kept.
Status UpsertRows(Tx& tx, const RecordScope& scope, std::span<const IncomingRecord* const> rows,
                  int64_t seen_ms, std::span<const char> deleted = {},
                  std::vector<StoredVersion>* stored = nullptr) {
  Params params;
  size_t next = 0;
  while (next < rows.size()) {
    const size_t left = rows.size() - next;
    int chunk = 1;
    for (int n : kChunkSizes) {
      if (static_cast<size_t>(n) <= left) {
        chunk = n;
        break;
      }
    }
    params.clear();
    params.reserve(kSharedParams + static_cast<size_t>(chunk) * kRowParams);
    params.emplace_back(scope.client_id);
    params.emplace_back(scope.stream);
    params.emplace_back(scope.project_id);
    params.emplace_back(scope.company_id);
    params.emplace_back(seen_ms);
    for (int i = 0; i < chunk; ++i) {
      const size_t k = next + static_cast<size_t>(i);
      const IncomingRecord& rec = *rows[k];
      params.emplace_back(rec.id);
      params.emplace_back(std::string(rec.updated_at));
      params.emplace_back(ParseTimeMs(rec.updated_at));
      params.emplace_back(int64_t{(deleted.empty() ? !rec.deleted_at.empty() : deleted[k] != 0) ? 1 : 0});
      params.emplace_back(std::string(rec.json));
    }
    if (stored) {
      auto r = tx.Query(CachedUpsertSql(chunk, true), params);
      if (!r) return tl::unexpected(r.error());
      for (const auto& row : r->rows) stored->push_back({row.Int(0), row.Int(1), row.Int(2) != 0});
    } else {
      auto r = tx.Exec(CachedUpsertSql(chunk, false), params);
      if (!r) return tl::unexpected(r.error());
    }
    next += static_cast<size_t>(chunk);
  }
  return {};
}

// The ids in [lo, hi] that have a procore_records row in the scope.
Result<std::vector<int64_t>> RowIdsIn(Tx& tx, const RecordScope& scope, int64_t lo, int64_t hi) {
  auto r = tx.Query(
      "SELECT procore_id FROM procore_records WHERE client_id = $1 AND stream = $2 AND project_id = $3 AND "
      "procore_id >= $4 AND procore_id <= $5",
      {scope.client_id, scope.stream, scope.project_id, lo, hi});
  if (!r) return tl::unexpected(r.error());
  std::vector<int64_t> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back(row.Int(0));
  std::sort(out.begin(), out.end());
  return out;
}

// Copies page entries into procore_records rows (none of them may have one), as the rows today's rules would
// have left had each page been upserted: the newest version, deleted since the page that said so, seen live
// last when a page last had it live.
Status CopyToRows(Tx& tx, const RecordScope& scope, std::span<const pages::Best> entries) {
  const auto q = pages::QueryOf(tx);
  for (const pages::Best& best : entries) {
    const pages::Entry e = best.entry();
    auto body = pages::Body(q, scope.client_id, scope.stream, *best.page, e);
    if (!body) return tl::unexpected(body.error());
    auto r = tx.Exec(
        "INSERT INTO procore_records (client_id, stream, project_id, procore_id, company_id, updated_at, "
        "updated_at_ms, deleted, deleted_seen_ms, seen_ms, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11) ON CONFLICT (client_id, stream, project_id, procore_id) DO NOTHING",
        {scope.client_id, scope.stream, scope.project_id, e.id, scope.company_id, std::string(e.updated_at),
         e.updated_at_ms, int64_t{e.deleted ? 1 : 0}, e.deleted ? best.page->seen_ms : int64_t{0},
         best.live_seen_ms, std::move(*body)});
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

// Before a change to records outside a full read: those of `ids` (sorted) that only pages hold get a
// procore_records row, so the change applies to their stored version by today's rules and then shadows the
// pages.
Status Materialize(Tx& tx, const RecordScope& scope, std::span<const int64_t> ids) {
  if (ids.empty()) return {};
  auto loaded = pages::Load(pages::QueryOf(tx), scope.client_id, scope.stream, scope.project_id,
                            std::pair{ids.front(), ids.back()});
  if (!loaded) return tl::unexpected(loaded.error());
  if (loaded->empty()) return {};
  std::vector<pages::Best> found;
  for (const pages::Best& best : pages::Newest(*loaded)) {
    if (std::binary_search(ids.begin(), ids.end(), best.id)) found.push_back(best);
  }
  if (found.empty()) return {};
  auto rows = RowIdsIn(tx, scope, found.front().id, found.back().id);
  if (!rows) return tl::unexpected(rows.error());
  std::erase_if(found,
                [&](const pages::Best& b) { return std::binary_search(rows->begin(), rows->end(), b.id); });
  return CopyToRows(tx, scope, found);
}

WriteStats StatsOf(std::span<const IncomingRecord* const> rows, std::vector<int64_t>* ms_out = nullptr) {
  WriteStats stats;
  for (const IncomingRecord* rec : rows) {
    const int64_t ms = ParseTimeMs(rec->updated_at);
    if (ms_out) ms_out->push_back(ms);
    if (ms > stats.max_updated_at_ms) {
      stats.max_updated_at_ms = ms;
      stats.max_updated_at = std::string(rec->updated_at);
    }
  }
  stats.written = static_cast<int64_t>(rows.size());
  return stats;
}

// Typed streams: the records are upserted in chunks returning the versions kept, and a record's typed row is
// written exactly when its version is the one kept. Each id once, as in UpsertRecords.
Result<WriteStats> UpsertTyped(Tx& tx, Typed typed, const RecordScope& scope,
                               std::span<const IncomingRecord* const> rows, int64_t seen_ms) {
  std::vector<nlohmann::json> fields;
  std::vector<char> deleted;
  fields.reserve(rows.size());
  deleted.reserve(rows.size());
  for (const IncomingRecord* rec : rows) {
    fields.push_back(TypedFieldsOf(rec->json));
    // An inactive user or vendor is gone from KTrack's lists as a deleted one is.
    deleted.push_back(!rec->deleted_at.empty() || ((typed == Typed::kUsers || typed == Typed::kVendors) &&
                                                   !procore::JsonBool(fields.back(), "is_active", true)));
  }
  std::vector<StoredVersion> stored;
  stored.reserve(rows.size());
  if (auto s = UpsertRows(tx, scope, rows, seen_ms, deleted, &stored); !s) return tl::unexpected(s.error());
  std::sort(stored.begin(), stored.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  std::vector<int64_t> ms;
  ms.reserve(rows.size());
  const WriteStats stats = StatsOf(rows, &ms);
  for (size_t i = 0; i < rows.size(); ++i) {
    const IncomingRecord& rec = *rows[i];
    auto kept = std::lower_bound(stored.begin(), stored.end(), rec.id,
                                 [](const StoredVersion& v, int64_t id) { return v.id < id; });
    const bool del = deleted[i] != 0;
    if (kept == stored.end() || kept->id != rec.id || kept->updated_at_ms != ms[i] || kept->deleted != del)
      continue;  // a newer version is kept
    if (auto s = WriteTyped(tx, typed, scope, rec.id, fields[i], rec.updated_at, ms[i], del); !s)
      return tl::unexpected(s.error());
  }
  return stats;
}

}  // namespace

Result<WriteStats> UpsertRecords(Tx& tx, const RecordScope& scope, std::span<const IncomingRecord> records,
                                 int64_t seen_ms) {
  const std::vector<const IncomingRecord*> rows = SortedUnique(records);
  if (const Typed typed = TypedOf(scope.stream); typed != Typed::kNone)
    return UpsertTyped(tx, typed, scope, rows, seen_ms);
  std::vector<int64_t> ids;
  ids.reserve(rows.size());
  for (const IncomingRecord* rec : rows) ids.push_back(rec->id);
  if (auto s = Materialize(tx, scope, ids); !s) return tl::unexpected(s.error());
  if (auto s = UpsertRows(tx, scope, rows, seen_ms); !s) return tl::unexpected(s.error());
  return StatsOf(rows);
}

Result<WriteStats> WritePage(Tx& tx, const RecordScope& scope, int64_t pass_ms, int64_t seq,
                             std::span<const IncomingRecord> records, int64_t seen_ms) {
  if (TypedOf(scope.stream) != Typed::kNone) return UpsertRecords(tx, scope, records, seen_ms);
  const std::vector<const IncomingRecord*> rows = SortedUnique(records);
  std::vector<int64_t> ms;
  ms.reserve(rows.size());
  WriteStats stats = StatsOf(rows, &ms);
  if (rows.empty()) return stats;
  // The page's records that have a row: the row shadows the page, so the page is applied to it.
  auto shadowed = RowIdsIn(tx, scope, rows.front()->id, rows.back()->id);
  if (!shadowed) return tl::unexpected(shadowed.error());
  if (!shadowed->empty()) {
    std::vector<const IncomingRecord*> apply;
    for (const IncomingRecord* rec : rows) {
      if (std::binary_search(shadowed->begin(), shadowed->end(), rec->id)) apply.push_back(rec);
    }
    if (auto s = UpsertRows(tx, scope, apply, seen_ms); !s) return tl::unexpected(s.error());
  }
  if (auto s = pages::Insert(pages::QueryOf(tx), scope, pass_ms, seq, seen_ms, pages::Pack(rows, ms)); !s)
    return tl::unexpected(s.error());
  return stats;
}

Status MarkDeleted(Tx& tx, const RecordScope& scope, int64_t procore_id, int64_t procore_time_ms,
                   int64_t seen_ms) {
  if (TypedOf(scope.stream) == Typed::kNone) {
    if (auto s = Materialize(tx, scope, std::span(&procore_id, 1)); !s) return s;
  }
  Result<int64_t> r;
  if (procore_time_ms > 0) {
    // A tombstone at Procore's time of the deletion; a stored version newer than that (restored since) stays.
    r = tx.Exec(
        "INSERT INTO procore_records AS r (client_id, stream, project_id, procore_id, company_id, "
        "updated_at, "
        "updated_at_ms, deleted, deleted_seen_ms, seen_ms, body) VALUES ($1, $2, $3, $4, $5, '', $6, 1, $7, "
        "0, '{}') "
        "ON CONFLICT (client_id, stream, project_id, procore_id) DO UPDATE SET "
        "deleted_seen_ms = CASE WHEN r.deleted = 0 AND excluded.updated_at_ms >= r.updated_at_ms "
        "THEN excluded.deleted_seen_ms ELSE r.deleted_seen_ms END, "
        "deleted = CASE WHEN excluded.updated_at_ms >= r.updated_at_ms THEN 1 ELSE r.deleted END",
        {scope.client_id, scope.stream, scope.project_id, procore_id, scope.company_id, procore_time_ms,
         seen_ms});
  } else {
    r = tx.Exec(
        "UPDATE procore_records SET deleted = 1, deleted_seen_ms = $5 WHERE client_id = $1 AND stream = $2 "
        "AND "
        "project_id = $3 AND procore_id = $4 AND deleted = 0",
        {scope.client_id, scope.stream, scope.project_id, procore_id, seen_ms});
  }
  if (!r) return tl::unexpected(r.error());
  if (const char* table = TypedTable(TypedOf(scope.stream))) {
    auto t = tx.Exec(std::string("UPDATE ") + table +
                         " SET deleted = 1 WHERE client_id = $1 AND procore_id = $2 AND deleted = 0 AND "
                         "EXISTS (SELECT 1 FROM procore_records WHERE client_id = $1 AND stream = $3 AND "
                         "project_id = 0 AND procore_id = $2 AND deleted = 1)",
                     {scope.client_id, procore_id, scope.stream});
    if (!t) return tl::unexpected(t.error());
  }
  return {};
}

Result<int64_t> SweepUnseen(Tx& tx, const RecordScope& scope, int64_t since_ms) {
  auto r = tx.Exec(
      "UPDATE procore_records SET deleted = 1, deleted_seen_ms = $4 WHERE client_id = $1 AND stream = $2 AND "
      "project_id = $3 AND deleted = 0 AND seen_ms < $4",
      {scope.client_id, scope.stream, scope.project_id, since_ms});
  if (!r) return tl::unexpected(r.error());
  if (*r > 0) {
    if (const char* table = TypedTable(TypedOf(scope.stream))) {
      auto t = tx.Exec(
          std::string("UPDATE ") + table +
              " SET deleted = 1 WHERE client_id = $1 AND deleted = 0 AND procore_id IN (SELECT procore_id "
              "FROM procore_records WHERE client_id = $1 AND stream = $2 AND project_id = 0 AND "
              "deleted = 1)",
          {scope.client_id, scope.stream});
      if (!t) return tl::unexpected(t.error());
    }
  }
  return *r;
}

Result<std::optional<StoredRecord>> FindRecord(Tx& tx, const RecordScope& scope, int64_t procore_id,
                                               bool with_body) {
  auto r = tx.Query(std::string("SELECT procore_id, project_id, updated_at, updated_at_ms, deleted") +
                        (with_body ? ", body" : "") +
                        " FROM procore_records WHERE client_id = $1 AND stream = $2 AND project_id = $3 AND "
                        "procore_id = $4",
                    {scope.client_id, scope.stream, scope.project_id, procore_id});
  if (!r) return tl::unexpected(r.error());
  StoredRecord out;
  if (!r->rows.empty()) {
    const auto& row = r->rows[0];
    out.procore_id = row.Int(0);
    out.project_id = row.Int(1);
    out.updated_at = row.Text(2);
    out.updated_at_ms = row.Int(3);
    out.deleted = row.Int(4) != 0;
    if (with_body) out.body = row.Text(5);
    return std::optional<StoredRecord>(std::move(out));
  }
  const auto q = pages::QueryOf(tx);
  auto loaded =
      pages::Load(q, scope.client_id, scope.stream, scope.project_id, std::pair{procore_id, procore_id});
  if (!loaded) return tl::unexpected(loaded.error());
  for (const pages::Best& best : pages::Newest(*loaded)) {
    if (best.id != procore_id) continue;
    const pages::Entry e = best.entry();
    out.procore_id = e.id;
    out.project_id = scope.project_id;
    out.updated_at = std::string(e.updated_at);
    out.updated_at_ms = e.updated_at_ms;
    out.deleted = e.deleted;
    if (with_body) {
      auto body = pages::Body(q, scope.client_id, scope.stream, *best.page, e);
      if (!body) return tl::unexpected(body.error());
      out.body = std::move(*body);
    }
    return std::optional<StoredRecord>(std::move(out));
  }
  return std::optional<StoredRecord>();
}

std::string ChecksumOfLines(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  // Joined and hashed at once: two updates a line cost more than the line's hashing.
  size_t bytes = lines.size();
  for (const std::string& line : lines) bytes += line.size();
  std::string joined;
  joined.reserve(bytes);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) joined += '\n';
    joined += lines[i];
  }
  return Sha256Hex(joined);
}

namespace {

// A procore_records row as the digest needs it.
struct RowState {
  int64_t id = 0;
  std::string updated_at;
  bool deleted = false;
  int64_t seen_ms = 0;
};

// The scope's rows, ids ascending.
Result<std::vector<RowState>> LoadRows(const pages::QueryFn& q, const RecordScope& scope) {
  auto r =
      q("SELECT procore_id, updated_at, deleted, seen_ms FROM procore_records WHERE client_id = $1 AND "
        "stream = $2 AND project_id = $3 ORDER BY procore_id",
        {scope.client_id, scope.stream, scope.project_id});
  if (!r) return tl::unexpected(r.error());
  std::vector<RowState> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back({row.Int(0), row.Text(1), row.Int(2) != 0, row.Int(3)});
  return out;
}

bool HasRow(const std::vector<RowState>& rows, int64_t id) {
  auto it =
      std::lower_bound(rows.begin(), rows.end(), id, [](const RowState& r, int64_t v) { return r.id < v; });
  return it != rows.end() && it->id == id;
}

// The live records' digest: the rows, and the pages' newest entries of records without a row. Live rows seen
// before unseen_before are left out (the sweep marks them deleted), and *unseen says whether there were any.
StreamDigest DigestOf(const std::vector<RowState>& rows, const std::vector<pages::Best>& newest,
                      int64_t unseen_before, bool* unseen) {
  std::vector<std::string> lines;
  lines.reserve(rows.size() + newest.size());
  for (const pages::Best& best : newest) {
    const pages::Entry e = best.entry();
    if (e.deleted || HasRow(rows, e.id)) continue;
    std::string line = std::to_string(e.id);
    line += ':';
    line += e.updated_at;
    lines.push_back(std::move(line));
  }
  for (const RowState& row : rows) {
    if (row.deleted) continue;
    if (row.seen_ms < unseen_before) {
      *unseen = true;
      continue;
    }
    lines.push_back(std::to_string(row.id) + ":" + row.updated_at);
  }
  StreamDigest out;
  out.count = static_cast<int64_t>(lines.size());
  out.checksum = ChecksumOfLines(std::move(lines));
  return out;
}

Result<StreamDigest> DigestIn(Tx& tx, const RecordScope& scope) {
  const auto q = pages::QueryOf(tx);
  auto loaded = pages::Load(q, scope.client_id, scope.stream, scope.project_id);
  if (!loaded) return tl::unexpected(loaded.error());
  auto rows = LoadRows(q, scope);
  if (!rows) return tl::unexpected(rows.error());
  bool unseen = false;
  return DigestOf(*rows, pages::Newest(*loaded), std::numeric_limits<int64_t>::min(), &unseen);
}

// Locks the stream's sync_streams row on PostgreSQL, where each statement of a transaction sees what was
// committed when it began: page writers hold the same lock, so the pages and rows read after it agree. On
// SQLite the write transaction already keeps every writer out.
Status LockStreams(Tx& tx, int64_t client_id, const std::string& stream, std::optional<int64_t> project_id) {
  if (tx.dialect() != store::Dialect::kPostgres) return {};
  Params params;
  const std::string where = ScopeWhere(params, client_id, stream, project_id);
  auto r = tx.Query("SELECT id FROM sync_streams WHERE " + where + std::string(tx.LockRows()), params);
  if (!r) return tl::unexpected(r.error());
  return {};
}

}  // namespace

Result<StreamDigest> DigestStream(store::Store& store, const RecordScope& scope) {
  StreamDigest out;
  Status s = store.Transact([&](Tx& tx) -> Status {
    if (auto l = LockStreams(tx, scope.client_id, scope.stream, scope.project_id); !l) return l;
    auto d = DigestIn(tx, scope);
    if (!d) return tl::unexpected(d.error());
    out = std::move(*d);
    return {};
  });
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<StreamDigest> DigestStream(Tx& tx, const RecordScope& scope) {
  return DigestIn(tx, scope);
}

Result<SweptDigest> SweepAndDigest(Tx& tx, const RecordScope& scope, int64_t since_ms) {
  const auto q = pages::QueryOf(tx);
  auto loaded = pages::Load(q, scope.client_id, scope.stream, scope.project_id);
  if (!loaded) return tl::unexpected(loaded.error());
  auto rows = LoadRows(q, scope);
  if (!rows) return tl::unexpected(rows.error());
  std::vector<pages::Page> current, earlier;
  for (pages::Page& p : *loaded) (p.pass_ms >= since_ms ? current : earlier).push_back(std::move(p));
  if (!earlier.empty()) {
    // What only earlier reads' pages hold becomes rows (seen before this read began, so the sweep below marks
    // the live ones deleted); then those pages go.
    const std::vector<pages::Best> now = pages::Newest(current);
    std::vector<pages::Best> gone;
    for (const pages::Best& best : pages::Newest(earlier)) {
      const bool read_again = std::binary_search(now.begin(), now.end(), best,
                                                 [](const auto& a, const auto& b) { return a.id < b.id; });
      if (!read_again && !HasRow(*rows, best.id)) gone.push_back(best);
    }
    if (auto s = CopyToRows(tx, scope, gone); !s) return tl::unexpected(s.error());
    for (const pages::Best& best : gone) {
      const pages::Entry e = best.entry();
      rows->push_back({e.id, std::string(e.updated_at), e.deleted, best.live_seen_ms});
    }
    std::sort(rows->begin(), rows->end(), [](const RowState& a, const RowState& b) { return a.id < b.id; });
    if (auto s = pages::Delete(q, scope.client_id, scope.project_id, scope.stream, since_ms); !s)
      return tl::unexpected(s.error());
  }
  SweptDigest out;
  bool unseen = false;
  out.digest = DigestOf(*rows, pages::Newest(current), since_ms, &unseen);
  if (unseen) {
    auto swept = SweepUnseen(tx, scope, since_ms);
    if (!swept) return tl::unexpected(swept.error());
    out.swept = *swept;
  }
  return out;
}

std::string ScopeWhere(Params& params, int64_t client_id, const std::optional<std::string>& stream,
                       std::optional<int64_t> project_id) {
  params.emplace_back(client_id);
  std::string where = "client_id = $1";
  if (stream) {
    params.emplace_back(*stream);
    where += " AND stream = $" + std::to_string(params.size());
  }
  if (project_id) {
    params.emplace_back(*project_id);
    where += " AND project_id = $" + std::to_string(params.size());
  }
  return where;
}

Status DeleteRecords(Tx& tx, int64_t client_id, std::optional<int64_t> project_id,
                     std::optional<std::string> stream) {
  Params params;
  const std::string where = ScopeWhere(params, client_id, stream, project_id);
  if (auto r = tx.Exec("DELETE FROM procore_records WHERE " + where, params); !r)
    return tl::unexpected(r.error());
  if (auto s = pages::Delete(pages::QueryOf(tx), client_id, project_id, stream); !s) return s;
  if (project_id) return {};  // typed tables hold company streams only
  for (Typed t : {Typed::kProjects, Typed::kUsers, Typed::kVendors}) {
    if (stream && TypedOf(*stream) != t) continue;
    if (auto r = tx.Exec(std::string("DELETE FROM ") + TypedTable(t) + " WHERE client_id = $1", {client_id});
        !r) {
      return tl::unexpected(r.error());
    }
  }
  return {};
}

Result<std::map<int64_t, RecordState>> RecordStates(store::Store& store, const RecordScope& scope,
                                                    std::vector<int64_t> ids) {
  std::map<int64_t, RecordState> out;
  if (ids.empty()) return out;
  std::sort(ids.begin(), ids.end());
  // The rows first, then the pages: a page written in between comes with its rows' updates, so a record is
  // at worst seen at an older version than it has (and fetched again), never at a newer one.
  auto r = store.Query(
      "SELECT procore_id, updated_at_ms, deleted FROM procore_records WHERE client_id = $1 AND stream = $2 "
      "AND "
      "project_id = $3 AND procore_id >= $4 AND procore_id <= $5",
      {scope.client_id, scope.stream, scope.project_id, ids.front(), ids.back()});
  if (!r) return tl::unexpected(r.error());
  for (const auto& row : r->rows) {
    if (std::binary_search(ids.begin(), ids.end(), row.Int(0)))
      out[row.Int(0)] = RecordState{row.Int(1), row.Int(2) != 0};
  }
  if (TypedOf(scope.stream) != Typed::kNone) return out;
  auto loaded = pages::Load(pages::QueryOf(store), scope.client_id, scope.stream, scope.project_id,
                            std::pair{ids.front(), ids.back()});
  if (!loaded) return tl::unexpected(loaded.error());
  for (const pages::Best& best : pages::Newest(*loaded)) {
    if (!std::binary_search(ids.begin(), ids.end(), best.id) || out.contains(best.id)) continue;
    const pages::Entry e = best.entry();
    out[best.id] = RecordState{e.updated_at_ms, e.deleted};
  }
  return out;
}

Result<RecordList> ListStoredRecords(store::Store& store, const RecordListQuery& query) {
  RecordList out;
  const std::string& needle = query.search;  // ASCII letters in any case, as SQLite's LOWER() compared
  Status s = store.Transact([&](Tx& tx) -> Status {
    out = RecordList{};
    if (auto l = LockStreams(tx, query.client_id, query.stream, query.project_id); !l) return l;
    const auto q = pages::QueryOf(tx);
    Params params;
    const std::string where = ScopeWhere(params, query.client_id, query.stream, query.project_id);
    auto rows = tx.Query(std::string("SELECT project_id, procore_id, updated_at, deleted") +
                             (needle.empty() ? "" : ", body") + " FROM procore_records WHERE " + where +
                             " ORDER BY project_id, procore_id",
                         params);
    if (!rows) return tl::unexpected(rows.error());
    auto loaded = pages::Load(q, query.client_id, query.stream, query.project_id);
    if (!loaded) return tl::unexpected(loaded.error());
    const std::vector<pages::Best> newest = pages::Newest(*loaded);

    // The two lists merged in (project, id) order; a row shadows a page entry of the same record.
    struct Item {
      int64_t project_id;
      int64_t id;
      const store::Row* row;     // or
      const pages::Best* entry;  // (one of the two)
    };
    std::vector<Item> items;
    items.reserve(rows->rows.size() + newest.size());
    size_t ri = 0, pi = 0;
    while (ri < rows->rows.size() || pi < newest.size()) {
      const store::Row* row = ri < rows->rows.size() ? &rows->rows[ri] : nullptr;
      const pages::Best* best = pi < newest.size() ? &newest[pi] : nullptr;
      const auto row_key = row ? std::pair{row->Int(0), row->Int(1)} : std::pair<int64_t, int64_t>{};
      const auto page_key = best ? std::pair{best->project_id, best->id} : std::pair<int64_t, int64_t>{};
      if (row && (!best || row_key <= page_key)) {
        if (best && row_key == page_key) ++pi;
        ++ri;
        items.push_back({row_key.first, row_key.second, row, nullptr});
      } else {
        ++pi;
        items.push_back({page_key.first, page_key.second, nullptr, best});
      }
    }

    std::map<const pages::Page*, std::string> bodies;  // pages' bodies, read once each
    auto page_body = [&](const pages::Best& best) -> Result<std::string_view> {
      auto it = bodies.find(best.page);
      if (it == bodies.end()) {
        auto b = pages::Bodies(q, query.client_id, query.stream, *best.page);
        if (!b) return tl::unexpected(b.error());
        it = bodies.emplace(best.page, std::move(*b)).first;
      }
      const pages::Entry e = best.entry();
      return std::string_view(it->second).substr(e.body_offset, e.body_length);
    };

    std::vector<const Item*> matching;
    for (const Item& item : items) {
      const bool deleted = item.row ? item.row->Int(3) != 0 : item.entry->entry().deleted;
      if (deleted && !query.include_deleted) continue;
      if (!needle.empty()) {
        std::string_view body;
        std::string row_body;
        if (item.row) {
          row_body = item.row->Text(4);
          body = row_body;
        } else {
          auto b = page_body(*item.entry);
          if (!b) return tl::unexpected(b.error());
          body = *b;
        }
        if (!IContains(body, needle)) continue;
      }
      matching.push_back(&item);
    }
    out.total = static_cast<int64_t>(matching.size());
    const size_t from = static_cast<size_t>(std::clamp<int64_t>(query.offset, 0, out.total));
    const size_t to = static_cast<size_t>(std::clamp<int64_t>(query.offset + query.limit, 0, out.total));

    // Rows' bodies for the slice: one range read a project.
    std::map<std::pair<int64_t, int64_t>, std::string> row_bodies;
    if (needle.empty()) {
      std::map<int64_t, std::pair<int64_t, int64_t>> ranges;  // project -> [lo, hi] of its rows in the slice
      for (size_t i = from; i < to; ++i) {
        const Item& item = *matching[i];
        if (!item.row) continue;
        auto [it, fresh] = ranges.try_emplace(item.project_id, item.id, item.id);
        if (!fresh) it->second.second = item.id;
      }
      for (const auto& [project, range] : ranges) {
        auto r = tx.Query(
            "SELECT procore_id, body FROM procore_records WHERE client_id = $1 AND stream = $2 AND "
            "project_id = $3 AND procore_id >= $4 AND procore_id <= $5",
            {query.client_id, query.stream, project, range.first, range.second});
        if (!r) return tl::unexpected(r.error());
        for (const auto& row : r->rows) row_bodies[{project, row.Int(0)}] = row.Text(1);
      }
    }
    for (size_t i = from; i < to; ++i) {
      const Item& item = *matching[i];
      ListedRecord rec;
      rec.procore_id = item.id;
      rec.project_id = item.project_id;
      if (item.row) {
        rec.updated_at = item.row->Text(2);
        rec.deleted = item.row->Int(3) != 0;
        rec.body = needle.empty() ? row_bodies[{item.project_id, item.id}] : item.row->Text(4);
      } else {
        const pages::Entry e = item.entry->entry();
        rec.updated_at = std::string(e.updated_at);
        rec.deleted = e.deleted;
        auto b = page_body(*item.entry);
        if (!b) return tl::unexpected(b.error());
        rec.body = std::string(*b);
      }
      out.records.push_back(std::move(rec));
    }
    return {};
  });
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<ParsedRecord> ParseRecordJson(std::string_view text) {
  auto invalid = [](std::string why) {
    return Fail(ErrorKind::kInvalidInput, "invalid_record", "Procore sent a record KTrack could not read.",
                "", std::move(why));
  };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return invalid("not a JSON object");
  bool unwrapped = false;
  if (!j.contains("id")) {
    auto data = j.find("data");
    if (data == j.end() || !data->is_object()) return invalid("no id");
    j = *data;
    unwrapped = true;
  }
  ParsedRecord out;
  out.id = procore::JsonId(j, "id").value_or(0);
  if (out.id == 0) return invalid("no numeric id");
  out.updated_at = procore::JsonString(j, "updated_at");
  out.deleted_at = procore::JsonString(j, "deleted_at");
  out.json = unwrapped ? j.dump() : std::string(Trim(text));
  return out;
}

}  // namespace kt::sync
