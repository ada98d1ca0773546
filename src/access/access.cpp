// Request authentication, CSRF checks and client authorization.
#include "access/access.h"

#include "util/hash.h"
#include "util/strings.h"

namespace kt::access {

namespace {
Error NotSignedIn() {
  return Error{ErrorKind::kUnauthenticated,
               "not_signed_in",
               "You are not signed in.",
               "Sign in, or send an API token as 'Authorization: Bearer <token>'.",
               {}};
}
}  // namespace

bool IsStateChanging(std::string_view method) {
  return !(method == "GET" || method == "HEAD" || method == "OPTIONS");
}

Result<Caller> Access::Authenticate(const http::Request& request) {
  if (auto auth = request.Header("Authorization")) {
    std::string_view v = *auth;
    if (IStartsWith(v, "Bearer ")) {
      auto user_id = tokens_.Authenticate(Trim(v.substr(7)));
      if (!user_id)
        return Fail(
            ErrorKind::kUnauthenticated, "invalid_api_token", "The API token is not valid.",
            "Create a new token with 'ktrack token create --email <you>' and send it as a Bearer token.");
      auto user = users_.Get(*user_id);
      if (!user) return Fail(NotSignedIn());
      return Caller{user->id, user->email, Caller::Via::kApiToken, {}};
    }
    return Fail(ErrorKind::kUnauthenticated, "invalid_authorization",
                "The Authorization header is not a Bearer token.",
                "Send 'Authorization: Bearer <api token>'.");
  }
  auto cookie = request.Cookie(kSessionCookie);
  if (!cookie || cookie->empty()) return Fail(NotSignedIn());
  auto session = sessions_.Lookup(*cookie);
  if (!session) return Fail(NotSignedIn());
  auto user = users_.Get(session->user_id);
  if (!user) return Fail(NotSignedIn());
  return Caller{user->id, user->email, Caller::Via::kSession, session->csrf_token};
}

Status Access::CheckCsrf(const http::Request& request, const Caller& caller, std::string_view form_token) {
  if (caller.via == Caller::Via::kApiToken || !IsStateChanging(request.method)) return {};
  std::string submitted(form_token);
  if (submitted.empty()) submitted = request.Header(accounts::kCsrfHeader).value_or("");
  if (submitted.empty() || caller.csrf_token.empty() || !ConstantTimeEquals(submitted, caller.csrf_token))
    return Fail(ErrorKind::kForbidden, "csrf_failed", "This form has expired or did not come from KTrack.",
                "Reload the page and try again.");
  return {};
}

Result<accounts::Role> Access::AuthorizeClient(const Caller& caller, int64_t client_id, bool admin_required) {
  return memberships_.AuthorizeClient(caller.user_id, client_id, admin_required);
}

std::string SessionCookieHeader(std::string_view token, int64_t max_age_s, bool secure) {
  std::string v = std::string(kSessionCookie) + "=" + std::string(token) +
                  "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age_s);
  if (secure) v += "; Secure";
  return v;
}

std::string ExpiredSessionCookieHeader(bool secure) {
  std::string v = std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";
  if (secure) v += "; Secure";
  return v;
}

}  // namespace kt::access
