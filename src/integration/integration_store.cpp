// Rows of procore_integrations, ktrack_projects and procore_project_links, and the receiver's key lookup.
#include "integration/integration_store.h"

#include "util/hash.h"

namespace kt::integration {
namespace {

constexpr char kColumns[] =
    "client_id, status, environment, login_url, api_url, procore_client_id, uses_marketplace_app, "
    "client_secret_hint, company_id, company_name, companies_json, settings_json, credentials_verified_at, "
    "permissions_verified_at, last_permission_check_json, integration_key, hook_id, hook_json, "
    "webhook_secret_rotating, webhook_health_json, last_error_json, created_at, updated_at";

nlohmann::json ParseJsonText(const std::optional<std::string>& text, nlohmann::json fallback = nullptr) {
  if (!text || text->empty()) return fallback;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

store::Value JsonOrNull(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  return j.dump();
}

store::Value OptInt(const std::optional<int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

IntegrationRecord FromRow(const store::Row& row) {
  IntegrationRecord r;
  r.client_id = row.Int("client_id");
  r.status = ParseStatus(row.Text("status")).value_or(IntegrationStatus::kNotStarted);
  r.environment = row.Text("environment");
  r.login_url = row.Text("login_url");
  r.api_url = row.Text("api_url");
  r.procore_client_id = row.Text("procore_client_id");
  r.uses_marketplace_app = row.Int("uses_marketplace_app") != 0;
  r.client_secret_hint = row.Text("client_secret_hint");
  r.company_id = row.OptInt("company_id");
  r.company_name = row.Text("company_name");
  r.companies = ParseJsonText(row.OptText("companies_json"), nlohmann::json::array());
  if (auto s = row.OptText("settings_json"); s && !s->empty())
    r.settings = SettingsFromJson(ParseJsonText(s));
  r.credentials_verified_at = row.OptInt("credentials_verified_at");
  r.permissions_verified_at = row.OptInt("permissions_verified_at");
  r.last_permission_check = ParseJsonText(row.OptText("last_permission_check_json"));
  r.integration_key = row.OptText("integration_key").value_or("");
  r.hook_id = row.OptInt("hook_id");
  r.hook = ParseJsonText(row.OptText("hook_json"));
  r.webhook_secret_rotating = row.Int("webhook_secret_rotating") != 0;
  r.webhook_health = ParseJsonText(row.OptText("webhook_health_json"));
  r.last_error = ParseJsonText(row.OptText("last_error_json"));
  r.created_at = row.Int("created_at");
  r.updated_at = row.Int("updated_at");
  return r;
}

}  // namespace

std::string SecretOwner(int64_t client_id) {
  return "client:" + std::to_string(client_id);
}

Result<std::optional<IntegrationRecord>> LoadIntegration(store::Tx& tx, int64_t client_id, bool for_update) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM procore_integrations WHERE client_id = $1";
  if (for_update) sql += tx.LockRows();
  auto r = tx.Query(sql, {client_id});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<IntegrationRecord>();
  return std::optional<IntegrationRecord>(FromRow(r->rows[0]));
}

Result<std::optional<IntegrationRecord>> LoadIntegration(store::Store& store, int64_t client_id) {
  auto r = store.Query(std::string("SELECT ") + kColumns + " FROM procore_integrations WHERE client_id = $1",
                       {client_id});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<IntegrationRecord>();
  return std::optional<IntegrationRecord>(FromRow(r->rows[0]));
}

Status SaveIntegration(store::Tx& tx, const IntegrationRecord& r) {
  store::Params params = {
      r.client_id,
      std::string(StatusName(r.status)),
      r.environment,
      r.login_url,
      r.api_url,
      r.procore_client_id,
      int64_t{r.uses_marketplace_app ? 1 : 0},
      r.client_secret_hint,
      OptInt(r.company_id),
      r.company_name,
      r.companies.dump(),
      r.settings ? store::Value(SettingsJson(*r.settings).dump()) : store::Value(nullptr),
      OptInt(r.credentials_verified_at),
      OptInt(r.permissions_verified_at),
      JsonOrNull(r.last_permission_check),
      r.integration_key.empty() ? store::Value(nullptr) : store::Value(r.integration_key),
      OptInt(r.hook_id),
      JsonOrNull(r.hook),
      int64_t{r.webhook_secret_rotating ? 1 : 0},
      JsonOrNull(r.webhook_health),
      JsonOrNull(r.last_error),
      r.created_at,
      r.updated_at,
  };
  auto done =
      tx.Exec(std::string("INSERT INTO procore_integrations (") + kColumns +
                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
                  "$18, $19, $20, $21, $22, $23) ON CONFLICT (client_id) DO UPDATE SET "
                  "status = excluded.status, environment = excluded.environment, "
                  "login_url = excluded.login_url, api_url = excluded.api_url, "
                  "procore_client_id = excluded.procore_client_id, "
                  "uses_marketplace_app = excluded.uses_marketplace_app, "
                  "client_secret_hint = excluded.client_secret_hint, company_id = excluded.company_id, "
                  "company_name = excluded.company_name, companies_json = excluded.companies_json, "
                  "settings_json = excluded.settings_json, "
                  "credentials_verified_at = excluded.credentials_verified_at, "
                  "permissions_verified_at = excluded.permissions_verified_at, "
                  "last_permission_check_json = excluded.last_permission_check_json, "
                  "integration_key = excluded.integration_key, hook_id = excluded.hook_id, "
                  "hook_json = excluded.hook_json, "
                  "webhook_secret_rotating = excluded.webhook_secret_rotating, "
                  "webhook_health_json = excluded.webhook_health_json, "
                  "last_error_json = excluded.last_error_json, updated_at = excluded.updated_at",
              params);
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::vector<IntegrationRecord>> ListRunningIntegrations(store::Store& store) {
  auto r =
      store.Query(std::string("SELECT ") + kColumns +
                  " FROM procore_integrations WHERE hook_id IS NOT NULL AND status IN ('active', 'error', "
                  "'completing') ORDER BY client_id");
  if (!r) return tl::unexpected(r.error());
  std::vector<IntegrationRecord> out;
  for (const auto& row : r->rows) out.push_back(FromRow(row));
  return out;
}

Result<std::optional<ReceiverEntry>> LoadReceiverEntry(store::Store& store, crypto::SecretStore& secrets,
                                                       const std::string& integration_key) {
  auto r = store.Query(
      "SELECT client_id, company_id, webhook_secret_rotating FROM procore_integrations WHERE integration_key "
      "= $1",
      {integration_key});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<ReceiverEntry>();
  ReceiverEntry e;
  e.client_id = r->rows[0].Int("client_id");
  e.company_id = r->rows[0].OptInt("company_id").value_or(0);
  const std::string owner = SecretOwner(e.client_id);
  auto current = secrets.Get(owner, kWebhookSecretPurpose);
  if (!current) return tl::unexpected(current.error());
  if (!*current) return std::optional<ReceiverEntry>();  // no hook secret yet: nothing can be delivered
  e.secret_hash = Sha256Hex(**current);
  if (r->rows[0].Int("webhook_secret_rotating") != 0) {
    auto previous = secrets.Get(owner, kPreviousWebhookSecretPurpose);
    if (!previous) return tl::unexpected(previous.error());
    if (*previous) e.previous_secret_hash = Sha256Hex(**previous);
  }
  return std::optional<ReceiverEntry>(std::move(e));
}

Result<std::vector<ProjectLink>> ListProjectLinks(store::Tx& tx, int64_t client_id) {
  auto r = tx.Query(
      "SELECT procore_project_id, ktrack_project_id, project_name, linked_at FROM procore_project_links "
      "WHERE client_id = $1 ORDER BY procore_project_id",
      {client_id});
  if (!r) return tl::unexpected(r.error());
  std::vector<ProjectLink> out;
  for (const auto& row : r->rows)
    out.push_back({row.Int("procore_project_id"), row.Int("ktrack_project_id"), row.Text("project_name"),
                   row.Int("linked_at")});
  return out;
}

Result<std::map<int64_t, int64_t>> ListUnlinkedByAdmin(store::Tx& tx, int64_t client_id) {
  auto r = tx.Query(
      "SELECT procore_project_id, ktrack_project_id FROM procore_project_unlinks WHERE client_id = $1",
      {client_id});
  if (!r) return tl::unexpected(r.error());
  std::map<int64_t, int64_t> out;
  for (const auto& row : r->rows) out[row.Int(0)] = row.Int(1);
  return out;
}

Status MarkUnlinkedByAdmin(store::Tx& tx, int64_t client_id, int64_t procore_project_id,
                           int64_t ktrack_project_id, int64_t user_id, int64_t now_ms) {
  auto r = tx.Exec(
      "INSERT INTO procore_project_unlinks (client_id, procore_project_id, ktrack_project_id, unlinked_by, "
      "unlinked_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id, procore_project_id) DO UPDATE SET "
      "ktrack_project_id = excluded.ktrack_project_id, unlinked_by = excluded.unlinked_by, unlinked_at = "
      "excluded.unlinked_at",
      {client_id, procore_project_id, ktrack_project_id, user_id, now_ms});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status ClearUnlinkedByAdmin(store::Tx& tx, int64_t client_id, int64_t procore_project_id) {
  auto r = tx.Exec("DELETE FROM procore_project_unlinks WHERE client_id = $1 AND procore_project_id = $2",
                   {client_id, procore_project_id});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status DeleteAllProjectLinks(store::Tx& tx, int64_t client_id) {
  for (const char* table : {"procore_project_links", "procore_project_unlinks"}) {
    auto r = tx.Exec(std::string("DELETE FROM ") + table + " WHERE client_id = $1", {client_id});
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

Result<std::optional<KtrackProject>> FindKtrackProject(store::Tx& tx, int64_t client_id, int64_t id) {
  auto r = tx.Query(
      "SELECT id, client_id, name, number, created_at FROM ktrack_projects WHERE client_id = $1 AND id = $2",
      {client_id, id});
  if (!r) return tl::unexpected(r.error());
  if (r->empty()) return std::optional<KtrackProject>();
  const auto& row = r->rows[0];
  return std::optional<KtrackProject>(KtrackProject{row.Int("id"), row.Int("client_id"), row.Text("name"),
                                                    row.Text("number"), row.Int("created_at")});
}

Result<int64_t> CreateKtrackProject(store::Tx& tx, int64_t client_id, const std::string& name,
                                    const std::string& number, int64_t now_ms) {
  auto r = tx.Query(
      "INSERT INTO ktrack_projects (client_id, name, number, created_at) VALUES ($1, $2, $3, $4) RETURNING "
      "id",
      {client_id, name, number, now_ms});
  if (!r) return tl::unexpected(r.error());
  return r->rows[0].Int(0);
}

Result<int64_t> AutoLinkToNewKtrackProject(store::Tx& tx, int64_t client_id, int64_t procore_project_id,
                                           const std::string& name, const std::string& number,
                                           int64_t now_ms) {
  auto created = CreateKtrackProject(tx, client_id, name, number, now_ms);
  if (!created) return tl::unexpected(created.error());
  auto ins = tx.Exec(
      "INSERT INTO procore_project_links (client_id, procore_project_id, ktrack_project_id, project_name, "
      "linked_by, linked_at) VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT (client_id, procore_project_id) "
      "DO NOTHING",
      {client_id, procore_project_id, *created, name, now_ms});
  if (!ins) return tl::unexpected(ins.error());
  return *created;
}

}  // namespace kt::integration
