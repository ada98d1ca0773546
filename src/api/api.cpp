// JSON API plumbing and the client routes.
#include "api/api.h"

#include "util/strings.h"

namespace kt::api {

namespace {

Result<ApiContext> Begin(access::Access& access, http::Request& r) {
  ApiContext ctx;
  auto caller = access.Authenticate(r);
  if (!caller) return tl::unexpected(caller.error());
  ctx.caller = *caller;
  if (auto csrf = access.CheckCsrf(r, ctx.caller); !csrf) return tl::unexpected(csrf.error());
  ctx.body = nlohmann::json::object();
  if (!Trim(r.body).empty()) {
    auto type = ToLower(r.Header("Content-Type").value_or("application/json"));
    if (type.find("json") == std::string::npos)
      return Fail(ErrorKind::kInvalidInput, "unsupported_content_type", "The request body must be JSON.",
                  "Send the body with 'Content-Type: application/json'.");
    ctx.body = nlohmann::json::parse(r.body, nullptr, false);
    if (ctx.body.is_discarded() || !ctx.body.is_object())
      return Fail(ErrorKind::kInvalidInput, "invalid_json", "The request body is not a JSON object.",
                  "Send a JSON object, e.g. {}.");
  }
  return ctx;
}

http::Response Finish(Result<http::Response> r) {
  return r ? std::move(*r) : http::Response::FromError(r.error());
}

}  // namespace

http::Handler UserRoute(access::Access& access, ApiHandler handler) {
  return [&access, handler = std::move(handler)](http::Request& r) {
    auto ctx = Begin(access, r);
    if (!ctx) return http::Response::FromError(ctx.error());
    return Finish(handler(r, *ctx));
  };
}

http::Handler ClientRoute(access::Access& access, bool admin_required, ApiHandler handler) {
  return [&access, admin_required, handler = std::move(handler)](http::Request& r) {
    auto ctx = Begin(access, r);
    if (!ctx) return http::Response::FromError(ctx.error());
    auto client_id = ParseInt64(r.PathParam("client_id"));
    if (!client_id)
      return http::Response::FromError(Error{ErrorKind::kNotFound,
                                             "client_not_found",
                                             "There is no such client.",
                                             "Check the client id in the URL.",
                                             {}});
    auto role = access.AuthorizeClient(ctx->caller, *client_id, admin_required);
    if (!role) return http::Response::FromError(role.error());
    ctx->client_id = *client_id;
    ctx->role = *role;
    return Finish(handler(r, *ctx));
  };
}

void RegisterClientRoutes(http::Router& router, access::Access& access, accounts::Clients& clients) {
  router.Get(
      "/api/v1/clients",
      UserRoute(access, [&clients](http::Request&, ApiContext& ctx) -> Result<http::Response> {
        auto list = clients.ListForUser(ctx.caller.user_id);
        if (!list) return tl::unexpected(list.error());
        nlohmann::json out = nlohmann::json::array();
        for (const auto& m : *list)
          out.push_back({{"id", m.client.id}, {"name", m.client.name}, {"role", accounts::RoleName(m.role)}});
        return http::Response::Json(200, out);
      }));
  router.Get(
      "/api/v1/clients/{client_id}",
      ClientRoute(access, false, [&clients](http::Request&, ApiContext& ctx) -> Result<http::Response> {
        auto c = clients.Get(ctx.client_id);
        if (!c) return tl::unexpected(c.error());
        return http::Response::Json(
            200, {{"id", c->id}, {"name", c->name}, {"role", accounts::RoleName(ctx.role)}});
      }));
}

}  // namespace kt::api
