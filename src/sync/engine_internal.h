// The engine's view of one sync_streams row, shared by its translation units (not part of the public API).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "procore/streams.h"
#include "sync/engine.h"
#include "sync/records.h"
#include "util/strings.h"

namespace kt::sync {

namespace internal {

struct StreamRow {
  int64_t id = 0;
  int64_t client_id = 0;
  int64_t company_id = 0;
  std::string stream;
  int64_t project_id = 0;
  std::string project_name;
  int64_t parent_id = 0;
  std::string status;
  std::string phase;
  std::string pass;
  std::string wants;
  int64_t seq = 0;
  int64_t next_page = 1;
  int64_t page_size = 0;
  int64_t pass_started_at = 0;
  int64_t pass_read = 0;
  std::optional<int64_t> pass_first_total;
  std::string pass_max_updated_at;
  int64_t pass_max_updated_ms = 0;
  int64_t full_passes = 0;
  std::optional<int64_t> total;
  std::string watermark;
  int64_t watermark_ms = 0;
  int64_t failures = 0;
  const procore::StreamEndpoint* endpoint = nullptr;
  // A pass begun in memory whose start is written with its first page (one transaction fewer per read):
  // the checkpoint the first commit must find, and the `wants` the pass consumes.
  bool starting = false;
  std::string stored_pass;
  int64_t stored_next_page = 1;
  std::string consumed_wants;

  RecordScope Scope() const { return RecordScope{client_id, company_id, stream, project_id}; }
};

struct StreamRef {
  int64_t id = 0;
  int64_t company_id = 0;
  int64_t parent_id = 0;
  std::string project_name;
  std::string status;
};

struct InboxEvent {
  int64_t id = 0;
  std::string resource_name;
  std::string event_type;
  int64_t resource_id = 0;
  std::optional<int64_t> project_id;
  std::optional<std::string> source_application_id;
  int64_t event_at_ms = 0;
};

// The events of one burst that concern one record.
struct Group {
  std::string stream;
  int64_t project_id = 0;  // 0 for company streams
  int64_t resource_id = 0;
  std::vector<InboxEvent> events;
};

// A record to re-read, with the inbox events it answers.
struct FetchItem {
  const Group* group = nullptr;
  std::vector<int64_t> event_ids;
  RecordScope scope;
  const StreamRef* stream = nullptr;
};

struct FetchOutcome {
  std::optional<int64_t> rate_limited_until;  // stop: the budget is spent until then
  std::optional<Error> transient;             // stop: Procore unavailable; the queue retries
  int64_t requests = 0;                       // sent to Procore (pages and single reads)
  bool filter_confirmed = false;              // a list honoured filters[id][]
};

}  // namespace internal

// Open ends for list filters, well past Procore's clock whatever the skew between it and ours (an emulator
// with
// --time-scale runs ahead): filters[updated_at] ends and daily logs' end_date.
inline std::string FarEndTime(int64_t now_ms) {
  return FormatIso8601(now_ms + int64_t{366} * 24 * 3600 * 1000);
}
inline std::string FarEndDate(int64_t now_ms) {
  return FarEndTime(now_ms).substr(0, 10);
}

inline constexpr const char* kStreamColumns =
    "id, client_id, company_id, stream, project_id, project_name, parent_id, status, phase, pass, wants, "
    "seq, "
    "next_page, page_size, pass_started_at, pass_read, pass_first_total, pass_max_updated_at, "
    "pass_max_updated_ms, "
    "full_passes, total, watermark, watermark_ms, failures";

inline internal::StreamRow StreamRowFrom(const store::Row& row) {
  internal::StreamRow s;
  s.id = row.Int("id");
  s.client_id = row.Int("client_id");
  s.company_id = row.Int("company_id");
  s.stream = row.Text("stream");
  s.project_id = row.Int("project_id");
  s.project_name = row.Text("project_name");
  s.parent_id = row.Int("parent_id");
  s.status = row.Text("status");
  s.phase = row.Text("phase");
  s.pass = row.Text("pass");
  s.wants = row.Text("wants");
  s.seq = row.Int("seq");
  s.next_page = row.Int("next_page");
  s.page_size = row.Int("page_size");
  s.pass_started_at = row.OptInt("pass_started_at").value_or(0);
  s.pass_read = row.Int("pass_read");
  s.pass_first_total = row.OptInt("pass_first_total");
  s.pass_max_updated_at = row.Text("pass_max_updated_at");
  s.pass_max_updated_ms = row.Int("pass_max_updated_ms");
  s.full_passes = row.Int("full_passes");
  s.total = row.OptInt("total");
  s.watermark = row.Text("watermark");
  s.watermark_ms = row.Int("watermark_ms");
  s.failures = row.Int("failures");
  s.endpoint = procore::FindStream(s.stream);
  return s;
}

}  // namespace kt::sync
