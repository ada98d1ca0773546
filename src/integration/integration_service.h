// The company integration's use cases (product.md steps 3-10): credentials, verification, settings,
// permissions, completion, webhook secret rotation, delivery health, projects and disconnection. No HTTP
// types.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "accounts/audit_log.h"
#include "crypto/secret_store.h"
#include "integration/integration_store.h"
#include "integration/permissions.h"
#include "integration/procore_clients.h"
#include "integration/webhook_receiver.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/engine.h"
#include "sync/scope.h"

namespace kt::integration {

inline constexpr char kCompleteJob[] = "integration.complete";
inline constexpr char kDeliveryHealthJob[] = "integration.delivery_health";

struct IntegrationOptions {
  std::string public_base_url;  // where Procore sends webhooks
  PermissionCheckOptions permissions;
  Millis delivery_health_interval{60'000};
  // How often a running integration's permissions are checked again (drift: a project no longer permitted, a
  // tool switched off, a permission lowered). Streams failing on permissions bring the check forward.
  Millis permission_recheck_interval{900'000};
};

// How the integration looks on the client's pages.
struct Badge {
  std::string status = "not_started";
  std::string label = "Not connected";
  bool started = false;
  // While it runs: its streams (less those paused by the settings), how many are synced, how many stopped on
  // an error (a fix in Procore, or KTrack retrying).
  int64_t streams = 0;
  int64_t streams_synced = 0;
  int64_t streams_failing = 0;
  // What waits on the customer while it runs (Procore refuses the app, a permission went missing), or "".
  std::string problem;
};

class IntegrationService {
 public:
  IntegrationService(store::Store& store, crypto::SecretStore& secrets, accounts::AuditLog& audit,
                     queue::Queue& queue, sync::SyncEngine& sync, ProcoreClients& clients,
                     WebhookReceiver* receiver, Clock& clock, IntegrationOptions options);

  // GET /: status, next step, environment, masked credentials, company, settings, permissions, webhooks,
  // streams and the last error. Never a secret.
  Result<nlohmann::json> Describe(int64_t client_id);
  Badge BadgeFor(int64_t client_id);
  // Where Procore sends webhooks; known once the server has bound its port.
  void SetPublicBaseUrl(std::string url);

  // Each action takes the acting user (for the audit log) and answers with JSON for the API.
  Result<nlohmann::json> SaveCredentials(int64_t client_id, int64_t user_id, const nlohmann::json& body);
  Result<nlohmann::json> VerifyCredentials(int64_t client_id, int64_t user_id,
                                           std::optional<int64_t> company_id);
  Result<nlohmann::json> SaveSettings(int64_t client_id, int64_t user_id, const nlohmann::json& body);
  Result<nlohmann::json> Requirements(int64_t client_id);
  Result<nlohmann::json> VerifyPermissions(int64_t client_id, int64_t user_id);
  Result<nlohmann::json> Complete(int64_t client_id, int64_t user_id);
  Result<nlohmann::json> RotateWebhookSecret(int64_t client_id, int64_t user_id);
  // On a disconnected integration, purge_data deletes the data it kept (DeleteKeptData).
  Result<nlohmann::json> Disconnect(int64_t client_id, int64_t user_id, bool purge_data);
  Result<nlohmann::json> DeleteKeptData(int64_t client_id, int64_t user_id);

  Result<nlohmann::json> Streams(int64_t client_id);
  // Reconciliation now, not at the interval: every stream, or those of `stream` and/or `project_id` in the
  // body. Each compares its count and ids with Procore's and repairs what differs. Answers {"queued": n}.
  Result<nlohmann::json> Reconcile(int64_t client_id, int64_t user_id, const nlohmann::json& body);
  Result<std::string> Records(const sync::RecordsQuery& query);
  Result<nlohmann::json> AuditEntries(int64_t client_id, int64_t limit);
  // The webhook events KTrack received most recently (at most `limit`, newest first) and what processing made
  // of each, with a summary of the outcomes of the last thousand.
  Result<nlohmann::json> WebhookEvents(int64_t client_id, int64_t limit);

  // Issue 8: the company's Procore projects with their links, and linking.
  struct ProjectsQuery {
    int64_t page = 1;
    int64_t per_page = 100;
    std::string search;
    std::optional<bool> linked;
    std::optional<bool> active;
  };
  Result<nlohmann::json> Projects(int64_t client_id, const ProjectsQuery& query);
  Result<nlohmann::json> LinkProject(int64_t client_id, int64_t user_id, int64_t procore_project_id,
                                     const nlohmann::json& body);
  // The client's KTrack projects with the Procore project each is linked to (null when none), by name.
  Result<nlohmann::json> KtrackProjects(int64_t client_id);
  Result<nlohmann::json> UnlinkProject(int64_t client_id, int64_t user_id, int64_t procore_project_id,
                                       bool purge_data);

  // --- Background work ---
  void RegisterHandlers(queue::Worker& worker);
  // Creates or reuses the hook and its triggers, links projects when auto-link is on, applies the sync scope.
  Status RunComplete(const queue::Job& job);
  // For every running integration: reads Procore's deliveries (discarded events get a targeted
  // reconciliation), links new Procore projects when auto-link is on, and re-checks permissions when due.
  Status RunDeliveryHealth(const queue::Job& job);
  // The scheduler's periodic call: queues the delivery health job when it is due.
  Status Tick();

 private:
  using Mutation = std::function<Status(store::Tx&, IntegrationRecord&)>;
  // Loads (or starts) the client's row in a transaction, applies the change and saves it.
  Result<IntegrationRecord> Mutate(int64_t client_id, const Mutation& change);
  Result<IntegrationRecord> Load(int64_t client_id);
  // What the admin should know about the connection though nothing is wrong: another KTrack client connected
  // to the same Procore company. A JSON array of {code, message, fix}.
  nlohmann::json Warnings(const IntegrationRecord& record);
  Status Audit(store::Tx& tx, int64_t client_id, int64_t user_id, std::string_view action,
               const nlohmann::json& detail);
  Status CheckHealthOf(const IntegrationRecord& record);
  // The hook is gone from Procore (deleted there): completes the integration again, which creates it, and
  // reconciles every stream for the changes Procore could not send meanwhile.
  Status RecreateMissingHook(const IntegrationRecord& record);
  // A check that failed: shown with the webhooks; when Procore refused the set-up (credentials, install,
  // permission), also as the integration's error until a later check passes.
  Status NoteHealthCheckFailure(const IntegrationRecord& record, const Error& error);
  Status AutoLinkNewProjects(const IntegrationRecord& record);
  // Re-checks when due, or at once when the last check is out of date (LastCheckOutdated); projects found
  // short get their streams paused (with the fix), fixed ones resume.
  Status RecheckPermissions(const IntegrationRecord& record);
  // Streams fail on permissions the last check did not know of, or Procore lists again a project the last
  // check found outside the app's permitted projects (the admin added it back).
  Result<bool> LastCheckOutdated(const IntegrationRecord& record);
  // Whether a stream is in error for something fixed in Procore (permissions, tools, install).
  Result<bool> StreamsWaitForAFixInProcore(int64_t client_id);
  // The integration's settings and linked projects, as they are now, as the sync's scope; false (nothing
  // applied) when the integration no longer runs.
  Result<bool> ApplySyncScope(int64_t client_id);
  Status RecordError(int64_t client_id, const Error& error);
  std::string DestinationUrl(const IntegrationRecord& record) const;
  Result<std::vector<ProjectRef>> LinkedProjects(int64_t client_id);
  Result<PermissionReport> RunPermissionCheck(const IntegrationRecord& record, const Settings& settings);
  void Changed(int64_t client_id);

  store::Store& store_;
  crypto::SecretStore& secrets_;
  accounts::AuditLog& audit_;
  queue::Queue& queue_;
  sync::SyncEngine& sync_;
  ProcoreClients& clients_;
  WebhookReceiver* receiver_;
  Clock& clock_;
  IntegrationOptions options_;
  mutable std::mutex base_url_mu_;
  std::mutex rotate_mu_;  // webhook secret rotations, one at a time
  std::atomic<int64_t> next_health_ms_{0};
};

// Projects the last permission check found short (not permitted, a tool switched off, a permission too low),
// by Procore project id: why their streams are paused, and the fix in Procore's words.
std::map<int64_t, sync::PauseReason> ProjectDrift(const nlohmann::json& last_permission_check);

// "••••••••3f2a": the last four characters only.
std::string MaskSecret(std::string_view hint);
// The API's error for a failed Procore call during verification: 422 with the specific code
// (invalid_credentials, service_account_retired, app_not_installed, company_not_found,
// procore_unreachable...).
Error VerificationError(const procore::ProcoreError& error);

}  // namespace kt::integration
