// Shared pieces of the REST handlers: Procore-style errors, paging, filters, list and show answers.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "emulator/emulator.h"
#include "emulator/records.h"
#include "http/message.h"

namespace procore_emulator {

// {"errors": "<message>"}: the v1 error shape Procore uses for most 4xx answers.
kt::http::Response Errors(int status, std::string message);

struct Paging {
  int64_t page = 1;
  int64_t per_page = 100;
};
// page (1-based) and per_page; per_page above the endpoint's maximum is capped to it, as Procore does.
kt::Result<Paging> ParsePaging(const kt::http::Request& req, int64_t default_per_page, int64_t max_per_page);

// filters[updated_at] (where the stream offers it), filters[include_deleted] (where offered), filters[id].
kt::Result<ListFilter> ParseListFilter(const kt::http::Request& req, const StreamInfo& info);
// "a...b" with dates or datetimes (either side may be empty); a lone date means that day.
kt::Result<std::pair<std::optional<int64_t>, std::optional<int64_t>>> ParseTimeRange(std::string text);
// Daily logs: log_date, or start_date and end_date; with none, only today (as Procore). Days since the epoch.
kt::Result<std::pair<int64_t, int64_t>> ParseLogDates(const kt::http::Request& req, int64_t today);

enum class SortKind { kNone, kName, kRfi, kIdCreated };
struct ListSpec {
  int64_t default_per_page = 100;
  int64_t max_per_page = 1000;
  SortKind sort = SortKind::kNone;
};

// A page of a stream with Total, Per-Page and Link headers.
kt::http::Response ListStream(const kt::http::Request& req, const World& world, const StreamKey& key,
                              const ListFilter& filter, const ListSpec& spec);
// A JSON array body answered with Procore's paging headers.
kt::http::Response PagedResponse(const kt::http::Request& req, std::string body, int64_t total,
                                 const Paging& paging);
// One record; 404 when it does not exist or was deleted (deactivated directory entries are still shown when
// show_inactive).
kt::http::Response ShowRecord(const World& world, const StreamKey& key, int64_t id, RecordView view,
                              bool show_inactive = false);

void WriteServiceAccountUser(JsonWriter& w, const App& app, const CompanyData& company,
                             int64_t installed_at_ms);

// Permission checks every data endpoint makes.
std::optional<kt::http::Response> CompanyToolAccess(const Emulator::Call& call, std::string_view tool);
std::variant<ProjectRef, kt::http::Response> ProjectAccess(const World& world, const Access& access,
                                                           const Emulator::Call& call,
                                                           std::optional<int64_t> project_id,
                                                           std::initializer_list<std::string_view> tools);
// The company named in the path (or query) must be the Procore-Company-Id company.
std::optional<kt::http::Response> CompanyPathCheck(const Emulator::Call& call, const std::string& param);

}  // namespace procore_emulator
