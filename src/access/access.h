// Who is calling and what they may do: session cookies and API tokens, CSRF, and client authorization,
// mapped onto HTTP requests for the page and JSON API handlers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "accounts/api_tokens.h"
#include "accounts/memberships.h"
#include "accounts/sessions.h"
#include "accounts/users.h"
#include "http/message.h"
#include "util/error.h"

namespace kt::access {

inline constexpr std::string_view kSessionCookie = "ktrack_session";
// Double-submit cookie that protects the sign-in form itself (before a session exists).
inline constexpr std::string_view kPreSessionCsrfCookie = "ktrack_csrf";

struct Caller {
  enum class Via { kSession, kApiToken };
  int64_t user_id = 0;
  std::string email;
  Via via = Via::kSession;
  std::string csrf_token;  // sessions only
};

class Access {
 public:
  Access(accounts::Users& users, accounts::Sessions& sessions, accounts::ApiTokens& tokens,
         accounts::Memberships& memberships)
      : users_(users), sessions_(sessions), tokens_(tokens), memberships_(memberships) {}

  // A bearer token (JSON API) or the session cookie. kUnauthenticated when neither is valid.
  Result<Caller> Authenticate(const http::Request& request);
  // State-changing requests made with a session must carry its CSRF token (form field or header).
  // API-token callers are exempt: a browser never sends the token by itself.
  Status CheckCsrf(const http::Request& request, const Caller& caller, std::string_view form_token = {});
  // 404 for non-members (the client does not exist for them), 403 for members on admin routes.
  Result<accounts::Role> AuthorizeClient(const Caller& caller, int64_t client_id, bool admin_required);

 private:
  accounts::Users& users_;
  accounts::Sessions& sessions_;
  accounts::ApiTokens& tokens_;
  accounts::Memberships& memberships_;
};

bool IsStateChanging(std::string_view method);
// Set-Cookie value for the session: HttpOnly, SameSite=Lax, Path=/, Secure when served over TLS.
std::string SessionCookieHeader(std::string_view token, int64_t max_age_s, bool secure);
std::string ExpiredSessionCookieHeader(bool secure);

}  // namespace kt::access
