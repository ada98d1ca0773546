// Webhooks API v1.0 calls. The Authorization secret of a hook is sent, never logged or kept in errors.
#include "procore/webhooks.h"

#include <algorithm>

#include "util/strings.h"

namespace kt::procore {
namespace {

using nlohmann::json;

ProcoreResult<json> ParseJson(const ApiResponse& response, const CallContext& context) {
  if (Trim(response.body).empty()) return json();
  auto j = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    Evidence ev;
    ev.status = response.status;
    ev.request_id = response.request_id;
    ev.body.message = "not JSON";
    return FailWith(ErrorCode::kInvalidResponse, context, ev);
  }
  return j;
}

void AddScope(json& body, const HookScope& scope) {
  if (scope.project_id) {
    body["project_id"] = scope.project_id;
  } else {
    body["company_id"] = scope.company_id;
  }
}

// A 207 item that failed: {"resource_name", "event_type", "error"/"errors"/"message"} or just a message.
FailedTrigger FailedTriggerFromJson(const json& j) {
  FailedTrigger f;
  if (j.is_object()) {
    const json& t = j.contains("trigger") && j["trigger"].is_object() ? j["trigger"] : j;
    f.trigger.resource_name = JsonString(t, "resource_name");
    f.trigger.event_type = ToLower(JsonString(t, "event_type"));
    f.error = ParseErrorBody(j.dump()).message;
  } else if (j.is_string()) {
    f.error = j.get<std::string>();
  }
  return f;
}

const json* ArrayField(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_array()) return &j[key];
  return nullptr;
}

// One object, bare or in a {"data": ...} wrapper.
const json& DataOf(const json& j) {
  return j.is_object() && j.contains("data") ? j["data"] : j;
}

// The items of a list, bare or in a {"data": [...]} wrapper.
template <typename T>
std::vector<T> ListOf(const json& j, T (*from)(const json&)) {
  std::vector<T> out;
  const json* items = j.is_array() ? &j : ArrayField(j, "data");
  if (items) {
    for (const auto& item : *items) out.push_back(from(item));
  }
  return out;
}

}  // namespace

Hook HookFromJson(const json& j) {
  Hook h;
  h.id = JsonId(j, "id").value_or(0);
  h.api_version = JsonString(j, "api_version");
  h.namespace_name = JsonString(j, "namespace");
  h.destination_url = JsonString(j, "destination_url");
  if (auto it = j.find("destination_headers"); it != j.end() && it->is_object()) {
    h.authorization_masked = JsonString(*it, "Authorization");
  }
  h.owned_by_company_id = JsonId(j, "owned_by_company_id").value_or(0);
  h.owned_by_project_id = JsonId(j, "owned_by_project_id").value_or(0);
  return h;
}

Trigger TriggerFromJson(const json& j) {
  Trigger t;
  t.id = JsonId(j, "id").value_or(0);
  t.hook_id = JsonId(j, "webhook_hook_id").value_or(0);
  t.resource_name = JsonString(j, "resource_name");
  t.event_type = ToLower(JsonString(j, "event_type"));  // the OAS shows "CREATE", the guides "create"
  t.company_id = JsonId(j, "company_id").value_or(0);
  t.project_id = JsonId(j, "project_id").value_or(0);
  return t;
}

Delivery DeliveryFromJson(const json& j) {
  Delivery d;
  d.id = JsonId(j, "id").value_or(0);
  d.event_id = JsonId(j, "event_id").value_or(0);
  d.outcome = JsonString(j, "outcome");
  d.response_status = static_cast<int>(JsonId(j, "response_status").value_or(0));
  d.response_error = JsonString(j, "response_error");
  d.started_at = JsonString(j, "started_at");
  d.completed_at = JsonString(j, "completed_at");
  if (auto it = j.find("event"); it != j.end()) d.event = *it;
  if (d.event_id == 0 && d.event.is_object()) d.event_id = JsonId(d.event, "id").value_or(0);
  return d;
}

WebhookResource WebhookResourceFromJson(const json& j) {
  WebhookResource r;
  r.name = JsonString(j, "resource_name");
  if (r.name.empty()) r.name = JsonString(j, "name");
  r.api_version = JsonString(j, "api_version");
  r.product_category = JsonString(j, "product_category");
  r.tools = JsonString(j, "tools");
  if (auto it = j.find("except"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_string()) r.except.push_back(ToLower(e.get<std::string>()));
    }
  }
  return r;
}

WebhooksApi::WebhooksApi(Client& client) : client_(client) {}

ProcoreResult<json> WebhooksApi::SendForJson(const ApiRequest& r) {
  auto response = client_.Send(r);
  if (!response) return tl::unexpected(response.error());
  return ParseJson(*response, r.context);
}

ApiRequest WebhooksApi::Request(const HookScope& scope, std::string method, std::string path) const {
  ApiRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.company_id = scope.company_id;
  r.priority = Priority::kInteractive;
  r.context.tool = "Webhooks API";
  r.context.required_level = "Standard";
  r.context.scope = scope.project_id ? Scope::kProject : Scope::kCompany;
  r.context.company_id = scope.company_id;
  r.context.project_id = scope.project_id;
  r.context.resource = "webhook";
  r.diagnose = false;
  if (r.method == "GET" || r.method == "DELETE") {
    if (scope.project_id) {
      r.query.emplace_back("project_id", std::to_string(scope.project_id));
    } else {
      r.query.emplace_back("company_id", std::to_string(scope.company_id));
    }
  }
  return r;
}

ProcoreResult<std::vector<Hook>> WebhooksApi::ListHooks(const HookScope& scope,
                                                        const std::string& namespace_name,
                                                        const std::string& api_version) {
  ApiRequest r = Request(scope, "GET", "/rest/v1.0/webhooks/hooks");
  if (!namespace_name.empty()) r.query.emplace_back("namespace", namespace_name);
  if (!api_version.empty()) r.query.emplace_back("api_version", api_version);
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return ListOf(*j, &HookFromJson);
}

ProcoreResult<Hook> WebhooksApi::CreateHook(const HookScope& scope, const HookSpec& spec) {
  ApiRequest r = Request(scope, "POST", "/rest/v1.0/webhooks/hooks");
  json body;
  AddScope(body, scope);
  json hook = {{"api_version", spec.api_version},
               {"namespace", spec.namespace_name},
               {"destination_url", spec.destination_url}};
  if (spec.authorization) hook["destination_headers"] = {{"Authorization", *spec.authorization}};
  body["hook"] = std::move(hook);
  r.body = body.dump();
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return HookFromJson(DataOf(*j));
}

ProcoreResult<Hook> WebhooksApi::UpdateHook(const HookScope& scope, int64_t hook_id, const HookPatch& patch) {
  ApiRequest r = Request(scope, "PATCH", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id));
  json body;
  AddScope(body, scope);
  json hook = json::object();
  if (patch.api_version) hook["api_version"] = *patch.api_version;
  if (patch.namespace_name) hook["namespace"] = *patch.namespace_name;
  if (patch.destination_url) hook["destination_url"] = *patch.destination_url;
  if (patch.authorization) hook["destination_headers"] = {{"Authorization", *patch.authorization}};
  body["hook"] = std::move(hook);
  r.body = body.dump();
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return HookFromJson(DataOf(*j));
}

ProcoreStatus WebhooksApi::DeleteHook(const HookScope& scope, int64_t hook_id) {
  ApiRequest r = Request(scope, "DELETE", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id));
  auto response = client_.Send(r);
  if (!response) return tl::unexpected(response.error());
  return {};
}

ProcoreResult<std::vector<Trigger>> WebhooksApi::ListTriggers(const HookScope& scope, int64_t hook_id) {
  ApiRequest r = Request(scope, "GET", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/triggers");
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return ListOf(*j, &TriggerFromJson);
}

ProcoreResult<Trigger> WebhooksApi::CreateTrigger(const HookScope& scope, int64_t hook_id,
                                                  const std::string& api_version,
                                                  const TriggerSpec& trigger) {
  ApiRequest r = Request(scope, "POST", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/triggers");
  json body;
  AddScope(body, scope);
  body["api_version"] = api_version;
  body["trigger"] = {{"resource_name", trigger.resource_name}, {"event_type", trigger.event_type}};
  r.body = body.dump();
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return TriggerFromJson(DataOf(*j));
}

ProcoreResult<BulkTriggersResult> WebhooksApi::BulkCreateTriggers(const HookScope& scope, int64_t hook_id,
                                                                  const std::string& api_version,
                                                                  std::span<const TriggerSpec> triggers) {
  BulkTriggersResult result;
  for (size_t offset = 0; offset < triggers.size(); offset += kMaxTriggersPerBulk) {
    auto chunk = triggers.subspan(offset, std::min(kMaxTriggersPerBulk, triggers.size() - offset));
    ApiRequest r =
        Request(scope, "POST", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/triggers/bulk");
    json body;
    AddScope(body, scope);
    body["api_version"] = api_version;
    json items = json::array();
    for (const auto& t : chunk)
      items.push_back({{"resource_name", t.resource_name}, {"event_type", t.event_type}});
    body["triggers"] = std::move(items);
    r.body = body.dump();
    auto j = SendForJson(r);
    if (!j) return tl::unexpected(j.error());
    if (const json* success = ArrayField(*j, "success")) {
      for (const auto& t : *success) result.created.push_back(TriggerFromJson(t));
    } else if (j->is_array()) {
      for (const auto& t : *j) result.created.push_back(TriggerFromJson(t));
    }
    if (const json* failed = ArrayField(*j, "failed")) {
      for (const auto& f : *failed) result.failed.push_back(FailedTriggerFromJson(f));
    }
  }
  return result;
}

ProcoreStatus WebhooksApi::DeleteTrigger(const HookScope& scope, int64_t hook_id, int64_t trigger_id) {
  ApiRequest r = Request(
      scope, "DELETE",
      "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/triggers/" + std::to_string(trigger_id));
  auto response = client_.Send(r);
  if (!response) return tl::unexpected(response.error());
  return {};
}

ProcoreResult<BulkDeleteResult> WebhooksApi::BulkDeleteTriggers(const HookScope& scope, int64_t hook_id,
                                                                std::span<const int64_t> trigger_ids) {
  BulkDeleteResult result;
  for (size_t offset = 0; offset < trigger_ids.size(); offset += kMaxTriggersPerBulk) {
    auto chunk = trigger_ids.subspan(offset, std::min(kMaxTriggersPerBulk, trigger_ids.size() - offset));
    ApiRequest r =
        Request(scope, "DELETE", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/triggers/bulk");
    json body;
    AddScope(body, scope);
    body["triggers"] = json(std::vector<int64_t>(chunk.begin(), chunk.end()));
    r.body = body.dump();
    auto j = SendForJson(r);
    if (!j) return tl::unexpected(j.error());
    const json* failed = ArrayField(*j, "failed");
    std::vector<int64_t> failed_ids;
    if (failed) {
      for (const auto& f : *failed) {
        int64_t id = f.is_number_integer() ? f.get<int64_t>() : JsonId(f, "id").value_or(0);
        failed_ids.push_back(id);
        result.failed.emplace_back(id, f.is_object() ? ParseErrorBody(f.dump()).message : std::string());
      }
    }
    for (int64_t id : chunk) {
      if (std::find(failed_ids.begin(), failed_ids.end(), id) == failed_ids.end())
        result.deleted.push_back(id);
    }
  }
  return result;
}

ProcoreResult<std::vector<Delivery>> WebhooksApi::ListDeliveries(const HookScope& scope, int64_t hook_id,
                                                                 const DeliveryQuery& query) {
  ApiRequest r =
      Request(scope, "GET", "/rest/v1.0/webhooks/hooks/" + std::to_string(hook_id) + "/deliveries");
  if (!query.status.empty() && query.status != "any") {
    // The OAS and the older guide say filters[status], the current guide filter[status] (§5.2): send both.
    r.query.emplace_back("filters[status]", query.status);
    r.query.emplace_back("filter[status]", query.status);
  }
  if (query.page_size > 0) r.query.emplace_back("page_size", std::to_string(query.page_size));
  if (query.page_start > 0) r.query.emplace_back("page_start", std::to_string(query.page_start));
  r.priority = query.priority;
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return ListOf(*j, &DeliveryFromJson);
}

ProcoreResult<DeliveryPages> WebhooksApi::ListDeliveryPages(const HookScope& scope, int64_t hook_id,
                                                            DeliveryQuery query, int max_pages) {
  DeliveryPages out;
  out.last_id = query.page_start;
  for (int pages = 0; pages < max_pages; ++pages) {
    auto page = ListDeliveries(scope, hook_id, query);
    if (!page) return tl::unexpected(page.error());
    for (auto& d : *page) {
      out.last_id = std::max(out.last_id, d.id);
      out.deliveries.push_back(std::move(d));
    }
    // A short page is the last (Procore's default page size is 100); so is one that does not move the cursor
    // (deliveries without ids).
    const size_t page_size = query.page_size > 0 ? static_cast<size_t>(query.page_size) : 100;
    const bool full = page->size() >= page_size;
    if (!full || out.last_id <= query.page_start) return out;
    query.page_start = out.last_id;
  }
  out.more = true;
  return out;
}

ProcoreResult<std::vector<WebhookResource>> WebhooksApi::ListResources(const HookScope& scope) {
  ApiRequest r = Request(scope, "GET", "/rest/v1.0/webhooks/resources");
  auto j = SendForJson(r);
  if (!j) return tl::unexpected(j.error());
  return ListOf(*j, &WebhookResourceFromJson);
}

}  // namespace kt::procore
