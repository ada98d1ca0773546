// Procore clients for KTrack clients, built from the stored credentials: the sync engine's
// ProcoreClientSource.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "crypto/secret_store.h"
#include "integration/integration_store.h"
#include "procore/client.h"
#include "procore/rate_budget.h"
#include "procore/token_cache.h"
#include "procore/transport.h"
#include "store/store.h"
#include "sync/client_source.h"

namespace kt::integration {

// KTrack's own Marketplace app, when the server has its credentials.
struct MarketplaceApp {
  std::string client_id;
  std::string client_secret;
  bool configured() const { return !client_id.empty() && !client_secret.empty(); }
};

struct ProcoreClientsOptions {
  bool allow_custom_urls = false;
  MarketplaceApp marketplace;
  // Where the rate budget per (app, company) lives; null: in this process's memory. Several processes on
  // one database share it through fleet::SharedRateBudgetStore (the composition root decides).
  procore::RateBudgetStore* rate_budget_store = nullptr;
};

// Owns what every Procore client in the process shares (transport, token cache, rate budget).
class ProcoreClients final : public sync::ProcoreClientSource {
 public:
  ProcoreClients(store::Store& store, crypto::SecretStore& secrets, Clock& clock, Random& random,
                 ProcoreClientsOptions options, std::unique_ptr<procore::Transport> transport = nullptr);

  // A client for an app's credentials (verification of newly entered credentials uses this).
  std::shared_ptr<procore::Client> ForCredentials(procore::AppCredentials app);
  // The credentials stored for an integration (secret decrypted; the Marketplace app's from the config).
  Result<procore::AppCredentials> CredentialsFor(const IntegrationRecord& record);
  Result<std::shared_ptr<procore::Client>> ForIntegration(const IntegrationRecord& record);
  // The rate budget of the integration's app in its company, as the status pages show it; empty before a
  // company is chosen. Reads no secret.
  std::optional<procore::RateBudgetSnapshot> RateBudgetFor(const IntegrationRecord& record);
  // sync::ProcoreClientSource: only integrations with verified credentials and a company.
  Result<std::shared_ptr<procore::Client>> ClientFor(int64_t client_id) override;
  // Drops cached tokens of credentials that were replaced or wiped.
  void Forget(const procore::AppCredentials& app) { tokens_.Forget(app); }

  const ProcoreClientsOptions& options() const { return options_; }

 private:
  Result<procore::AppCredentials> AppFor(const IntegrationRecord& record) const;

  store::Store& store_;
  crypto::SecretStore& secrets_;
  Clock& clock_;
  Random& random_;
  ProcoreClientsOptions options_;
  std::unique_ptr<procore::Transport> transport_;
  procore::TokenCache tokens_;
  procore::InMemoryRateBudgetStore budget_store_;
  procore::RateBudget budget_;
};

}  // namespace kt::integration
