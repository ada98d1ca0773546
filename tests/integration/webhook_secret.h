// White box: the webhook secret of a client as the server reads it (Procore holds it, KTrack never shows it),
// for tests that deliver webhooks themselves. Needs ktrack_store and ktrack_crypto.
#pragma once

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "crypto/master_key.h"
#include "crypto/secret_store.h"
#include "store/store.h"
#include "util/clock.h"

namespace kt::testing {

inline std::string ReadWebhookSecret(const std::string& data_dir, int64_t client_id,
                                     const std::string& purpose = "procore.webhook_secret") {
  auto store = store::OpenStore("sqlite:" + data_dir + "/ktrack.db");
  EXPECT_TRUE(store);
  if (!store) return "";
  auto keyring = crypto::LoadKeyring(crypto::KeySourceFromEnvironment(data_dir));
  EXPECT_TRUE(keyring);
  if (!keyring) return "";
  crypto::SecretStore secrets(**store, keyring->keyring, SystemClock::Instance());
  auto got = secrets.Get("client:" + std::to_string(client_id), purpose);
  EXPECT_TRUE(got);
  return got && *got ? **got : "";
}

}  // namespace kt::testing
