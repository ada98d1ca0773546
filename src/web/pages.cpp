// Page handlers of the web shell.
#include "web/pages.h"

#include <algorithm>

#include "util/hash.h"
#include "util/strings.h"
#include "web/render.h"

namespace kt::web {

namespace {

std::string FormField(const QueryParams& form, std::string_view key) {
  return FindParam(form, key).value_or("");
}

// Only same-site paths may be a post-sign-in destination (no open redirects).
std::string SafeNext(std::string_view next) {
  if (next.size() > 1 && next.front() == '/' && next[1] != '/' && next.find('\\') == std::string_view::npos)
    return std::string(next);
  return "/clients";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The content type of an embedded asset, by its extension.
std::string StaticContentType(std::string_view name) {
  if (EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (EndsWith(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::optional<int64_t> ClientIdParam(const http::Request& r) {
  return ParseInt64(r.PathParam("client_id"));
}

nlohmann::json UserContext(const access::Caller& caller) {
  return {{"id", caller.user_id}, {"email", caller.email}, {"csrf", caller.csrf_token}};
}

// The client home's Projects card: how many KTrack projects, and the first few by name.
constexpr size_t kProjectsOnHome = 8;

void AddProjects(nlohmann::json& context, const nlohmann::json& projects) {
  const size_t n = projects.is_array() ? projects.size() : 0;
  context["project_count"] = n;
  context["project_count_label"] = n == 0   ? std::string("No KTrack projects yet.")
                                   : n == 1 ? std::string("1 KTrack project.")
                                            : std::to_string(n) + " KTrack projects.";
  nlohmann::json shown = nlohmann::json::array();
  for (size_t i = 0; i < std::min(n, kProjectsOnHome); ++i) {
    nlohmann::json p = projects[i];
    // "linked to Procore" when the Procore project has the same name; its name otherwise.
    const auto procore = p.value("procore_project_name", nlohmann::json(nullptr));
    if (!procore.is_string())
      p["procore_note"] = "not linked to Procore";
    else
      p["procore_note"] = procore.get<std::string>() == p.value("name", std::string())
                              ? std::string("linked to Procore")
                              : "Procore: " + procore.get<std::string>();
    shown.push_back(std::move(p));
  }
  context["projects"] = shown;
  context["has_projects"] = n > 0;
  context["more_projects"] =
      n > kProjectsOnHome ? nlohmann::json(n - kProjectsOnHome) : nlohmann::json(false);
}

// The Procore card's line under its badge: "38 of 40 streams synced", and the failing ones on their own.
void AddStreamsSummary(nlohmann::json& context, const IntegrationBadge& badge) {
  context["procore_streams"] = badge.streams > 0
                                   ? nlohmann::json(std::to_string(badge.streams_synced) + " of " +
                                                    std::to_string(badge.streams) + " streams synced")
                                   : nlohmann::json(false);
  context["procore_failing"] =
      badge.streams_failing > 0
          ? nlohmann::json(std::to_string(badge.streams_failing) +
                           (badge.streams_failing == 1 ? " stream needs" : " streams need") + " attention")
          : nlohmann::json(false);
  context["procore_problem"] = badge.problem.empty() ? nlohmann::json(false) : nlohmann::json(badge.problem);
}

}  // namespace

http::Response HtmlPage(int status, const std::string& template_name, nlohmann::json context) {
  auto r = http::Response::Html(status, RenderPage(template_name, std::move(context)));
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

http::Response ErrorPage(const Error& error, nlohmann::json context) {
  int status = HttpStatusFor(error.kind);
  std::string heading = status == 404 ? "Not found" : status == 403 ? "Not allowed" : "Something went wrong";
  if (!context.is_object()) context = nlohmann::json::object();
  context.update({{"title", heading}, {"heading", heading}, {"message", error.message}, {"fix", error.fix}});
  return HtmlPage(status, "error", std::move(context));
}

http::Response RedirectToSignIn(const http::Request& request) {
  return http::Response::Redirect("/signin?next=" + UrlEncode(request.target));
}

tl::expected<ClientPage, http::Response> OpenClientPage(const http::Request& request, access::Access& access,
                                                        accounts::Clients& clients, bool admin_required) {
  auto caller = access.Authenticate(request);
  if (!caller) return tl::unexpected(RedirectToSignIn(request));
  auto client_id = ClientIdParam(request);
  if (!client_id)
    return tl::unexpected(
        ErrorPage(Error{ErrorKind::kNotFound, "client_not_found", "There is no such client.", "", {}}));
  // The caller is signed in: the error page keeps the header's menu (switch client, sign out).
  nlohmann::json signed_in = {{"user", UserContext(*caller)}};
  auto role = access.AuthorizeClient(*caller, *client_id, admin_required);
  if (!role) {
    // A member on an admin's page: back to the client's home, which the member may see.
    if (role.error().code == "admin_required")
      if (auto client = clients.Get(*client_id))
        signed_in["back"] = {{"href", "/clients/" + std::to_string(*client_id)}, {"label", client->name}};
    return tl::unexpected(ErrorPage(role.error(), signed_in));
  }
  auto client = clients.Get(*client_id);
  if (!client) return tl::unexpected(ErrorPage(client.error(), signed_in));
  return ClientPage{*caller, *client, *role};
}

nlohmann::json ClientPageContext(const ClientPage& page, const std::string& title) {
  return {{"title", title + " · " + page.client.name},
          {"user", UserContext(page.caller)},
          {"client",
           {{"id", page.client.id},
            {"name", page.client.name},
            {"is_admin", page.role == accounts::Role::kAdmin}}}};
}

void RegisterStatic(http::Router& router) {
  router.Get("/static/{name}",
             [](http::Request& r) {
               const std::string* asset = StaticAsset(r.PathParam("name"));
               if (!asset) return http::Response::Text(404, "not found");
               std::string type = StaticContentType(r.PathParam("name"));
               auto resp = http::Response::Text(200, *asset, type);
               resp.headers.Set("Cache-Control", "public, max-age=3600");
               return resp;
             },
             {.on_io_thread = true});
}

void RegisterPages(http::Router& router, PagesDeps deps) {
  auto d = std::make_shared<PagesDeps>(std::move(deps));

  router.Get("/", [d](http::Request& r) {
    return http::Response::Redirect(d->access.Authenticate(r) ? "/clients" : "/signin");
  });

  router.Get("/signin", [](http::Request& r) {
    std::string csrf = r.Cookie(access::kPreSessionCsrfCookie).value_or("");
    if (csrf.size() < 20) csrf = RandomToken(24);
    auto resp = HtmlPage(200, "signin",
                         {{"title", "Sign in"},
                          {"narrow", true},
                          {"csrf", csrf},
                          {"next", SafeNext(r.Query("next").value_or(""))}});
    resp.headers.Add("Set-Cookie", std::string(access::kPreSessionCsrfCookie) + "=" + csrf +
                                       "; Path=/signin; HttpOnly; SameSite=Lax" +
                                       (r.secure ? "; Secure" : ""));
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
                           {{"title", "Sign in"},
                            {"narrow", true},
                            {"csrf", csrf},
                            {"next", next},
                            {"email", email},
                            {"flash_error", {{"message", e.message}, {"fix", e.fix}}}});
      resp.headers.Add("Set-Cookie", std::string(access::kPreSessionCsrfCookie) + "=" + csrf +
                                         "; Path=/signin; HttpOnly; SameSite=Lax" +
                                         (r.secure ? "; Secure" : ""));
      return resp;
    };
    if (cookie_csrf.empty() || form_csrf.empty() || !ConstantTimeEquals(cookie_csrf, form_csrf))
      return again(
          Error{ErrorKind::kForbidden, "csrf_failed", "The sign-in form expired.", "Sign in again.", {}},
          403);
    auto user = d->users.Authenticate(email, FormField(form, "password"), r.remote_addr);
    if (!user) return again(user.error(), HttpStatusFor(user.error().kind));
    auto session = d->sessions.Create(user->id);
    if (!session) return ErrorPage(session.error());
    auto resp = http::Response::Redirect(next);
    resp.headers.Add("Set-Cookie",
                     access::SessionCookieHeader(session->token, int64_t{14} * 24 * 3600, r.secure));
    return resp;
  });

  router.Post("/signout", [d](http::Request& r) {
    auto caller = d->access.Authenticate(r);
    if (caller) {
      QueryParams form = ParseQuery(r.body);
      if (auto ok = d->access.CheckCsrf(r, *caller, FormField(form, "_csrf")); !ok)
        return ErrorPage(ok.error());
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
                    {{"title", "Clients"},
                     {"user", UserContext(*caller)},
                     {"clients", list},
                     {"has_clients", !list.empty()}});
  });

  // A client's pages: members see home; Concierge is for admins (members get 403, others 404).
  auto client_page = [d](bool admin_required, const std::string& template_name, const std::string& title) {
    return [d, admin_required, template_name, title](http::Request& r) {
      auto page = OpenClientPage(r, d->access, d->clients, admin_required);
      if (!page) return std::move(page.error());
      IntegrationBadge badge = d->procore_badge ? d->procore_badge(page->client.id) : IntegrationBadge{};
      nlohmann::json context = ClientPageContext(*page, title);
      AddProjects(context,
                  d->ktrack_projects ? d->ktrack_projects(page->client.id) : nlohmann::json::array());
      context["procore_status"] = badge.status;
      context["procore_status_label"] = badge.label;
      context["procore_started"] = badge.started;
      AddStreamsSummary(context, badge);
      return HtmlPage(200, template_name, std::move(context));
    };
  };
  router.Get("/clients/{client_id}", client_page(false, "client_home", "Home"));
  router.Get("/clients/{client_id}/concierge", client_page(true, "concierge", "Concierge"));
}

}  // namespace kt::web
