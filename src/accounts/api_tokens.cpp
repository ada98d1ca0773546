// API tokens.
#include "accounts/api_tokens.h"

#include "crypto/tokens.h"
#include "util/strings.h"

namespace kt::accounts {

namespace {

constexpr int64_t kLastUsedGranularityMs = 60'000;

tl::unexpected<Error> InvalidToken() {
  return Fail(ErrorKind::kUnauthenticated, "invalid_token", "The API token is not valid.",
              "Create a token with `ktrack token create --email EMAIL` and send it as `Authorization: Bearer "
              "<token>`.");
}

}  // namespace

ApiTokens::ApiTokens(store::Store& store, Clock& clock) : store_(store), clock_(clock) {}

Result<IssuedApiToken> ApiTokens::Create(int64_t user_id, std::string_view name) {
  std::string label(Trim(name));
  if (label.size() > 100) {
    return Fail(ErrorKind::kInvalidInput, "token_name_invalid",
                "A token name may have at most 100 characters.", "Choose a shorter name.");
  }
  IssuedApiToken issued{0, crypto::NewApiToken()};
  auto rows = store_.Query(
      "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
      {user_id, crypto::HashToken(issued.token), label, clock_.NowUnixMs()});
  if (!rows) {
    if (rows.error().code == store::kConstraintViolation) {
      return Fail(ErrorKind::kNotFound, "user_not_found", "There is no such user.", {}, rows.error().detail);
    }
    return tl::unexpected(rows.error());
  }
  issued.id = rows->rows.front().Int("id");
  return issued;
}

Result<int64_t> ApiTokens::Authenticate(std::string_view bearer_token) {
  // Anything that is not shaped like our tokens is refused without a database round trip.
  if (!StartsWith(bearer_token, crypto::kApiTokenPrefix) || bearer_token.size() > 200) return InvalidToken();
  const std::string hash = crypto::HashToken(bearer_token);
  auto rows = store_.Query("SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1", {hash});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return InvalidToken();
  const store::Row& row = rows->rows.front();
  const int64_t now = clock_.NowUnixMs();
  auto last_used = row.OptInt("last_used_at");
  if (!last_used || now - *last_used >= kLastUsedGranularityMs) {
    auto updated = store_.Exec("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", {now, row.Int("id")});
    if (!updated) return tl::unexpected(updated.error());
  }
  return row.Int("user_id");
}

Status ApiTokens::Revoke(int64_t user_id, int64_t token_id) {
  auto n = store_.Exec("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2", {token_id, user_id});
  if (!n) return tl::unexpected(n.error());
  if (*n == 0) return Fail(ErrorKind::kNotFound, "token_not_found", "There is no such API token.");
  return {};
}

Result<std::vector<ApiTokenInfo>> ApiTokens::ListForUser(int64_t user_id) {
  auto rows = store_.Query(
      "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
      {user_id});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<ApiTokenInfo> out;
  out.reserve(rows->rows.size());
  for (const store::Row& row : rows->rows) {
    out.push_back({row.Int("id"), row.Int("user_id"), row.Text("name"), row.Int("created_at"),
                   row.OptInt("last_used_at")});
  }
  return out;
}

}  // namespace kt::accounts
