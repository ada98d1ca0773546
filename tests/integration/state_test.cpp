// The integration's state machine: every (status, event) pair, allowed or refused with what to do first.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "integration/state.h"

namespace kt::integration {
namespace {

using S = IntegrationStatus;
using E = IntegrationEvent;

// The expected transitions, written out independently of the implementation's table.
const std::map<std::pair<S, E>, S>& Expected() {
  static const std::map<std::pair<S, E>, S> kExpected = [] {
    std::map<std::pair<S, E>, S> m;
    for (S s : {S::kNotStarted, S::kCredentialsSaved, S::kCredentialsVerified, S::kConfigured,
                S::kPermissionsVerified, S::kError, S::kDisconnected})
      m[{s, E::kSaveCredentials}] = S::kCredentialsSaved;
    m[{S::kActive, E::kReplaceCredentials}] = S::kActive;
    m[{S::kError, E::kReplaceCredentials}] = S::kError;
    m[{S::kCredentialsSaved, E::kVerifyCredentials}] = S::kCredentialsVerified;
    for (S s : {S::kCredentialsVerified, S::kConfigured, S::kPermissionsVerified, S::kActive, S::kError})
      m[{s, E::kVerifyCredentials}] = s;
    for (S s : {S::kCredentialsVerified, S::kConfigured, S::kPermissionsVerified, S::kError})
      m[{s, E::kSaveSettings}] = S::kConfigured;
    m[{S::kActive, E::kSaveSettings}] = S::kActive;
    for (S s : {S::kConfigured, S::kPermissionsVerified, S::kError})
      m[{s, E::kVerifyPermissions}] = S::kPermissionsVerified;
    m[{S::kActive, E::kVerifyPermissions}] = S::kActive;
    m[{S::kConfigured, E::kPermissionsMissing}] = S::kConfigured;
    m[{S::kPermissionsVerified, E::kPermissionsMissing}] = S::kConfigured;
    m[{S::kActive, E::kPermissionsMissing}] = S::kActive;
    m[{S::kError, E::kPermissionsMissing}] = S::kError;
    for (S s : {S::kPermissionsVerified, S::kActive, S::kError}) m[{s, E::kComplete}] = S::kCompleting;
    m[{S::kCompleting, E::kCompleted}] = S::kActive;
    for (S s : {S::kCompleting, S::kActive, S::kError}) m[{s, E::kFail}] = S::kError;
    m[{S::kActive, E::kRotateWebhookSecret}] = S::kActive;
    m[{S::kError, E::kRotateWebhookSecret}] = S::kError;
    m[{S::kActive, E::kReconcile}] = S::kActive;
    m[{S::kError, E::kReconcile}] = S::kError;
    for (S s : {S::kCredentialsSaved, S::kCredentialsVerified, S::kConfigured, S::kPermissionsVerified,
                S::kCompleting, S::kActive, S::kError})
      m[{s, E::kDisconnect}] = S::kDisconnected;
    m[{S::kDisconnected, E::kDeleteKeptData}] = S::kDisconnected;
    return m;
  }();
  return kExpected;
}

TEST(IntegrationState, EveryStatusAndEventIsAllowedOrRefusedAsSpecified) {
  int allowed = 0, refused = 0;
  for (S from : AllStatuses()) {
    for (E event : AllEvents()) {
      auto got = Transition(from, event);
      auto it = Expected().find({from, event});
      SCOPED_TRACE(std::string(StatusName(from)) + " + " + std::string(EventName(event)));
      if (it != Expected().end()) {
        ASSERT_TRUE(got) << got.error().message;
        EXPECT_EQ(StatusName(*got), StatusName(it->second));
        ++allowed;
      } else {
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, "invalid_state");
        EXPECT_EQ(got.error().kind, ErrorKind::kConflict);
        EXPECT_FALSE(got.error().message.empty());
        EXPECT_FALSE(got.error().fix.empty()) << "a refusal says what to do next";
        ++refused;
      }
    }
  }
  EXPECT_EQ(allowed, static_cast<int>(Expected().size()));
  EXPECT_EQ(allowed + refused, static_cast<int>(AllStatuses().size() * AllEvents().size()));
}

TEST(IntegrationState, RefusalsNameTheStepThatComesFirst) {
  EXPECT_EQ(Transition(S::kCredentialsSaved, E::kSaveSettings).error().message,
            "Verify the credentials before choosing settings.");
  EXPECT_EQ(Transition(S::kCredentialsVerified, E::kVerifyPermissions).error().message,
            "Choose the settings before verifying permissions.");
  EXPECT_EQ(Transition(S::kConfigured, E::kComplete).error().message,
            "Verify the permissions before completing the integration.");
  EXPECT_EQ(Transition(S::kNotStarted, E::kVerifyCredentials).error().message,
            "Save the client ID and client secret before verifying them.");
  EXPECT_EQ(Transition(S::kDisconnected, E::kDisconnect).error().message,
            "The integration is already disconnected. To delete the data it kept, send purge_data: true.");
  EXPECT_NE(
      Transition(S::kNotStarted, E::kRotateWebhookSecret).error().message.find("Complete the integration"),
      std::string::npos);
  EXPECT_NE(Transition(S::kCompleting, E::kSaveSettings).error().message.find("Wait"), std::string::npos);
  EXPECT_EQ(Transition(S::kPermissionsVerified, E::kReconcile).error().message,
            "Complete the integration first: there is nothing synced to reconcile yet.");
  EXPECT_EQ(Transition(S::kCompleting, E::kReconcile).error().message,
            "Wait until the integration has finished completing.");
}

TEST(IntegrationState, StatusNamesRoundTripAndMatchTheInterface) {
  std::set<std::string> names;
  for (S s : AllStatuses()) {
    names.insert(std::string(StatusName(s)));
    EXPECT_EQ(ParseStatus(StatusName(s)), s);
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"not_started", "credentials_saved", "credentials_verified", "configured",
                                   "permissions_verified", "completing", "active", "error", "disconnected"}));
  EXPECT_FALSE(ParseStatus("bogus"));
}

TEST(IntegrationState, TheWizardPathReachesActive) {
  S s = S::kNotStarted;
  for (E e : {E::kSaveCredentials, E::kVerifyCredentials, E::kSaveSettings, E::kVerifyPermissions,
              E::kComplete, E::kCompleted}) {
    auto next = Transition(s, e);
    ASSERT_TRUE(next) << EventName(e);
    s = *next;
  }
  EXPECT_EQ(s, S::kActive);
  EXPECT_TRUE(IsRunning(s));
  EXPECT_EQ(*Transition(s, E::kDisconnect), S::kDisconnected);
  EXPECT_FALSE(IsRunning(S::kDisconnected));
}

TEST(IntegrationState, EveryStatusHasANextStep) {
  for (S s : AllStatuses()) EXPECT_FALSE(NextStep(s).empty()) << StatusName(s);
}

}  // namespace
}  // namespace kt::integration
