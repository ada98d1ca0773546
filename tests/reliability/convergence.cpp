// The convergence checker: KTrack's /streams and /records against the emulator's /_emulator/truth.
#include "convergence.h"

#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http/client.h"
#include "store/store.h"
#include "sync/record_pages.h"

namespace kt::testing {
namespace {

using nlohmann::json;

// A GET answered with JSON, or an explanation in *error.
json GetJson(const std::string& url, const std::string& bearer, std::string* error) {
  http::ClientRequest r;
  r.method = "GET";
  r.url = url;
  r.timeout = std::chrono::seconds(60);
  if (!bearer.empty()) r.headers.Add("Authorization", "Bearer " + bearer);
  auto answer = http::Fetch(r);
  if (answer.status != 200) {
    *error = "GET " + url + " -> " + std::to_string(answer.status) + " " + answer.body.substr(0, 300) +
             answer.transport_error;
    return json();
  }
  json body = json::parse(answer.body, nullptr, false);
  if (body.is_discarded()) *error = "GET " + url + ": not JSON";
  return body;
}

int64_t ProjectOf(const json& v) {
  return v.is_null() ? 0 : v.get<int64_t>();
}

std::string Label(const std::string& stream, int64_t project_id) {
  return project_id ? stream + "@" + std::to_string(project_id) : stream;
}

const char* KindName(RecordDifference::Kind kind) {
  switch (kind) {
    case RecordDifference::Kind::kMissing:
      return "missing";
    case RecordDifference::Kind::kExtra:
      return "extra";
    case RecordDifference::Kind::kStale:
      return "differs";
    case RecordDifference::Kind::kDuplicate:
      return "duplicate";
  }
  return "?";
}

// Compares one stream record by record: every page of KTrack's /records against the truth's records.
void CompareRecords(const KtrackSide& ktrack, const TruthSide& truth, StreamDifference& diff,
                    std::string* error) {
  std::string truth_url = truth.emulator_url +
                          "/_emulator/truth?company_id=" + std::to_string(truth.company_id) +
                          "&stream=" + diff.stream + "&records=true";
  if (diff.project_id) truth_url += "&project_id=" + std::to_string(diff.project_id);
  if (!truth.app_client_id.empty()) truth_url += "&client_id=" + truth.app_client_id;
  json t = GetJson(truth_url, "", error);
  if (!error->empty()) return;
  std::map<int64_t, std::string> theirs;
  for (const auto& entry : t.at("streams")) {
    if (ProjectOf(entry.at("project_id")) != diff.project_id) continue;
    for (const auto& r : entry.at("records")) theirs[r.at("id").get<int64_t>()] = r.at("updated_at");
  }

  std::map<int64_t, std::string> ours;
  const std::string base = ktrack.base_url + "/api/v1/clients/" + std::to_string(ktrack.client_id) +
                           "/procore/records?stream=" + diff.stream + "&per_page=1000" +
                           (diff.project_id ? "&project_id=" + std::to_string(diff.project_id) : "");
  for (int64_t page = 1;; ++page) {
    json p = GetJson(base + "&page=" + std::to_string(page), ktrack.admin_token, error);
    if (!error->empty()) return;
    const json& records = p.at("records");
    for (const auto& r : records) {
      if (r.value("deleted", false)) continue;
      const int64_t id = r.at("procore_id").get<int64_t>();
      if (!ours.emplace(id, r.at("updated_at").get<std::string>()).second)
        diff.records.push_back({RecordDifference::Kind::kDuplicate, id, ours[id], ""});
    }
    if (records.size() < 1000) break;
  }

  for (const auto& [id, updated_at] : theirs) {
    auto it = ours.find(id);
    if (it == ours.end()) {
      diff.records.push_back({RecordDifference::Kind::kMissing, id, "", updated_at});
    } else if (it->second != updated_at) {
      diff.records.push_back({RecordDifference::Kind::kStale, id, it->second, updated_at});
    }
  }
  for (const auto& [id, updated_at] : ours)
    if (!theirs.count(id)) diff.records.push_back({RecordDifference::Kind::kExtra, id, updated_at, ""});
  if (diff.records.empty())
    diff.problem += " (but every record matches: the stream's count or checksum is stale)";
}

}  // namespace

std::string ConvergenceReport::Describe(size_t max_streams, size_t max_records) const {
  std::ostringstream out;
  if (!failure.empty()) out << "check failed: " << failure << "\n";
  out << streams.size() << " of " << streams_compared << " streams differ";
  if (!duplicate_rows.empty()) out << "; " << duplicate_rows.size() << " records held twice";
  out << "\n";
  for (size_t i = 0; i < streams.size() && i < max_streams; ++i) {
    const StreamDifference& s = streams[i];
    out << "  " << Label(s.stream, s.project_id) << ": " << s.problem << " (ours " << s.our_count
        << ", truth " << s.truth_count << ", status " << s.our_status << ")";
    std::map<RecordDifference::Kind, int> kinds;
    for (const auto& r : s.records) ++kinds[r.kind];
    for (const auto& [kind, n] : kinds) out << "; " << n << " " << KindName(kind);
    out << "\n";
    for (size_t j = 0; j < s.records.size() && j < max_records; ++j) {
      const RecordDifference& r = s.records[j];
      out << "    " << KindName(r.kind) << " id " << r.id;
      if (!r.ours.empty()) out << " ours " << r.ours;
      if (!r.truth.empty()) out << " truth " << r.truth;
      out << "\n";
    }
  }
  if (streams.size() > max_streams) out << "  ... and " << streams.size() - max_streams << " more streams\n";
  for (size_t i = 0; i < duplicate_rows.size() && i < max_records; ++i)
    out << "  held twice: " << duplicate_rows[i] << "\n";
  return out.str();
}

ConvergenceReport CheckConvergence(const KtrackSide& ktrack, const TruthSide& truth,
                                   const CheckOptions& options) {
  ConvergenceReport report;
  std::string error;
  json ours =
      GetJson(ktrack.base_url + "/api/v1/clients/" + std::to_string(ktrack.client_id) + "/procore/streams",
              ktrack.admin_token, &error);
  std::string truth_url =
      truth.emulator_url + "/_emulator/truth?company_id=" + std::to_string(truth.company_id);
  if (!truth.app_client_id.empty()) truth_url += "&client_id=" + truth.app_client_id;
  json theirs = error.empty() ? GetJson(truth_url, "", &error) : json();
  if (!error.empty()) {
    report.failure = error;
    return report;
  }

  std::map<std::pair<std::string, int64_t>, json> by_key;
  for (const auto& s : ours) by_key[{s.at("stream").get<std::string>(), ProjectOf(s.at("project_id"))}] = s;
  std::set<std::pair<std::string, int64_t>> in_truth;
  for (const auto& entry : theirs.at("streams")) {
    StreamDifference d;
    d.stream = entry.at("stream");
    d.project_id = ProjectOf(entry.at("project_id"));
    d.truth_count = entry.at("count");
    in_truth.insert({d.stream, d.project_id});
    ++report.streams_compared;
    report.records_in_truth += d.truth_count;
    auto it = by_key.find({d.stream, d.project_id});
    if (it == by_key.end()) {
      d.problem = "not synced (KTrack has no such stream)";
      report.streams.push_back(std::move(d));
      continue;
    }
    const json& s = it->second;
    d.our_count = s.value("count", int64_t{-1});
    d.our_status = s.value("status", std::string("?"));
    if (s.contains("error") && s["error"].is_object())
      d.our_status += " " + s["error"].value("code", std::string());
    const bool same_count = d.our_count == d.truth_count;
    const bool same_checksum = s.contains("checksum") && s["checksum"].is_string() &&
                               s["checksum"].get<std::string>() == entry.at("checksum").get<std::string>();
    if (same_count && same_checksum) continue;
    d.problem = same_count ? "checksum differs" : "count and checksum differ";
    report.streams.push_back(std::move(d));
  }
  // Streams KTrack keeps that the truth does not list (a project the app no longer sees, a domain dropped).
  for (const auto& [key, s] : by_key) {
    if (in_truth.count(key)) continue;
    StreamDifference d;
    d.stream = key.first;
    d.project_id = key.second;
    d.problem = "not in the truth";
    d.our_count = s.value("count", int64_t{-1});
    d.our_status = s.value("status", std::string("?"));
    report.streams.push_back(std::move(d));
  }

  size_t detailed = 0;
  for (auto& d : report.streams) {
    if (d.our_count < 0 || d.truth_count < 0 || detailed >= options.max_streams_by_record) continue;
    ++detailed;
    CompareRecords(ktrack, truth, d, &error);
    if (!error.empty()) {
      report.failure = error;
      return report;
    }
  }
  if (!ktrack.database.empty()) report.duplicate_rows = DuplicateRows(ktrack.database, ktrack.client_id);
  return report;
}

std::vector<std::string> DuplicateRows(const std::string& database, int64_t client_id) {
  auto store = store::OpenStore(database);
  if (!store) return {"cannot open " + database + ": " + store.error().message};
  // (stream, id) -> the projects that hold it: in procore_records, or in a full read's pages.
  std::map<std::pair<std::string, int64_t>, std::set<int64_t>> holders;
  auto rows = (*store)->Query(
      "SELECT stream, procore_id, project_id FROM procore_records WHERE client_id = $1", {client_id});
  if (!rows) return {"query failed: " + rows.error().message};
  for (const auto& row : rows->rows) holders[{row.Text(0), row.Int(1)}].insert(row.Int(2));
  auto streams =
      (*store)->Query("SELECT DISTINCT stream FROM record_pages WHERE client_id = $1", {client_id});
  if (!streams) return {"query failed: " + streams.error().message};
  for (const auto& s : streams->rows) {
    const std::string stream = s.Text(0);
    auto pages = sync::pages::Load(sync::pages::QueryOf(**store), client_id, stream, std::nullopt);
    if (!pages) return {"query failed: " + pages.error().message};
    for (const auto& best : sync::pages::Newest(*pages)) holders[{stream, best.id}].insert(best.project_id);
  }
  std::vector<std::string> out;
  for (const auto& [key, projects] : holders) {
    if (projects.size() < 2) continue;
    out.push_back(key.first + ":" + std::to_string(key.second) + " x " + std::to_string(projects.size()));
    if (out.size() >= 100) break;
  }
  return out;
}

}  // namespace kt::testing
