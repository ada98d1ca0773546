// Paging, filters, sorting and the list and show answers.
#include "emulator/rest_support.h"

#include <algorithm>

#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {
constexpr int64_t kDayMs = 86'400'000;

auto Bad(std::string message) {
  return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", std::move(message));
}

Response JsonText(int status, std::string body) {
  return Response::Text(status, std::move(body), "application/json; charset=utf-8");
}

std::string LinkHeader(const Request& req, int64_t page, int64_t per_page, int64_t total) {
  int64_t last = std::max<int64_t>(1, (total + per_page - 1) / per_page);
  std::string base = "http://" + req.Header("Host").value_or("127.0.0.1") + req.path;
  auto url = [&](int64_t p) {
    kt::QueryParams q;
    bool has_per_page = false;
    for (const auto& [k, v] : req.query) {
      if (k == "page") continue;
      if (k == "per_page") has_per_page = true;
      q.emplace_back(k, v);
    }
    if (!has_per_page) q.emplace_back("per_page", std::to_string(per_page));
    q.emplace_back("page", std::to_string(p));
    return "<" + base + "?" + kt::BuildQuery(q) + ">";
  };
  std::string link;
  auto add = [&](int64_t p, const char* rel) {
    if (!link.empty()) link += ", ";
    link += url(p) + "; rel=\"" + rel + "\"";
  };
  if (page > 1) {
    add(1, "first");
    add(std::min(page - 1, last), "prev");
  }
  if (page < last) {
    add(page + 1, "next");
    add(last, "last");
  }
  return link;
}
}  // namespace

Response Errors(int status, std::string message) {
  return Response::Json(status, {{"errors", std::move(message)}});
}

kt::Result<Paging> ParsePaging(const Request& req, int64_t default_per_page, int64_t max_per_page) {
  Paging p;
  p.per_page = default_per_page;
  if (auto page = req.Query("page")) {
    auto n = kt::ParseInt64(kt::Trim(*page));
    if (!n || *n < 1) return Bad("page must be a positive integer (pages start at 1)");
    p.page = *n;
  }
  if (auto per_page = req.Query("per_page")) {
    auto n = kt::ParseInt64(kt::Trim(*per_page));
    if (!n || *n < 1) return Bad("per_page must be a positive integer");
    p.per_page = std::min(*n, max_per_page);
  }
  return p;
}

kt::Result<std::pair<std::optional<int64_t>, std::optional<int64_t>>> ParseTimeRange(std::string text) {
  // A '+' of a UTC offset arrives as a space when the client did not percent-encode it.
  std::replace(text.begin(), text.end(), ' ', '+');
  auto bound = [](std::string_view s, bool end) -> kt::Result<std::optional<int64_t>> {
    s = kt::Trim(s);
    if (s.empty()) return std::optional<int64_t>();
    auto ms = kt::ParseIso8601(s);
    if (!ms) return Bad("filters[updated_at] has an invalid date or time: \"" + std::string(s) + "\"");
    if (s.size() == 10 && end) return std::optional<int64_t>(*ms + kDayMs - 1);  // a date ends with its day
    return std::optional<int64_t>(*ms);
  };
  size_t dots = text.find("...");
  if (dots == std::string::npos) {
    auto from = bound(text, false);
    if (!from) return kt::Fail(from.error());
    if (!*from) return Bad("filters[updated_at] must be a range START...END of ISO-8601 dates or times");
    auto to = bound(text, true);
    return std::pair{*from, *to};
  }
  auto from = bound(std::string_view(text).substr(0, dots), false);
  if (!from) return kt::Fail(from.error());
  auto to = bound(std::string_view(text).substr(dots + 3), true);
  if (!to) return kt::Fail(to.error());
  return std::pair{*from, *to};
}

kt::Result<ListFilter> ParseListFilter(const Request& req, const StreamInfo& info) {
  ListFilter f;
  if (info.updated_at_filter) {
    if (auto range = req.Query("filters[updated_at]")) {
      auto parsed = ParseTimeRange(*range);
      if (!parsed) return kt::Fail(parsed.error());
      f.updated_from_ms = parsed->first;
      f.updated_to_ms = parsed->second;
    }
  }
  if (info.include_deleted_filter) {
    if (auto deleted = req.Query("filters[include_deleted]")) {
      if (*deleted == "only")
        f.deleted = ListFilter::Deleted::kOnly;
      else if (*deleted == "with" || *deleted == "true")
        f.deleted = ListFilter::Deleted::kWith;
      else if (*deleted != "false")
        return Bad("filters[include_deleted] must be \"only\" or \"with\"");
    }
  }
  for (const auto& [k, v] : req.query) {
    if (k != "filters[id]" && k != "filters[id][]") continue;
    std::string list(v);
    std::erase_if(list, [](char c) { return c == '[' || c == ']'; });
    for (const auto& part : kt::Split(list, ',')) {
      if (kt::Trim(part).empty()) continue;
      auto id = kt::ParseInt64(kt::Trim(part));
      if (!id) return Bad("filters[id] must be integer ids");
      f.ids.push_back(*id);
    }
  }
  return f;
}

kt::Result<std::pair<int64_t, int64_t>> ParseLogDates(const Request& req, int64_t today) {
  auto day = [](const std::string& name, const std::string& s) -> kt::Result<int64_t> {
    auto ms = kt::ParseIso8601(kt::Trim(s));
    if (!ms || kt::Trim(s).size() != 10) return Bad(name + " must be a date YYYY-MM-DD");
    return *ms / kDayMs;
  };
  if (auto log_date = req.Query("log_date")) {
    auto d = day("log_date", *log_date);
    if (!d) return kt::Fail(d.error());
    return std::pair{*d, *d};
  }
  auto start = req.Query("start_date"), end = req.Query("end_date");
  int64_t from = today, to = today;
  if (start) {
    auto d = day("start_date", *start);
    if (!d) return kt::Fail(d.error());
    from = *d;
  }
  if (end) {
    auto d = day("end_date", *end);
    if (!d) return kt::Fail(d.error());
    to = *d;
  } else if (start) {
    to = std::max(today, from);
  }
  if (!start && end) from = to;
  if (to < from) return Bad("end_date must not be before start_date");
  return std::pair{from, to};
}

Response PagedResponse(const Request& req, std::string body, int64_t total, const Paging& paging) {
  Response res = JsonText(200, std::move(body));
  res.headers.Set("Total", std::to_string(total));
  res.headers.Set("Per-Page", std::to_string(paging.per_page));
  std::string link = LinkHeader(req, paging.page, paging.per_page, total);
  if (!link.empty()) res.headers.Set("Link", link);
  return res;
}

Response ListStream(const Request& req, const World& world, const StreamKey& key, const ListFilter& filter,
                    const ListSpec& spec) {
  auto paging = ParsePaging(req, spec.default_per_page, spec.max_per_page);
  if (!paging) return Errors(400, paging.error().message);
  const int64_t offset = kt::PageOffset(paging->page, paging->per_page);

  // Sorting needs every match; the default order (by id) pages straight from the world.
  std::optional<std::string> sort = req.Query("sort");
  std::optional<std::string> sort_attribute = req.Query("sort[attribute]");
  bool descending = req.Query("sort[direction]").value_or("asc") == "desc";
  if (sort && !sort->empty() && (*sort)[0] == '-') descending = true, sort = sort->substr(1);
  bool sorted = (spec.sort == SortKind::kName && sort && (*sort == "name" || *sort == "display_name")) ||
                (spec.sort == SortKind::kIdCreated && sort && (*sort == "id" || *sort == "created_at")) ||
                (spec.sort == SortKind::kRfi && sort_attribute);

  RecordPage page;
  if (!sorted) {
    page = world.List(key, filter, offset, paging->per_page);
  } else {
    RecordPage all = world.List(key, filter, 0, INT64_MAX);
    std::vector<std::pair<std::string, RecordState>> keyed;
    keyed.reserve(all.records.size());
    std::string attr = spec.sort == SortKind::kRfi ? *sort_attribute : *sort;
    for (auto& r : all.records) {
      std::string k;
      char buf[32];
      if (attr == "name" || attr == "display_name") {
        k = SortName(world, key, r);
      } else if (attr == "created_at" || attr == "initiated_at") {
        std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(r.created_at_ms));
        k = buf;
      } else if (attr == "updated_at") {
        std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(r.updated_at_ms));
        k = buf;
      } else {  // id, number and anything else: the record order Procore numbers them in
        std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(r.id));
        k = buf;
      }
      keyed.emplace_back(std::move(k), r);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return descending ? a.first > b.first : a.first < b.first;
      return a.second.id < b.second.id;
    });
    page.total = all.total;
    for (int64_t i = offset; i < static_cast<int64_t>(keyed.size()) && i - offset < paging->per_page; ++i)
      page.records.push_back(keyed[static_cast<size_t>(i)].second);
  }

  std::string body;
  body.reserve(page.records.size() * 1200 + 2);
  JsonWriter w(body);
  w.BeginArray();
  for (const auto& r : page.records) WriteRecord(w, world, key, r, RecordView::kList);
  w.EndArray();
  return PagedResponse(req, std::move(body), page.total, *paging);
}

Response ShowRecord(const World& world, const StreamKey& key, int64_t id, RecordView view,
                    bool show_inactive) {
  auto r = world.Get(key, id);
  if (!r || r->gone || (r->deleted_at_ms != 0 && !show_inactive)) return Errors(404, "Not Found");
  std::string body;
  JsonWriter w(body);
  WriteRecord(w, world, key, *r, view);
  return JsonText(200, std::move(body));
}

void WriteServiceAccountUser(JsonWriter& w, const App& app, const CompanyData& company,
                             int64_t installed_at_ms) {
  w.BeginObject();
  w.Field("id", app.user_id);
  w.Field("first_name", app.name);
  w.Field("last_name", "(Service Account)");
  w.Field("name", app.name + " (Service Account)");
  w.Field("initials", "SA");
  w.Field("email_address", "dmsa+" + app.client_id.substr(0, 12) + "@procore-service.example");
  w.Field("job_title", "Developer Managed Service Account");
  w.Field("is_active", true);
  w.Field("is_employee", false);
  w.Field("is_insurance_manager", false);
  w.Field("add_to_new_projects", false);
  w.FieldNull("employee_id");
  w.FieldNull("business_phone");
  w.FieldNull("business_phone_extension");
  w.FieldNull("mobile_phone");
  w.FieldNull("fax_number");
  w.FieldNull("address");
  w.FieldNull("city");
  w.FieldNull("state_code");
  w.FieldNull("zip");
  w.FieldNull("country_code");
  w.FieldNull("avatar");
  w.FieldNull("business_id");
  w.FieldNull("email_signature");
  w.FieldNull("notes");
  w.FieldNull("origin_id");
  w.FieldNull("origin_data");
  w.FieldNull("work_classification_id");
  w.Key("vendor");
  w.BeginObject();
  w.FieldNull("id");
  w.Field("name", company.name);
  w.EndObject();
  w.FieldNull("default_permission_template_id");
  w.FieldNull("company_permission_template_id");
  w.FieldNull("last_login_at");
  w.Field("created_at", TimeOf(installed_at_ms / 1000 * 1000));
  w.Field("updated_at", TimeOf(installed_at_ms / 1000 * 1000));
  w.EndObject();
}

}  // namespace procore_emulator
