// Reading Procore lists page by page: v1 arrays (page/per_page, Total, Per-Page, Link) and v2 {"data":
// [...]}, parsed with simdjson into views over the page's one buffer (no per-record copies).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procore/client.h"
#include "procore/streams.h"

namespace kt::procore {

struct ListRequest {
  std::string path;   // resolved, without the query
  QueryParams query;  // scope and filters; page and per_page are added by the pager
  int64_t company_id = 0;
  int per_page = 100;  // asked for; Per-Page in the response wins
  int start_page = 1;  // to resume from a checkpoint
  ListShape shape = ListShape::kV1Array;
  Priority priority = Priority::kInitialSync;
  CallContext context;
  std::optional<Millis> max_total;  // per page
};

// One record of a page. The views stay valid until the pager fetches the next page.
struct RecordView {
  int64_t id = 0;               // 0 when the record has no numeric id
  std::string_view updated_at;  // as Procore sent it; empty when absent or null
  std::string_view deleted_at;  // empty when absent or null
  std::string_view json;        // the record's JSON text
};

struct Page {
  int number = 0;                // 1-based page number
  int per_page = 0;              // Per-Page as reported (else as asked)
  std::optional<int64_t> total;  // Total: the list's size, for progress and ETA
  bool last = false;
  std::string request_id;
  std::vector<RecordView> records;
};

class Pager {
 public:
  Pager(Client& client, ListRequest request);
  ~Pager();
  Pager(Pager&&) noexcept;
  Pager& operator=(Pager&&) noexcept;

  // Fetches the next page; true when one was read (see page()), false when the list is done.
  ProcoreResult<bool> Next();
  const Page& page() const;
  std::optional<int64_t> total() const;
  int64_t records_read() const;
  // The page Next() would fetch: a checkpoint to resume from.
  int next_page() const;
  bool done() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads every page, calling `on_page` for each; an error from `on_page` stops the read and is returned.
// Returns the number of records read.
ProcoreResult<int64_t> ForEachPage(Client& client, ListRequest request,
                                   const std::function<ProcoreStatus(const Page&)>& on_page);

// How to read one stream.
struct StreamListOptions {
  int64_t company_id = 0;
  int64_t project_id = 0;  // project streams
  std::string project_name;
  int64_t parent_id = 0;  // budget_detail_rows: the budget view
  // filters[updated_at]=from...to (ISO-8601); `to` defaults to a day past now. Only where the stream has it.
  std::string updated_from;
  std::string updated_to;
  bool include_deleted = false;  // filters[include_deleted]=with, where the stream has it
  // Daily logs: YYYY-MM-DD; default from 2000-01-01 to tomorrow (without them Procore returns only today).
  std::string start_date;
  std::string end_date;
  QueryParams extra_filters;
  Priority priority = Priority::kInitialSync;
  int start_page = 1;
  int per_page = 0;  // 0: the stream's page size
};

// The list request for a stream; validation when a needed scope id or parent is missing.
ProcoreResult<ListRequest> StreamListRequest(const StreamEndpoint& stream, const StreamListOptions& options,
                                             SysTime now);
// The call context (tool, scope, project) of a stream, for errors.
CallContext StreamContext(const StreamEndpoint& stream, int64_t company_id, int64_t project_id,
                          std::string project_name);

// Reads every page of a list and converts each record (small lists for the wizard).
template <typename T, typename Convert>
ProcoreResult<std::vector<T>> ReadAll(Client& client, ListRequest request, Convert convert) {
  std::vector<T> out;
  auto read = ForEachPage(client, std::move(request), [&](const Page& page) -> ProcoreStatus {
    for (const auto& r : page.records) {
      auto j = nlohmann::json::parse(r.json, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) out.push_back(convert(j));
    }
    return {};
  });
  if (!read) return tl::unexpected(read.error());
  return out;
}

}  // namespace kt::procore
