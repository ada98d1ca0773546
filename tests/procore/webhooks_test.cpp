// Webhooks API v1.0: hook and trigger calls, the 500-trigger cap, 207 partial success, deliveries filters;
// and the client's metrics.
#include "procore/webhooks.h"

#include <gtest/gtest.h>

#include "fake_procore.h"
#include "procore/obs_metrics.h"

namespace kt::procore {
namespace {

using nlohmann::json;
using testing::Harness;
using testing::PathOf;
using testing::QueryOf;
using testing::Respond;

TEST(Webhooks, CreateHookSendsScopeAndSecretHeader) {
  Harness h;
  json sent;
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks", [&](const http::ClientRequest& r) {
    sent = json::parse(r.body);
    return Respond(201, R"({"id":12,"api_version":"v2.0","namespace":"ktrack","destination_url":"https://k/x",
      "destination_headers":{"Authorization":"...abcde"},"owned_by_company_id":8})");
  });
  WebhooksApi api(h.client);
  HookSpec spec{"ktrack", "https://k/x", "v2.0", std::string("Bearer s3cr3t-abcde")};
  auto hook = api.CreateHook({8, 0}, spec);
  ASSERT_TRUE(hook) << hook.error().error.detail;
  EXPECT_EQ(hook->id, 12);
  EXPECT_EQ(hook->authorization_masked, "...abcde");
  EXPECT_EQ(sent["company_id"], 8);
  EXPECT_EQ(sent["hook"]["namespace"], "ktrack");
  EXPECT_EQ(sent["hook"]["destination_headers"]["Authorization"], "Bearer s3cr3t-abcde");
  EXPECT_FALSE(sent.contains("project_id"));
}

TEST(Webhooks, ForbiddenNamesTheWebhooksApiToolAtStandard) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks",
                     [](const http::ClientRequest&) { return Respond(403, "{}"); });
  WebhooksApi api(h.client);
  auto hooks = api.ListHooks({8, 0}, "ktrack");
  ASSERT_FALSE(hooks);
  EXPECT_EQ(hooks.error().code, ErrorCode::kMissingPermission);
  EXPECT_NE(hooks.error().error.fix.find("Standard on the company-level Webhooks API tool"),
            std::string::npos)
      << hooks.error().error.fix;
}

TEST(Webhooks, BulkTriggersSplitAt500AndCollectPartialFailures) {
  Harness h;
  std::vector<size_t> batch_sizes;
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/triggers/bulk", [&](const http::ClientRequest& r) {
    auto body = json::parse(r.body);
    EXPECT_EQ(body["company_id"], 8);
    EXPECT_EQ(body["api_version"], "v2.0");
    batch_sizes.push_back(body["triggers"].size());
    json success = json::array(), failed = json::array();
    int64_t id = 1000 * static_cast<int64_t>(batch_sizes.size());
    for (const auto& t : body["triggers"]) {
      if (t["resource_name"] == "Nope") {
        failed.push_back(
            {{"resource_name", "Nope"}, {"event_type", t["event_type"]}, {"error", "unknown resource"}});
      } else {
        success.push_back({{"id", id++},
                           {"webhook_hook_id", 12},
                           {"resource_name", t["resource_name"]},
                           {"event_type", "CREATE"},
                           {"company_id", 8}});
      }
    }
    return Respond(failed.empty() ? 200 : 207, json{{"success", success}, {"failed", failed}}.dump());
  });
  std::vector<TriggerSpec> specs;
  for (int i = 0; i < 1100; ++i) specs.push_back({i == 700 ? "Nope" : "RFIs", "create"});
  WebhooksApi api(h.client);
  auto result = api.BulkCreateTriggers({8, 0}, 12, "v2.0", specs);
  ASSERT_TRUE(result) << result.error().error.detail;
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{500, 500, 100}));
  EXPECT_EQ(result->created.size(), 1099u);
  ASSERT_EQ(result->failed.size(), 1u);
  EXPECT_EQ(result->failed[0].trigger.resource_name, "Nope");
  EXPECT_EQ(result->failed[0].error, "unknown resource");
  EXPECT_EQ(result->created[0].event_type, "create");
}

TEST(Webhooks, ProjectScopeAndDeliveriesFilters) {
  Harness h;
  http::ClientRequest seen;
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/deliveries", [&](const http::ClientRequest& r) {
    seen = r;
    return Respond(200, R"([{"event_id":77,"outcome":"failed","response_status":500,
        "event":{"id":77,"resource_name":"RFIs","resource_id":5,"event_type":"update"}}])");
  });
  WebhooksApi api(h.client);
  auto deliveries = api.ListDeliveries({8, 5}, 12, {"failing", 50, 70});
  ASSERT_TRUE(deliveries);
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ((*deliveries)[0].event_id, 77);
  EXPECT_EQ((*deliveries)[0].outcome, "failed");
  auto q = QueryOf(seen.url);
  EXPECT_EQ(FindParam(q, "project_id"), "5");
  EXPECT_FALSE(FindParam(q, "company_id"));
  EXPECT_EQ(FindParam(q, "filters[status]"), "failing");
  EXPECT_EQ(FindParam(q, "filter[status]"), "failing");
  EXPECT_EQ(FindParam(q, "page_size"), "50");
  EXPECT_EQ(FindParam(q, "page_start"), "70");
  EXPECT_EQ(seen.headers.Get("Procore-Company-Id"), "8");
}

TEST(Webhooks, DeliveryPagesFollowTheCursorUpToTheLimit) {
  Harness h;
  std::vector<std::string> starts;
  // 250 deliveries, ids 1..250, pages of 100 by the last id.
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/deliveries", [&](const http::ClientRequest& r) {
    auto q = QueryOf(r.url);
    const std::string start = FindParam(q, "page_start").value_or("0");
    starts.push_back(start);
    json page = json::array();
    for (int64_t id = std::stoll(start) + 1; id <= 250 && page.size() < 100; ++id)
      page.push_back({{"id", id}, {"event_id", 1000 + id}, {"outcome", "ok"}});
    return Respond(200, page.dump());
  });
  WebhooksApi api(h.client);
  DeliveryQuery query;
  query.priority = Priority::kReconciliation;
  auto all = api.ListDeliveryPages({8, 0}, 12, query, 10);
  ASSERT_TRUE(all) << all.error().error.detail;
  EXPECT_EQ(all->deliveries.size(), 250u);
  EXPECT_EQ(all->deliveries.front().id, 1);
  EXPECT_EQ(all->deliveries.back().event_id, 1250);
  EXPECT_EQ(all->last_id, 250);
  EXPECT_FALSE(all->more);
  EXPECT_EQ(starts, (std::vector<std::string>{"0", "100", "200"}));

  // Capped: two pages, then the cursor to go on from.
  starts.clear();
  query.page_start = 20;
  auto some = api.ListDeliveryPages({8, 0}, 12, query, 2);
  ASSERT_TRUE(some);
  EXPECT_EQ(some->deliveries.size(), 200u);
  EXPECT_EQ(some->last_id, 220);
  EXPECT_TRUE(some->more);
  EXPECT_EQ(starts, (std::vector<std::string>{"20", "120"}));
}

TEST(Webhooks, TriggersResourcesAndDeletes) {
  Harness h;
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/triggers", [](const http::ClientRequest& r) {
    if (r.method == "POST") {
      return Respond(201, R"({"id":5,"webhook_hook_id":12,"resource_name":"RFIs","event_type":"delete"})");
    }
    return Respond(200, R"([{"id":5,"webhook_hook_id":12,"resource_name":"RFIs","event_type":"DELETE"}])");
  });
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/triggers/5", [](const http::ClientRequest& r) {
    EXPECT_EQ(r.method, "DELETE");
    return Respond(200, "");
  });
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12/triggers/bulk", [](const http::ClientRequest& r) {
    EXPECT_EQ(r.method, "DELETE");
    return Respond(207, R"({"success":[5],"failed":[{"id":6,"error":"not found"}]})");
  });
  h.procore.AddRoute("/rest/v1.0/webhooks/resources", [](const http::ClientRequest&) {
    return Respond(200, R"([{"resource_name":"Trades","api_version":"v2.0","except":["update"]}])");
  });
  h.procore.AddRoute("/rest/v1.0/webhooks/hooks/12", [](const http::ClientRequest& r) {
    EXPECT_TRUE(r.method == "DELETE" || r.method == "PATCH");
    return Respond(200, R"({"id":12,"destination_url":"https://new"})");
  });
  WebhooksApi api(h.client);
  HookScope scope{8, 0};
  auto created = api.CreateTrigger(scope, 12, "v2.0", {"RFIs", "delete"});
  ASSERT_TRUE(created);
  EXPECT_EQ(created->id, 5);
  auto triggers = api.ListTriggers(scope, 12);
  ASSERT_TRUE(triggers);
  EXPECT_EQ((*triggers)[0].event_type, "delete");
  EXPECT_TRUE(api.DeleteTrigger(scope, 12, 5));
  std::vector<int64_t> ids = {5, 6};
  auto bulk = api.BulkDeleteTriggers(scope, 12, ids);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->deleted, (std::vector<int64_t>{5}));
  ASSERT_EQ(bulk->failed.size(), 1u);
  EXPECT_EQ(bulk->failed[0].first, 6);
  auto resources = api.ListResources(scope);
  ASSERT_TRUE(resources);
  EXPECT_EQ((*resources)[0].name, "Trades");
  EXPECT_EQ((*resources)[0].except, (std::vector<std::string>{"update"}));
  HookPatch patch;
  patch.destination_url = "https://new";
  auto updated = api.UpdateHook(scope, 12, patch);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->destination_url, "https://new");
  EXPECT_TRUE(api.DeleteHook(scope, 12));
}

class CountingMetrics final : public ClientMetrics {
 public:
  void OnRequest(std::string_view family, int status, Millis) override {
    std::lock_guard lock(mu);
    requests[std::string(family) + ":" + std::to_string(status)]++;
  }
  void OnRetry(std::string_view family, std::string_view reason) override {
    std::lock_guard lock(mu);
    retries[std::string(family) + ":" + std::string(reason)]++;
  }
  void OnRateLimited(std::string_view family) override {
    std::lock_guard lock(mu);
    rate_limited[std::string(family)]++;
  }
  void OnBudgetWait(std::string_view, Millis waited) override {
    std::lock_guard lock(mu);
    waited_total += waited;
  }
  std::mutex mu;
  std::map<std::string, int> requests, retries, rate_limited;
  Millis waited_total{0};
};

TEST(Metrics, RequestsStatusesRetriesAndTooManyRequestsByFamily) {
  ManualClock clock;
  SeededRandom random(3);
  testing::FakeTransport transport;
  testing::FakeProcore procore(clock);
  int n = 0;
  procore.AddRoute("/rest/v1.0/projects/5/rfis", [&](const http::ClientRequest&) {
    ++n;
    if (n == 1) return Respond(503, "");
    if (n == 2) return Respond(429, "", {{"Retry-After", "3"}});
    return Respond(200, "[]");
  });
  transport.SetHandler([&](const http::ClientRequest& r) { return procore.Handle(r); });
  InMemoryRateBudgetStore store;
  RateBudget budget(store, clock);
  TokenCache tokens(transport, clock, random);
  CountingMetrics metrics;
  Client client(Harness::MakeOptions({}), ClientDeps{transport, clock, random, tokens, budget, &metrics});
  ApiRequest r;
  r.path = "/rest/v1.0/projects/5/rfis";
  r.company_id = 8;
  ASSERT_TRUE(client.Send(r));
  EXPECT_EQ(metrics.requests["rfis:503"], 1);
  EXPECT_EQ(metrics.requests["rfis:429"], 1);
  EXPECT_EQ(metrics.requests["rfis:200"], 1);
  EXPECT_EQ(metrics.retries["rfis:5xx"], 1);
  EXPECT_EQ(metrics.retries["rfis:429"], 1);
  EXPECT_EQ(metrics.rate_limited["rfis"], 1);
  EXPECT_GE(metrics.waited_total, Millis(2500)) << "the wait after the 429 is budget wait";
}

TEST(Metrics, PrometheusAdapter) {
  obs::Metrics registry;
  ObsClientMetrics metrics(registry);
  metrics.OnRequest("rfis", 200, Millis(20));
  metrics.OnRequest("rfis", 0, Millis(1500));
  metrics.OnRetry("rfis", "network");
  metrics.OnRateLimited("projects");
  metrics.OnBudgetWait("rfis", Millis(2500));
  metrics.OnTokenRequest(true);
  std::string text = registry.RenderText();
  EXPECT_NE(text.find(R"(procore_requests_total{family="rfis",status="200"} 1)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(procore_requests_total{family="rfis",status="0"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(procore_retries_total{family="rfis",reason="network"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(procore_rate_limited_total{family="projects"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(procore_budget_wait_seconds_total{family="rfis"} 2.5)"), std::string::npos);
  EXPECT_NE(text.find(R"(procore_token_requests_total{outcome="ok"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace kt::procore
