// The ordered list of KTrack's schema migrations, and the runner that applies the pending ones.
#include "store/migrations.h"

#include <set>
#include <stdexcept>

#include "util/clock.h"

namespace kt::store {
namespace {

// Any fixed number; every KTrack process that migrates a PostgreSQL database takes this lock first.
constexpr int64_t kMigrationLockKey = 4'242'017'001;

// Version 1: accounts, sessions, tokens, encrypted secrets, audit, sign-in throttling and the job queue.
// Times are BIGINT unix milliseconds.
constexpr const char* kFoundationSql = R"sql(
CREATE TABLE clients (
  id {{pk}},
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE users (
  id {{pk}},
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  created_at BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (client_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
  id {{pk}},
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE secrets (
  id {{pk}},
  owner TEXT NOT NULL,
  purpose TEXT NOT NULL,
  key_id TEXT NOT NULL,
  nonce {{blob}} NOT NULL,
  ciphertext {{blob}} NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (owner, purpose)
);

CREATE TABLE audit_log (
  id {{pk}},
  client_id BIGINT,
  user_id BIGINT,
  action TEXT NOT NULL,
  detail_json TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_by_client ON audit_log (client_id, created_at);

CREATE TABLE sign_in_attempts (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  failures BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE jobs (
  id {{pk}},
  kind TEXT NOT NULL,
  payload_json TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'dead')),
  priority BIGINT NOT NULL DEFAULT 100,
  run_at BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL,
  dedupe_key TEXT,
  client_id BIGINT,
  worker_id TEXT,
  lease_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE UNIQUE INDEX jobs_dedupe_live ON jobs (dedupe_key)
  WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running');
CREATE INDEX jobs_pending ON jobs (priority, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_by_status ON jobs (status, finished_at);
)sql";

// Version 2: the sync engine (src/sync/): streams with their checkpoints, Procore records, the typed
// projects/users/vendors tables, and the webhook inbox. procore_records is keyed by project as well as by id
// because budget detail rows have ids unique only within a budget view (KTrack reads one view per project).
constexpr const char* kSyncSql = R"sql(
CREATE TABLE sync_clients (
  client_id BIGINT PRIMARY KEY,
  company_id BIGINT NOT NULL,
  reconcile_interval_s BIGINT NOT NULL DEFAULT 3600,
  next_reconcile_at BIGINT,
  updated_at BIGINT NOT NULL
);

CREATE TABLE sync_streams (
  id {{pk}},
  client_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  stream TEXT NOT NULL,
  project_id BIGINT NOT NULL DEFAULT 0,
  project_name TEXT NOT NULL DEFAULT '',
  parent_id BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'syncing', 'synced', 'rate_limited', 'error', 'paused')),
  phase TEXT NOT NULL DEFAULT 'initial' CHECK (phase IN ('initial', 'incremental')),
  pass TEXT NOT NULL DEFAULT '' CHECK (pass IN ('', 'full', 'incremental', 'probe')),
  wants TEXT NOT NULL DEFAULT '',
  seq BIGINT NOT NULL DEFAULT 0,
  next_page BIGINT NOT NULL DEFAULT 1,
  page_size BIGINT NOT NULL DEFAULT 0,
  pass_started_at BIGINT,
  pass_read BIGINT NOT NULL DEFAULT 0,
  pass_first_total BIGINT,
  pass_max_updated_at TEXT NOT NULL DEFAULT '',
  pass_max_updated_ms BIGINT NOT NULL DEFAULT 0,
  full_passes BIGINT NOT NULL DEFAULT 0,
  total BIGINT,
  count BIGINT NOT NULL DEFAULT 0,
  data_version BIGINT NOT NULL DEFAULT 0,
  checksum TEXT,
  checksum_version BIGINT NOT NULL DEFAULT -1,
  watermark TEXT NOT NULL DEFAULT '',
  watermark_ms BIGINT NOT NULL DEFAULT 0,
  rate_limited_until BIGINT,
  error_json TEXT,
  failures BIGINT NOT NULL DEFAULT 0,
  retry_at BIGINT,
  last_synced_at BIGINT,
  started_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (client_id, stream, project_id)
);

CREATE TABLE procore_records (
  client_id BIGINT NOT NULL,
  stream TEXT NOT NULL,
  project_id BIGINT NOT NULL,
  procore_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  deleted BIGINT NOT NULL DEFAULT 0,
  deleted_seen_ms BIGINT NOT NULL DEFAULT 0,
  seen_ms BIGINT NOT NULL DEFAULT 0,
  body TEXT NOT NULL,
  PRIMARY KEY (client_id, stream, project_id, procore_id)
);

CREATE TABLE procore_projects (
  client_id BIGINT NOT NULL,
  procore_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  display_name TEXT NOT NULL DEFAULT '',
  project_number TEXT NOT NULL DEFAULT '',
  stage TEXT NOT NULL DEFAULT '',
  active BIGINT NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL DEFAULT '',
  updated_at_ms BIGINT NOT NULL DEFAULT 0,
  deleted BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (client_id, procore_id)
);

CREATE TABLE procore_users (
  client_id BIGINT NOT NULL,
  procore_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  email_address TEXT NOT NULL DEFAULT '',
  job_title TEXT NOT NULL DEFAULT '',
  is_active BIGINT NOT NULL DEFAULT 1,
  is_employee BIGINT NOT NULL DEFAULT 0,
  vendor_id BIGINT NOT NULL DEFAULT 0,
  vendor_name TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL DEFAULT '',
  updated_at_ms BIGINT NOT NULL DEFAULT 0,
  deleted BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (client_id, procore_id)
);

CREATE TABLE procore_vendors (
  client_id BIGINT NOT NULL,
  procore_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  abbreviated_name TEXT NOT NULL DEFAULT '',
  email_address TEXT NOT NULL DEFAULT '',
  business_phone TEXT NOT NULL DEFAULT '',
  is_active BIGINT NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL DEFAULT '',
  updated_at_ms BIGINT NOT NULL DEFAULT 0,
  deleted BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (client_id, procore_id)
);

CREATE TABLE webhook_inbox (
  id {{pk}},
  client_id BIGINT NOT NULL,
  event_key TEXT NOT NULL,
  payload_version TEXT NOT NULL,
  resource_name TEXT NOT NULL,
  event_type TEXT NOT NULL,
  resource_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  project_id BIGINT,
  source_application_id TEXT,
  event_at_ms BIGINT NOT NULL,
  payload TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dropped')),
  claim_token TEXT,
  claimed_until BIGINT,
  outcome TEXT,
  processed_at BIGINT,
  UNIQUE (client_id, event_key)
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (client_id, id) WHERE status = 'pending';
CREATE INDEX webhook_inbox_processed ON webhook_inbox (processed_at) WHERE status <> 'pending';
)sql";

// Version 3: the company integration (src/integration/): one row per client with its status, environment,
// company, settings and hook; secrets live in the secrets table, never here. KTrack projects and their
// Procore links.
constexpr const char* kIntegrationSql = R"sql(
CREATE TABLE procore_integrations (
  client_id BIGINT PRIMARY KEY,
  status TEXT NOT NULL,
  environment TEXT NOT NULL DEFAULT 'production',
  login_url TEXT NOT NULL DEFAULT '',
  api_url TEXT NOT NULL DEFAULT '',
  procore_client_id TEXT NOT NULL DEFAULT '',
  uses_marketplace_app BIGINT NOT NULL DEFAULT 0,
  client_secret_hint TEXT NOT NULL DEFAULT '',
  company_id BIGINT,
  company_name TEXT NOT NULL DEFAULT '',
  companies_json TEXT NOT NULL DEFAULT '[]',
  settings_json TEXT,
  credentials_verified_at BIGINT,
  permissions_verified_at BIGINT,
  last_permission_check_json TEXT,
  integration_key TEXT UNIQUE,
  hook_id BIGINT,
  hook_json TEXT,
  webhook_secret_rotating BIGINT NOT NULL DEFAULT 0,
  webhook_health_json TEXT,
  last_error_json TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE ktrack_projects (
  id {{pk}},
  client_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  number TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX ktrack_projects_by_client ON ktrack_projects (client_id, id);

CREATE TABLE procore_project_links (
  client_id BIGINT NOT NULL,
  procore_project_id BIGINT NOT NULL,
  ktrack_project_id BIGINT NOT NULL,
  project_name TEXT NOT NULL DEFAULT '',
  linked_by BIGINT,
  linked_at BIGINT NOT NULL,
  PRIMARY KEY (client_id, procore_project_id),
  UNIQUE (client_id, ktrack_project_id)
);
)sql";

// Version 4: several `ktrack serve` processes on one database (src/fleet/): the Procore rate budget per
// (app, company) as one row each (state: compact JSON with the send log delta-encoded), named leases (the
// scheduler runs in one process at a time), and how many times a handler finished each job (a second
// completion means a job ran twice: its first run outlived its lease).
constexpr const char* kFleetSql = R"sql(
CREATE TABLE rate_budgets (
  budget_key TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE fleet_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  lease_until BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

ALTER TABLE jobs ADD COLUMN completions BIGINT NOT NULL DEFAULT 0;
)sql";

// A Procore project an admin unlinked: auto-link leaves it alone until someone links it again, and linking it
// again offers the KTrack project it was linked to.
constexpr const char* kProjectUnlinksSql = R"sql(
CREATE TABLE procore_project_unlinks (
  client_id BIGINT NOT NULL,
  procore_project_id BIGINT NOT NULL,
  ktrack_project_id BIGINT NOT NULL,
  unlinked_by BIGINT,
  unlinked_at BIGINT NOT NULL,
  PRIMARY KEY (client_id, procore_project_id)
);
)sql";

// The webhook inbox's raw payloads in a table of their own, keyed by the event's inbox id. Processing
// rewrites an event's inbox row twice (claimed, then done), and SQLite rewrites a whole row to change one
// column: without the payload (most of a row's bytes) those rewrites touch several times fewer pages. The
// payload is written once, when the event is stored, and deleted with its event.
constexpr const char* kInboxPayloadsSql = R"sql(
CREATE TABLE webhook_inbox_payloads (
  inbox_id {{id_pk}},
  client_id BIGINT NOT NULL,
  payload TEXT NOT NULL
);
INSERT INTO webhook_inbox_payloads (inbox_id, client_id, payload)
  SELECT id, client_id, payload FROM webhook_inbox;
ALTER TABLE webhook_inbox DROP COLUMN payload;
)sql";

// Payloads of events that are gone: a client's purge used to delete its inbox but not the events' payloads
// (raw webhook bodies), which nothing then found again.
constexpr const char* kOrphanPayloadsSql = R"sql(
DELETE FROM webhook_inbox_payloads WHERE NOT EXISTS (
  SELECT 1 FROM webhook_inbox WHERE webhook_inbox.id = webhook_inbox_payloads.inbox_id);
)sql";

// Full reads' records a row a page (src/sync/record_pages.h): a page's ids, versions and deletion flags
// packed in idx, their bodies in bodies. procore_records keeps the records changed since, which shadow these.
constexpr const char* kRecordPagesSql = R"sql(
CREATE TABLE record_pages (
  client_id BIGINT NOT NULL,
  stream TEXT NOT NULL,
  project_id BIGINT NOT NULL,
  pass_ms BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  min_id BIGINT NOT NULL,
  max_id BIGINT NOT NULL,
  company_id BIGINT NOT NULL,
  seen_ms BIGINT NOT NULL,
  idx {{blob}} NOT NULL,
  bodies {{blob}} NOT NULL,
  PRIMARY KEY (client_id, stream, project_id, pass_ms, seq)
);
)sql";

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

Status LockForMigration(Tx& tx) {
  if (tx.dialect() != Dialect::kPostgres) return {};  // SQLite: the transaction already holds the write lock
  auto r = tx.Query("SELECT pg_advisory_xact_lock($1)", {kMigrationLockKey});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::set<int64_t>> AppliedVersions(Store& store) {
  auto r = store.Query("SELECT version FROM schema_migrations");
  if (!r) return tl::unexpected(r.error());
  std::set<int64_t> versions;
  for (const Row& row : r->rows) versions.insert(row.Int(0));
  return versions;
}

// Version 9: finished jobs are found by two partial indexes instead of jobs_by_status, an index of every job
// by its status. A job's status changes twice (claimed, then done), and each change moved its entry in that
// index; these take a job once, when it finishes (the purge of old done jobs and the dead-letter list read
// them). Pending and running jobs are found by jobs_pending and jobs_running as before.
constexpr const char* kFinishedJobsSql = R"sql(
DROP INDEX jobs_by_status;
CREATE INDEX jobs_done ON jobs (finished_at) WHERE status = 'done';
CREATE INDEX jobs_dead ON jobs (finished_at, id) WHERE status = 'dead';
)sql";

}  // namespace

const std::vector<Migration>& AllMigrations() {
  // Append new migrations at the end with the next version number; never edit or reorder applied ones.
  // clang-format off
  static const std::vector<Migration> kMigrations = {
      {1, "foundation", kFoundationSql},
      {2, "sync", kSyncSql},
      {3, "integration", kIntegrationSql},
      {4, "fleet", kFleetSql},
      {5, "project_unlinks", kProjectUnlinksSql},
      {6, "inbox_payloads", kInboxPayloadsSql},
      {7, "orphan_payloads", kOrphanPayloadsSql},
      {8, "record_pages", kRecordPagesSql},
      {9, "finished_jobs", kFinishedJobsSql},
  };
  // clang-format on
  return kMigrations;
}

std::string ExpandDialectTokens(std::string_view sql, Dialect dialect) {
  std::string out(sql);
  bool pg = dialect == Dialect::kPostgres;
  ReplaceAll(out, "{{pk}}", pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT");
  // A key the rows bring with them (another table's id): on SQLite the rowid itself, so no separate index.
  ReplaceAll(out, "{{id_pk}}", pg ? "BIGINT PRIMARY KEY" : "INTEGER PRIMARY KEY");
  ReplaceAll(out, "{{blob}}", pg ? "BYTEA" : "BLOB");
  return out;
}

Result<int> Migrate(Store& store) {
  return Migrate(store, AllMigrations());
}

Result<int> Migrate(Store& store, const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version)
      throw std::logic_error("migrations out of order at version " + std::to_string(migrations[i].version));
  }
  Status created = store.Transact([](Tx& tx) -> Status {
    if (auto s = LockForMigration(tx); !s) return s;
    auto r = tx.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at BIGINT NOT NULL)");
    if (!r) return tl::unexpected(r.error());
    return {};
  });
  if (!created) return tl::unexpected(created.error());
  auto applied_before = AppliedVersions(store);
  if (!applied_before) return tl::unexpected(applied_before.error());

  int applied = 0;
  for (const Migration& m : migrations) {
    if (applied_before->count(m.version)) continue;
    bool did_apply = false;
    Status s = store.Transact([&](Tx& tx) -> Status {
      did_apply = false;
      if (auto locked = LockForMigration(tx); !locked) return locked;
      // Another process may have applied it while we waited for the lock.
      auto seen = tx.Query("SELECT 1 FROM schema_migrations WHERE version = $1", {int64_t{m.version}});
      if (!seen) return tl::unexpected(seen.error());
      if (!seen->empty()) return {};
      if (auto r = tx.Exec(ExpandDialectTokens(m.sql, tx.dialect())); !r) {
        Error e = r.error();
        e.message = "Database migration " + std::to_string(m.version) + " (" + m.name + ") failed.";
        return tl::unexpected(e);
      }
      auto recorded = tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                              {int64_t{m.version}, m.name, SystemClock::Instance().NowUnixMs()});
      if (!recorded) return tl::unexpected(recorded.error());
      did_apply = true;
      return {};
    });
    if (!s) return tl::unexpected(s.error());
    if (did_apply) ++applied;
  }
  return applied;
}

Result<int> SchemaVersion(Store& store) {
  auto r = store.Query("SELECT MAX(version) AS v FROM schema_migrations");
  if (!r) {
    // No schema_migrations table yet: nothing applied.
    auto exists = store.Query(store.dialect() == Dialect::kPostgres
                                  ? "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'"
                                  : "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'");
    if (exists && exists->empty()) return 0;
    return tl::unexpected(r.error());
  }
  if (r->empty() || r->rows[0].IsNull(0)) return 0;
  return static_cast<int>(r->rows[0].Int(0));
}

}  // namespace kt::store
