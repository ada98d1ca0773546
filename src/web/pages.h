// The web shell's pages: sign-in and sign-out, the client picker, a client's home, and Concierge.
#pragma once

#include <functional>
#include <string>

#include "access/access.h"
#include "accounts/clients.h"
#include "accounts/sessions.h"
#include "accounts/users.h"
#include "http/router.h"

namespace kt::web {

// How an integration looks on the client's pages (filled in by the integration module).
struct IntegrationBadge {
  std::string status = "not_started";  // the integration status of interfaces.md
  std::string label = "Not connected";
  bool started = false;
};

struct PagesDeps {
  access::Access& access;
  accounts::Users& users;
  accounts::Clients& clients;
  accounts::Sessions& sessions;
  std::function<IntegrationBadge(int64_t client_id)> procore_badge;  // optional
};

// Rendering helpers shared by every page handler.
http::Response HtmlPage(int status, const std::string& template_name, nlohmann::json context);
http::Response ErrorPage(const Error& error);
// Redirects to the sign-in page, remembering where the user was going.
http::Response RedirectToSignIn(const http::Request& request);

void RegisterPages(http::Router& router, PagesDeps deps);
// GET /static/{name}: embedded assets, cacheable.
void RegisterStatic(http::Router& router);

}  // namespace kt::web
