// Builds Procore clients from integration rows and their encrypted secrets.
#include "integration/procore_clients.h"

#include "procore/environment.h"

namespace kt::integration {

ProcoreClients::ProcoreClients(store::Store& store, crypto::SecretStore& secrets, Clock& clock,
                               Random& random, ProcoreClientsOptions options,
                               std::unique_ptr<procore::Transport> transport)
    : store_(store),
      secrets_(secrets),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      transport_(transport ? std::move(transport) : std::make_unique<procore::CurlTransport>()),
      tokens_(*transport_, clock_, random_),
      budget_(options_.rate_budget_store ? *options_.rate_budget_store : budget_store_, clock_) {}

std::shared_ptr<procore::Client> ProcoreClients::ForCredentials(procore::AppCredentials app) {
  procore::ClientOptions options;
  options.app = std::move(app);
  return std::make_shared<procore::Client>(
      std::move(options), procore::ClientDeps{*transport_, clock_, random_, tokens_, budget_});
}

// The app an integration uses, without its secret: the URLs of its environment and its client id.
Result<procore::AppCredentials> ProcoreClients::AppFor(const IntegrationRecord& record) const {
  auto environment = procore::ParseEnvironment(record.environment);
  if (!environment)
    return Fail(ErrorKind::kConflict, "credentials_missing", "The integration has no Procore environment.",
                "Save the credentials again.");
  auto urls =
      procore::ResolveEnvironment(*environment, record.login_url, record.api_url, options_.allow_custom_urls);
  if (!urls) return Fail(urls.error().error);
  procore::AppCredentials app;
  app.urls = *urls;
  app.client_id = record.uses_marketplace_app ? options_.marketplace.client_id : record.procore_client_id;
  return app;
}

Result<procore::AppCredentials> ProcoreClients::CredentialsFor(const IntegrationRecord& record) {
  auto app = AppFor(record);
  if (!app) return app;
  if (record.uses_marketplace_app) {
    if (!options_.marketplace.configured())
      return Fail(
          ErrorKind::kConflict, "marketplace_app_not_configured",
          "This KTrack server no longer has the credentials of KTrack's Marketplace app.",
          "Ask the KTrack operator to configure procore.marketplace_client_id and its secret, or save "
          "your own app's credentials.");
    app->client_secret = options_.marketplace.client_secret;
    return app;
  }
  auto secret = secrets_.Get(SecretOwner(record.client_id), kClientSecretPurpose);
  if (!secret) return tl::unexpected(secret.error());
  if (!*secret || record.procore_client_id.empty())
    return Fail(ErrorKind::kConflict, "credentials_missing",
                "No Procore credentials are saved for this client.",
                "Paste the client ID and client secret, then click Verify.");
  app->client_secret = std::move(**secret);
  return app;
}

std::optional<procore::RateBudgetSnapshot> ProcoreClients::RateBudgetFor(const IntegrationRecord& record) {
  if (!record.company_id) return std::nullopt;
  auto app = AppFor(record);
  if (!app || app->client_id.empty()) return std::nullopt;
  return budget_.Snapshot(procore::BudgetKey(app->urls.api_url, app->client_id, *record.company_id));
}

Result<std::shared_ptr<procore::Client>> ProcoreClients::ForIntegration(const IntegrationRecord& record) {
  auto app = CredentialsFor(record);
  if (!app) return tl::unexpected(app.error());
  return ForCredentials(std::move(*app));
}

Result<std::shared_ptr<procore::Client>> ProcoreClients::ClientFor(int64_t client_id) {
  auto record = LoadIntegration(store_, client_id);
  if (!record) return tl::unexpected(record.error());
  if (!*record || (*record)->status == IntegrationStatus::kDisconnected ||
      (*record)->status == IntegrationStatus::kNotStarted)
    return Fail(ErrorKind::kNotFound, "integration_not_found", "The client has no Procore integration.",
                "Connect Procore in Concierge → Integrate with Procore.");
  if (!(*record)->company_id || !(*record)->credentials_verified_at)
    return Fail(ErrorKind::kConflict, "credentials_not_verified", "The Procore credentials are not verified.",
                "Verify the credentials in Concierge → Integrate with Procore.");
  return ForIntegration(**record);
}

}  // namespace kt::integration
