// The Webhooks API v1.0 routes and MakeWebhookService: thin handlers over HookRegistry and DeliveryEngine.
#include <mutex>

#include "emulator/webhooks/delivery_engine.h"
#include "emulator/webhooks/event_payload.h"
#include "emulator/webhooks/hook_registry.h"
#include "emulator/webhooks/resources.h"
#include "emulator/webhooks/webhooks.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

using kt::http::Request;
using kt::http::Response;
using nlohmann::json;

constexpr size_t kMaxBulkTriggers = 500;
constexpr size_t kDefaultPageSize = 100;
constexpr size_t kMaxPageSize = 1000;
constexpr char kWebhooksPrefix[] = "/rest/v1.0/webhooks";

// Procore's v1 error bodies vary by endpoint; the webhooks endpoints use {"error": {"code", "message"}}.
Response ErrorResponse(const kt::Error& error) {
  return Response::Json(kt::HttpStatusFor(error.kind),
                        {{"error", {{"code", error.code}, {"message", error.message}}}});
}
Response ErrorResponse(kt::ErrorKind kind, std::string code, std::string message) {
  return ErrorResponse(kt::Fail(kind, std::move(code), std::move(message)).value());
}
Response BadRequest(const std::string& message) {
  return ErrorResponse(kt::ErrorKind::kInvalidInput, "bad_request", message);
}

// An id from a query string or a JSON body (number or numeric string).
std::optional<int64_t> IdFrom(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_string()) return kt::ParseInt64(value.get<std::string>());
  return std::nullopt;
}

// Reads company_id / project_id from the query, else from the body. project_id wins when both are sent.
kt::Result<WebhookScope> ScopeOf(const Request& request, const json& body) {
  auto read = [&](const char* key) -> kt::Result<std::optional<int64_t>> {
    std::optional<json> raw;
    if (auto q = request.Query(key)) {
      raw = json(*q);
    } else if (body.is_object() && body.contains(key) && !body[key].is_null()) {
      raw = body[key];
    }
    if (!raw) return std::optional<int64_t>();
    auto id = IdFrom(*raw);
    if (!id || *id <= 0) {
      return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                      std::string(key) + " must be a positive integer");
    }
    return id;
  };
  auto project_id = read("project_id");
  if (!project_id) return kt::Fail(project_id.error());
  if (*project_id) return WebhookScope{WebhookScope::Kind::kProject, **project_id};
  auto company_id = read("company_id");
  if (!company_id) return kt::Fail(company_id.error());
  if (*company_id) return WebhookScope{WebhookScope::Kind::kCompany, **company_id};
  return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                  "You must supply either a company_id or project_id");
}

json NullableId(const std::optional<int64_t>& id) {
  return id ? json(*id) : json();
}

std::string MaskAuthorization(const std::string& value) {
  constexpr size_t kShown = 5;
  if (value.size() <= kShown) return std::string(value.size(), '*');
  return std::string(value.size() - kShown, '*') + value.substr(value.size() - kShown);
}

json HookJson(const Hook& hook) {
  json headers = json::object();
  // Procore shows only the last 5 characters of the Authorization value.
  if (!hook.authorization.empty()) headers["Authorization"] = MaskAuthorization(hook.authorization);
  return {{"id", hook.id},
          {"api_version", hook.api_version},
          {"namespace", hook.namespace_name},
          {"destination_url", hook.destination_url},
          {"destination_headers", std::move(headers)},
          {"owned_by_company_id", hook.owned_by_company_id},
          {"owned_by_project_id", NullableId(hook.owned_by_project_id)},
          {"owned_by_user_id", hook.owned_by_user_id}};
}

json TriggerJson(const Trigger& trigger) {
  // The contract (Procore's OAS) enumerates CREATE|UPDATE|DELETE for triggers, while the guides and event
  // payloads use lower case. The emulator answers as the contract says, so a client must compare without
  // case.
  return {{"id", trigger.id},
          {"webhook_hook_id", trigger.hook_id},
          {"resource_name", trigger.resource_name},
          {"resource_id", nullptr},
          {"event_type", kt::ToLower(trigger.event_type) == "create"   ? "CREATE"
                         : kt::ToLower(trigger.event_type) == "update" ? "UPDATE"
                                                                       : "DELETE"},
          {"company_id", trigger.company_id},
          {"project_id", NullableId(trigger.project_id)},
          {"user_id", trigger.user_id}};
}

// Reads body["hook"] into a change; a wrong type is a 400.
kt::Result<HookChange> HookChangeFrom(const json& body) {
  HookChange change;
  if (!body.is_object() || !body.contains("hook") || !body["hook"].is_object()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "hook is required");
  }
  const json& hook = body["hook"];
  auto string_field = [&](const char* key, std::optional<std::string>& out) -> kt::Status {
    if (!hook.contains(key) || hook[key].is_null()) return {};
    if (!hook[key].is_string()) {
      return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                      std::string("hook[") + key + "] must be a string");
    }
    out = hook[key].get<std::string>();
    return {};
  };
  for (auto status :
       {string_field("api_version", change.api_version), string_field("namespace", change.namespace_name),
        string_field("destination_url", change.destination_url)}) {
    if (!status) return kt::Fail(status.error());
  }
  // Procore's examples also put api_version beside the hook.
  if (!change.api_version && body.contains("api_version") && body["api_version"].is_string()) {
    change.api_version = body["api_version"].get<std::string>();
  }
  if (hook.contains("destination_headers") && !hook["destination_headers"].is_null()) {
    const json& headers = hook["destination_headers"];
    if (!headers.is_object()) {
      return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                      "hook[destination_headers] must be an object");
    }
    change.authorization = "";
    for (const auto& [name, value] : headers.items()) {
      if (!kt::IEquals(name, "Authorization")) continue;
      if (!value.is_string()) {
        return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request",
                        "hook[destination_headers][Authorization] must be a string");
      }
      change.authorization = value.get<std::string>();
    }
  }
  return change;
}

std::optional<int64_t> PathId(const Request& request, const std::string& name) {
  auto id = kt::ParseInt64(request.PathParam(name));
  if (!id || *id <= 0) return std::nullopt;
  return id;
}

Response HookIdNotFound(const Request& request, const std::string& name) {
  return ErrorResponse(kt::ErrorKind::kNotFound, "not_found",
                       "Webhooks hook " + request.PathParam(name) + " not found");
}

// {resource_name, event_type} of one trigger.
kt::Result<std::pair<std::string, std::string>> TriggerFieldsFrom(const json& trigger) {
  if (!trigger.contains("resource_name") || !trigger["resource_name"].is_string()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "trigger[resource_name] is required");
  }
  if (!trigger.contains("event_type") || !trigger["event_type"].is_string()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "trigger[event_type] is required");
  }
  return std::pair{trigger["resource_name"].get<std::string>(), trigger["event_type"].get<std::string>()};
}

// The triggers[] of a bulk request (or a bare array body): 400 when missing or empty, 413 beyond 500.
kt::Result<const json*> BulkItems(const json& body) {
  const json* items = body.is_array() ? &body : nullptr;
  if (body.is_object() && body.contains("triggers")) items = &body["triggers"];
  if (!items || !items->is_array() || items->empty()) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "bad_request", "triggers must be a non-empty array");
  }
  if (items->size() > kMaxBulkTriggers) {
    return kt::Fail(kt::ErrorKind::kPayloadTooLarge, "payload_too_large",
                    "At most 500 triggers per bulk request (got " + std::to_string(items->size()) + ")");
  }
  return items;
}

Response Empty200() {
  Response response;
  response.status = 200;
  return response;
}

class WebhookServiceImpl final : public WebhookService {
 public:
  WebhookServiceImpl(EmulatedClock& clock, uint64_t seed)
      : clock_(clock),
        ulid_random_(seed ^ 0x9E3779B97F4A7C15ull),
        engine_(clock, seed, [this](int64_t hook_id) { return Destination(hook_id); }) {}
  ~WebhookServiceImpl() override { engine_.Stop(); }

  void RegisterRoutes(kt::http::Router& router, WebhookAuthenticator authenticate) override;
  void Publish(const ResourceEvent& event) override;
  void SetFaults(const WebhookFaults& faults) override { engine_.SetFaults(faults); }
  json Stats() const override { return engine_.Stats(); }
  void ResetStats() override { engine_.ResetStats(); }
  void Reset() override {
    registry_.Clear();
    engine_.Clear();
  }
  void Start() override { engine_.Start(); }
  void Stop() override { engine_.Stop(); }

 private:
  // A handler after authentication, with the parsed body and the request's scope.
  using ScopedHandler =
      std::function<Response(Request&, const WebhookCaller&, const WebhookScope&, const json&)>;
  kt::http::Handler Scoped(WebhookAuthenticator authenticate, ScopedHandler handler);

  std::optional<DeliveryDestination> Destination(int64_t hook_id) const {
    auto hook = registry_.FindHook(hook_id);
    if (!hook) return std::nullopt;
    return DeliveryDestination{hook->destination_url, hook->authorization};
  }

  Response CreateHook(const WebhookCaller& caller, const WebhookScope& scope, const json& body);
  Response ListHooks(Request& request, const WebhookScope& scope);
  Response GetHook(Request& request, const WebhookScope& scope);
  Response UpdateHook(Request& request, const WebhookScope& scope, const json& body);
  Response DeleteHook(Request& request, const WebhookScope& scope);
  Response CreateTrigger(Request& request, const WebhookCaller& caller, const WebhookScope& scope,
                         const json& body);
  Response ListTriggers(Request& request, const WebhookScope& scope);
  Response DeleteTrigger(Request& request, const WebhookScope& scope);
  Response BulkCreateTriggers(Request& request, const WebhookCaller& caller, const WebhookScope& scope,
                              const json& body);
  Response BulkDeleteTriggers(Request& request, const WebhookScope& scope, const json& body);
  Response ListDeliveries(Request& request, const WebhookScope& scope);
  static Response ListResources(Request& request);

  EmulatedClock& clock_;
  std::mutex event_mu_;
  kt::SeededRandom ulid_random_;
  int64_t next_event_id_ = 1;
  HookRegistry registry_;
  DeliveryEngine engine_;  // after registry_: its threads stop before the registry goes
};

kt::http::Handler WebhookServiceImpl::Scoped(WebhookAuthenticator authenticate, ScopedHandler handler) {
  return
      [authenticate = std::move(authenticate), handler = std::move(handler)](Request& request) -> Response {
        auto auth = authenticate(request);
        if (auto* denied = std::get_if<Response>(&auth)) return std::move(*denied);
        const WebhookCaller& caller = std::get<WebhookCaller>(auth);
        json body;
        if (!kt::Trim(request.body).empty()) {
          body = json::parse(request.body, nullptr, false);
          if (body.is_discarded()) return BadRequest("The request body is not valid JSON");
        }
        auto scope = ScopeOf(request, body);
        if (!scope) return ErrorResponse(scope.error());
        return handler(request, caller, *scope, body);
      };
}

void WebhookServiceImpl::RegisterRoutes(kt::http::Router& router, WebhookAuthenticator authenticate) {
  const std::string base = kWebhooksPrefix;
  const std::string hook = base + "/hooks/{id}";
  const std::string triggers = base + "/hooks/{hook_id}/triggers";
  auto add = [&](const char* method, const std::string& pattern, ScopedHandler handler) {
    router.Add(method, pattern, Scoped(authenticate, std::move(handler)));
  };
  add("POST", base + "/hooks",
      [this](Request&, const WebhookCaller& caller, const WebhookScope& scope, const json& body) {
        return CreateHook(caller, scope, body);
      });
  add("GET", base + "/hooks",
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
        return ListHooks(request, scope);
      });
  add("GET", hook, [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
    return GetHook(request, scope);
  });
  add("PATCH", hook,
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json& body) {
        return UpdateHook(request, scope, body);
      });
  add("DELETE", hook, [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
    return DeleteHook(request, scope);
  });
  add("POST", triggers,
      [this](Request& request, const WebhookCaller& caller, const WebhookScope& scope, const json& body) {
        return CreateTrigger(request, caller, scope, body);
      });
  add("GET", triggers,
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
        return ListTriggers(request, scope);
      });
  add("DELETE", triggers + "/{id}",
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
        return DeleteTrigger(request, scope);
      });
  add("POST", triggers + "/bulk",
      [this](Request& request, const WebhookCaller& caller, const WebhookScope& scope, const json& body) {
        return BulkCreateTriggers(request, caller, scope, body);
      });
  add("DELETE", triggers + "/bulk",
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json& body) {
        return BulkDeleteTriggers(request, scope, body);
      });
  add("GET", base + "/hooks/{hook_id}/deliveries",
      [this](Request& request, const WebhookCaller&, const WebhookScope& scope, const json&) {
        return ListDeliveries(request, scope);
      });
  add("GET", base + "/resources",
      [](Request& request, const WebhookCaller&, const WebhookScope&, const json&) {
        return ListResources(request);
      });
  // The guides name this endpoint as the source of valid api_version values; its exact shape is unconfirmed.
  add("GET", base + "/resources/api_versions",
      [](Request&, const WebhookCaller&, const WebhookScope&, const json&) {
        return Response::Json(200, json::array({"v2.0", "v3.0", "v4.0"}));
      });
}

Response WebhookServiceImpl::CreateHook(const WebhookCaller& caller, const WebhookScope& scope,
                                        const json& body) {
  auto change = HookChangeFrom(body);
  if (!change) return ErrorResponse(change.error());
  auto hook = registry_.CreateHook(scope, caller, *change);
  if (!hook) return ErrorResponse(hook.error());
  return Response::Json(201, HookJson(*hook));
}

Response WebhookServiceImpl::ListHooks(Request& request, const WebhookScope& scope) {
  std::string api_version;
  if (auto raw = request.Query("api_version"); raw && !raw->empty()) {
    api_version = NormalizePayloadVersion(*raw);
    if (api_version.empty()) return BadRequest("api_version must be one of v2.0, v3.0, v4.0");
  }
  json out = json::array();
  for (const auto& hook : registry_.ListHooks(scope, request.Query("namespace").value_or(""), api_version)) {
    out.push_back(HookJson(hook));
  }
  return Response::Json(200, out);
}

Response WebhookServiceImpl::GetHook(Request& request, const WebhookScope& scope) {
  auto hook_id = PathId(request, "id");
  if (!hook_id) return HookIdNotFound(request, "id");
  auto hook = registry_.GetHook(scope, *hook_id);
  if (!hook) return ErrorResponse(hook.error());
  return Response::Json(200, HookJson(*hook));
}

Response WebhookServiceImpl::UpdateHook(Request& request, const WebhookScope& scope, const json& body) {
  auto hook_id = PathId(request, "id");
  if (!hook_id) return HookIdNotFound(request, "id");
  auto change = HookChangeFrom(body);
  if (!change) return ErrorResponse(change.error());
  auto hook = registry_.UpdateHook(scope, *hook_id, *change);
  if (!hook) return ErrorResponse(hook.error());
  return Response::Json(200, HookJson(*hook));
}

Response WebhookServiceImpl::DeleteHook(Request& request, const WebhookScope& scope) {
  auto hook_id = PathId(request, "id");
  if (!hook_id) return HookIdNotFound(request, "id");
  if (auto deleted = registry_.DeleteHook(scope, *hook_id); !deleted) return ErrorResponse(deleted.error());
  engine_.DropHook(*hook_id);
  return Empty200();
}

Response WebhookServiceImpl::CreateTrigger(Request& request, const WebhookCaller& caller,
                                           const WebhookScope& scope, const json& body) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  if (!body.is_object() || !body.contains("trigger") || !body["trigger"].is_object()) {
    return BadRequest("trigger is required");
  }
  auto fields = TriggerFieldsFrom(body["trigger"]);
  if (!fields) return ErrorResponse(fields.error());
  auto trigger = registry_.CreateTrigger(scope, *hook_id, caller, fields->first, fields->second);
  if (!trigger) return ErrorResponse(trigger.error());
  return Response::Json(201, TriggerJson(*trigger));
}

Response WebhookServiceImpl::ListTriggers(Request& request, const WebhookScope& scope) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  auto list = registry_.ListTriggers(scope, *hook_id);
  if (!list) return ErrorResponse(list.error());
  json out = json::array();
  for (const auto& trigger : *list) out.push_back(TriggerJson(trigger));
  return Response::Json(200, out);
}

Response WebhookServiceImpl::DeleteTrigger(Request& request, const WebhookScope& scope) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  auto trigger_id = PathId(request, "id");
  if (!trigger_id) {
    return ErrorResponse(kt::ErrorKind::kNotFound, "not_found",
                         "Webhooks trigger " + request.PathParam("id") + " not found");
  }
  if (auto deleted = registry_.DeleteTrigger(scope, *hook_id, *trigger_id); !deleted) {
    return ErrorResponse(deleted.error());
  }
  return Empty200();
}

Response WebhookServiceImpl::BulkCreateTriggers(Request& request, const WebhookCaller& caller,
                                                const WebhookScope& scope, const json& body) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  auto items = BulkItems(body);
  if (!items) return ErrorResponse(items.error());
  if (auto hook = registry_.GetHook(scope, *hook_id); !hook) return ErrorResponse(hook.error());
  json success = json::array();
  json failed = json::array();
  for (const json& item : **items) {
    auto fields = item.is_object()
                      ? TriggerFieldsFrom(item)
                      : kt::Result<std::pair<std::string, std::string>>(kt::Fail(
                            kt::ErrorKind::kInvalidInput, "bad_request", "Each trigger must be an object"));
    auto trigger = fields ? registry_.CreateTrigger(scope, *hook_id, caller, fields->first, fields->second)
                          : kt::Result<Trigger>(kt::Fail(fields.error()));
    if (trigger) {
      success.push_back(TriggerJson(*trigger));
    } else {
      json failure = item.is_object() ? item : json{{"trigger", item}};
      failure["error"] = trigger.error().message;
      failed.push_back(std::move(failure));
    }
  }
  // 200 when every trigger was created, 207 Multi-Status otherwise.
  const int status = failed.empty() ? 200 : 207;  // decided before `failed` is moved into the body
  return Response::Json(status, {{"success", std::move(success)}, {"failed", std::move(failed)}});
}

Response WebhookServiceImpl::BulkDeleteTriggers(Request& request, const WebhookScope& scope,
                                                const json& body) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  auto items = BulkItems(body);
  if (!items) return ErrorResponse(items.error());
  if (auto hook = registry_.GetHook(scope, *hook_id); !hook) return ErrorResponse(hook.error());
  json success = json::array();
  json failed = json::array();
  for (const json& item : **items) {
    // Trigger ids, or trigger objects carrying their id.
    std::optional<int64_t> trigger_id =
        item.is_object() && item.contains("id") ? IdFrom(item["id"]) : IdFrom(item);
    if (!trigger_id) {
      failed.push_back({{"id", item}, {"error", "Each entry must be a trigger id"}});
      continue;
    }
    if (auto deleted = registry_.DeleteTrigger(scope, *hook_id, *trigger_id); deleted) {
      success.push_back({{"id", *trigger_id}});
    } else {
      failed.push_back({{"id", *trigger_id}, {"error", deleted.error().message}});
    }
  }
  const int status = failed.empty() ? 200 : 207;  // decided before `failed` is moved into the body
  return Response::Json(status, {{"success", std::move(success)}, {"failed", std::move(failed)}});
}

Response WebhookServiceImpl::ListDeliveries(Request& request, const WebhookScope& scope) {
  auto hook_id = PathId(request, "hook_id");
  if (!hook_id) return HookIdNotFound(request, "hook_id");
  // The OAS and older guide say filters[status], the current guide filter[status]: both are accepted.
  std::string status =
      request.Query("filters[status]").value_or(request.Query("filter[status]").value_or("any"));
  if (status.empty()) status = "any";
  if (status != "any" && status != "successful" && status != "failing" && status != "discarded") {
    return BadRequest("filters[status] must be one of any, successful, failing, discarded");
  }
  size_t page_size = kDefaultPageSize;
  if (auto raw = request.Query("page_size"); raw && !raw->empty()) {
    auto value = kt::ParseInt64(*raw);
    if (!value || *value <= 0) return BadRequest("page_size must be a positive integer");
    page_size = std::min<size_t>(static_cast<size_t>(*value), kMaxPageSize);
  }
  int64_t page_start = 0;
  if (auto raw = request.Query("page_start"); raw && !raw->empty()) {
    auto value = kt::ParseInt64(*raw);
    if (!value || *value < 0) return BadRequest("page_start must be the last id of the previous page");
    page_start = *value;
  }
  if (auto hook = registry_.GetHook(scope, *hook_id); !hook) return ErrorResponse(hook.error());
  return Response::Json(200, engine_.ListDeliveries(*hook_id, status, page_start, page_size));
}

Response WebhookServiceImpl::ListResources(Request& request) {
  std::string api_version = "v2.0";
  if (auto raw = request.Query("api_version"); raw && !raw->empty()) {
    api_version = NormalizePayloadVersion(*raw);
    if (api_version.empty()) return BadRequest("api_version must be one of v2.0, v3.0, v4.0");
  }
  json out = json::array();
  for (const auto& resource : WebhookResources()) {
    out.push_back({{"resource_name", resource.name},
                   {"api_version", api_version},
                   {"product_category", resource.product_category},
                   {"tools", resource.tool},
                   {"except", json::array()},
                   {"create", "create"},
                   {"update", "update"},
                   {"delete", "delete"}});
  }
  return Response::Json(200, out);
}

void WebhookServiceImpl::Publish(const ResourceEvent& published) {
  ResourceEvent event = published;
  event.event_type = NormalizeEventType(event.event_type);
  if (event.event_type.empty() || !FindWebhookResource(event.resource_name)) return;
  if (event.at_ms == 0) event.at_ms = clock_.NowMs();
  std::vector<HookTarget> targets = registry_.Match(event);
  if (targets.empty()) return;
  EventIdentity identity;
  {
    std::lock_guard lock(event_mu_);
    identity.id = next_event_id_++;
    identity.ulid = MakeUlid(event.at_ms, ulid_random_);
  }
  for (const auto& target : targets) {
    engine_.Enqueue(target.hook_id, target.destination_url, identity.id,
                    BuildEventPayload(event, identity, target.api_version));
  }
}

}  // namespace

std::unique_ptr<WebhookService> MakeWebhookService(EmulatedClock& clock, uint64_t seed) {
  return std::make_unique<WebhookServiceImpl>(clock, seed);
}

}  // namespace procore_emulator
