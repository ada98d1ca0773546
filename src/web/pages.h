// The web shell's pages: sign-in and sign-out, the client picker, a client's home, and Concierge.
#pragma once

#include <functional>
#include <string>

#include <tl/expected.hpp>

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
  // While it runs: its streams, how many are synced, how many stopped on an error (0, 0, 0 otherwise).
  int64_t streams = 0;
  int64_t streams_synced = 0;
  int64_t streams_failing = 0;
  std::string problem;  // what waits on the customer while it runs, or ""
};

struct PagesDeps {
  access::Access& access;
  accounts::Users& users;
  accounts::Clients& clients;
  accounts::Sessions& sessions;
  std::function<IntegrationBadge(int64_t client_id)> procore_badge;  // optional
  // The client's KTrack projects, by name: [{id, name, project_number, procore_project_name (or null)}], as
  // GET /ktrack-projects answers them. Optional.
  std::function<nlohmann::json(int64_t client_id)> ktrack_projects;
};

// Rendering helpers shared by every page handler.
http::Response HtmlPage(int status, const std::string& template_name, nlohmann::json context);
// The error page; `context` adds to what it renders (the signed-in "user" for the header's menu, and "back":
// {href, label} for a link other than KTrack's home).
http::Response ErrorPage(const Error& error, nlohmann::json context = nlohmann::json::object());
// Redirects to the sign-in page, remembering where the user was going.
http::Response RedirectToSignIn(const http::Request& request);

// A client's page as its caller may see it.
struct ClientPage {
  access::Caller caller;
  accounts::Client client;
  accounts::Role role = accounts::Role::kMember;
};
// Authenticates the caller and authorizes the {client_id} of the path. Otherwise the response to send:
// the sign-in redirect, 404 for non-members, 403 for members on admin pages.
tl::expected<ClientPage, http::Response> OpenClientPage(const http::Request& request, access::Access& access,
                                                        accounts::Clients& clients, bool admin_required);
// The layout's context for a client page: title, user menu (with the CSRF token) and client (gear menu).
nlohmann::json ClientPageContext(const ClientPage& page, const std::string& title);

void RegisterPages(http::Router& router, PagesDeps deps);
// GET /static/{name}: embedded assets, cacheable.
void RegisterStatic(http::Router& router);

}  // namespace kt::web
