// The integration's transitions as one table; everything not in it is refused with what to do first.
#include "integration/state.h"

#include <array>
#include <string>

namespace kt::integration {
namespace {

using S = IntegrationStatus;
using E = IntegrationEvent;

constexpr std::array kStatuses = {S::kNotStarted,
                                  S::kCredentialsSaved,
                                  S::kCredentialsVerified,
                                  S::kConfigured,
                                  S::kPermissionsVerified,
                                  S::kCompleting,
                                  S::kActive,
                                  S::kError,
                                  S::kDisconnected};
constexpr std::array kEvents = {E::kSaveCredentials,
                                E::kReplaceCredentials,
                                E::kVerifyCredentials,
                                E::kSaveSettings,
                                E::kVerifyPermissions,
                                E::kPermissionsMissing,
                                E::kComplete,
                                E::kCompleted,
                                E::kFail,
                                E::kRotateWebhookSecret,
                                E::kReconcile,
                                E::kDisconnect,
                                E::kDeleteKeptData};

struct Edge {
  S from;
  E event;
  S to;
};

// Every allowed transition. A status not listed for an event refuses it.
constexpr Edge kEdges[] = {
    // Credentials are entered (or re-entered) at any point before the integration runs.
    {S::kNotStarted, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kCredentialsSaved, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kCredentialsVerified, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kConfigured, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kPermissionsVerified, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kError, E::kSaveCredentials, S::kCredentialsSaved},
    {S::kDisconnected, E::kSaveCredentials, S::kCredentialsSaved},
    // A running integration keeps running with replaced credentials (they are verified before they are
    // saved).
    {S::kActive, E::kReplaceCredentials, S::kActive},
    {S::kError, E::kReplaceCredentials, S::kError},

    {S::kCredentialsSaved, E::kVerifyCredentials, S::kCredentialsVerified},
    {S::kCredentialsVerified, E::kVerifyCredentials, S::kCredentialsVerified},
    {S::kConfigured, E::kVerifyCredentials, S::kConfigured},
    {S::kPermissionsVerified, E::kVerifyCredentials, S::kPermissionsVerified},
    {S::kActive, E::kVerifyCredentials, S::kActive},
    {S::kError, E::kVerifyCredentials, S::kError},

    // New settings need their permissions checked again, except on a running integration, where the settings
    // are saved only after their permissions were checked.
    {S::kCredentialsVerified, E::kSaveSettings, S::kConfigured},
    {S::kConfigured, E::kSaveSettings, S::kConfigured},
    {S::kPermissionsVerified, E::kSaveSettings, S::kConfigured},
    {S::kActive, E::kSaveSettings, S::kActive},
    {S::kError, E::kSaveSettings, S::kConfigured},

    {S::kConfigured, E::kVerifyPermissions, S::kPermissionsVerified},
    {S::kPermissionsVerified, E::kVerifyPermissions, S::kPermissionsVerified},
    {S::kActive, E::kVerifyPermissions, S::kActive},
    {S::kError, E::kVerifyPermissions, S::kPermissionsVerified},
    {S::kConfigured, E::kPermissionsMissing, S::kConfigured},
    {S::kPermissionsVerified, E::kPermissionsMissing, S::kConfigured},
    {S::kActive, E::kPermissionsMissing,
     S::kActive},  // the running integration shows the drift, it keeps running
    {S::kError, E::kPermissionsMissing, S::kError},

    // Complete is idempotent: it may run again on a running integration (hooks are found and reused).
    {S::kPermissionsVerified, E::kComplete, S::kCompleting},
    {S::kActive, E::kComplete, S::kCompleting},
    {S::kError, E::kComplete, S::kCompleting},
    {S::kCompleting, E::kCompleted, S::kActive},
    {S::kCompleting, E::kFail, S::kError},
    {S::kActive, E::kFail, S::kError},
    {S::kError, E::kFail, S::kError},

    {S::kActive, E::kRotateWebhookSecret, S::kActive},
    {S::kError, E::kRotateWebhookSecret, S::kError},
    // Reconciliation on demand: once the streams exist, and also while some are in error (it may mend them).
    {S::kActive, E::kReconcile, S::kActive},
    {S::kError, E::kReconcile, S::kError},

    {S::kCredentialsSaved, E::kDisconnect, S::kDisconnected},
    {S::kCredentialsVerified, E::kDisconnect, S::kDisconnected},
    {S::kConfigured, E::kDisconnect, S::kDisconnected},
    {S::kPermissionsVerified, E::kDisconnect, S::kDisconnected},
    {S::kCompleting, E::kDisconnect, S::kDisconnected},
    {S::kActive, E::kDisconnect, S::kDisconnected},
    {S::kError, E::kDisconnect, S::kDisconnected},
    // Disconnected with the data kept: the data can still be deleted later.
    {S::kDisconnected, E::kDeleteKeptData, S::kDisconnected},
};

// Why an event cannot happen in a status: the step that has to come first.
std::string Refusal(S from, E event) {
  switch (event) {
    case E::kSaveCredentials:
      if (from == S::kCompleting)
        return "Wait until the integration has finished completing before changing the credentials.";
      return "The integration is running: replaced credentials are verified before they are saved.";
    case E::kReplaceCredentials:
      return "Only a running integration replaces its credentials in place; save the credentials instead.";
    case E::kVerifyCredentials:
      if (from == S::kCompleting) return "Wait until the integration has finished completing.";
      return "Save the client ID and client secret before verifying them.";
    case E::kSaveSettings:
      if (from == S::kCompleting)
        return "Wait until the integration has finished completing before changing the settings.";
      if (from == S::kCredentialsSaved) return "Verify the credentials before choosing settings.";
      return "Save and verify the credentials before choosing settings.";
    case E::kVerifyPermissions:
      if (from == S::kCompleting) return "Wait until the integration has finished completing.";
      if (from == S::kCredentialsVerified) return "Choose the settings before verifying permissions.";
      if (from == S::kCredentialsSaved)
        return "Verify the credentials, then choose the settings, before verifying permissions.";
      return "Save and verify the credentials, then choose the settings, before verifying permissions.";
    case E::kPermissionsMissing:
      return Refusal(from, E::kVerifyPermissions);
    case E::kComplete:
      if (from == S::kCompleting) return "The integration is already completing.";
      if (from == S::kConfigured) return "Verify the permissions before completing the integration.";
      if (from == S::kCredentialsVerified)
        return "Choose the settings and verify the permissions before completing the integration.";
      if (from == S::kCredentialsSaved)
        return "Verify the credentials, choose the settings and verify the permissions before completing the "
               "integration.";
      return "Save and verify the credentials, choose the settings and verify the permissions before "
             "completing the integration.";
    case E::kCompleted:
      return "Only a completing integration can become active.";
    case E::kFail:
      return "Only a completing or running integration can fail.";
    case E::kRotateWebhookSecret:
      return "Complete the integration first: the webhook secret exists once the hooks do.";
    case E::kReconcile:
      if (from == S::kCompleting) return "Wait until the integration has finished completing.";
      return "Complete the integration first: there is nothing synced to reconcile yet.";
    case E::kDisconnect:
      if (from == S::kDisconnected)
        return "The integration is already disconnected. To delete the data it kept, send purge_data: true.";
      return "There is no integration to disconnect.";
    case E::kDeleteKeptData:
      return "Only a disconnected integration's kept data is deleted on its own; "
             "disconnect with purge_data to delete the data with the connection.";
  }
  return "This is not possible now.";
}

}  // namespace

std::string_view StatusName(IntegrationStatus status) {
  switch (status) {
    case S::kNotStarted:
      return "not_started";
    case S::kCredentialsSaved:
      return "credentials_saved";
    case S::kCredentialsVerified:
      return "credentials_verified";
    case S::kConfigured:
      return "configured";
    case S::kPermissionsVerified:
      return "permissions_verified";
    case S::kCompleting:
      return "completing";
    case S::kActive:
      return "active";
    case S::kError:
      return "error";
    case S::kDisconnected:
      return "disconnected";
  }
  return "not_started";
}

std::optional<IntegrationStatus> ParseStatus(std::string_view name) {
  for (S s : kStatuses)
    if (StatusName(s) == name) return s;
  return std::nullopt;
}

std::string_view EventName(IntegrationEvent event) {
  switch (event) {
    case E::kSaveCredentials:
      return "save_credentials";
    case E::kReplaceCredentials:
      return "replace_credentials";
    case E::kVerifyCredentials:
      return "verify_credentials";
    case E::kSaveSettings:
      return "save_settings";
    case E::kVerifyPermissions:
      return "verify_permissions";
    case E::kPermissionsMissing:
      return "permissions_missing";
    case E::kComplete:
      return "complete";
    case E::kCompleted:
      return "completed";
    case E::kFail:
      return "fail";
    case E::kRotateWebhookSecret:
      return "rotate_webhook_secret";
    case E::kReconcile:
      return "reconcile";
    case E::kDisconnect:
      return "disconnect";
    case E::kDeleteKeptData:
      return "delete_kept_data";
  }
  return "unknown";
}

std::span<const IntegrationStatus> AllStatuses() {
  return kStatuses;
}
std::span<const IntegrationEvent> AllEvents() {
  return kEvents;
}

Result<IntegrationStatus> Transition(IntegrationStatus from, IntegrationEvent event) {
  for (const Edge& e : kEdges)
    if (e.from == from && e.event == event) return e.to;
  return Fail(ErrorKind::kConflict, "invalid_state", Refusal(from, event), std::string(NextStep(from)),
              "status " + std::string(StatusName(from)) + " refuses " + std::string(EventName(event)));
}

bool IsRunning(IntegrationStatus status) {
  return status == S::kCompleting || status == S::kActive || status == S::kError;
}

std::string_view NextStep(IntegrationStatus status) {
  switch (status) {
    case S::kNotStarted:
    case S::kDisconnected:
      return "Paste the client ID and client secret of KTrack's app in Procore (or choose KTrack's "
             "Marketplace app), then click Verify.";
    case S::kCredentialsSaved:
      return "Click Verify so KTrack obtains a token and finds the company where the app is installed.";
    case S::kCredentialsVerified:
      return "Choose the Additional Configuration Settings: which data to sync and the options.";
    case S::kConfigured:
      return "Give KTrack's app the permissions the settings need in Procore, then click Verify permissions.";
    case S::kPermissionsVerified:
      return "Click Complete Integration to create the webhooks and start the initial sync.";
    case S::kCompleting:
      return "Wait while KTrack creates the webhooks and starts the initial sync.";
    case S::kActive:
      return "Nothing to do: KTrack keeps the data in step with Procore.";
    case S::kError:
      return "Read the error and its fix, then click Complete Integration again.";
  }
  return "";
}

}  // namespace kt::integration
