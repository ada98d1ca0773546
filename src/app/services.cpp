// Builds the services from the configuration.
#include "app/services.h"

#include <filesystem>

#include "crypto/master_key.h"
#include "obs/log.h"
#include "store/migrations.h"

namespace kt::app {

Result<std::unique_ptr<Services>> BuildServices(const Config& config) {
  auto s = std::make_unique<Services>();
  s->config = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return Fail(ErrorKind::kUnavailable, "data_dir_unwritable", "Cannot create the data directory '" + config.data_dir + "'.",
                "Choose a writable --data-dir.", ec.message());

  auto store = store::OpenStore(config.DatabaseUrl());
  if (!store) return tl::unexpected(store.error());
  s->store = std::move(*store);
  auto migrated = store::Migrate(*s->store);
  if (!migrated) return tl::unexpected(migrated.error());
  if (*migrated > 0) obs::Log(obs::Level::kInfo, "migrations_applied", {{"count", *migrated}, {"database", s->store->Describe()}});

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
  return s;
}

}  // namespace kt::app
