// Pagination: v1 (page/per_page, Total, Per-Page, Link) and v2 ({"data"}), record views, termination rules,
// filters, and the per-stream endpoint table.
#include "procore/pagination.h"

#include <gtest/gtest.h>

#include <set>

#include "fake_procore.h"

namespace kt::procore {
namespace {

using testing::Harness;
using testing::PathOf;
using testing::QueryOf;
using testing::Respond;

// A list of `total` records served `per_page` at a time in Procore's v1 style.
class FakeList {
 public:
  FakeList(int total, int max_per_page, bool link = true, bool total_header = true)
      : total_(total), max_per_page_(max_per_page), link_(link), total_header_(total_header) {}

  http::ClientResponse operator()(const http::ClientRequest& r) {
    auto q = QueryOf(r.url);
    int page = static_cast<int>(ParseInt64(FindParam(q, "page").value_or("1")).value_or(1));
    int per_page = static_cast<int>(ParseInt64(FindParam(q, "per_page").value_or("100")).value_or(100));
    per_page = std::min(per_page, max_per_page_);
    std::string body = "[";
    int first = (page - 1) * per_page;
    for (int i = first; i < std::min(total_, first + per_page); ++i) {
      if (body.size() > 1) body += ",";
      int64_t id = 5'000'000'000LL + i;  // past 32 bits
      body += R"({"id":)" + std::to_string(id) + R"(,"title":"R\u00e9sum\u00e9 \")" + std::to_string(i) +
              R"(\"","nested":{"id":1,"updated_at":"no"},"updated_at":"2026-01-0)" +
              std::to_string(1 + i % 9) + R"(T00:00:00Z","deleted_at":null})";
    }
    body += "]";
    std::vector<std::pair<std::string, std::string>> headers = {{"Per-Page", std::to_string(per_page)}};
    if (total_header_) headers.emplace_back("Total", std::to_string(total_));
    if (link_) {
      int last = std::max(1, (total_ + per_page - 1) / per_page);
      std::string base =
          "https://api.procore.com" + PathOf(r.url) + "?per_page=" + std::to_string(per_page) + "&page=";
      std::string link;
      if (page < last) link += "<" + base + std::to_string(page + 1) + ">; rel=\"next\", ";
      link += "<" + base + std::to_string(last) + ">; rel=\"last\"";
      if (page > 1)
        link = "<" + base + "1>; rel=\"first\", <" + base + std::to_string(page - 1) + ">; rel=\"prev\", " +
               link;
      headers.emplace_back("Link", link);
    }
    ++pages_served;
    return Respond(200, body, headers);
  }
  int pages_served = 0;

 private:
  int total_, max_per_page_;
  bool link_, total_header_;
};

ListRequest RfiList(int per_page) {
  ListRequest r;
  r.path = "/rest/v1.0/projects/5/rfis";
  r.company_id = 8;
  r.per_page = per_page;
  return r;
}

TEST(Pager, ReadsEveryPageByLinkAndExposesTotal) {
  Harness h;
  auto list = std::make_shared<FakeList>(250, 100);
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [list](const http::ClientRequest& r) { return (*list)(r); });
  Pager pager(h.client, RfiList(100));
  std::set<int64_t> ids;
  int pages = 0;
  while (true) {
    auto more = pager.Next();
    ASSERT_TRUE(more) << more.error().error.detail;
    if (!*more) break;
    ++pages;
    EXPECT_EQ(pager.page().total, 250);
    for (const auto& rec : pager.page().records) {
      EXPECT_TRUE(ids.insert(rec.id).second);
      EXPECT_EQ(rec.updated_at.substr(0, 8), "2026-01-");
      EXPECT_TRUE(rec.deleted_at.empty());
      // The record's own JSON text, untouched (escapes included), parses on its own.
      auto j = nlohmann::json::parse(rec.json);
      EXPECT_EQ(j["id"].get<int64_t>(), rec.id);
      EXPECT_EQ(j["title"].get<std::string>().substr(0, 6), "R\xc3\xa9sum");
      EXPECT_EQ(rec.json.front(), '{');
      EXPECT_EQ(rec.json.back(), '}');
    }
    if (pager.done()) break;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids.size(), 250u);
  EXPECT_EQ(*ids.begin(), 5'000'000'000LL);
  EXPECT_EQ(pager.total(), 250);
  EXPECT_EQ(pager.records_read(), 250);
  EXPECT_EQ(list->pages_served, 3);
  EXPECT_FALSE(pager.Next().value());
}

TEST(Pager, ServerClampsPageSize) {
  Harness h;
  auto list = std::make_shared<FakeList>(1000, 300);  // we ask 2000, it serves 300
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [list](const http::ClientRequest& r) { return (*list)(r); });
  auto read = ForEachPage(h.client, RfiList(2000), [](const Page& p) -> ProcoreStatus {
    EXPECT_EQ(p.per_page, 300);
    return {};
  });
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 1000);
  EXPECT_EQ(list->pages_served, 4);
}

TEST(Pager, TotalWithoutLink) {
  Harness h;
  auto list = std::make_shared<FakeList>(205, 100, /*link=*/false);
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [list](const http::ClientRequest& r) { return (*list)(r); });
  auto read = ForEachPage(h.client, RfiList(100), [](const Page&) -> ProcoreStatus { return {}; });
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 205);
  EXPECT_EQ(list->pages_served, 3);
}

TEST(Pager, NeitherLinkNorTotalIsOnePage) {
  Harness h;
  int served = 0;
  h.procore.AddRoute("/rest/v1.0/projects/5/commitment_change_orders", [&](const http::ClientRequest&) {
    ++served;
    return Respond(200, R"([{"id":1},{"id":2},{"id":3}])");
  });
  ListRequest r = RfiList(2);
  r.path = "/rest/v1.0/projects/5/commitment_change_orders";
  auto read = ForEachPage(h.client, r, [](const Page&) -> ProcoreStatus { return {}; });
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 3);
  EXPECT_EQ(served, 1);
}

// Each record's text is the page's own bytes from its '{' up to the next token, as simdjson's raw_json()
// gives them: nested objects, a brace inside a string, escapes and spacing untouched; fields in any order.
TEST(Pager, RecordTextIsThePagesOwnBytesWhateverTheSpacing) {
  Harness h;
  const std::string first =
      "{\"nested\": {\"a\": [1, {\"b\": \"}\"}]}, \"id\": 7, \"title\": \"x\\\"y\",\n"
      "    \"updated_at\": \"2026-01-01T00:00:00Z\"} ";
  const std::string second =
      "{ \"id\" : 8 , \"deleted_at\": null, \"updated_at\": \"2026-01-02T00:00:00Z\" }\n";
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis", [&](const http::ClientRequest&) {
    return Respond(200, "[\n  " + first + ",\n  " + second + "]\n");
  });
  Pager pager(h.client, RfiList(100));
  auto more = pager.Next();
  ASSERT_TRUE(more) << more.error().error.detail;
  ASSERT_TRUE(*more);
  const auto& records = pager.page().records;
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].id, 7);
  EXPECT_EQ(records[0].updated_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(records[0].json, first);
  EXPECT_EQ(records[1].id, 8);
  EXPECT_EQ(records[1].json, second);
}

TEST(Pager, ServerIgnoringPageIsNotReadTwice) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis", [](const http::ClientRequest&) {
    return Respond(200, R"([{"id":1},{"id":2}])", {{"Total", "4"}, {"Per-Page", "2"}});
  });
  auto read = ForEachPage(h.client, RfiList(2), [](const Page&) -> ProcoreStatus { return {}; });
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 2);
}

TEST(Pager, VersionTwoDataWrapperWithStringIds) {
  Harness h;
  h.procore.AddRoute("/rest/v2.0/companies/8/projects/5/submittals", [](const http::ClientRequest&) {
    return Respond(200,
                   R"({"data":[{"id":"562949953421312","updated_at":"2026-02-01T00:00:00Z"},{"id":"7"}]})",
                   {{"Total", "2"}, {"Per-Page", "100"}});
  });
  ListRequest r = RfiList(100);
  r.path = "/rest/v2.0/companies/8/projects/5/submittals";
  r.shape = ListShape::kV2Data;
  std::vector<int64_t> ids;
  auto read = ForEachPage(h.client, r, [&](const Page& p) -> ProcoreStatus {
    for (const auto& rec : p.records) ids.push_back(rec.id);
    return {};
  });
  ASSERT_TRUE(read);
  EXPECT_EQ(ids, (std::vector<int64_t>{562949953421312LL, 7}));
}

TEST(Pager, UnreadablePageIsInvalidResponse) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis", [](const http::ClientRequest&) {
    return Respond(200, R"({"not":"a list"})", {{"X-Request-Id", "abc"}});
  });
  Pager pager(h.client, RfiList(100));
  auto more = pager.Next();
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().code, ErrorCode::kInvalidResponse);
  EXPECT_EQ(more.error().request_id, "abc");
}

TEST(Pager, ResumesFromACheckpointAndStopsWhenToldTo) {
  Harness h;
  auto list = std::make_shared<FakeList>(500, 100);
  h.procore.AddRoute("/rest/v1.0/projects/5/rfis",
                     [list](const http::ClientRequest& r) { return (*list)(r); });
  ListRequest r = RfiList(100);
  r.start_page = 4;
  int64_t first_id = 0;
  auto read = ForEachPage(h.client, r, [&](const Page& p) -> ProcoreStatus {
    if (!first_id) first_id = p.records.front().id;
    return {};
  });
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 200);
  EXPECT_EQ(first_id, 5'000'000'300LL);
  auto stopped = ForEachPage(h.client, RfiList(100), [&](const Page&) -> ProcoreStatus {
    return FailWith(ErrorCode::kValidation, {});
  });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, ErrorCode::kValidation);
}

TEST(Streams, TableCoversEveryStreamKey) {
  const std::vector<std::string> keys = {"projects",
                                         "company_users",
                                         "vendors",
                                         "trades",
                                         "cost_codes",
                                         "budget_detail_rows",
                                         "work_order_contracts",
                                         "purchase_order_contracts",
                                         "commitment_change_orders",
                                         "prime_contracts",
                                         "prime_change_orders",
                                         "change_events",
                                         "direct_costs",
                                         "rfis",
                                         "submittals",
                                         "manpower_logs"};
  ASSERT_EQ(StreamEndpoints().size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto* s = FindStream(keys[i]);
    ASSERT_NE(s, nullptr) << keys[i];
    EXPECT_EQ(StreamEndpoints()[i].key, keys[i]);
    EXPECT_FALSE(s->tool.empty());
    EXPECT_GT(s->max_per_page, 0);
    EXPECT_TRUE(StartsWith(s->list_path, "/rest/v1."));
  }
  EXPECT_EQ(FindStream("projects")->max_per_page, 300);
  EXPECT_EQ(FindStream("projects")->list_path, "/rest/v1.1/projects");
  EXPECT_EQ(FindStream("company_users")->list_path, "/rest/v1.3/companies/{company_id}/users");
  EXPECT_FALSE(FindStream("cost_codes")->updated_at_filter);
  EXPECT_TRUE(FindStream("manpower_logs")->date_range);
  EXPECT_EQ(FindStream("rfis")->tool, "RFIs");
  EXPECT_EQ(FindStream("manpower_logs")->tool, "Daily Log");
  EXPECT_EQ(FindStream("rfis")->webhook_resource, "RFIs");
  EXPECT_EQ(FindStream("nope"), nullptr);
}

TEST(Streams, ListRequestsCarryScopeAndFilters) {
  SysTime now(std::chrono::seconds(1'700'000'000));  // 2023-11-14T22:13:20Z
  StreamListOptions o;
  o.company_id = 8;
  o.project_id = 5;
  o.updated_from = "2023-11-01T00:00:00Z";
  o.include_deleted = true;

  auto rfis = StreamListRequest(*FindStream("rfis"), o, now);
  ASSERT_TRUE(rfis);
  EXPECT_EQ(rfis->path, "/rest/v1.0/projects/5/rfis");
  EXPECT_EQ(FindParam(rfis->query, "filters[updated_at]"), "2023-11-01T00:00:00Z...2023-11-15T22:13:20Z");
  EXPECT_FALSE(FindParam(rfis->query, "filters[include_deleted]"));  // RFIs don't offer it
  EXPECT_EQ(rfis->context.tool, "RFIs");
  EXPECT_EQ(rfis->context.scope, Scope::kProject);
  EXPECT_EQ(rfis->per_page, 2000);

  auto wocs = StreamListRequest(*FindStream("work_order_contracts"), o, now);
  EXPECT_EQ(wocs->path, "/rest/v1.0/work_order_contracts");
  EXPECT_EQ(FindParam(wocs->query, "project_id"), "5");
  EXPECT_EQ(FindParam(wocs->query, "filters[include_deleted]"), "with");

  auto codes = StreamListRequest(*FindStream("cost_codes"), o, now);
  EXPECT_FALSE(FindParam(codes->query, "filters[updated_at]"));

  auto projects = StreamListRequest(*FindStream("projects"), o, now);
  EXPECT_EQ(FindParam(projects->query, "company_id"), "8");
  EXPECT_EQ(projects->context.project_id, 0);
  EXPECT_EQ(projects->per_page, 300);

  auto logs = StreamListRequest(*FindStream("manpower_logs"), o, now);
  EXPECT_EQ(FindParam(logs->query, "start_date"), "2000-01-01");
  EXPECT_EQ(FindParam(logs->query, "end_date"), "2023-11-15");
  EXPECT_EQ(FindParam(logs->query, "filters[status]"), "all");

  StreamListOptions no_project = o;
  no_project.project_id = 0;
  auto missing = StreamListRequest(*FindStream("rfis"), no_project, now);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kValidation);
  auto no_view = StreamListRequest(*FindStream("budget_detail_rows"), o, now);  // no budget view chosen
  ASSERT_FALSE(no_view);
  EXPECT_EQ(no_view.error().code, ErrorCode::kValidation);
  o.parent_id = 77;
  auto rows = StreamListRequest(*FindStream("budget_detail_rows"), o, now);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->path, "/rest/v1.0/budget_views/77/detail_rows");
  EXPECT_EQ(FindParam(rows->query, "project_id"), "5");
}

TEST(Client, EveryRequestCarriesCompanyUserAgentAndToken) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/companies", [](const http::ClientRequest&) {
    return Respond(200, R"([{"id":8,"name":"Acme","is_active":true}])");
  });
  h.procore.AddRoute("/rest/v1.0/me", [](const http::ClientRequest&) {
    return Respond(200, R"({"id":42,"login":"dmsa@example.com","name":"KTrack"})");
  });
  auto companies = h.client.ListCompanies(8);
  ASSERT_TRUE(companies);
  ASSERT_EQ(companies->size(), 1u);
  EXPECT_EQ((*companies)[0].name, "Acme");
  auto me = h.client.GetMe(8);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->id, 42);
  for (const auto& r : h.transport.requests()) {
    if (PathOf(r.url) == "/oauth/token") continue;
    EXPECT_EQ(r.headers.Get("Procore-Company-Id"), "8") << r.url;
    EXPECT_EQ(r.headers.Get("User-Agent"), UserAgent());
    EXPECT_EQ(r.headers.Get("Authorization"), "Bearer token-1");
    EXPECT_TRUE(StartsWith(r.url, "http://127.0.0.1:9/rest/v1.0/"));
  }
}

TEST(Client, GetRecordUsesTheStreamsShowEndpoint) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/prime_contract/99", [](const http::ClientRequest& r) {
    EXPECT_EQ(FindParam(QueryOf(r.url), "project_id"), "5");
    return Respond(200, R"({"id":99})");
  });
  RecordRequest rr;
  rr.stream = "prime_contracts";
  rr.company_id = 8;
  rr.project_id = 5;
  rr.id = 99;
  auto rec = h.client.GetRecord(rr);
  ASSERT_TRUE(rec);
  EXPECT_EQ(*rec, R"({"id":99})");

  rr.stream = "rfis";
  rr.id = 7;
  rr.project_name = "Tower A";
  auto missing = h.client.GetRecord(rr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().error.message.find("RFI 7"), std::string::npos) << missing.error().error.message;
}

TEST(Client, MetricsByEndpointFamily) {
  EXPECT_EQ(EndpointFamily("/rest/v1.0/projects/5/rfis/9"), "rfis");
  EXPECT_EQ(EndpointFamily("/rest/v1.1/projects?company_id=1"), "projects");
  EXPECT_EQ(EndpointFamily("/rest/v1.3/companies/8/users"), "users");
  EXPECT_EQ(EndpointFamily("/rest/v1.0/webhooks/hooks/3/triggers/bulk"), "webhooks");
  EXPECT_EQ(EndpointFamily("/rest/v1.0/budget_views/7/detail_rows"), "detail_rows");
  EXPECT_EQ(EndpointFamily("/oauth/token"), "oauth");
  EXPECT_EQ(EndpointFamily("/rest/v1.0/settings/permissions"), "settings");
}

}  // namespace
}  // namespace kt::procore
