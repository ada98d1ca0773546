// The company integration's status (interfaces.md `status`) and the one table of transitions between them.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "util/error.h"

namespace kt::integration {

enum class IntegrationStatus {
  kNotStarted,
  kCredentialsSaved,
  kCredentialsVerified,
  kConfigured,
  kPermissionsVerified,
  kCompleting,
  kActive,
  kError,
  kDisconnected,
};

// What happens to an integration: each API action and each outcome of the background work.
enum class IntegrationEvent {
  kSaveCredentials,      // PUT /credentials before the integration runs
  kReplaceCredentials,   // PUT /credentials on a running integration (verified before it is saved)
  kVerifyCredentials,    // POST /credentials/verify succeeded
  kSaveSettings,         // PUT /settings
  kVerifyPermissions,    // POST /permissions/verify found every permission in place
  kPermissionsMissing,   // a permission check found gaps: verified permissions are no longer verified
  kComplete,             // POST /complete accepted
  kCompleted,            // hooks, triggers and the sync's scope are in place
  kFail,                 // the completion or the running integration failed
  kRotateWebhookSecret,  // POST /webhooks/rotate-secret
  kReconcile,            // POST /streams/reconcile
  kDisconnect,           // DELETE /
  kDeleteKeptData,       // DELETE / with purge_data on a disconnected integration that kept its data
};

std::string_view StatusName(IntegrationStatus status);
std::optional<IntegrationStatus> ParseStatus(std::string_view name);
std::string_view EventName(IntegrationEvent event);

std::span<const IntegrationStatus> AllStatuses();
std::span<const IntegrationEvent> AllEvents();

// The status after the event, or kConflict with code "invalid_state" and a message naming the current status
// and what is needed next ("Verify the credentials before choosing settings.").
Result<IntegrationStatus> Transition(IntegrationStatus from, IntegrationEvent event);

// True while KTrack is connected to Procore for the client (hooks may exist, the sync may run).
bool IsRunning(IntegrationStatus status);

// The next thing the admin should do in this status, in the help article's words.
std::string_view NextStep(IntegrationStatus status);

}  // namespace kt::integration
