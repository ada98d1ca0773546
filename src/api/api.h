// The JSON API's shared plumbing: authentication, client scoping, CSRF, JSON bodies and error answers.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "access/access.h"
#include "accounts/clients.h"
#include "http/router.h"

namespace kt::api {

struct ApiContext {
  access::Caller caller;
  int64_t client_id = 0;
  accounts::Role role = accounts::Role::kMember;
  nlohmann::json body;  // parsed request body (an empty object when there is none)
};

using ApiHandler = std::function<Result<http::Response>(http::Request&, ApiContext&)>;

// Wraps a handler for /api/v1/clients/{client_id}/...: 401 without a valid caller, 404 for non-members,
// 403 for members on admin routes, 403 for session requests without the CSRF token, 400 for a body that is
// not a JSON object. Errors become {"error": {"code", "message", "fix"}}.
http::Handler ClientRoute(access::Access& access, bool admin_required, ApiHandler handler);
// The same without a client: only authentication and CSRF.
http::Handler UserRoute(access::Access& access, ApiHandler handler);

// GET /api/v1/clients and GET /api/v1/clients/{client_id}.
void RegisterClientRoutes(http::Router& router, access::Access& access, accounts::Clients& clients);

}  // namespace kt::api
