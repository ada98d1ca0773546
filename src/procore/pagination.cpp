// The pager: page requests, header-driven termination, and simdjson record views over the page buffer.
#include "procore/pagination.h"

#include <algorithm>
#include <memory>
#include <vector>

#include <simdjson.h>

#include "http/client.h"
#include "procore/headers.h"

namespace kt::procore {
namespace {

namespace od = simdjson::ondemand;

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// An id as a number, or as a string of digits (REST v2).
int64_t ReadId(od::value& value) {
  od::json_type type;
  if (value.type().get(type)) return 0;
  if (type == od::json_type::number) {
    int64_t id = 0;
    if (!value.get_int64().get(id)) return id;
    return 0;
  }
  if (type == od::json_type::string) {
    std::string_view s;
    if (value.get_string().get(s)) return 0;
    return ParseInt64(s).value_or(0);
  }
  return 0;
}

std::string_view ReadText(od::value& value) {
  od::json_type type;
  if (value.type().get(type) || type != od::json_type::string) return {};
  std::string_view s;
  if (value.get_string().get(s)) return {};
  return s;
}

static_assert(simdjson::SIMDJSON_PADDING <= http::kBodySpareBytes, "http::Fetch leaves room for the padding");

// Parses a page into record views. The body gets simdjson's padding in place (http::Fetch left room for it);
// records are views into it, and their strings live in the parser until the next page.
std::string ParseRecords(od::parser& parser, std::string& body, ListShape shape,
                         std::vector<RecordView>& out) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view json(body.data(), body.size(), body.capacity());
  od::document doc;
  if (auto err = parser.iterate(json).get(doc)) return simdjson::error_message(err);
  od::array records;
  if (shape == ListShape::kV1Array) {
    if (auto err = doc.get_array().get(records))
      return std::string("expected a JSON array: ") + simdjson::error_message(err);
  } else {
    od::object root;
    if (auto err = doc.get_object().get(root))
      return std::string("expected a JSON object: ") + simdjson::error_message(err);
    if (auto err = root.find_field_unordered("data").get_array().get(records)) {
      return std::string("expected a \"data\" array: ") + simdjson::error_message(err);
    }
  }
  for (auto element : records) {
    // The record's text, as raw_json() would give it (from its '{' to the next token), taken from where the
    // iterator stands before and after the fields are read: walking the record again for it was a third of
    // the parse.
    const char* start = nullptr;
    if (auto err = doc.current_location().get(start)) return simdjson::error_message(err);
    od::object record;
    if (auto err = element.get_object().get(record))
      return std::string("a record is not an object: ") + simdjson::error_message(err);
    RecordView view;
    for (auto field : record) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key)) return simdjson::error_message(err);
      if (key == "id") {
        od::value value;
        if (!field.value().get(value)) view.id = ReadId(value);
      } else if (key == "updated_at") {
        od::value value;
        if (!field.value().get(value)) view.updated_at = ReadText(value);
      } else if (key == "deleted_at") {
        od::value value;
        if (!field.value().get(value)) view.deleted_at = ReadText(value);
      }
    }
    const char* end = nullptr;
    if (auto err = doc.current_location().get(end)) return simdjson::error_message(err);
    view.json = std::string_view(start, static_cast<size_t>(end - start));
    out.push_back(view);
  }
  return {};
}

std::optional<int> PageParam(const std::string& url) {
  size_t q = url.find('?');
  if (q == std::string::npos) return std::nullopt;
  auto params = ParseQuery(std::string_view(url).substr(q + 1));
  auto page = FindParam(params, "page");
  if (!page) return std::nullopt;
  auto n = ParseInt64(*page);
  if (!n || *n < 1 || *n > INT32_MAX) return std::nullopt;
  return static_cast<int>(*n);
}

std::string DateOf(SysTime t) {
  return FormatIso8601(std::chrono::duration_cast<Millis>(t.time_since_epoch()).count()).substr(0, 10);
}

// Parsers for reuse: a parser's buffers grow to the largest page it has read, and a stream's read is often
// one page, so a Pager takes a parser from its thread's few spare ones and gives it back when it ends.
class SpareParsers {
 public:
  std::unique_ptr<od::parser> Take() {
    if (spare_.empty()) return std::make_unique<od::parser>();
    auto parser = std::move(spare_.back());
    spare_.pop_back();
    return parser;
  }
  void Give(std::unique_ptr<od::parser> parser) {
    if (parser && spare_.size() < kKept) spare_.push_back(std::move(parser));
  }

 private:
  static constexpr size_t kKept = 4;
  std::vector<std::unique_ptr<od::parser>> spare_;
};

thread_local SpareParsers spare_parsers;

}  // namespace

struct Pager::Impl {
  Impl(Client& c, ListRequest r) : client(c), request(std::move(r)), parser_owner(spare_parsers.Take()) {}
  ~Impl() { spare_parsers.Give(std::move(parser_owner)); }
  Client& client;
  ListRequest request;
  std::unique_ptr<od::parser> parser_owner;
  od::parser& parser = *parser_owner;
  std::string body;
  Page page;
  int next_page = 1;
  bool done = false;
  int64_t records_read = 0;
  std::optional<int64_t> total;
  int64_t previous_first_id = 0;
};

Pager::Pager(Client& client, ListRequest request)
    : impl_(std::make_unique<Impl>(client, std::move(request))) {
  impl_->next_page = std::max(1, impl_->request.start_page);
}
Pager::~Pager() = default;
Pager::Pager(Pager&&) noexcept = default;
Pager& Pager::operator=(Pager&&) noexcept = default;

const Page& Pager::page() const {
  return impl_->page;
}
std::optional<int64_t> Pager::total() const {
  return impl_->total;
}
int64_t Pager::records_read() const {
  return impl_->records_read;
}
int Pager::next_page() const {
  return impl_->next_page;
}
bool Pager::done() const {
  return impl_->done;
}

ProcoreResult<bool> Pager::Next() {
  Impl& s = *impl_;
  if (s.done) return false;
  ApiRequest r;
  r.path = s.request.path;
  r.query = s.request.query;
  r.query.emplace_back("page", std::to_string(s.next_page));
  if (s.request.per_page > 0) r.query.emplace_back("per_page", std::to_string(s.request.per_page));
  r.company_id = s.request.company_id;
  r.priority = s.request.priority;
  r.context = s.request.context;
  r.max_total = s.request.max_total;
  auto response = s.client.Send(r);
  if (!response) return tl::unexpected(response.error());

  s.body = std::move(response->body);
  s.page.records.clear();
  std::string problem = ParseRecords(s.parser, s.body, s.request.shape, s.page.records);
  if (!problem.empty()) {
    Evidence ev;
    ev.status = response->status;
    ev.method = "GET";
    ev.path = r.path + "?" + BuildQuery(r.query);
    ev.request_id = response->request_id;
    ev.body.message = "unreadable page: " + problem;
    return FailWith(ErrorCode::kInvalidResponse, s.request.context, ev);
  }

  Page& page = s.page;
  page.number = s.next_page;
  page.request_id = response->request_id;
  page.total = ParseHeaderInt(response->headers.Get("Total").value_or(""));
  if (page.total) s.total = page.total;
  auto per_page = ParseHeaderInt(response->headers.Get("Per-Page").value_or(""));
  page.per_page = per_page && *per_page > 0 ? static_cast<int>(*per_page) : s.request.per_page;
  const int64_t n = static_cast<int64_t>(page.records.size());

  // A server that ignores `page` sends page 1 again: stop rather than read it twice.
  if (page.number > std::max(1, s.request.start_page) && n > 0 && page.records.front().id != 0 &&
      page.records.front().id == s.previous_first_id) {
    page.records.clear();
    page.last = true;
    s.done = true;
    return false;
  }
  s.records_read += n;
  s.previous_first_id = n > 0 ? page.records.front().id : 0;

  bool more = false;
  int following = page.number + 1;
  auto links = ParseLinkHeader(JoinedHeader(response->headers, "Link"));
  if (!links.empty()) {
    // Link is authoritative: "next" is absent on the last page.
    auto next = FindLink(links, "next");
    more = next.has_value() && n > 0;
    if (next) {
      if (auto p = PageParam(*next); p && *p > page.number) following = *p;
    }
  } else if (page.total) {
    int64_t seen = static_cast<int64_t>(page.number - 1) * page.per_page + n;
    more = n > 0 && seen < *page.total;
  }
  // Neither Link nor Total: an unpaginated list, read in one go.
  page.last = !more;
  s.done = !more;
  s.next_page = following;
  return true;
}

ProcoreResult<int64_t> ForEachPage(Client& client, ListRequest request,
                                   const std::function<ProcoreStatus(const Page&)>& on_page) {
  Pager pager(client, std::move(request));
  while (true) {
    auto more = pager.Next();
    if (!more) return tl::unexpected(more.error());
    if (!*more) break;
    if (auto status = on_page(pager.page()); !status) return tl::unexpected(status.error());
    if (pager.done()) break;
  }
  return pager.records_read();
}

CallContext StreamContext(const StreamEndpoint& stream, int64_t company_id, int64_t project_id,
                          std::string project_name) {
  CallContext c;
  c.tool = std::string(stream.tool);
  c.scope = stream.scope;
  c.company_id = company_id;
  c.project_id = stream.scope == Scope::kProject ? project_id : 0;
  c.project_name = std::move(project_name);
  c.resource = std::string(stream.noun);
  return c;
}

ProcoreResult<ListRequest> StreamListRequest(const StreamEndpoint& stream, const StreamListOptions& options,
                                             SysTime now) {
  CallContext context = StreamContext(stream, options.company_id, options.project_id, options.project_name);
  auto invalid = [&](std::string why) {
    Evidence ev;
    ev.body.message = std::move(why);
    return FailWith(ErrorCode::kValidation, context, ev);
  };
  if (options.company_id == 0) return invalid("a company id is needed to read " + std::string(stream.key));
  if (stream.scope == Scope::kProject && options.project_id == 0) {
    return invalid("a project id is needed to read " + std::string(stream.key));
  }
  if (stream.needs_parent && options.parent_id == 0) {
    return invalid("a budget view id is needed to read " + std::string(stream.key));
  }

  ListRequest out;
  out.path = Replace(
      Replace(Replace(std::string(stream.list_path), "{company_id}", std::to_string(options.company_id)),
              "{project_id}", std::to_string(options.project_id)),
      "{parent_id}", std::to_string(options.parent_id));
  if (!stream.scope_param.empty()) {
    int64_t scope_id = stream.scope == Scope::kCompany ? options.company_id : options.project_id;
    out.query.emplace_back(std::string(stream.scope_param), std::to_string(scope_id));
  }
  for (auto& kv : ParseQuery(stream.extra_query)) out.query.push_back(std::move(kv));
  if (stream.updated_at_filter && !options.updated_from.empty()) {
    std::string to = options.updated_to;
    if (to.empty()) {
      // An open end: a day ahead covers clock skew between KTrack and Procore.
      to = FormatIso8601(
          std::chrono::duration_cast<Millis>((now + std::chrono::hours(24)).time_since_epoch()).count());
    }
    out.query.emplace_back("filters[updated_at]", options.updated_from + "..." + to);
  }
  if (stream.include_deleted && options.include_deleted)
    out.query.emplace_back("filters[include_deleted]", "with");
  if (stream.date_range) {
    out.query.emplace_back("start_date", options.start_date.empty() ? "2000-01-01" : options.start_date);
    out.query.emplace_back(
        "end_date", options.end_date.empty() ? DateOf(now + std::chrono::hours(24)) : options.end_date);
  }
  for (const auto& kv : options.extra_filters) out.query.push_back(kv);
  out.company_id = options.company_id;
  out.per_page = options.per_page > 0 ? std::min(options.per_page, stream.max_per_page) : stream.max_per_page;
  out.start_page = std::max(1, options.start_page);
  out.shape = stream.shape;
  out.priority = options.priority;
  out.context = std::move(context);
  return out;
}

}  // namespace kt::procore
