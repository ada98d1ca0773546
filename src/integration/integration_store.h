// The company integration's row (procore_integrations) and its secrets in the SecretStore; links between
// Procore projects and KTrack projects. Secrets never go in these tables.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/secret_store.h"
#include "integration/settings.h"
#include "integration/state.h"
#include "store/store.h"
#include "util/error.h"

namespace kt::integration {

// Secret purposes under the owner "client:<id>".
inline constexpr char kClientSecretPurpose[] = "procore.client_secret";
inline constexpr char kWebhookSecretPurpose[] = "procore.webhook_secret";
inline constexpr char kPreviousWebhookSecretPurpose[] = "procore.webhook_secret_previous";
std::string SecretOwner(int64_t client_id);

struct IntegrationRecord {
  int64_t client_id = 0;
  IntegrationStatus status = IntegrationStatus::kNotStarted;
  std::string environment = "production";
  std::string login_url;
  std::string api_url;
  std::string procore_client_id;  // not secret
  bool uses_marketplace_app = false;
  std::string client_secret_hint;  // the secret's last 4 characters, for the masked display
  std::optional<int64_t> company_id;
  std::string company_name;
  nlohmann::json companies = nlohmann::json::array();  // [{id, name}] where the app is installed
  std::optional<Settings> settings;
  std::optional<int64_t> credentials_verified_at;
  std::optional<int64_t> permissions_verified_at;
  nlohmann::json last_permission_check;  // {"ok", "checks", "checked_at"} or null
  std::string integration_key;           // empty when there is none (never connected, disconnected)
  std::optional<int64_t> hook_id;
  nlohmann::json hook;  // {"destination_url", "api_version", "namespace", "triggers", "failed_triggers"}
  bool webhook_secret_rotating = false;  // the previous secret is still accepted
  nlohmann::json webhook_health;         // {"failing", "discarded", "checked_at", "recent": [...]}
  nlohmann::json last_error;             // {"code", "message", "fix", "at"} or null
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// Reads and writes integration rows inside the caller's transaction.
Result<std::optional<IntegrationRecord>> LoadIntegration(store::Tx& tx, int64_t client_id,
                                                         bool for_update = false);
Result<std::optional<IntegrationRecord>> LoadIntegration(store::Store& store, int64_t client_id);
Status SaveIntegration(store::Tx& tx, const IntegrationRecord& record);
// Every integration with a hook or in a running status (for the delivery health job).
Result<std::vector<IntegrationRecord>> ListRunningIntegrations(store::Store& store);

// What the webhook receiver needs for one integration key.
struct ReceiverEntry {
  int64_t client_id = 0;
  int64_t company_id = 0;
  std::string secret_hash;           // SHA-256 hex of the current webhook secret
  std::string previous_secret_hash;  // during a rotation, else empty
};
Result<std::optional<ReceiverEntry>> LoadReceiverEntry(store::Store& store, crypto::SecretStore& secrets,
                                                       const std::string& integration_key);

// KTrack projects and their links to Procore projects.
struct KtrackProject {
  int64_t id = 0;
  int64_t client_id = 0;
  std::string name;
  std::string number;
  int64_t created_at = 0;
};
struct ProjectLink {
  int64_t procore_project_id = 0;
  int64_t ktrack_project_id = 0;
  std::string project_name;
  int64_t linked_at = 0;
};
Result<std::vector<ProjectLink>> ListProjectLinks(store::Tx& tx, int64_t client_id);
// Projects an admin unlinked, which auto-link must not link again (a manual link clears the mark), each with
// the KTrack project it was linked to.
Result<std::map<int64_t, int64_t>> ListUnlinkedByAdmin(store::Tx& tx, int64_t client_id);
Status MarkUnlinkedByAdmin(store::Tx& tx, int64_t client_id, int64_t procore_project_id,
                           int64_t ktrack_project_id, int64_t user_id, int64_t now_ms);
Status ClearUnlinkedByAdmin(store::Tx& tx, int64_t client_id, int64_t procore_project_id);
// Forgets every project link of the client, and the marks of the projects an admin unlinked.
Status DeleteAllProjectLinks(store::Tx& tx, int64_t client_id);
Result<std::optional<KtrackProject>> FindKtrackProject(store::Tx& tx, int64_t client_id, int64_t id);
Result<int64_t> CreateKtrackProject(store::Tx& tx, int64_t client_id, const std::string& name,
                                    const std::string& number, int64_t now_ms);
// Auto-link: a new KTrack project made from the Procore project, linked to it by KTrack itself (no user).
// Returns the KTrack project's id.
Result<int64_t> AutoLinkToNewKtrackProject(store::Tx& tx, int64_t client_id, int64_t procore_project_id,
                                           const std::string& name, const std::string& number,
                                           int64_t now_ms);

}  // namespace kt::integration
