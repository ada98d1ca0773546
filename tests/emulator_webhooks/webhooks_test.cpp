// The emulator's webhooks: Webhooks API v1.0 shapes (checked against the Procore contract) and the delivery
// engine.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "emulator/emulated_clock.h"
#include "emulator/webhooks/delivery_engine.h"
#include "emulator/webhooks/event_payload.h"
#include "emulator/webhooks/resources.h"
#include "emulator/webhooks/webhooks.h"
#include "http/router.h"
#include "process.h"
#include "test_receiver.h"
#include "util/random.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

using nlohmann::json;
using testing::ReceivedRequest;
using testing::TestReceiver;
using namespace std::chrono_literals;

constexpr int64_t kCompanyId = 10;
constexpr int64_t kProjectId = 501;
constexpr int64_t kOtherProjectId = 502;
constexpr int64_t kUserId = 9001;
constexpr char kSecret[] = "Bearer s3cret-hook-token-abcde";
// One emulated hour passes in 0.1 real seconds: 12 hours of backoff take about 1.2 s.
constexpr double kFastScale = 36000;

// ---- contract checking
// -------------------------------------------------------------------------------------

// KTRACK_SHARED_DIR from the environment, else the shared/ folder the build was configured with.
std::string ContractDir() {
  return (std::getenv("KTRACK_SHARED_DIR") ? kt::testing::SharedDir()
                                           : std::string(KTRACK_CONFIGURED_SHARED_DIR)) +
         "/procore-contract/endpoints/";
}

json LoadContract(const std::string& operation_id) {
  std::ifstream in(ContractDir() + operation_id + ".json");
  if (!in) throw std::runtime_error("missing contract file for " + operation_id);
  return json::parse(in);
}

// Fields the emulator sends as null where Procore does: ids that do not apply in the scope (a company hook's
// project), and response details of a delivery that got no response.
bool IsNullable(const std::string& field) {
  static const std::set<std::string> nullable = {"owned_by_project_id", "project_id",     "resource_id",
                                                 "response_status",     "response_error", "started_at",
                                                 "completed_at"};
  return nullable.count(field) > 0;
}

bool IsDateTime(const std::string& s) {
  static const std::regex iso_format(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2}))");
  return std::regex_match(s, iso_format);
}

void Validate(const json& value, const json& schema, const std::string& where,
              std::vector<std::string>& errors) {
  const std::string type = schema.value("type", "");
  // The contract's copy renders some scalar fields as "(nested object)" without properties
  // (metadata.source_*): those carry ids or null, so only their presence is checked.
  if (type == "object" && schema.value("description", "") == "(nested object)" &&
      !schema.contains("properties")) {
    return;
  }
  if (type == "object") {
    if (!value.is_object()) {
      errors.push_back(where + ": expected object, got " + value.dump());
      return;
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [name, property] : properties.items()) {
      const std::string field = where + "." + name;
      if (!value.contains(name)) {
        // destination_headers.Authorization is only present when the hook has one.
        if (name != "Authorization") errors.push_back(field + ": missing");
        continue;
      }
      if (value[name].is_null() && IsNullable(name)) continue;
      Validate(value[name], property, field, errors);
    }
  } else if (type == "array") {
    if (!value.is_array()) {
      errors.push_back(where + ": expected array");
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      Validate(value[i], schema.value("items", json::object()), where + "[" + std::to_string(i) + "]",
               errors);
    }
  } else if (type == "integer") {
    if (!value.is_number_integer()) errors.push_back(where + ": expected integer, got " + value.dump());
  } else if (type == "number") {
    if (!value.is_number()) errors.push_back(where + ": expected number, got " + value.dump());
  } else if (type == "boolean") {
    if (!value.is_boolean()) errors.push_back(where + ": expected boolean, got " + value.dump());
  } else if (type == "string") {
    if (!value.is_string()) {
      errors.push_back(where + ": expected string, got " + value.dump());
      return;
    }
    if (schema.contains("enum")) {
      bool listed = false;
      for (const auto& allowed : schema["enum"]) listed = listed || allowed == value;
      if (!listed) errors.push_back(where + ": " + value.dump() + " not in " + schema["enum"].dump());
    }
    if (schema.value("format", "") == "date-time" && !IsDateTime(value.get<std::string>())) {
      errors.push_back(where + ": not a date-time: " + value.dump());
    }
  }
}

// Checks a response body against the contract's schema for that operation and status.
void ExpectMatchesContract(const std::string& operation_id, int status, const json& body) {
  json contract = LoadContract(operation_id);
  ASSERT_TRUE(contract["responses"].contains(std::to_string(status))) << operation_id << " " << status;
  json response = contract["responses"][std::to_string(status)];
  ASSERT_TRUE(response.contains("schema")) << operation_id << " " << status << " has no schema";
  std::vector<std::string> errors;
  Validate(body, response["schema"], operation_id, errors);
  for (const auto& error : errors) ADD_FAILURE() << error;
}

// ---- the service behind a router
// ---------------------------------------------------------------------------

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

class WebhooksApi {
 public:
  explicit WebhooksApi(double time_scale = kFastScale)
      : clock_(time_scale), service_(MakeWebhookService(clock_, 42)) {
    service_->RegisterRoutes(
        router_, [this](kt::http::Request& request) -> std::variant<WebhookCaller, kt::http::Response> {
          ++authenticated_;
          if (request.Header("X-Deny")) {
            return kt::http::Response::Json(403, {{"errors", "You do not have access to the Webhooks API"}});
          }
          return WebhookCaller{"client-abc", kCompanyId, kUserId};
        });
  }

  Reply Call(const std::string& method, const std::string& target, const json& body = nullptr,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return CallRaw(method, target, body.is_null() ? std::string() : body.dump(), headers);
  }

  // Routes the request as the server would and calls the handler.
  Reply CallRaw(const std::string& method, const std::string& target, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    kt::http::Request request;
    request.method = method;
    request.target = target;
    size_t q = target.find('?');
    request.path = target.substr(0, q);
    if (q != std::string::npos) request.query = kt::ParseQuery(target.substr(q + 1));
    request.body = body;
    for (const auto& [name, value] : headers) request.headers.Add(name, value);
    auto match = router_.Find(method, request.path);
    if (!match.route) return {match.path_matched_other_method ? 405 : 404, nullptr, ""};
    request.path_params = match.params;
    request.route = match.route->pattern;
    kt::http::Response response = match.route->handler(request);
    Reply reply{response.status, nullptr, response.body};
    if (!response.body.empty()) reply.body = json::parse(response.body);
    return reply;
  }

  // Creates a hook and its triggers; returns the hook id.
  int64_t CreateHook(const std::string& scope_query, const std::string& url, const std::string& api_version,
                     const std::vector<std::pair<std::string, std::string>>& triggers) {
    Reply hook = Call("POST", "/rest/v1.0/webhooks/hooks?" + scope_query,
                      {{"hook",
                        {{"api_version", api_version},
                         {"namespace", "ktrack"},
                         {"destination_url", url},
                         {"destination_headers", {{"Authorization", kSecret}}}}}});
    EXPECT_EQ(hook.status, 201) << hook.raw;
    int64_t id = hook.body["id"].get<int64_t>();
    for (const auto& [resource, event] : triggers) {
      Reply trigger =
          Call("POST", "/rest/v1.0/webhooks/hooks/" + std::to_string(id) + "/triggers?" + scope_query,
               {{"trigger", {{"resource_name", resource}, {"event_type", event}}}});
      EXPECT_EQ(trigger.status, 201) << trigger.raw;
    }
    return id;
  }

  ResourceEvent Event(const std::string& resource, const std::string& type, std::optional<int64_t> project_id,
                      int64_t resource_id, int64_t company_id = kCompanyId) {
    ResourceEvent event;
    event.company_id = company_id;
    event.project_id = project_id;
    event.resource_name = resource;
    event.event_type = type;
    event.resource_id = resource_id;
    event.user_id = 77;
    event.source_application_id = "other-app";
    event.at_ms = clock_.NowMs();
    return event;
  }

  // Polls Stats() until pred holds; true when it did within the timeout.
  bool WaitForStats(const std::function<bool(const json&)>& pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(service_->Stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred(service_->Stats());
  }

  EmulatedClock& Clock() { return clock_; }
  WebhookService& Service() { return *service_; }
  int Authenticated() const { return authenticated_; }

 private:
  EmulatedClock clock_;
  kt::http::Router router_;
  std::unique_ptr<WebhookService> service_;
  int authenticated_ = 0;
};

std::string CompanyScope() {
  return "company_id=" + std::to_string(kCompanyId);
}
std::string ProjectScope() {
  return "project_id=" + std::to_string(kProjectId);
}

std::string HookPath(int64_t id, const std::string& rest = "") {
  return "/rest/v1.0/webhooks/hooks/" + std::to_string(id) + rest;
}

// ---- hooks
// -------------------------------------------------------------------------------------------------

TEST(WebhooksApiTest, HookCrudMatchesTheContract) {
  WebhooksApi api;
  Reply created = api.Call("POST", "/rest/v1.0/webhooks/hooks",
                           {{"company_id", kCompanyId},
                            {"hook",
                             {{"api_version", "v2"},
                              {"namespace", "ktrack-prod-1"},
                              {"destination_url", "https://ktrack.example/webhooks/procore/abc"},
                              {"destination_headers", {{"Authorization", kSecret}}}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectMatchesContract("RestV10WebhooksHooksPost", 201, created.body);
  EXPECT_EQ(created.body["api_version"], "v2.0");  // "v2" as in Procore's examples means v2.0
  EXPECT_EQ(created.body["namespace"], "ktrack-prod-1");
  EXPECT_EQ(created.body["owned_by_company_id"], kCompanyId);
  EXPECT_TRUE(created.body["owned_by_project_id"].is_null());
  EXPECT_EQ(created.body["owned_by_user_id"], kUserId);
  // The secret is never echoed: only its last 5 characters.
  std::string masked = created.body["destination_headers"]["Authorization"];
  EXPECT_EQ(masked.size(), std::string(kSecret).size());
  EXPECT_EQ(masked.substr(masked.size() - 5), "abcde");
  EXPECT_EQ(created.raw.find("s3cret"), std::string::npos);
  const int64_t id = created.body["id"];

  Reply listed = api.Call("GET", "/rest/v1.0/webhooks/hooks?" + CompanyScope());
  ASSERT_EQ(listed.status, 200);
  ExpectMatchesContract("RestV10WebhooksHooksGet", 200, listed.body);
  ASSERT_EQ(listed.body.size(), 1u);
  EXPECT_EQ(listed.body[0]["id"], id);

  EXPECT_EQ(
      api.Call("GET", "/rest/v1.0/webhooks/hooks?namespace=ktrack-prod-1&" + CompanyScope()).body.size(), 1u);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?namespace=*&" + CompanyScope()).body.size(), 1u);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?namespace=other&" + CompanyScope()).body.size(), 0u);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?api_version=v4.0&" + CompanyScope()).body.size(), 0u);

  Reply patched =
      api.Call("PATCH", HookPath(id),
               {{"company_id", std::to_string(kCompanyId)},
                {"hook", {{"destination_url", "https://ktrack.example/new"}, {"api_version", "v4.0"}}}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  ExpectMatchesContract("RestV10WebhooksHooksIdPatch", 200, patched.body);
  EXPECT_EQ(patched.body["destination_url"], "https://ktrack.example/new");
  EXPECT_EQ(patched.body["api_version"], "v4.0");
  EXPECT_EQ(patched.body["namespace"], "ktrack-prod-1");  // untouched fields stay
  EXPECT_EQ(api.Call("GET", HookPath(id) + "?" + CompanyScope()).body["destination_url"],
            "https://ktrack.example/new");

  EXPECT_EQ(api.Call("DELETE", HookPath(id) + "?" + CompanyScope()).status, 200);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?" + CompanyScope()).body.size(), 0u);
  EXPECT_EQ(api.Call("DELETE", HookPath(id) + "?" + CompanyScope()).status, 404);
}

TEST(WebhooksApiTest, ProjectHookIsOwnedByTheProject) {
  WebhooksApi api;
  Reply created = api.Call(
      "POST", "/rest/v1.0/webhooks/hooks?" + ProjectScope(),
      {{"hook", {{"api_version", "v4.0"}, {"namespace", "ktrack"}, {"destination_url", "http://x/y"}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectMatchesContract("RestV10WebhooksHooksPost", 201, created.body);
  EXPECT_EQ(created.body["owned_by_project_id"], kProjectId);
  EXPECT_EQ(created.body["owned_by_company_id"], kCompanyId);
  EXPECT_EQ(created.body["destination_headers"], json::object());
}

TEST(WebhooksApiTest, NamespaceMustBeLowercaseLettersDigitsAndDashes) {
  WebhooksApi api;
  auto create = [&](const json& namespace_value) {
    json hook = {{"api_version", "v2.0"}, {"destination_url", "https://ktrack.example/h"}};
    if (!namespace_value.is_null()) hook["namespace"] = namespace_value;
    return api.Call("POST", "/rest/v1.0/webhooks/hooks", {{"company_id", kCompanyId}, {"hook", hook}});
  };
  EXPECT_EQ(create("ktrack-2").status, 201);
  for (const char* bad : {"KTrack", "k_track", "k track", "ktrack.io", "", "ktrack/1"}) {
    Reply reply = create(bad);
    EXPECT_EQ(reply.status, 400) << bad;
    EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("namespace"), std::string::npos)
        << bad << ": " << reply.body.dump();
  }
  for (const json& bad : {json(nullptr), json(12)}) {  // required, and a string
    Reply reply = create(bad);
    EXPECT_EQ(reply.status, 400) << bad;
    EXPECT_NE(reply.body.dump().find("namespace"), std::string::npos) << bad << ": " << reply.body.dump();
  }
  // PATCH validates it too.
  Reply patched =
      api.Call("PATCH", HookPath(1), {{"company_id", kCompanyId}, {"hook", {{"namespace", "Bad"}}}});
  EXPECT_EQ(patched.status, 400);
  EXPECT_NE(patched.body.dump().find("namespace"), std::string::npos) << patched.body.dump();
}

TEST(WebhooksApiTest, HookRequiresUrlAndAKnownApiVersion) {
  WebhooksApi api;
  auto create = [&](json hook) {
    return api.Call("POST", "/rest/v1.0/webhooks/hooks", {{"company_id", kCompanyId}, {"hook", hook}});
  };
  // Each refusal is about the field that is wrong.
  const std::pair<json, const char*> refused[] = {
      {{{"api_version", "v2.0"}, {"namespace", "k"}}, "destination_url"},
      {{{"api_version", "v2.0"}, {"namespace", "k"}, {"destination_url", "ftp://x"}}, "destination_url"},
      {{{"api_version", "v9.0"}, {"namespace", "k"}, {"destination_url", "https://x"}}, "api_version"},
      {{{"namespace", "k"}, {"destination_url", "https://x"}}, "api_version"}};
  for (const auto& [hook, field] : refused) {
    Reply reply = create(hook);
    EXPECT_EQ(reply.status, 400) << hook.dump();
    EXPECT_NE(reply.body.dump().find(field), std::string::npos) << hook.dump() << ": " << reply.body.dump();
  }
  EXPECT_EQ(create({{"api_version", "v4"}, {"namespace", "k"}, {"destination_url", "https://x"}}).status,
            201);
  EXPECT_EQ(api.Call("POST", "/rest/v1.0/webhooks/hooks", {{"company_id", kCompanyId}}).status, 400);
  // Not JSON at all.
  Reply garbled = api.CallRaw("POST", "/rest/v1.0/webhooks/hooks?" + CompanyScope(), "{not json");
  EXPECT_EQ(garbled.status, 400);
  EXPECT_EQ(garbled.body["error"]["message"], "The request body is not valid JSON");
}

TEST(WebhooksApiTest, ScopeIsRequiredAndSeparatesHooks) {
  WebhooksApi api;
  json hook = {
      {"hook", {{"api_version", "v2.0"}, {"namespace", "ktrack"}, {"destination_url", "https://x/h"}}}};
  // Without a scope, or with one that is not an id, each call is refused for its scope.
  for (const Reply& reply :
       {api.Call("POST", "/rest/v1.0/webhooks/hooks", hook), api.Call("GET", "/rest/v1.0/webhooks/hooks"),
        api.Call("GET", "/rest/v1.0/webhooks/hooks?company_id=abc"),
        api.Call("GET", "/rest/v1.0/webhooks/resources"),
        api.Call("GET", "/rest/v1.0/webhooks/hooks/1/deliveries")}) {
    EXPECT_EQ(reply.status, 400);
    EXPECT_NE(reply.body.dump().find("company_id"), std::string::npos) << reply.body.dump();
  }

  const int64_t id = api.CreateHook(CompanyScope(), "https://x/h", "v2.0", {{"RFIs", "create"}});
  // The same hook is invisible from a project scope (or another company).
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?" + ProjectScope()).body.size(), 0u);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?company_id=11").body.size(), 0u);
  EXPECT_EQ(api.Call("GET", HookPath(id) + "?" + ProjectScope()).status, 404);
  EXPECT_EQ(api.Call("PATCH", HookPath(id) + "?" + ProjectScope(), {{"hook", {{"namespace", "x"}}}}).status,
            404);
  EXPECT_EQ(api.Call("DELETE", HookPath(id) + "?" + ProjectScope()).status, 404);
  EXPECT_EQ(api.Call("GET", HookPath(id, "/triggers?") + ProjectScope()).status, 404);
  EXPECT_EQ(api.Call("GET", HookPath(id, "/deliveries?") + ProjectScope()).status, 404);
  EXPECT_EQ(api.Call("POST", HookPath(id, "/triggers?") + ProjectScope(),
                     {{"trigger", {{"resource_name", "RFIs"}, {"event_type", "update"}}}})
                .status,
            404);
  EXPECT_EQ(api.Call("GET", HookPath(id, "/triggers?") + CompanyScope()).status, 200);
}

TEST(WebhooksApiTest, AuthenticatorAnswerIsReturnedAsIs) {
  WebhooksApi api;
  Reply reply = api.Call("GET", "/rest/v1.0/webhooks/hooks?" + CompanyScope(), nullptr, {{"X-Deny", "1"}});
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.body["errors"], "You do not have access to the Webhooks API");
  // Authentication comes first: even a request without scope gets the authenticator's answer.
  EXPECT_EQ(api.Call("POST", "/rest/v1.0/webhooks/hooks", nullptr, {{"X-Deny", "1"}}).status, 403);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/resources", nullptr, {{"X-Deny", "1"}}).status, 403);
  EXPECT_EQ(api.Authenticated(), 3);
}

// ---- triggers
// ----------------------------------------------------------------------------------------------

TEST(WebhooksApiTest, TriggerCrudMatchesTheContract) {
  WebhooksApi api;
  const int64_t id = api.CreateHook(CompanyScope(), "https://x/h", "v2.0", {});
  Reply created = api.Call("POST", HookPath(id, "/triggers"),
                           {{"company_id", kCompanyId},
                            {"api_version", "v2.0"},
                            {"trigger", {{"resource_name", "RFIs"}, {"event_type", "create"}}}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectMatchesContract("RestV10WebhooksHooksHookIdTriggersPost", 201, created.body);
  EXPECT_EQ(created.body["webhook_hook_id"], id);
  EXPECT_EQ(created.body["resource_name"], "RFIs");
  EXPECT_TRUE(kt::IEquals(created.body["event_type"].get<std::string>(), "create"));
  EXPECT_EQ(created.body["company_id"], kCompanyId);
  EXPECT_EQ(created.body["user_id"], kUserId);

  // A second identical trigger, an unknown resource, a bad event type.
  json same = {{"trigger", {{"resource_name", "RFIs"}, {"event_type", "CREATE"}}}};
  EXPECT_EQ(api.Call("POST", HookPath(id, "/triggers?") + CompanyScope(), same).status, 422);
  json unknown = {{"trigger", {{"resource_name", "Unicorns"}, {"event_type", "create"}}}};
  EXPECT_EQ(api.Call("POST", HookPath(id, "/triggers?") + CompanyScope(), unknown).status, 422);
  json bad_event = {{"trigger", {{"resource_name", "RFIs"}, {"event_type", "upsert"}}}};
  EXPECT_EQ(api.Call("POST", HookPath(id, "/triggers?") + CompanyScope(), bad_event).status, 400);
  json other = {{"trigger", {{"resource_name", "RFIs"}, {"event_type", "update"}}}};
  EXPECT_EQ(api.Call("POST", HookPath(999, "/triggers?") + CompanyScope(), other).status, 404);

  Reply listed = api.Call("GET", HookPath(id, "/triggers?") + CompanyScope());
  ASSERT_EQ(listed.status, 200);
  ExpectMatchesContract("RestV10WebhooksHooksHookIdTriggersGet", 200, listed.body);
  ASSERT_EQ(listed.body.size(), 1u);

  const int64_t trigger_id = created.body["id"];
  EXPECT_EQ(api.Call("DELETE", HookPath(id, "/triggers/" + std::to_string(trigger_id) + "?") + CompanyScope())
                .status,
            200);
  EXPECT_EQ(api.Call("DELETE", HookPath(id, "/triggers/" + std::to_string(trigger_id) + "?") + CompanyScope())
                .status,
            404);
  EXPECT_EQ(api.Call("GET", HookPath(id, "/triggers?") + CompanyScope()).body.size(), 0u);
}

TEST(WebhooksApiTest, BulkTriggersCapAt500AndReportPartialSuccess) {
  WebhooksApi api;
  const int64_t id = api.CreateHook(CompanyScope(), "https://x/h", "v2.0", {});
  const std::string bulk = HookPath(id, "/triggers/bulk");

  // Every resource and event type: all succeed, 200.
  json all = json::array();
  for (const auto& resource : WebhookResources()) {
    for (const char* event : {"create", "update", "delete"}) {
      all.push_back({{"resource_name", resource.name}, {"event_type", event}});
    }
  }
  Reply ok = api.Call("POST", bulk, {{"company_id", kCompanyId}, {"api_version", "v2.0"}, {"triggers", all}});
  ASSERT_EQ(ok.status, 200) << ok.raw.substr(0, 500);
  ExpectMatchesContract("RestV10WebhooksHooksHookIdTriggersBulkPost", 200, ok.body);
  EXPECT_EQ(ok.body["success"].size(), all.size());
  EXPECT_EQ(ok.body["failed"].size(), 0u);

  // 501 is too many, whatever they are.
  json too_many = json::array();
  for (int i = 0; i < 501; ++i) too_many.push_back({{"resource_name", "RFIs"}, {"event_type", "create"}});
  EXPECT_EQ(api.Call("POST", bulk, {{"company_id", kCompanyId}, {"triggers", too_many}}).status, 413);
  EXPECT_EQ(
      api.Call("POST", "/rest/v1.0/webhooks/hooks", {{"company_id", kCompanyId}, {"triggers", too_many}})
          .status,
      400);  // not a bulk route: hook missing

  // Exactly 500 is accepted; duplicates and unknown names fail one by one: 207.
  const int64_t second = api.CreateHook(CompanyScope(), "https://x/h2", "v2.0", {});
  json five_hundred = json::array();
  five_hundred.push_back({{"resource_name", "Unicorns"}, {"event_type", "create"}});
  for (int i = 0; i < 499; ++i) five_hundred.push_back({{"resource_name", "RFIs"}, {"event_type", "update"}});
  Reply partial = api.Call("POST", HookPath(second, "/triggers/bulk"),
                           {{"company_id", kCompanyId}, {"triggers", five_hundred}});
  ASSERT_EQ(partial.status, 207) << partial.raw.substr(0, 500);
  ASSERT_EQ(partial.body["success"].size(), 1u);
  EXPECT_EQ(partial.body["success"][0]["resource_name"], "RFIs");
  ASSERT_EQ(partial.body["failed"].size(), 499u);
  EXPECT_EQ(partial.body["failed"][0]["resource_name"], "Unicorns");
  EXPECT_TRUE(partial.body["failed"][0]["error"].is_string());
  EXPECT_EQ(api.Call("POST", bulk, {{"company_id", kCompanyId}, {"triggers", json::array()}}).status, 400);

  // Bulk delete: known ids go, an unknown one fails: 207; then all known: 200.
  json ids = json::array();
  ids.push_back(ok.body["success"][0]["id"]);
  ids.push_back(ok.body["success"][1]["id"]);
  ids.push_back(123456);
  Reply deleted = api.Call("DELETE", bulk + "?" + CompanyScope(), {{"triggers", ids}});
  ASSERT_EQ(deleted.status, 207) << deleted.raw.substr(0, 500);
  EXPECT_EQ(deleted.body["success"].size(), 2u);
  EXPECT_EQ(deleted.body["failed"].size(), 1u);
  json rest = json::array();
  for (size_t i = 2; i < ok.body["success"].size(); ++i)
    rest.push_back({{"id", ok.body["success"][i]["id"]}});
  EXPECT_EQ(api.Call("DELETE", bulk, {{"company_id", kCompanyId}, {"triggers", rest}}).status, 200);
  EXPECT_EQ(api.Call("GET", HookPath(id, "/triggers?") + CompanyScope()).body.size(), 0u);
}

TEST(WebhooksApiTest, ResourcesListTheTableInTheContractShape) {
  WebhooksApi api;
  Reply reply = api.Call("GET", "/rest/v1.0/webhooks/resources?" + ProjectScope());
  ASSERT_EQ(reply.status, 200);
  ExpectMatchesContract("RestV10WebhooksResourcesGet", 200, reply.body);
  std::set<std::string> names;
  for (const auto& item : reply.body) names.insert(item["resource_name"]);
  for (const char* expected :
       {"Projects", "Company Users", "Company Vendors", "Trades", "Cost Codes", "Budget Line Items",
        "Work Order Contracts", "Purchase Order Contracts", "Commitment Change Orders", "Prime Contracts",
        "Prime Change Orders", "Change Events", "Direct Costs", "RFIs", "Submittals", "Manpower Logs",
        "Project Users", "Project Vendors"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }
  EXPECT_EQ(reply.body.size(), 18u);
  EXPECT_EQ(reply.body[0]["api_version"], "v2.0");
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/resources?api_version=v4&" + CompanyScope())
                .body[0]["api_version"],
            "v4.0");
}

// ---- payloads
// ----------------------------------------------------------------------------------------------

TEST(WebhookPayloadTest, UlidsAndTimestampsHaveProcoresShape) {
  kt::SeededRandom random(1);
  const std::regex crockford("[0-9A-HJKMNP-TV-Z]{26}");
  std::string a = MakeUlid(1'700'000'000'000, random);
  std::string b = MakeUlid(1'700'000'000'001, random);
  EXPECT_TRUE(std::regex_match(a, crockford)) << a;
  EXPECT_LT(a, b);                           // time-ordered
  EXPECT_EQ(a.substr(0, 10), "01HF7YAT00");  // 48-bit time 1700000000000 ms in Crockford base32
  EXPECT_EQ(FormatTimestampMicros(1'700'000'000'123), "2023-11-14T22:13:20.123000Z");
}

// ---- deliveries
// --------------------------------------------------------------------------------------------

std::vector<json> Bodies(const TestReceiver& receiver) {
  std::vector<json> out;
  for (const auto& request : receiver.Requests()) out.push_back(json::parse(request.body));
  return out;
}

TEST(WebhookDeliveryTest, V2PayloadWithAuthorizationReachesTheReceiver) {
  TestReceiver receiver;
  WebhooksApi api;
  api.Service().Start();
  api.CreateHook(CompanyScope(), receiver.Url(), "v2", {{"RFIs", "create"}, {"Company Users", "update"}});

  api.Service().Publish(api.Event("RFIs", "create", kProjectId, 7001));
  api.Service().Publish(api.Event("RFIs", "update", kProjectId, 7001));              // no trigger
  api.Service().Publish(api.Event("RFIs", "create", 999, 7002, /*company_id=*/11));  // another company
  api.Service().Publish(api.Event("Company Users", "update", std::nullopt, 42));
  ASSERT_TRUE(receiver.WaitForCount(2, 5s));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(receiver.Count(), 2u);

  const ReceivedRequest request = receiver.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/procore/webhook");
  EXPECT_EQ(request.headers.at("content-type"), "application/json");
  EXPECT_EQ(request.headers.at("authorization"), kSecret);
  json event = json::parse(request.body);
  EXPECT_TRUE(event["id"].is_number_integer());
  EXPECT_TRUE(std::regex_match(event["ulid"].get<std::string>(), std::regex("[0-9A-HJKMNP-TV-Z]{26}")));
  EXPECT_TRUE(std::regex_match(event["timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << event["timestamp"];
  EXPECT_EQ(event["api_version"], "v2.0");
  EXPECT_EQ(event["event_type"], "create");
  EXPECT_EQ(event["resource_name"], "RFIs");
  EXPECT_EQ(event["resource_id"], 7001);
  EXPECT_EQ(event["company_id"], kCompanyId);
  EXPECT_EQ(event["project_id"], kProjectId);
  EXPECT_EQ(event["user_id"], 77);
  EXPECT_EQ(event["metadata"]["source_application_id"], "other-app");
  EXPECT_EQ(event["metadata"]["source_user_id"], 77);
  EXPECT_EQ(event["metadata"]["source_company_id"], kCompanyId);
  EXPECT_EQ(event["metadata"]["source_project_id"], kProjectId);
  EXPECT_TRUE(event["metadata"].contains("source_operation_id"));

  json company_event = json::parse(receiver.Requests()[1].body);
  EXPECT_EQ(company_event["resource_name"], "Company Users");
  EXPECT_TRUE(company_event["project_id"].is_null());
  EXPECT_NE(company_event["ulid"], event["ulid"]);
  EXPECT_NE(company_event["id"], event["id"]);

  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["succeeded"] == 2; }));
  json stats = api.Service().Stats();
  EXPECT_EQ(stats["attempted"], 2);
  EXPECT_EQ(stats["failed"], 0);
  EXPECT_EQ(stats["queued"], 0);
  api.Service().Stop();
}

TEST(WebhookDeliveryTest, V4PayloadHasStringIdsAndProjectHooksHearOnlyTheirProject) {
  TestReceiver receiver;
  WebhooksApi api;
  api.Service().Start();
  api.CreateHook(ProjectScope(), receiver.Url("/v4"), "v4.0", {{"Submittals", "delete"}});

  api.Service().Publish(api.Event("Submittals", "delete", kOtherProjectId, 1));
  api.Service().Publish(api.Event("Submittals", "delete", kProjectId, 2));
  ASSERT_TRUE(receiver.WaitForCount(1, 5s));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(receiver.Count(), 1u);
  EXPECT_EQ(receiver.Requests()[0].headers.at("authorization"), kSecret);
  json event = json::parse(receiver.Requests()[0].body);
  for (const char* field :
       {"id", "timestamp", "reason", "company_id", "project_id", "user_id", "resource_type", "resource_id"}) {
    ASSERT_TRUE(event.contains(field)) << field;
    EXPECT_TRUE(event[field].is_string()) << field << " " << event[field];
  }
  EXPECT_EQ(event["id"].get<std::string>().size(), 26u);
  EXPECT_EQ(event["reason"], "delete");
  EXPECT_EQ(event["resource_type"], "Submittals");
  EXPECT_EQ(event["resource_id"], "2");
  EXPECT_EQ(event["project_id"], std::to_string(kProjectId));
  EXPECT_EQ(event["company_id"], std::to_string(kCompanyId));
  EXPECT_FALSE(event.contains("event_type"));
  EXPECT_FALSE(event.contains("ulid"));
}

TEST(WebhookDeliveryTest, OneChangeReachesEveryMatchingHookWithTheSameEventId) {
  TestReceiver company_receiver;
  TestReceiver project_receiver;
  WebhooksApi api;
  api.Service().Start();
  api.CreateHook(CompanyScope(), company_receiver.Url(), "v2.0", {{"RFIs", "update"}});
  api.CreateHook(ProjectScope(), project_receiver.Url(), "v2.0", {{"RFIs", "update"}});
  api.Service().Publish(api.Event("RFIs", "update", kProjectId, 5));
  ASSERT_TRUE(company_receiver.WaitForCount(1, 5s));
  ASSERT_TRUE(project_receiver.WaitForCount(1, 5s));
  EXPECT_EQ(json::parse(company_receiver.Requests()[0].body)["ulid"],
            json::parse(project_receiver.Requests()[0].body)["ulid"]);
}

TEST(WebhookDeliveryTest, FailedDeliveryIsRetriedWithBackoffAndTheEndpointWaits) {
  TestReceiver receiver;
  receiver.SetResponder([](const ReceivedRequest&, size_t n) { return n < 3 ? 500 : 200; });
  WebhooksApi api;
  const int64_t hook = api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"RFIs", "create"}});
  for (int i = 1; i <= 3; ++i) api.Service().Publish(api.Event("RFIs", "create", kProjectId, i));
  api.Service().Start();
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["succeeded"] == 3; })) << api.Service().Stats();

  // The first event is tried 4 times before the others are sent at all: per-endpoint FIFO.
  std::vector<int64_t> resource_ids;
  for (const auto& body : Bodies(receiver)) resource_ids.push_back(body["resource_id"]);
  EXPECT_EQ(resource_ids, (std::vector<int64_t>{1, 1, 1, 1, 2, 3}));
  json stats = api.Service().Stats();
  EXPECT_EQ(stats["attempted"], 6);
  EXPECT_EQ(stats["failed"], 3);
  EXPECT_EQ(stats["discarded"], 0);
  EXPECT_EQ(stats["hooks"][std::to_string(hook)]["succeeded"], 3);

  Reply deliveries = api.Call("GET", HookPath(hook, "/deliveries?") + CompanyScope());
  ASSERT_EQ(deliveries.status, 200);
  ExpectMatchesContract("RestV10WebhooksHooksHookIdDeliveriesGet", 200, deliveries.body);
  ASSERT_EQ(deliveries.body.size(), 3u);
  const json& first = deliveries.body[0];
  EXPECT_EQ(first["status"], "successful");
  ASSERT_EQ(first["attempts"].size(), 4u);
  EXPECT_EQ(first["attempts"][0]["response_status"], 500);
  EXPECT_EQ(first["attempts"][3]["response_status"], 200);
  EXPECT_EQ(first["response_status"], 200);
  // Backoff doubles from 1 s (emulated): the gaps between attempts grow.
  auto at = [&](int i) { return *kt::ParseIso8601(first["attempts"][i]["started_at"].get<std::string>()); };
  EXPECT_GE(at(1) - at(0), 1000);
  EXPECT_GE(at(2) - at(1), 2000);
  EXPECT_GE(at(3) - at(2), 4000);
  EXPECT_LT(at(3) - at(0), 3600 * 1000);  // far from the 1 h cap (scheduling jitter is scaled up too)
}

TEST(WebhookDeliveryTest, FailingEndpointIsDiscardedAfter12EmulatedHoursThenStartsAfresh) {
  TestReceiver receiver;
  std::atomic<bool> healthy{false};
  receiver.SetResponder([&](const ReceivedRequest&, size_t) { return healthy ? 204 : 503; });
  TestReceiver other;  // another endpoint keeps flowing meanwhile
  WebhooksApi api;
  const int64_t hook = api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"RFIs", "create"}});
  const int64_t other_hook = api.CreateHook(CompanyScope(), other.Url(), "v2.0", {{"Projects", "update"}});
  api.Service().Start();
  const int64_t started_ms = api.Clock().NowMs();
  for (int i = 1; i <= 3; ++i) api.Service().Publish(api.Event("RFIs", "create", kProjectId, i));
  api.Service().Publish(api.Event("Projects", "update", kProjectId, kProjectId));
  ASSERT_TRUE(other.WaitForCount(1, 5s));

  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["discarded"] == 3; }, 20s))
      << api.Service().Stats();
  const int64_t elapsed_ms = api.Clock().NowMs() - started_ms;
  EXPECT_GE(elapsed_ms, 12 * 3600 * 1000);
  // Only the head of the queue was ever sent; the others waited behind it, then were flushed.
  std::set<int64_t> sent;
  for (const auto& body : Bodies(receiver)) sent.insert(body["resource_id"].get<int64_t>());
  EXPECT_EQ(sent, std::set<int64_t>{1});
  // 1+2+4+...+2048 s, then hourly until 12 h: about 23 attempts.
  EXPECT_GE(receiver.Count(), 15u);
  EXPECT_LE(receiver.Count(), 30u);
  json stats = api.Service().Stats();
  EXPECT_EQ(stats["queued"], 0);
  EXPECT_EQ(stats["paused_endpoints"], 0);
  EXPECT_EQ(stats["hooks"][std::to_string(other_hook)]["succeeded"], 1);

  // The next new event starts a fresh cycle.
  healthy = true;
  api.Service().Publish(api.Event("RFIs", "create", kProjectId, 4));
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["succeeded"] == 2; })) << api.Service().Stats();
  EXPECT_EQ(Bodies(receiver).back()["resource_id"], 4);

  auto list = [&](const std::string& query) {
    Reply reply = api.Call("GET", HookPath(hook, "/deliveries?") + CompanyScope() + query);
    EXPECT_EQ(reply.status, 200) << reply.raw;
    return reply.body;
  };
  EXPECT_EQ(list("&filters[status]=discarded").size(), 3u);
  EXPECT_EQ(list("&filter[status]=discarded").size(), 3u);
  EXPECT_EQ(list("&filters[status]=successful").size(), 1u);
  EXPECT_EQ(list("&filters[status]=failing").size(), 0u);
  EXPECT_EQ(list("").size(), 4u);
  EXPECT_EQ(list("&filters[status]=any").size(), 4u);
  json discarded = list("&filters[status]=discarded");
  EXPECT_EQ(discarded[0]["outcome"], "discarded");
  EXPECT_GE(discarded[0]["attempts"].size(), 15u);
  EXPECT_EQ(discarded[1]["attempts"].size(), 0u);  // never sent
}

TEST(WebhookDeliveryTest, DeliveriesFilterByStatusAndPageByCursor) {
  TestReceiver good;
  TestReceiver bad;
  bad.SetResponder([](const ReceivedRequest&, size_t) { return 500; });
  WebhooksApi api(1.0);  // real time: the failing delivery stays failing for the whole test
  const int64_t good_hook = api.CreateHook(ProjectScope(), good.Url(), "v2.0", {{"Direct Costs", "create"}});
  const int64_t bad_hook = api.CreateHook(ProjectScope(), bad.Url(), "v2.0", {{"Direct Costs", "create"}});
  api.Service().Start();
  for (int i = 1; i <= 5; ++i) api.Service().Publish(api.Event("Direct Costs", "create", kProjectId, i));
  ASSERT_TRUE(good.WaitForCount(5, 5s));
  ASSERT_TRUE(bad.WaitForCount(1, 5s));
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["succeeded"] == 5 && s["failed"] >= 1; }));

  auto list = [&](int64_t hook, const std::string& query) {
    Reply reply = api.Call("GET", HookPath(hook, "/deliveries?") + ProjectScope() + query);
    EXPECT_EQ(reply.status, 200) << reply.raw;
    return reply.body;
  };
  EXPECT_EQ(list(good_hook, "&filters[status]=successful").size(), 5u);
  EXPECT_EQ(list(good_hook, "&filters[status]=failing").size(), 0u);
  json failing = list(bad_hook, "&filter[status]=failing");
  ASSERT_EQ(failing.size(), 1u);  // the head; the rest have not been attempted yet
  EXPECT_EQ(failing[0]["outcome"], "retried");
  EXPECT_EQ(failing[0]["response_status"], 500);
  EXPECT_TRUE(failing[0]["next_attempt_at"].is_string());
  EXPECT_EQ(list(bad_hook, "&filters[status]=successful").size(), 0u);
  EXPECT_EQ(
      api.Call("GET", HookPath(good_hook, "/deliveries?") + ProjectScope() + "&filters[status]=bogus").status,
      400);

  // Cursor paging: page_start is the last id of the previous page.
  json page1 = list(good_hook, "&page_size=2");
  ASSERT_EQ(page1.size(), 2u);
  json page2 = list(good_hook, "&page_size=2&page_start=" + std::to_string(page1[1]["id"].get<int64_t>()));
  ASSERT_EQ(page2.size(), 2u);
  json page3 = list(good_hook, "&page_size=2&page_start=" + std::to_string(page2[1]["id"].get<int64_t>()));
  ASSERT_EQ(page3.size(), 1u);
  EXPECT_LT(page1[1]["id"], page2[0]["id"]);
  std::vector<int64_t> resources;
  for (const json* page : {&page1, &page2, &page3}) {
    for (const auto& item : *page) resources.push_back(item["event"]["resource_id"]);
  }
  EXPECT_EQ(resources, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(list(good_hook, "").size(), 5u);  // default page size 100

  // Stop returns promptly although the bad endpoint sits in backoff.
  auto before = std::chrono::steady_clock::now();
  api.Service().Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 500ms);
}

TEST(WebhookDeliveryTest, ReorderRateLetsEventsOvertakeEachOther) {
  TestReceiver receiver;
  WebhooksApi api;
  api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"Change Events", "create"}});
  api.Service().SetFaults({.duplicate_rate = 0.0, .failure_rate = 0.0, .reorder_rate = 0.5});
  constexpr int kEvents = 100;
  // Queued before the threads start, so every event waits behind another one.
  for (int i = 1; i <= kEvents; ++i)
    api.Service().Publish(api.Event("Change Events", "create", kProjectId, i));
  api.Service().Start();
  ASSERT_TRUE(api.WaitForStats([&](const json& s) { return s["succeeded"] == kEvents; }, 20s));
  ASSERT_TRUE(receiver.WaitForCount(kEvents, 5s));
  json stats = api.Service().Stats();
  EXPECT_GE(stats["reordered"].get<int64_t>(), 10);
  std::vector<int64_t> order;
  std::set<int64_t> distinct;
  for (const auto& request : receiver.Requests()) {
    const int64_t id = json::parse(request.body)["resource_id"];
    order.push_back(id);
    distinct.insert(id);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kEvents)) << "every event once, none lost";
  int overtaken = 0;
  for (size_t i = 1; i < order.size(); ++i) overtaken += order[i] < order[i - 1];
  EXPECT_GT(overtaken, 0) << "some events arrive before earlier ones";
}

TEST(WebhookDeliveryTest, DuplicateRateSendsTheSameEventTwice) {
  TestReceiver receiver;
  WebhooksApi api;
  api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"Change Events", "create"}});
  api.Service().SetFaults({.duplicate_rate = 0.3, .failure_rate = 0.0});
  api.Service().Start();
  constexpr int kEvents = 200;
  for (int i = 1; i <= kEvents; ++i)
    api.Service().Publish(api.Event("Change Events", "create", kProjectId, i));
  ASSERT_TRUE(api.WaitForStats([&](const json& s) { return s["succeeded"] == kEvents; }, 20s));
  json stats = api.Service().Stats();
  const int64_t duplicated = stats["duplicated"];
  EXPECT_GE(duplicated, 30);  // 0.3 * 200 = 60 expected
  EXPECT_LE(duplicated, 95);
  ASSERT_TRUE(receiver.WaitForCount(static_cast<size_t>(kEvents + duplicated), 5s));
  std::map<std::string, int> seen;  // ulid -> times
  std::map<std::string, std::string> body_of;
  for (const auto& request : receiver.Requests()) {
    json event = json::parse(request.body);
    std::string ulid = event["ulid"];
    if (seen[ulid]++ > 0) {
      EXPECT_EQ(body_of[ulid], request.body);  // same id, ulid, everything
    }
    body_of[ulid] = request.body;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEvents));
  int twice = 0;
  for (const auto& [ulid, n] : seen) {
    EXPECT_LE(n, 2);
    twice += n == 2;
  }
  EXPECT_EQ(twice, duplicated);

  // Rate 1: every delivery twice.
  api.Service().SetFaults({.duplicate_rate = 1.0, .failure_rate = 0.0});
  api.Service().ResetStats();
  const size_t before = receiver.Count();
  for (int i = 1; i <= 10; ++i)
    api.Service().Publish(api.Event("Change Events", "create", kProjectId, 1000 + i));
  ASSERT_TRUE(receiver.WaitForCount(before + 20, 5s));
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["duplicated"] == 10 && s["succeeded"] == 10; }));
}

TEST(WebhookDeliveryTest, FailureRateFailsAttemptsWithoutSendingAndStillDeliversOnce) {
  TestReceiver receiver;
  WebhooksApi api;
  api.CreateHook(CompanyScope(), receiver.Url(), "v4.0", {{"Budget Line Items", "update"}});
  api.Service().SetFaults({.duplicate_rate = 0.0, .failure_rate = 0.5});
  api.Service().Start();
  constexpr int kEvents = 40;
  for (int i = 1; i <= kEvents; ++i)
    api.Service().Publish(api.Event("Budget Line Items", "update", kProjectId, i));
  ASSERT_TRUE(api.WaitForStats([&](const json& s) { return s["succeeded"] == kEvents; }, 20s))
      << api.Service().Stats();
  json stats = api.Service().Stats();
  EXPECT_GT(stats["failed"].get<int64_t>(), 5);
  EXPECT_EQ(stats["attempted"].get<int64_t>(), kEvents + stats["failed"].get<int64_t>());
  // Emulated failures are never sent: each event arrived exactly once, in order.
  std::vector<std::string> ids;
  for (const auto& body : Bodies(receiver)) ids.push_back(body["resource_id"]);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(ids[i], std::to_string(i + 1));
}

TEST(WebhookDeliveryTest, UnreachableEndpointCountsAsFailure) {
  uint16_t closed_port;
  {
    TestReceiver gone;  // bind a port, then free it
    closed_port =
        static_cast<uint16_t>(std::stoi(gone.Url("").substr(std::string("http://127.0.0.1:").size())));
  }
  WebhooksApi api;
  const int64_t hook =
      api.CreateHook(CompanyScope(), "http://127.0.0.1:" + std::to_string(closed_port) + "/x", "v2.0",
                     {{"Trades", "create"}});
  api.Service().Start();
  api.Service().Publish(api.Event("Trades", "create", std::nullopt, 3));
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["failed"] >= 2; }));
  json failing =
      api.Call("GET", HookPath(hook, "/deliveries?filters[status]=failing&") + CompanyScope()).body;
  ASSERT_EQ(failing.size(), 1u);
  EXPECT_TRUE(failing[0]["response_status"].is_null());
  EXPECT_EQ(failing[0]["response_error"], "connection_refused");
  EXPECT_GE(api.Service().Stats()["paused_endpoints"], 1);
}

TEST(WebhookDeliveryTest, DeletingAHookDiscardsItsQueueAndResetForgetsEverything) {
  TestReceiver receiver;
  receiver.SetResponder([](const ReceivedRequest&, size_t) { return 500; });
  WebhooksApi api(1.0);
  const int64_t hook = api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"RFIs", "create"}});
  api.Service().Start();
  for (int i = 1; i <= 3; ++i) api.Service().Publish(api.Event("RFIs", "create", kProjectId, i));
  ASSERT_TRUE(receiver.WaitForCount(1, 5s));
  EXPECT_EQ(api.Call("DELETE", HookPath(hook) + "?" + CompanyScope()).status, 200);
  ASSERT_TRUE(api.WaitForStats([](const json& s) { return s["queued"] == 0 && s["discarded"] >= 2; }));

  const int64_t second = api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {{"RFIs", "create"}});
  api.Service().Publish(api.Event("RFIs", "create", kProjectId, 9));
  api.Service().Reset();
  json stats = api.Service().Stats();
  EXPECT_EQ(stats["queued"], 0);
  EXPECT_EQ(stats["attempted"], 0);
  EXPECT_EQ(api.Call("GET", "/rest/v1.0/webhooks/hooks?" + CompanyScope()).body.size(), 0u);
  EXPECT_EQ(api.Call("GET", HookPath(second, "/deliveries?") + CompanyScope()).status, 404);
  // Ids are not reused after a reset.
  EXPECT_GT(api.CreateHook(CompanyScope(), receiver.Url(), "v2.0", {}), second);
}

TEST(WebhookDeliveryTest, DeliveryHistoryIsBounded) {
  TestReceiver receiver;
  EmulatedClock clock(kFastScale);
  DeliveryOptions options;
  options.max_records = 3;
  options.threads = 2;
  DeliveryEngine engine(
      clock, 7,
      [&](int64_t) {
        return DeliveryDestination{receiver.Url(), ""};
      },
      options);
  engine.Start();
  for (int i = 1; i <= 5; ++i) engine.Enqueue(1, receiver.Url(), i, {{"n", i}});
  ASSERT_TRUE(receiver.WaitForCount(5, 5s));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine.Stats()["succeeded"] != 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  json listed = engine.ListDeliveries(1, "any", 0, 100);
  ASSERT_EQ(listed.size(), 3u);  // the oldest two were forgotten
  EXPECT_EQ(listed[0]["event"]["n"], 3);
  EXPECT_EQ(listed[2]["event"]["n"], 5);
  EXPECT_FALSE(receiver.Requests()[0].headers.count("authorization"));  // no header when the hook has none
  engine.Stop();
}

}  // namespace
}  // namespace procore_emulator
