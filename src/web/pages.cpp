// Page handlers of the web shell.
#include "web/pages.h"

#include "util/hash.h"
#include "util/strings.h"
#include "web/render.h"

namespace kt::web {

namespace {

std::string FormField(const QueryParams& form, std::string_view key) { return FindParam(form, key).value_or(""); }

// Only same-site paths may be a post-sign-in destination (no open redirects).
std::string SafeNext(std::string_view next) {
  if (next.size() > 1 && next.front() == '/' && next[1] != '/' && next.find('\\') == std::string_view::npos)
    return std::string(next);
  return "/clients";
}

bool EndsWithCss(std::string_view name) { return name.size() > 4 && name.substr(name.size() - 4) == ".css"; }

std::optional<int64_t> ClientIdParam(const http::Request& r) { return ParseInt64(r.PathParam("client_id")); }

nlohmann::json UserContext(const access::Caller& caller) {
  return {{"email", caller.email}, {"csrf", caller.csrf_token}};
}

}  // namespace

http::Response HtmlPage(int status, const std::string& template_name, nlohmann::json context) {
  auto r = http::Response::Html(status, RenderPage(template_name, std::move(context)));
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

http::Response ErrorPage(const Error& error) {
  int status = HttpStatusFor(error.kind);
  std::string heading = status == 404 ? "Not found" : status == 403 ? "Not allowed" : "Something went wrong";
  return HtmlPage(status, "error",
                  {{"title", heading}, {"heading", heading}, {"message", error.message}, {"fix", error.fix}});
}

http::Response RedirectToSignIn(const http::Request& request) {
  return http::Response::Redirect("/signin?next=" + UrlEncode(request.target));
}

void RegisterStatic(http::Router& router) {
  router.Get(
      "/static/{name}",
      [](http::Request& r) {
        const std::string* asset = StaticAsset(r.PathParam("name"));
        if (!asset) return http::Response::Text(404, "not found");
        std::string type = EndsWithCss(r.PathParam("name")) ? "text/css; charset=utf-8" : "application/octet-stream";
        auto resp = http::Response::Text(200, *asset, type);
        resp.headers.Set("Cache-Control", "public, max-age=3600");
        return resp;
      },
      {.on_io_thread = true});
}

void RegisterPages(http::Router& router, PagesDeps deps) {
  auto d = std::make_shared<PagesDeps>(deps);

  router.Get("/", [d](http::Request& r) {
    return http::Response::Redirect(d->access.Authenticate(r) ? "/clients" : "/signin");
  });

  router.Get("/signin", [](http::Request& r) {
    std::string csrf = r.Cookie(access::kPreSessionCsrfCookie).value_or("");
    if (csrf.size() < 20) csrf = RandomToken(24);
    auto resp = HtmlPage(200, "signin",
                         {{"title", "Sign in"}, {"narrow", true}, {"csrf", csrf}, {"next", SafeNext(r.Query("next").value_or(""))}});
    resp.headers.Add("Set-Cookie", std::string(access::kPreSessionCsrfCookie) + "=" + csrf +
                                       "; Path=/signin; HttpOnly; SameSite=Lax" + (r.secure ? "; Secure" : ""));
    return resp;
  });

  router.Post("/signin", [d](http::Request& r) {
    QueryParams form = ParseQuery(r.body);
    std::string email = FormField(form, "email");
    std::string next = SafeNext(FormField(form, "next"));
    std::string cookie_csrf = r.Cookie(access::kPreSessionCsrfCookie).value_or("");
    std::string form_csrf = FormField(form, "_csrf");
    auto again = [&](const Error& e, int status) {
      std::string csrf = cookie_csrf.size() >= 20 ? cookie_csrf : RandomToken(24);
      auto resp = HtmlPage(status, "signin",
                           {{"title", "Sign in"}, {"narrow", true}, {"csrf", csrf}, {"next", next}, {"email", email},
                            {"flash_error", {{"message", e.message}, {"fix", e.fix}}}});
      resp.headers.Add("Set-Cookie", std::string(access::kPreSessionCsrfCookie) + "=" + csrf +
                                         "; Path=/signin; HttpOnly; SameSite=Lax" + (r.secure ? "; Secure" : ""));
      return resp;
    };
    if (cookie_csrf.empty() || form_csrf.empty() || !ConstantTimeEquals(cookie_csrf, form_csrf))
      return again(Error{ErrorKind::kForbidden, "csrf_failed", "The sign-in form expired.", "Sign in again.", {}}, 403);
    auto user = d->users.Authenticate(email, FormField(form, "password"), r.remote_addr);
    if (!user) return again(user.error(), HttpStatusFor(user.error().kind));
    auto session = d->sessions.Create(user->id);
    if (!session) return ErrorPage(session.error());
    auto resp = http::Response::Redirect(next);
    resp.headers.Add("Set-Cookie", access::SessionCookieHeader(session->token, 14 * 24 * 3600, r.secure));
    return resp;
  });

  router.Post("/signout", [d](http::Request& r) {
    auto caller = d->access.Authenticate(r);
    if (caller) {
      QueryParams form = ParseQuery(r.body);
      if (auto ok = d->access.CheckCsrf(r, *caller, FormField(form, "_csrf")); !ok) return ErrorPage(ok.error());
      (void)d->sessions.Destroy(r.Cookie(access::kSessionCookie).value_or(""));
    }
    auto resp = http::Response::Redirect("/signin");
    resp.headers.Add("Set-Cookie", access::ExpiredSessionCookieHeader(r.secure));
    return resp;
  });

  router.Get("/clients", [d](http::Request& r) {
    auto caller = d->access.Authenticate(r);
    if (!caller) return RedirectToSignIn(r);
    auto memberships = d->clients.ListForUser(caller->user_id);
    if (!memberships) return ErrorPage(memberships.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : *memberships)
      list.push_back({{"id", m.client.id}, {"name", m.client.name}, {"role", accounts::RoleName(m.role)}});
    return HtmlPage(200, "clients",
                    {{"title", "Clients"}, {"user", UserContext(*caller)}, {"clients", list}, {"has_clients", !list.empty()}});
  });

  // A client's pages: members see home; Concierge is for admins (members get 403, others 404).
  auto client_page = [d](bool admin_required, std::string template_name, std::string title) {
    return [d, admin_required, template_name, title](http::Request& r) {
      auto caller = d->access.Authenticate(r);
      if (!caller) return RedirectToSignIn(r);
      auto client_id = ClientIdParam(r);
      if (!client_id) return ErrorPage(Error{ErrorKind::kNotFound, "client_not_found", "There is no such client.", "", {}});
      auto role = d->access.AuthorizeClient(*caller, *client_id, admin_required);
      if (!role) return ErrorPage(role.error());
      auto client = d->clients.Get(*client_id);
      if (!client) return ErrorPage(client.error());
      IntegrationBadge badge = d->procore_badge ? d->procore_badge(*client_id) : IntegrationBadge{};
      return HtmlPage(200, template_name,
                      {{"title", title + " · " + client->name},
                       {"user", UserContext(*caller)},
                       {"client", {{"id", client->id}, {"name", client->name}, {"is_admin", *role == accounts::Role::kAdmin}}},
                       {"project_count", 0},
                       {"procore_status", badge.status},
                       {"procore_status_label", badge.label},
                       {"procore_started", badge.started}});
    };
  };
  router.Get("/clients/{client_id}", client_page(false, "client_home", "Home"));
  router.Get("/clients/{client_id}/concierge", client_page(true, "concierge", "Concierge"));
}

}  // namespace kt::web
