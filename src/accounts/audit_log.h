// The audit log: who did what to which client, with a JSON detail that never holds secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

struct AuditEntry {
  int64_t id = 0;
  std::optional<int64_t> client_id;  // nullopt for actions outside any client (sign-in)
  std::optional<int64_t> user_id;    // nullopt for the system (workers, the CLI)
  // The user's email while a member of the entry's client (List fills it); nullopt otherwise.
  std::optional<std::string> user_email;
  std::string action;  // "integration.credentials_saved", "user.signed_in", ...
  nlohmann::json detail;
  int64_t created_at = 0;
};

// True for object keys that name secrets: passwords, secrets, tokens, keys, cookies, authorization.
bool IsSecretKey(std::string_view key);
// A copy of detail with the value of every secret-named key, at any depth, replaced by "[redacted]".
nlohmann::json RedactSecrets(const nlohmann::json& detail);

class AuditLog {
 public:
  AuditLog(store::Store& store, Clock& clock);

  // Callers must not put secrets in detail; RedactSecrets runs anyway as a second line of defence.
  Status Record(std::optional<int64_t> client_id, std::optional<int64_t> user_id, std::string_view action,
                const nlohmann::json& detail = nlohmann::json::object());
  // The same inside a transaction, so the entry commits with the change it describes.
  Status Record(store::Tx& tx, std::optional<int64_t> client_id, std::optional<int64_t> user_id,
                std::string_view action, const nlohmann::json& detail = nlohmann::json::object());
  // A client's entries, newest first, with each user's email while a member of the client; at most `limit`
  // (clamped to 1..500); only actions that start with `action_prefix` when it is given (a fixed prefix such
  // as "integration.", with no LIKE wildcard in it).
  Result<std::vector<AuditEntry>> List(int64_t client_id, int64_t limit = 50,
                                       std::string_view action_prefix = {});

 private:
  template <typename Db>
  Status RecordWith(Db& db, std::optional<int64_t> client_id, std::optional<int64_t> user_id,
                    std::string_view action, const nlohmann::json& detail);

  store::Store& store_;
  Clock& clock_;
};

}  // namespace kt::accounts
