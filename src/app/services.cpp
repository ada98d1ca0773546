// Builds the services from the configuration.
#include "app/services.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/master_key.h"
#include "fleet/shared_rate_budget.h"
#include "http/server.h"
#include "obs/log.h"
#include "store/migrations.h"

namespace kt::app {

Result<std::unique_ptr<Services>> BuildServices(const Config& config) {
  auto s = std::make_unique<Services>();
  s->config = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return Fail(ErrorKind::kUnavailable, "data_dir_unwritable",
                "Cannot create the data directory '" + config.data_dir + "'.",
                "Choose a writable --data-dir.", ec.message());
  // The default database is SQLite in the data directory, with its log beside it: a directory this user
  // cannot write is said so now rather than as an unusable database.
  if (config.database.empty() && ::access(config.data_dir.c_str(), W_OK) != 0)
    return Fail(ErrorKind::kUnavailable, "data_dir_unwritable",
                "The data directory '" + config.data_dir + "' is not writable by this user (uid " +
                    std::to_string(::geteuid()) + ").",
                "Run ktrack as the user who owns it, or give this user write access, or choose another "
                "--data-dir.",
                std::strerror(errno));

  auto store = store::OpenStore(config.DatabaseUrl());
  if (!store) return tl::unexpected(store.error());
  s->store = std::move(*store);
  auto migrated = store::Migrate(*s->store);
  if (!migrated) return tl::unexpected(migrated.error());
  if (*migrated > 0)
    obs::Log(obs::Level::kInfo, "migrations_applied",
             {{"count", *migrated}, {"database", s->store->Describe()}});

  auto key_options = crypto::KeySourceFromEnvironment(config.data_dir);
  auto keyring = crypto::LoadKeyring(key_options);
  if (!keyring) return tl::unexpected(keyring.error());
  if (keyring->created) obs::Log(obs::Level::kInfo, "master_key_created", {{"path", keyring->file_path}});
  // The loader lets a running server pick up a key added by `ktrack keys rotate` in another process.
  s->secrets = std::make_unique<crypto::SecretStore>(*s->store, keyring->keyring, s->clock,
                                                     crypto::MakeKeyringLoader(key_options));

  s->clients = std::make_unique<accounts::Clients>(*s->store, s->clock);
  s->users = std::make_unique<accounts::Users>(*s->store, s->clock);
  s->memberships = std::make_unique<accounts::Memberships>(*s->store, s->clock);
  s->sessions = std::make_unique<accounts::Sessions>(*s->store, s->clock);
  s->api_tokens = std::make_unique<accounts::ApiTokens>(*s->store, s->clock);
  s->audit = std::make_unique<accounts::AuditLog>(*s->store, s->clock);
  s->access = std::make_unique<access::Access>(*s->users, *s->sessions, *s->api_tokens, *s->memberships);
  s->queue = std::make_unique<queue::Queue>(*s->store, s->clock, s->random);

  integration::ProcoreClientsOptions procore_options;
  procore_options.allow_custom_urls = config.procore_allow_custom_urls;
  procore_options.marketplace = {config.procore_marketplace_client_id,
                                 config.procore_marketplace_client_secret};
  // Several processes share a PostgreSQL database, so they share each company's budget there. A SQLite file
  // serves one process, whose budget in memory costs no write per request.
  if (s->store->dialect() == store::Dialect::kPostgres) {
    s->rate_budget_store = std::make_unique<fleet::SharedRateBudgetStore>(*s->store);
    procore_options.rate_budget_store = s->rate_budget_store.get();
  }
  s->procore_clients = std::make_unique<integration::ProcoreClients>(*s->store, *s->secrets, s->clock,
                                                                     s->random, procore_options);
  sync::SyncOptions sync_options;
  // Webhook events claimed by a killed server wait out their claim, which the running job renews: as long as
  // the job lease (at least 3 s, so renewals stay a second apart), so a shorter job_lease_s speeds up the
  // takeover of both.
  sync_options.inbox_claim_lease = Millis(std::max<int64_t>(config.job_lease_s, 3) * 1000);
  // On SQLite every process is on this machine, so an accepted delivery may be made durable in a journal file
  // of the data directory and answered before its commit (sync/inbox_journal.h; BENCHMARKS.md, session 21).
  if (s->store->dialect() == store::Dialect::kSqlite)
    sync_options.inbox.journal_dir = config.data_dir + "/webhook-journal";
  s->sync =
      std::make_unique<sync::SyncEngine>(*s->store, *s->queue, *s->procore_clients, s->clock, sync_options);
  integration::ReceiverOptions receiver_options;
  receiver_options.max_body_bytes = static_cast<size_t>(config.webhook_max_body_bytes);
  // The deliveries an I/O thread takes together go to the journal with one write (BENCHMARKS.md, session 24).
  receiver_options.after_ready = http::AfterReadyRequests;
  s->webhook_receiver = std::make_unique<integration::WebhookReceiver>(
      *s->store, *s->secrets, s->sync->inbox(), s->clock, receiver_options);
  integration::IntegrationOptions integration_options;
  // Until the server has bound its port (serve sets it then), the configured listen address stands in.
  integration_options.public_base_url = config.PublicBaseUrl("http://" + config.listen);
  integration_options.delivery_health_interval = Millis(config.integration_maintenance_interval_s * 1000);
  integration_options.permission_recheck_interval =
      Millis(config.integration_permission_recheck_interval_s * 1000);
  integration_options.permissions.max_projects =
      static_cast<size_t>(config.integration_permission_check_projects);
  s->integration = std::make_unique<integration::IntegrationService>(
      *s->store, *s->secrets, *s->audit, *s->queue, *s->sync, *s->procore_clients, s->webhook_receiver.get(),
      s->clock, integration_options);
  return s;
}

}  // namespace kt::app
