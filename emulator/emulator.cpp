// The emulator's composition: state, the API call pipeline (faults, token, rate limit, company, install),
// changes with their webhook events, and installs.
#include "emulator/emulator.h"

#include <ctime>
#include <thread>

#include "emulator/rest_support.h"
#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {

// The rate decision of the webhook request this thread is handling: the authenticator makes it inside the
// webhook service's handler, and the route wrapper puts it on the answer.
thread_local std::optional<RateDecision> tl_webhook_rate;

void SetRateHeaders(Response& r, const RateDecision& rate) {
  r.headers.Set("X-Rate-Limit-Limit", std::to_string(rate.limit));
  r.headers.Set("X-Rate-Limit-Remaining", std::to_string(rate.remaining));
  r.headers.Set("X-Rate-Limit-Reset", std::to_string(rate.reset_unix_s));
}

std::string HttpDate(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The stats key of a request: its path and its query with parameters in a stable order.
std::string TargetOf(const Request& req) {
  kt::QueryParams q = req.query;
  std::sort(q.begin(), q.end());
  std::string target = req.path;
  if (!q.empty()) target += "?" + kt::BuildQuery(q);
  return target;
}

}  // namespace

Emulator::Emulator(EmulatorOptions options)
    : options_(options), clock_(options.time_scale), fault_dice_(Mix({options.seed, 77})) {
  world_ = std::make_unique<World>(options.preset, options.seed);
#ifdef PROCORE_EMULATOR_HAS_WEBHOOKS
  webhooks_ = MakeWebhookService(clock_, options.seed);
#endif
}

Emulator::~Emulator() {
  Stop();
}

void Emulator::Start() {
  stopping_ = false;
  if (webhooks_) webhooks_->Start();
}

void Emulator::Stop() {
  {
    std::lock_guard lock(hang_mu_);
    stopping_ = true;
  }
  hang_cv_.notify_all();
  if (webhooks_) webhooks_->Stop();
}

nlohmann::json Emulator::Reset(Preset preset, uint64_t seed) {
  {
    std::unique_lock lock(mu_);
    options_.preset = preset;
    options_.seed = seed;
    world_ = std::make_unique<World>(preset, seed);
    access_ = Access();
    faults_ = Faults();
  }
  rate_.SetLimits(RateLimits());
  rate_.Reset();
  stats_.Reset();
  if (webhooks_) {
    webhooks_->Reset();
    webhooks_->SetFaults({});
    webhooks_->ResetStats();
  }
  std::shared_lock lock(mu_);
  nlohmann::json companies = nlohmann::json::array();
  for (const auto& c : world_->Companies())
    companies.push_back({{"id", c.id}, {"name", c.name}, {"project_ids", world_->ProjectIds(c.slot)}});
  return {{"companies", companies}};
}

int64_t Emulator::AppUserId(size_t ordinal) const {
  // Outside every record id range of the preset (see World::IdFor).
  int64_t base = world_->CurrentPreset() == Preset::kLarge ? (int64_t{1} << 34) : 7'000'000;
  return base + static_cast<int64_t>(ordinal) + 1;
}

void Emulator::Api(kt::http::Router& router, const std::string& method, const std::string& pattern,
                   ApiHandler handler, ApiOptions options) {
  router.Add(method, pattern, [this, pattern, handler = std::move(handler), options](Request& req) {
    return RunApi(req, pattern, handler, options);
  });
}

std::optional<Response> Emulator::InjectFault() {
  Faults f;
  {
    std::shared_lock lock(mu_);
    f = faults_;
  }
  if (f.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(f.latency_ms));
  double roll_timeout, roll_error, roll_throttle, roll_unavailable;
  int64_t kind;
  {
    std::lock_guard lock(dice_mu_);
    roll_timeout = fault_dice_.Unit();
    roll_error = fault_dice_.Unit();
    kind = fault_dice_.Range(0, 2);
    // Rolled only when set, so the dice of runs without these faults stay as they were.
    roll_throttle = f.throttle_rate > 0 ? fault_dice_.Unit() : 1;
    roll_unavailable = f.unavailable_rate > 0 ? fault_dice_.Unit() : 1;
  }
  if (roll_timeout < f.timeout_rate) {
    // Hang past any sensible client timeout, but let shutdown through.
    std::unique_lock lock(hang_mu_);
    hang_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return stopping_.load(); });
    return Errors(504, "Gateway Timeout");
  }
  if (roll_error < f.error_rate) {
    if (kind == 0) return Errors(500, "Internal Server Error");
    if (kind == 1) return Errors(502, "Bad Gateway");
    Response r =
        Errors(503, "Service Unavailable: the server is temporarily overloaded. Please retry later.");
    r.headers.Set("Retry-After", "2");
    return r;
  }
  if (roll_throttle < f.throttle_rate) {
    stats_.CountRateLimited();
    Response r = Errors(429,
                        "You have surpassed the max number of requests for an hour. Please wait until your "
                        "limit resets.");
    r.headers.Set("Retry-After", std::to_string(f.retry_after_s));
    return r;
  }
  if (roll_unavailable < f.unavailable_rate) {
    Response r = Errors(503, "Service Unavailable: Procore is down for maintenance. Please retry later.");
    r.headers.Set("Retry-After", std::to_string(f.retry_after_s));
    return r;
  }
  return std::nullopt;
}

std::optional<Response> Emulator::Authenticate(Call& call, const ApiOptions& options,
                                               std::optional<RateDecision>& rate) {
  Request& req = call.req;
  auto invalid = [](const std::string& description, std::string message) {
    Response r = Errors(401, std::move(message));
    r.headers.Set(
        "WWW-Authenticate",
        "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"" + description + "\"");
    return r;
  };
  std::string auth = req.Header("Authorization").value_or("");
  std::string_view token = kt::Trim(auth);
  if (token.size() < 7 || !kt::IEquals(token.substr(0, 7), "bearer ")) {
    return invalid("The access token is invalid", "The access token is invalid");
  }
  token = kt::Trim(token.substr(7));
  const AccessToken* t = access_.FindToken(token);
  if (!t || t->revoked) return invalid("The access token was revoked", "The access token is invalid");
  if (clock_.NowMs() >= t->expires_at_ms)
    return invalid("The access token expired",
                   "Your access token has expired, please use your refresh token to obtain a fresh token.");
  call.app = access_.FindApp(t->client_id);
  if (!call.app) return invalid("The access token is invalid", "The access token is invalid");

  std::optional<std::string> header = req.Header("Procore-Company-Id");
  // Failed calls count against the quota too, so the limit is applied before the remaining checks.
  rate = rate_.Check(call.app->client_id + ":" + std::string(kt::Trim(header.value_or(""))), clock_.NowMs());
  if (!rate->allowed) {
    stats_.CountRateLimited();
    Response r = Errors(429,
                        "You have surpassed the max number of requests for an hour. Please wait until your "
                        "limit resets.");
    r.headers.Set("Retry-After", std::to_string(rate->retry_after_s));
    return r;
  }
  if (!header || kt::Trim(*header).empty()) return Errors(400, "Missing Procore-Company-Id header!");
  auto company_id = kt::ParseInt64(kt::Trim(*header));
  if (!company_id) return Errors(400, "Procore-Company-Id header must be a company id (an integer)");
  call.company_id = *company_id;
  call.company = world_->FindCompany(*company_id);
  call.install = call.company ? access_.FindInstall(*company_id, call.app->client_id) : nullptr;
  if (options.installed && !call.install) return Errors(403, "App is not connected to this company");
  return std::nullopt;
}

Response Emulator::RunApi(Request& req, const std::string& pattern, const ApiHandler& handler,
                          const ApiOptions& options) {
  Call call{req};
  std::optional<RateDecision> rate;
  Response res = [&] {
    if (auto fault = InjectFault()) return std::move(*fault);
    if (options.oauth) {  // token calls change state
      std::unique_lock lock(mu_);
      return handler(call);
    }
    std::shared_lock lock(mu_);
    if (auto denied = Authenticate(call, options, rate)) return std::move(*denied);
    try {
      return handler(call);
    } catch (const std::exception& e) {
      return Errors(500, std::string("Internal Server Error: ") + e.what());
    }
  }();
  if (rate) SetRateHeaders(res, *rate);
  res.headers.Set("Date", HttpDate(clock_.NowS()));
  if (!res.headers.Get("Content-Type")) res.headers.Set("Content-Type", "application/json; charset=utf-8");
  stats_.Count(req.method, pattern, TargetOf(req), call.record, res.status);
  return res;
}

std::variant<WebhookCaller, Response> Emulator::AuthenticateWebhooks(Request& req) {
  std::shared_lock lock(mu_);
  Call call{req};
  std::optional<RateDecision> rate;
  ApiOptions options;
  auto finish = [&](Response r) -> std::variant<WebhookCaller, Response> {
    if (rate) SetRateHeaders(r, *rate);
    return r;
  };
  std::optional<Response> denied = Authenticate(call, options, rate);
  tl_webhook_rate = rate;
  if (denied) return finish(std::move(*denied));
  if (call.install->CompanyLevel("Webhooks API") < Level::kStandard)
    return finish(Errors(403,
                         "You do not have access to the Webhooks API tool for this company (Standard or "
                         "higher is needed)."));
  // A project scope must be a project of the company the header names.
  std::optional<std::string> project = req.Query("project_id");
  if (!project && !req.body.empty()) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_object() && body.contains("project_id")) {
      const auto& p = body["project_id"];
      project = p.is_string() ? p.get<std::string>() : p.dump();
    }
  }
  if (project) {
    auto id = kt::ParseInt64(*project);
    auto ref = id ? world_->FindProject(*id) : std::nullopt;
    if (!ref || ref->company_slot != call.company->slot) return finish(Errors(404, "Project not found"));
    if (!call.install->Permits(*id))
      return finish(Errors(403, "This project is not one of the app's permitted projects."));
  }
  return WebhookCaller{call.app->client_id, call.company_id, call.app->user_id};
}

void Emulator::AddWebhookRoutes(kt::http::Router& router) {
  if (!webhooks_) return;
  // The webhook service registers on a scratch router; each route is re-added wrapped with faults and stats.
  kt::http::Router scratch;
  webhooks_->RegisterRoutes(scratch, [this](Request& req) { return AuthenticateWebhooks(req); });
  for (const auto& route : scratch.routes()) {
    kt::http::Handler inner = route.handler;
    std::string pattern = route.pattern;
    router.Add(
        route.method, route.pattern,
        [this, inner, pattern](Request& req) {
          tl_webhook_rate.reset();
          Response res = [&] {
            if (auto fault = InjectFault()) return std::move(*fault);
            return inner(req);
          }();
          if (tl_webhook_rate && !res.headers.Get("X-Rate-Limit-Limit"))
            SetRateHeaders(res, *tl_webhook_rate);
          res.headers.Set("Date", HttpDate(clock_.NowS()));
          stats_.Count(req.method, pattern, TargetOf(req), "", res.status);
          return res;
        },
        route.options);
  }
}

void Emulator::RegisterRoutes(kt::http::Router& router) {
  AddOAuthRoutes(router);
  AddRestRoutes(router);
  AddWebhookRoutes(router);
  AddControlRoutes(router);
  AddUiRoutes(router);
}

int Emulator::ApplyChanges(int company_slot, int count, const std::vector<Stream>& streams,
                           uint64_t change_seed) {
  std::vector<AppliedChange> applied;
  {
    std::unique_lock lock(mu_);
    applied = world_->ApplyChanges(company_slot, count, streams, change_seed, clock_.NowMs());
  }
  std::shared_lock lock(mu_);
  for (const auto& change : applied) PublishChange(change);
  return static_cast<int>(applied.size());
}

std::optional<int64_t> Emulator::CreateProject(int company_slot) {
  std::optional<AppliedChange> created;
  {
    std::unique_lock lock(mu_);
    created = world_->CreateProject(company_slot, clock_.NowMs());
  }
  if (!created) return std::nullopt;
  std::shared_lock lock(mu_);
  PublishChange(*created);
  return created->record.id;
}

void Emulator::PublishChange(const AppliedChange& change) {
  if (!webhooks_) return;
  const StreamInfo& info = Info(change.key.stream);
  const CompanyData& company = world_->Companies()[static_cast<size_t>(change.key.company_slot)];
  // The person in Procore who made the change: a company user, not an app.
  int64_t user_id =
      world_->IdFor({change.key.company_slot, Stream::kCompanyUsers, -1},
                    change.record.index % std::max(1, world_->UserCount(change.key.company_slot)));
  ResourceEvent event;
  event.company_id = company.id;
  if (!info.company_level)
    event.project_id = world_->ProjectId(change.key.company_slot, change.key.project_index);
  if (change.key.stream == Stream::kProjects) event.project_id = change.record.id;
  event.resource_name = std::string(info.resource_name);
  event.event_type = change.event_type;
  event.resource_id = change.record.id;
  event.user_id = user_id;
  event.at_ms = change.record.updated_at_ms;
  webhooks_->Publish(event);
  // Procore fans a directory entry's edit out to each project directory it is on (Project Users / Vendors).
  if (change.event_type == "update" &&
      (change.key.stream == Stream::kCompanyUsers || change.key.stream == Stream::kVendors)) {
    ResourceEvent fan = event;
    fan.resource_name = change.key.stream == Stream::kCompanyUsers ? "Project Users" : "Project Vendors";
    for (int p : world_->AssignedProjects(change.key.company_slot, change.key.stream, change.record.index)) {
      fan.project_id = world_->ProjectId(change.key.company_slot, p);
      webhooks_->Publish(fan);
    }
  }
}

std::set<int64_t> Emulator::VisibleProjects(const CompanyData& company, const Install& install) const {
  // Company admins see every project; otherwise the DMSA sees the projects it was added to (its permitted
  // ones).
  std::set<int64_t> visible;
  bool admin = install.CompanyLevel("Admin") >= Level::kAdmin;
  for (int64_t id : world_->ProjectIds(company.slot))
    if (admin || install.Permits(id)) visible.insert(id);
  return visible;
}

kt::Status Emulator::ApplyInstall(int64_t company_id, const nlohmann::json& body, bool create) {
  auto bad = [](std::string message) {
    return kt::Fail(kt::ErrorKind::kInvalidInput, "invalid_install", std::move(message));
  };
  if (!body.is_object()) return bad("the body must be a JSON object");
  const CompanyData* company = world_->FindCompany(company_id);
  if (!company)
    return kt::Fail(kt::ErrorKind::kNotFound, "company_not_found",
                    "no company " + std::to_string(company_id));
  std::string client_id;
  if (body.contains("client_id") && body["client_id"].is_string()) client_id = body["client_id"];
  if (client_id.empty()) return bad("client_id is required");
  const App* app = access_.FindApp(client_id);
  if (!app) return kt::Fail(kt::ErrorKind::kNotFound, "app_not_found", "no app with client_id " + client_id);
  if (app->legacy_service_account)
    return bad("legacy service accounts cannot be installed: they were sunset on 18 March 2025");

  Install install;
  if (!create) {
    const Install* existing = access_.FindInstall(company_id, client_id);
    if (!existing) return kt::Fail(kt::ErrorKind::kNotFound, "install_not_found", "the app is not installed");
    install = *existing;
  } else {
    install.installed_at_ms = clock_.NowMs();
  }
  install.client_id = client_id;

  if (body.contains("permissions")) {
    const auto& perms = body["permissions"];
    if (!perms.is_object())
      return bad("permissions must be an object {\"company\": {...}, \"project\": {...}}");
    for (const char* scope : {"company", "project"}) {
      if (!perms.contains(scope)) continue;
      if (!perms[scope].is_object()) return bad(std::string("permissions.") + scope + " must be an object");
      auto& target = std::string(scope) == "company" ? install.company_tools : install.project_tools;
      target.clear();
      for (const auto& [tool, level] : perms[scope].items()) {
        const ToolInfo* info = FindTool(tool);
        if (!info) {
          std::string names;
          for (const auto& t : Tools()) {
            if (!names.empty()) names += ", ";
            names += t.name;
          }
          return bad("unknown tool \"" + tool + "\"; tools are: " + names);
        }
        auto parsed = level.is_string() ? ParseLevel(level.get<std::string>()) : std::nullopt;
        if (!parsed) return bad("level of " + tool + " must be none, read_only, standard or admin");
        target[tool] = *parsed;
      }
    }
  }
  if (body.contains("permitted_projects")) {
    const auto& pp = body["permitted_projects"];
    if (pp.is_string() && pp.get<std::string>() == "all") {
      install.all_projects = true;
      install.permitted_projects.clear();
    } else if (pp.is_array()) {
      install.all_projects = false;
      install.permitted_projects.clear();
      for (const auto& id : pp) {
        if (!id.is_number_integer())
          return bad("permitted_projects must be \"all\" or an array of project ids");
        auto ref = world_->FindProject(id.get<int64_t>());
        if (!ref || ref->company_slot != company->slot)
          return bad("project " + id.dump() + " is not a project of company " + std::to_string(company_id));
        install.permitted_projects.insert(id.get<int64_t>());
      }
    } else {
      return bad("permitted_projects must be \"all\" or an array of project ids");
    }
  }
  access_.PutInstall(company_id, std::move(install));
  return {};
}

}  // namespace procore_emulator
