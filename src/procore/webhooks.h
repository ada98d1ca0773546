// Procore's Webhooks API v1.0 (procore-api.md §5.2): hooks, triggers (bulk up to 500, 207 partial success),
// deliveries and resources, in company or project scope.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "procore/client.h"

namespace kt::procore {

// Where hooks live. company_id is always set (it is also the Procore-Company-Id); project_id selects
// project scope. A hook, its triggers and its deliveries are always addressed in the same scope.
struct HookScope {
  int64_t company_id = 0;
  int64_t project_id = 0;
};

struct Hook {
  int64_t id = 0;
  std::string api_version;  // payload format, e.g. "v2.0"
  std::string namespace_name;
  std::string destination_url;
  std::string authorization_masked;  // Procore shows only the last 5 characters
  int64_t owned_by_company_id = 0;
  int64_t owned_by_project_id = 0;
};

struct HookSpec {
  std::string namespace_name;  // a-z, 0-9 and '-'
  std::string destination_url;
  std::string api_version = "v2.0";
  std::optional<std::string> authorization;  // sent back as the Authorization header of every delivery
};

struct HookPatch {
  std::optional<std::string> namespace_name;
  std::optional<std::string> destination_url;
  std::optional<std::string> api_version;
  std::optional<std::string> authorization;
};

struct TriggerSpec {
  std::string resource_name;  // "RFIs"
  std::string event_type;     // "create" | "update" | "delete"
};

struct Trigger {
  int64_t id = 0;
  int64_t hook_id = 0;
  std::string resource_name;
  std::string event_type;  // lower-cased
  int64_t company_id = 0;
  int64_t project_id = 0;
};

struct FailedTrigger {
  TriggerSpec trigger;
  std::string error;
};

struct BulkTriggersResult {
  std::vector<Trigger> created;
  std::vector<FailedTrigger> failed;  // 207: the rest were created
};

struct BulkDeleteResult {
  std::vector<int64_t> deleted;
  std::vector<std::pair<int64_t, std::string>> failed;
};

struct Delivery {
  int64_t id = 0;  // the delivery's own id: deliveries page by it (page_start)
  int64_t event_id = 0;
  std::string outcome;  // "ok", "retried", "failed", "discarded"
  int response_status = 0;
  std::string response_error;
  std::string started_at;
  std::string completed_at;
  nlohmann::json event;  // the payload that was sent
};

struct DeliveryQuery {
  std::string status = "any";  // "any", "successful", "failing", "discarded"
  int page_size = 100;
  int64_t page_start = 0;                      // the last id of the previous page (cursor paging)
  Priority priority = Priority::kInteractive;  // a background check waits behind webhook follow-ups
};

// Deliveries read page after page.
struct DeliveryPages {
  std::vector<Delivery> deliveries;  // oldest first, as Procore pages them
  int64_t last_id = 0;               // the cursor after the last page read (the query's page_start if none)
  bool more = false;                 // stopped at the page limit after a full page: more may follow
};

struct WebhookResource {
  std::string name;
  std::string api_version;
  std::string product_category;
  std::string tools;
  std::vector<std::string> except;  // event types that cannot be subscribed
};

class WebhooksApi {
 public:
  static constexpr size_t kMaxTriggersPerBulk = 500;

  explicit WebhooksApi(Client& client);

  // namespace_name "*" lists every namespace; empty omits the filter.
  ProcoreResult<std::vector<Hook>> ListHooks(const HookScope& scope, const std::string& namespace_name = {},
                                             const std::string& api_version = {});
  ProcoreResult<Hook> CreateHook(const HookScope& scope, const HookSpec& spec);
  ProcoreResult<Hook> UpdateHook(const HookScope& scope, int64_t hook_id, const HookPatch& patch);
  ProcoreStatus DeleteHook(const HookScope& scope, int64_t hook_id);

  ProcoreResult<std::vector<Trigger>> ListTriggers(const HookScope& scope, int64_t hook_id);
  ProcoreResult<Trigger> CreateTrigger(const HookScope& scope, int64_t hook_id,
                                       const std::string& api_version, const TriggerSpec& trigger);
  // Splits into requests of at most 500 triggers; collects 207 partial failures.
  ProcoreResult<BulkTriggersResult> BulkCreateTriggers(const HookScope& scope, int64_t hook_id,
                                                       const std::string& api_version,
                                                       std::span<const TriggerSpec> triggers);
  ProcoreStatus DeleteTrigger(const HookScope& scope, int64_t hook_id, int64_t trigger_id);
  ProcoreResult<BulkDeleteResult> BulkDeleteTriggers(const HookScope& scope, int64_t hook_id,
                                                     std::span<const int64_t> trigger_ids);

  // One page of deliveries; pass the last event id as page_start for the next.
  ProcoreResult<std::vector<Delivery>> ListDeliveries(const HookScope& scope, int64_t hook_id,
                                                      const DeliveryQuery& query = {});
  // Pages forward from query.page_start until a page comes back short, reading at most max_pages.
  ProcoreResult<DeliveryPages> ListDeliveryPages(const HookScope& scope, int64_t hook_id, DeliveryQuery query,
                                                 int max_pages);
  ProcoreResult<std::vector<WebhookResource>> ListResources(const HookScope& scope);

 private:
  ApiRequest Request(const HookScope& scope, std::string method, std::string path) const;
  // Sends the request and parses its body (empty bodies are null).
  ProcoreResult<nlohmann::json> SendForJson(const ApiRequest& r);
  Client& client_;
};

Hook HookFromJson(const nlohmann::json& j);
Trigger TriggerFromJson(const nlohmann::json& j);
Delivery DeliveryFromJson(const nlohmann::json& j);
WebhookResource WebhookResourceFromJson(const nlohmann::json& j);

}  // namespace kt::procore
