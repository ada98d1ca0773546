// Server configuration: defaults, then a config file, then KTRACK_* environment variables, then flags.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.h"

namespace kt::app {

enum class Role { kWeb, kWorker, kAll };

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./var";
  std::string database;         // empty: sqlite:<data_dir>/ktrack.db
  std::string public_base_url;  // empty: http://<listen address>
  Role role = Role::kAll;
  std::string log_level = "info";

  // [server]
  // Two by default: webhook deliveries are checked on the I/O threads (their durable commit is the inbox's),
  // so a second thread takes the other core's share under load.
  int io_threads = 2;
  int worker_threads = 8;
  int64_t max_body_bytes = 1 << 20;

  // [worker]
  int job_threads = 4;
  // The job threads' nice value (0-19). Raised, syncs, webhook processing and reconciliations yield the CPU
  // to the I/O threads and page requests under load; but a job thread holding the database's write lock is
  // then slowed as well, and the inbox's committer waits for it (on SQLite, up to 0.2 s at 19 under a webhook
  // flood, measured; BENCHMARKS.md session 23), so 0 by default. Webhook processing gives way to a flood of
  // deliveries by itself (SyncOptions::webhook_flood_rate).
  int job_nice = 0;
  // How long a claimed job stays this server's without a heartbeat: after a crash, its jobs wait this long
  // before another server (or the restarted one) takes them over.
  int64_t job_lease_s = 60;

  // [procore]
  bool procore_allow_custom_urls = false;
  // KTrack's own Marketplace app (optional); the secret may also come from
  // KTRACK_PROCORE_MARKETPLACE_CLIENT_SECRET.
  std::string procore_marketplace_client_id;
  std::string procore_marketplace_client_secret;

  // [integration]
  // How often the maintenance job runs (webhook delivery health, auto-link of new projects, due re-checks).
  int64_t integration_maintenance_interval_s = 60;
  // How often a running integration's permissions are checked again for drift.
  int64_t integration_permission_recheck_interval_s = 900;
  // Projects a permission check samples (linked ones first; more when linked projects' streams stopped on
  // a permission).
  int64_t integration_permission_check_projects = 25;

  // [webhooks]
  int64_t webhook_max_body_bytes = 256 << 10;

  std::string DatabaseUrl() const;
  std::string PublicBaseUrl(const std::string& bound_url) const;
};

// Flat "section.key" → value map, as read from a file or the environment.
using ConfigValues = std::map<std::string, std::string>;

// Parses the config file format: TOML's simple subset — `[section]` headers, `key = value` lines with
// "double-quoted strings", integers, true/false; `#` comments. Errors name the line and what was expected.
Result<ConfigValues> ParseConfigText(std::string_view text);
// KTRACK_<SECTION>_<KEY> variables (and KTRACK_<KEY> for top-level keys) for the known keys.
ConfigValues ConfigFromEnvironment(char** environ_ptr);
// Applies values onto a config; unknown keys and bad values are errors naming the key.
Status ApplyConfigValues(Config& config, const ConfigValues& values);

// The whole load: defaults, file (if given; must exist), environment.
Result<Config> LoadConfig(const std::optional<std::string>& file, char** environ_ptr);

std::string_view RoleName(Role role);

}  // namespace kt::app
