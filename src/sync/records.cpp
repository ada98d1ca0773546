// Record writes in portable SQL: multi-row upserts with the never-backwards rule in the ON CONFLICT clause.
#include "sync/records.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "procore/models.h"
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
  if (returning) sql += " RETURNING updated_at_ms, deleted";
  return sql;
}

const std::string& CachedUpsertSql(int rows) {
  static const std::vector<std::string> by_size = [] {
    std::vector<std::string> v(129);
    for (int n : kChunkSizes) v[static_cast<size_t>(n)] = UpsertSql(n, false);
    return v;
  }();
  return by_size.at(static_cast<size_t>(rows));
}

const std::string& SingleReturningSql() {
  static const std::string sql = UpsertSql(1, true);
  return sql;
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

// Writes the typed row of a record that is now the stored version.
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

// Typed streams: one statement per record, returning the stored version, so the typed row is written exactly
// when this record is the one kept.
Result<WriteStats> UpsertTyped(Tx& tx, Typed typed, const RecordScope& scope,
                               std::span<const IncomingRecord> records, int64_t seen_ms) {
  WriteStats stats;
  for (const auto& rec : records) {
    if (rec.id == 0) continue;
    nlohmann::json j = nlohmann::json::parse(rec.json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) j = nlohmann::json::object();
    bool deleted = !rec.deleted_at.empty();
    if ((typed == Typed::kUsers || typed == Typed::kVendors) && !procore::JsonBool(j, "is_active", true)) {
      deleted = true;
    }
    const int64_t ms = ParseTimeMs(rec.updated_at);
    auto r = tx.Query(SingleReturningSql(),
                      {scope.client_id, scope.stream, scope.project_id, scope.company_id, seen_ms, rec.id,
                       std::string(rec.updated_at), ms, int64_t{deleted ? 1 : 0}, std::string(rec.json)});
    if (!r) return tl::unexpected(r.error());
    ++stats.written;
    if (ms > stats.max_updated_at_ms) {
      stats.max_updated_at_ms = ms;
      stats.max_updated_at = std::string(rec.updated_at);
    }
    if (r->rows.empty()) continue;
    const auto& row = r->rows[0];
    if (row.Int(0) != ms || (row.Int(1) != 0) != deleted) continue;  // a newer version is kept
    if (auto s = WriteTyped(tx, typed, scope, rec.id, j, rec.updated_at, ms, deleted); !s) {
      return tl::unexpected(s.error());
    }
  }
  return stats;
}

}  // namespace

Result<WriteStats> UpsertRecords(Tx& tx, const RecordScope& scope, std::span<const IncomingRecord> records,
                                 int64_t seen_ms) {
  const Typed typed = TypedOf(scope.stream);
  if (typed != Typed::kNone) return UpsertTyped(tx, typed, scope, records, seen_ms);

  WriteStats stats;
  std::vector<const IncomingRecord*> rows;
  rows.reserve(records.size());
  for (const auto& rec : records) {
    if (rec.id != 0) rows.push_back(&rec);
  }
  // Procore pages hold each id once; should one repeat, only its first copy goes into a statement (one
  // statement may not update the same row twice on PostgreSQL).
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->id < b->id; });
  rows.erase(std::unique(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->id == b->id; }),
             rows.end());

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
      const IncomingRecord& rec = *rows[next + static_cast<size_t>(i)];
      const int64_t ms = ParseTimeMs(rec.updated_at);
      if (ms > stats.max_updated_at_ms) {
        stats.max_updated_at_ms = ms;
        stats.max_updated_at = std::string(rec.updated_at);
      }
      params.emplace_back(rec.id);
      params.emplace_back(std::string(rec.updated_at));
      params.emplace_back(ms);
      params.emplace_back(int64_t{rec.deleted_at.empty() ? 0 : 1});
      params.emplace_back(std::string(rec.json));
    }
    auto r = tx.Exec(CachedUpsertSql(chunk), params);
    if (!r) return tl::unexpected(r.error());
    next += static_cast<size_t>(chunk);
    stats.written += chunk;
  }
  return stats;
}

Status MarkDeleted(Tx& tx, const RecordScope& scope, int64_t procore_id, int64_t procore_time_ms,
                   int64_t seen_ms) {
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
  if (r->rows.empty()) return std::optional<StoredRecord>();
  const auto& row = r->rows[0];
  StoredRecord out;
  out.procore_id = row.Int(0);
  out.project_id = row.Int(1);
  out.updated_at = row.Text(2);
  out.updated_at_ms = row.Int(3);
  out.deleted = row.Int(4) != 0;
  if (with_body) out.body = row.Text(5);
  return std::optional<StoredRecord>(std::move(out));
}

std::string ChecksumOfLines(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  Sha256 sha;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) sha.Update("\n");
    sha.Update(lines[i]);
  }
  return sha.FinishHex();
}

namespace {

constexpr char kDigestSql[] =
    "SELECT procore_id, updated_at FROM procore_records WHERE client_id = $1 AND stream = $2 AND "
    "project_id = $3 AND deleted = 0";

// A digest line "<id>:<updated_at>" of a row whose first two columns are procore_id and updated_at.
std::string DigestLine(const store::Row& row) {
  return std::to_string(row.Int(0)) + ":" + row.Text(1);
}

StreamDigest DigestOfLines(std::vector<std::string> lines) {
  StreamDigest out;
  out.count = static_cast<int64_t>(lines.size());
  out.checksum = ChecksumOfLines(std::move(lines));
  return out;
}

StreamDigest DigestOf(const store::QueryResult& r) {
  std::vector<std::string> lines;
  lines.reserve(r.rows.size());
  for (const auto& row : r.rows) lines.push_back(DigestLine(row));
  return DigestOfLines(std::move(lines));
}

}  // namespace

Result<StreamDigest> DigestStream(store::Store& store, const RecordScope& scope) {
  auto r = store.Query(kDigestSql, {scope.client_id, scope.stream, scope.project_id});
  if (!r) return tl::unexpected(r.error());
  return DigestOf(*r);
}

Result<StreamDigest> DigestStream(Tx& tx, const RecordScope& scope) {
  auto r = tx.Query(kDigestSql, {scope.client_id, scope.stream, scope.project_id});
  if (!r) return tl::unexpected(r.error());
  return DigestOf(*r);
}

Result<SweptDigest> SweepAndDigest(Tx& tx, const RecordScope& scope, int64_t since_ms) {
  auto r = tx.Query(
      "SELECT procore_id, updated_at, seen_ms FROM procore_records WHERE client_id = $1 AND stream = $2 AND "
      "project_id = $3 AND deleted = 0",
      {scope.client_id, scope.stream, scope.project_id});
  if (!r) return tl::unexpected(r.error());
  SweptDigest out;
  std::vector<std::string> lines;
  lines.reserve(r->rows.size());
  bool unseen = false;
  for (const auto& row : r->rows) {
    if (row.Int(2) < since_ms) {
      unseen = true;  // SweepUnseen marks it deleted: not in the digest
      continue;
    }
    lines.push_back(DigestLine(row));
  }
  if (unseen) {
    auto swept = SweepUnseen(tx, scope, since_ms);
    if (!swept) return tl::unexpected(swept.error());
    out.swept = *swept;
  }
  out.digest = DigestOfLines(std::move(lines));
  return out;
}

Status DeleteRecords(Tx& tx, int64_t client_id, std::optional<int64_t> project_id,
                     std::optional<std::string> stream) {
  std::string where = "client_id = $1";
  Params params{client_id};
  if (project_id) {
    params.emplace_back(*project_id);
    where += " AND project_id = $" + std::to_string(params.size());
  }
  if (stream) {
    params.emplace_back(*stream);
    where += " AND stream = $" + std::to_string(params.size());
  }
  if (auto r = tx.Exec("DELETE FROM procore_records WHERE " + where, params); !r)
    return tl::unexpected(r.error());
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
