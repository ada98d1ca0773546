// Thin handlers for the Procore integration: read the request, call the integration service, render JSON.
#include "api/procore_routes.h"

#include "api/api.h"
#include "util/json_fields.h"
#include "util/strings.h"

namespace kt::api {
namespace {

constexpr char kBase[] = "/api/v1/clients/{client_id}/procore";

std::string Path(const char* rest) {
  return std::string(kBase) + rest;
}

Result<http::Response> JsonOf(int status, Result<nlohmann::json> r) {
  if (!r) return tl::unexpected(r.error());
  return http::Response::Json(status, *r);
}

// A true/false query parameter: nothing when absent (or empty), an error naming it when it is neither.
Result<std::optional<bool>> BoolParam(const http::Request& r, std::string_view key) {
  auto v = r.Query(key);
  if (!v || v->empty()) return std::optional<bool>();
  if (*v == "true" || *v == "1") return std::optional<bool>(true);
  if (*v == "false" || *v == "0") return std::optional<bool>(false);
  return Fail(ErrorKind::kInvalidInput, "invalid_parameter",
              "'" + std::string(key) + "' must be true or false.",
              "Send ?" + std::string(key) + "=true or ?" + std::string(key) + "=false, or leave it out.");
}

// A whole-number query parameter of at least 1 (pages, page sizes, limits and ids all start there): the
// fallback when absent (or empty), an error naming it otherwise.
Result<int64_t> PositiveParam(const http::Request& r, std::string_view key, int64_t fallback) {
  auto v = r.Query(key);
  if (!v || v->empty()) return fallback;
  auto n = ParseInt64(*v);
  if (!n || *n < 1)
    return Fail(
        ErrorKind::kInvalidInput, "invalid_parameter",
        "'" + std::string(key) + "' must be a whole number of 1 or more.",
        "Send ?" + std::string(key) + "=<number>, e.g. ?" + std::string(key) + "=1, or leave it out.");
  return *n;
}

// Whether a disconnect or an unlink also deletes the synced data: "purge_data" in the body or the query.
Result<bool> PurgeRequested(const http::Request& r, const ApiContext& ctx) {
  if (ctx.body.contains("purge_data")) return OptionalBool(ctx.body, "purge_data", false);
  auto in_query = BoolParam(r, "purge_data");
  if (!in_query) return tl::unexpected(in_query.error());
  return in_query->value_or(false);
}

Result<int64_t> ProjectIdParam(const http::Request& r) {
  auto id = ParseInt64(r.PathParam("procore_project_id"));
  if (!id || *id <= 0)
    return Fail(ErrorKind::kNotFound, "procore_project_not_found", "There is no such Procore project.",
                "Check the project id in the URL.");
  return *id;
}

// GET /records?q=: the longest text searched for.
constexpr size_t kMaxSearchLength = 200;

}  // namespace

void RegisterProcoreRoutes(http::Router& router, access::Access& access, integration::IntegrationService& s) {
  auto route = [&access](ApiHandler h) { return ClientRoute(access, /*admin_required=*/true, std::move(h)); };
  // What the synced data is, read-only, for every member of the client: its KTrack projects, the streams'
  // state and the records (a KTrack project's page). Changing anything, and the integration's own set-up
  // (credentials, settings, hooks, audit), stays with its admins.
  auto read_route = [&access](ApiHandler h) {
    return ClientRoute(access, /*admin_required=*/false, std::move(h));
  };

  router.Get(kBase,
             route([&s](http::Request&, ApiContext& ctx) { return JsonOf(200, s.Describe(ctx.client_id)); }));
  router.Put(Path("/credentials"), route([&s](http::Request&, ApiContext& ctx) {
               return JsonOf(200, s.SaveCredentials(ctx.client_id, ctx.caller.user_id, ctx.body));
             }));
  router.Post(Path("/credentials/verify"),
              route([&s](http::Request&, ApiContext& ctx) -> Result<http::Response> {
                auto company = OptionalInt(ctx.body, "company_id");
                if (!company) return tl::unexpected(company.error());
                return JsonOf(200, s.VerifyCredentials(ctx.client_id, ctx.caller.user_id, *company));
              }));
  router.Put(Path("/settings"), route([&s](http::Request&, ApiContext& ctx) {
               return JsonOf(200, s.SaveSettings(ctx.client_id, ctx.caller.user_id, ctx.body));
             }));
  router.Get(Path("/permissions/requirements"), route([&s](http::Request&, ApiContext& ctx) {
               return JsonOf(200, s.Requirements(ctx.client_id));
             }));
  router.Post(Path("/permissions/verify"), route([&s](http::Request&, ApiContext& ctx) {
                return JsonOf(200, s.VerifyPermissions(ctx.client_id, ctx.caller.user_id));
              }));
  router.Post(Path("/complete"), route([&s](http::Request&, ApiContext& ctx) {
                return JsonOf(202, s.Complete(ctx.client_id, ctx.caller.user_id));
              }));
  router.Post(Path("/webhooks/rotate-secret"), route([&s](http::Request&, ApiContext& ctx) {
                return JsonOf(200, s.RotateWebhookSecret(ctx.client_id, ctx.caller.user_id));
              }));
  router.Delete(kBase, route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
                  auto purge = PurgeRequested(r, ctx);
                  if (!purge) return tl::unexpected(purge.error());
                  return JsonOf(200, s.Disconnect(ctx.client_id, ctx.caller.user_id, *purge));
                }));

  router.Get(Path("/streams"), read_route([&s](http::Request&, ApiContext& ctx) {
               return JsonOf(200, s.Streams(ctx.client_id));
             }));
  router.Post(Path("/streams/reconcile"), route([&s](http::Request&, ApiContext& ctx) {
                return JsonOf(202, s.Reconcile(ctx.client_id, ctx.caller.user_id, ctx.body));
              }));
  router.Get(Path("/records"), read_route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
               sync::RecordsQuery q;
               q.client_id = ctx.client_id;
               q.stream = r.Query("stream").value_or("");
               if (q.stream.empty())
                 return Fail(ErrorKind::kInvalidInput, "invalid_parameter", "'stream' is required.",
                             "Send ?stream=<stream key>, e.g. ?stream=rfis.");
               if (r.Query("project_id")) {
                 auto p = PositiveParam(r, "project_id", 0);
                 if (!p) return tl::unexpected(p.error());
                 q.project_id = *p;
               }
               auto page = PositiveParam(r, "page", 1);
               if (!page) return tl::unexpected(page.error());
               auto per_page = PositiveParam(r, "per_page", 100);
               if (!per_page) return tl::unexpected(per_page.error());
               q.page = *page;
               q.per_page = *per_page;  // the engine caps it, as the projects list does
               auto include_deleted = BoolParam(r, "include_deleted");
               if (!include_deleted) return tl::unexpected(include_deleted.error());
               q.include_deleted = include_deleted->value_or(false);
               q.search = r.Query("q").value_or("");
               if (q.search.size() > kMaxSearchLength)
                 return Fail(ErrorKind::kInvalidInput, "invalid_parameter",
                             "'q' is longer than " + std::to_string(kMaxSearchLength) + " characters.",
                             "Search for a shorter piece of the records' text: a number, a word or a name.");
               auto body = s.Records(q);
               if (!body) return tl::unexpected(body.error());
               return http::Response::Text(200, std::move(*body), "application/json");
             }));
  router.Get(Path("/audit"), route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
               auto limit = PositiveParam(r, "limit", 50);
               if (!limit) return tl::unexpected(limit.error());
               return JsonOf(200, s.AuditEntries(ctx.client_id, *limit));
             }));

  router.Get(Path("/webhooks/events"),
             route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
               auto limit = PositiveParam(r, "limit", 20);
               if (!limit) return tl::unexpected(limit.error());
               return JsonOf(200, s.WebhookEvents(ctx.client_id, *limit));
             }));

  router.Get(Path("/projects"), route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
               integration::IntegrationService::ProjectsQuery q;
               auto page = PositiveParam(r, "page", 1);
               if (!page) return tl::unexpected(page.error());
               auto per_page = PositiveParam(r, "per_page", 100);
               if (!per_page) return tl::unexpected(per_page.error());
               q.page = *page;
               q.per_page = *per_page;
               q.search = r.Query("q").value_or("");
               auto linked = BoolParam(r, "linked");
               if (!linked) return tl::unexpected(linked.error());
               auto active = BoolParam(r, "active");
               if (!active) return tl::unexpected(active.error());
               q.linked = *linked;
               q.active = *active;
               auto listed = s.Projects(ctx.client_id, q);
               if (!listed) return tl::unexpected(listed.error());
               // The list is the body; paging travels in headers, as Procore's own lists do.
               auto response = http::Response::Json(200, (*listed)["projects"]);
               response.headers.Set("Total", std::to_string((*listed)["total"].get<int64_t>()));
               response.headers.Set("Per-Page", std::to_string((*listed)["per_page"].get<int64_t>()));
               response.headers.Set("Page", std::to_string((*listed)["page"].get<int64_t>()));
               return response;
             }));
  router.Get(Path("/ktrack-projects"),
             read_route([&s](http::Request&, ApiContext& ctx) -> Result<http::Response> {
               return JsonOf(200, s.KtrackProjects(ctx.client_id));
             }));
  router.Post(Path("/projects/{procore_project_id}/link"),
              route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
                auto id = ProjectIdParam(r);
                if (!id) return tl::unexpected(id.error());
                return JsonOf(200, s.LinkProject(ctx.client_id, ctx.caller.user_id, *id, ctx.body));
              }));
  router.Delete(Path("/projects/{procore_project_id}/link"),
                route([&s](http::Request& r, ApiContext& ctx) -> Result<http::Response> {
                  auto id = ProjectIdParam(r);
                  if (!id) return tl::unexpected(id.error());
                  auto purge = PurgeRequested(r, ctx);
                  if (!purge) return tl::unexpected(purge.error());
                  return JsonOf(200, s.UnlinkProject(ctx.client_id, ctx.caller.user_id, *id, *purge));
                }));
}

namespace {

http::Response WebhookAnswer(const integration::ReceiveOutcome& outcome) {
  if (outcome.http_status == 200) {
    // Nearly every delivery gets one of these two answers: rendered once, then copied.
    static const http::Response kAccepted = http::Response::Json(200, {{"status", "accepted"}});
    static const http::Response kDuplicate = http::Response::Json(200, {{"status", "duplicate"}});
    if (outcome.code == "accepted") return kAccepted;
    if (outcome.code == "duplicate") return kDuplicate;
    return http::Response::Json(200, {{"status", outcome.code}});
  }
  auto response = http::Response::Json(outcome.http_status,
                                       {{"error", {{"code", outcome.code}, {"message", outcome.message}}}});
  if (outcome.http_status == 401) response.headers.Set("WWW-Authenticate", "Bearer");
  return response;
}

// Runs `receive` on the delivery in `r` (the views point into the request, which outlives the call).
template <typename Receive>
auto WithDelivery(http::Request& r, Receive&& receive) {
  static const std::string kKeyParam = "integration_key";
  integration::Delivery d;
  d.integration_key = r.PathParamView(kKeyParam);
  d.authorization = r.headers.View("Authorization");
  d.content_type = r.headers.View("Content-Type");
  d.body = r.body;
  return receive(d);
}

}  // namespace

void RegisterWebhookReceiver(http::Router& router, integration::WebhookReceiver& receiver,
                             size_t max_body_bytes) {
  // Deliveries of a cached key are checked on the I/O thread and acknowledged once the inbox's committer has
  // stored them; the rest (a key to read from the database) take the blocking path on the pool.
  http::IoFront front = [&receiver](http::Request& r, const http::Responder& respond) {
    return WithDelivery(r, [&](const integration::Delivery& d) {
      return receiver.TryReceive(
          d, [respond](const integration::ReceiveOutcome& outcome) { respond(WebhookAnswer(outcome)); });
    });
  };
  router.Post("/webhooks/procore/{integration_key}",
              [&receiver](http::Request& r) {
                return WithDelivery(
                    r, [&](const integration::Delivery& d) { return WebhookAnswer(receiver.Receive(d)); });
              },
              // Each accepted delivery is in the inbox and in http_requests_total; a log line each would
              // be most of the log during a burst.
              {.io_front = std::move(front), .max_body_bytes = max_body_bytes, .quiet_successes = true});
}

}  // namespace kt::api
