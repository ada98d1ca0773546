// API tokens for the JSON API: shown once at creation, stored as SHA-256 hashes, revocable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace kt::accounts {

struct IssuedApiToken {
  int64_t id = 0;
  std::string token;  // "kt_..."; the only time it exists outside the caller's hands
};

// A token as listed to its owner: never the token itself.
struct ApiTokenInfo {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string name;
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
};

class ApiTokens {
 public:
  ApiTokens(store::Store& store, Clock& clock);

  // name labels the token for its owner ("ci", "laptop"); trimmed, at most 100 bytes. kNotFound
  // "user_not_found".
  Result<IssuedApiToken> Create(int64_t user_id, std::string_view name);
  // The id of the user the bearer token belongs to; kUnauthenticated "invalid_token" when it is unknown or
  // revoked. Records last_used_at at minute granularity, so busy clients do not write on every request.
  Result<int64_t> Authenticate(std::string_view bearer_token);
  // kNotFound "token_not_found" when the user has no such token.
  Status Revoke(int64_t user_id, int64_t token_id);
  Result<std::vector<ApiTokenInfo>> ListForUser(int64_t user_id);

 private:
  store::Store& store_;
  Clock& clock_;
};

}  // namespace kt::accounts
