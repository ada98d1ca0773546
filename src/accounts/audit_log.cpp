// The audit log and its secret redaction.
#include "accounts/audit_log.h"

#include <algorithm>
#include <array>

#include "util/strings.h"

namespace kt::accounts {

namespace {

constexpr std::string_view kRedacted = "[redacted]";

store::Value OptionalId(std::optional<int64_t> id) {
  if (id) return *id;
  return nullptr;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsSecretKey(std::string_view key) {
  std::string k = ToLower(key);
  std::replace(k.begin(), k.end(), '-', '_');
  static constexpr std::array<std::string_view, 4> kContains = {"password", "secret", "passphrase",
                                                                "credential"};
  for (std::string_view word : kContains) {
    if (k.find(word) != std::string::npos) return true;
  }
  // "token", "access_token", "csrf_token"; "private_key", "api_key", "master_key" (but not "key_id").
  if (EndsWith(k, "token") || EndsWith(k, "_key") || k == "key") return true;
  static constexpr std::array<std::string_view, 6> kExact = {"authorization", "cookie", "set_cookie",
                                                             "csrf",          "_csrf",  "session"};
  return std::find(kExact.begin(), kExact.end(), k) != kExact.end();
}

nlohmann::json RedactSecrets(const nlohmann::json& detail) {
  if (detail.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = detail.begin(); it != detail.end(); ++it) {
      out[it.key()] = IsSecretKey(it.key()) ? nlohmann::json(kRedacted) : RedactSecrets(it.value());
    }
    return out;
  }
  if (detail.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : detail) out.push_back(RedactSecrets(item));
    return out;
  }
  return detail;
}

AuditLog::AuditLog(store::Store& store, Clock& clock) : store_(store), clock_(clock) {}

template <typename Db>
Status AuditLog::RecordWith(Db& db, std::optional<int64_t> client_id, std::optional<int64_t> user_id,
                            std::string_view action, const nlohmann::json& detail) {
  nlohmann::json safe = RedactSecrets(detail.is_null() ? nlohmann::json::object() : detail);
  auto r = db.Exec(
      "INSERT INTO audit_log (client_id, user_id, action, detail_json, created_at) VALUES ($1, $2, $3, $4, "
      "$5)",
      {OptionalId(client_id), OptionalId(user_id), std::string(action),
       safe.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), clock_.NowUnixMs()});
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status AuditLog::Record(std::optional<int64_t> client_id, std::optional<int64_t> user_id,
                        std::string_view action, const nlohmann::json& detail) {
  return RecordWith(store_, client_id, user_id, action, detail);
}

Status AuditLog::Record(store::Tx& tx, std::optional<int64_t> client_id, std::optional<int64_t> user_id,
                        std::string_view action, const nlohmann::json& detail) {
  return RecordWith(tx, client_id, user_id, action, detail);
}

Result<std::vector<AuditEntry>> AuditLog::List(int64_t client_id, int64_t limit,
                                               std::string_view action_prefix) {
  limit = std::clamp<int64_t>(limit, 1, 500);
  const bool filtered = !action_prefix.empty();
  auto rows = store_.Query(
      std::string(
          "SELECT a.id, a.client_id, a.user_id, u.email, a.action, a.detail_json, a.created_at FROM "
          "audit_log a LEFT JOIN memberships m ON m.client_id = a.client_id AND m.user_id = a.user_id "
          "LEFT JOIN users u ON u.id = m.user_id WHERE a.client_id = $1") +
          (filtered ? " AND a.action LIKE $3" : "") + " ORDER BY a.created_at DESC, a.id DESC LIMIT $2",
      filtered ? store::Params{client_id, limit, std::string(action_prefix) + "%"}
               : store::Params{client_id, limit});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<AuditEntry> out;
  out.reserve(rows->rows.size());
  for (const store::Row& row : rows->rows) {
    AuditEntry entry;
    entry.id = row.Int("id");
    entry.client_id = row.OptInt("client_id");
    entry.user_id = row.OptInt("user_id");
    entry.user_email = row.OptText("email");
    entry.action = row.Text("action");
    entry.detail = nlohmann::json::parse(row.Text("detail_json"), nullptr, /*allow_exceptions=*/false);
    if (entry.detail.is_discarded()) entry.detail = nlohmann::json::object();
    entry.created_at = row.Int("created_at");
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace kt::accounts
