// The composition root: opens the store, loads keys, builds every module and wires them together.
#pragma once

#include <memory>
#include <string>

#include "access/access.h"
#include "accounts/api_tokens.h"
#include "accounts/audit_log.h"
#include "accounts/clients.h"
#include "accounts/memberships.h"
#include "accounts/sessions.h"
#include "accounts/users.h"
#include "app/config.h"
#include "crypto/secret_store.h"
#include "integration/integration_service.h"
#include "integration/procore_clients.h"
#include "integration/webhook_receiver.h"
#include "obs/metrics.h"
#include "procore/rate_budget.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/engine.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt::app {

// Everything a command needs, built once. Members are declared in dependency order, so they are destroyed
// in reverse.
struct Services {
  Config config;
  Clock& clock = SystemClock::Instance();
  Random& random = DefaultRandom();
  std::unique_ptr<store::Store> store;
  std::unique_ptr<crypto::SecretStore> secrets;
  std::unique_ptr<accounts::Clients> clients;
  std::unique_ptr<accounts::Users> users;
  std::unique_ptr<accounts::Memberships> memberships;
  std::unique_ptr<accounts::Sessions> sessions;
  std::unique_ptr<accounts::ApiTokens> api_tokens;
  std::unique_ptr<accounts::AuditLog> audit;
  std::unique_ptr<access::Access> access;
  std::unique_ptr<queue::Queue> queue;
  // On PostgreSQL the Procore rate budget lives in the database, shared by every process (null: in memory).
  std::unique_ptr<procore::RateBudgetStore> rate_budget_store;
  // The Procore integration: clients from stored credentials, the sync engine, the webhook receiver, the
  // wizard.
  std::unique_ptr<integration::ProcoreClients> procore_clients;
  std::unique_ptr<sync::SyncEngine> sync;
  std::unique_ptr<integration::WebhookReceiver> webhook_receiver;
  std::unique_ptr<integration::IntegrationService> integration;
  obs::Metrics metrics;
};

// Opens the database (migrating it), loads the master key and builds the services.
Result<std::unique_ptr<Services>> BuildServices(const Config& config);

}  // namespace kt::app
