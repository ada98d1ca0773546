// The request pipeline (token, budget, headers, send, learn, retry, classify) and the wizard's typed calls.
#include "procore/client.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "procore/headers.h"
#include "procore/pagination.h"

namespace kt::procore {
namespace {

// The request never reached Procore, so even a POST can be sent again.
bool NeverSent(const std::string& transport_error) {
  return transport_error == "connection_refused" || transport_error == "dns";
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

}  // namespace

Client::Client(ClientOptions options, ClientDeps deps)
    : options_(std::move(options)), deps_(deps), metrics_(deps.metrics ? *deps.metrics : NoMetrics()) {}

std::string Client::BudgetKeyFor(int64_t company_id) const {
  return BudgetKey(options_.app.urls.api_url, options_.app.client_id, company_id);
}

std::optional<SysTime> Client::RateLimitedUntil(int64_t company_id) {
  return deps_.budget.LimitedUntil(BudgetKeyFor(company_id));
}

RateBudgetSnapshot Client::RateBudgetStatus(int64_t company_id) {
  return deps_.budget.Snapshot(BudgetKeyFor(company_id));
}

ProcoreResult<ApiResponse> Client::Send(const ApiRequest& request) {
  const std::string family = EndpointFamily(request.path);
  const std::string key = BudgetKeyFor(request.company_id);
  const bool idempotent = request.idempotent.value_or(request.method != "POST");
  const RetryPolicy& policy = options_.retry;
  const SysTime start = deps_.clock.Now();
  const SysTime deadline = start + request.max_total.value_or(policy.max_total);
  const std::string query = BuildQuery(request.query);
  const std::string path_and_query = query.empty() ? request.path : request.path + "?" + query;
  CallContext context = request.context;
  if (context.company_id == 0) context.company_id = request.company_id;

  Evidence evidence;
  evidence.method = request.method;
  evidence.path = path_and_query;
  evidence.environment = std::string(EnvironmentName(options_.app.urls.environment));

  bool renewed_after_401 = false;
  int attempts = 0;
  int retries = 0;
  while (true) {
    // The token first: a renewal can take a while, and the budget slot should be used right after it is
    // granted.
    auto token = deps_.tokens.Get(options_.app);
    if (!token) return tl::unexpected(token.error());
    auto grant = deps_.budget.Acquire(key, request.priority, deadline);
    if (!grant) {
      evidence.retry_at = grant.error();
      return FailWith(ErrorCode::kRateLimited, context, evidence);
    }
    metrics_.OnBudgetWait(family, grant->waited);

    http::ClientRequest http_request;
    http_request.method = request.method;
    http_request.url = options_.app.urls.api_url + path_and_query;
    http_request.timeout = options_.timeout;
    http_request.connect_timeout = options_.connect_timeout;
    http_request.headers.Set("Authorization", "Bearer " + *token);
    if (request.company_id != 0)
      http_request.headers.Set("Procore-Company-Id", std::to_string(request.company_id));
    http_request.headers.Set("User-Agent", UserAgent());
    http_request.headers.Set("Accept", "application/json");
    if (!request.body.empty()) {
      http_request.headers.Set("Content-Type", request.content_type);
      http_request.body = request.body;
    }

    ++attempts;
    const SysTime sent_at = deps_.clock.Now();
    http::ClientResponse response = deps_.transport.Send(http_request);
    const SysTime received_at = deps_.clock.Now();
    metrics_.OnRequest(family, response.transport_error.empty() ? response.status : 0,
                       std::chrono::duration_cast<Millis>(received_at - sent_at));

    const bool answered = response.transport_error.empty() && response.status != 0;
    std::optional<Millis> retry_after;
    RateObservation observation;
    observation.granted_at = grant->at;
    observation.sent_at = sent_at;
    observation.received_at = received_at;
    observation.answered = answered;
    if (answered) {
      if (auto ra = response.headers.Get("Retry-After")) retry_after = ParseRetryAfter(*ra, received_at);
      observation.headers = ParseRateLimitHeaders(response.headers);
      if (auto date = response.headers.Get("Date")) observation.server_date = ParseHttpDate(*date);
      observation.rate_limited = response.status == 429;
      observation.retry_after = retry_after;
    }
    deps_.budget.Observe(key, observation);
    if (answered && response.status >= 200 && response.status < 300) {
      ApiResponse out;
      out.status = response.status;
      out.request_id = response.headers.Get("X-Request-Id").value_or("");
      out.headers = std::move(response.headers);
      out.body = std::move(response.body);
      out.attempts = attempts;
      return out;
    }

    evidence.status = answered ? response.status : 0;
    evidence.transport_error = response.transport_error;
    if (!answered && evidence.transport_error.empty()) evidence.transport_error = "no response";
    evidence.request_id = response.headers.Get("X-Request-Id").value_or("");
    evidence.body = answered ? ParseErrorBody(response.body) : ParsedErrorBody{};
    evidence.retry_at.reset();
    if (retry_after) evidence.retry_at = received_at + *retry_after;

    if (answered && response.status == 401 && !renewed_after_401) {
      // Renew once (one renewal for all threads refused with this token) and send again.
      renewed_after_401 = true;
      metrics_.OnRetry(family, "401");
      auto renewed = deps_.tokens.RenewAfterRejection(options_.app, *token);
      if (!renewed) return tl::unexpected(renewed.error());
      continue;
    }

    ErrorCode code = ClassifyApiFailure(evidence, context);
    std::string reason;
    bool retryable = false;
    if (answered && response.status == 429) {
      metrics_.OnRateLimited(family);
      if (auto until = deps_.budget.LimitedUntil(key)) evidence.retry_at = until;
      retryable = true;  // the budget holds everyone back until the window resets
      reason = "429";
    } else if (!answered) {
      retryable = idempotent || NeverSent(response.transport_error);
      reason = "network";
    } else if (response.status >= 500) {
      // 502/503 mean the request was not processed (gateway, load shedding); a 500 on a POST might have been.
      retryable = idempotent || response.status == 502 || response.status == 503;
      reason = "5xx";
    }

    if (!retryable || attempts >= policy.max_attempts) {
      if (code == ErrorCode::kMissingPermission && request.diagnose && options_.diagnose_forbidden &&
          context.scope == Scope::kProject && context.project_id != 0) {
        code = DiagnoseForbidden(context, request.company_id, request.priority);
      }
      return FailWith(code, context, evidence);
    }
    Millis delay;
    if (reason == "429") {
      delay = HintedDelay(policy, Millis(0), deps_.random);  // the budget does the waiting; this only spreads
    } else if (retry_after) {
      delay = HintedDelay(policy, *retry_after, deps_.random);
    } else {
      delay = BackoffDelay(policy, retries, deps_.random);
    }
    const SysTime now = deps_.clock.Now();
    if (now + delay > deadline) {
      if (!evidence.retry_at) evidence.retry_at = now + delay;
      return FailWith(code, context, evidence);
    }
    ++retries;
    metrics_.OnRetry(family, reason);
    deps_.clock.SleepFor(delay);
  }
}

ErrorCode Client::DiagnoseForbidden(const CallContext& context, int64_t company_id, Priority priority) {
  // 1. The project's permission manifest: refused means the project is outside the app's permitted projects.
  ApiRequest manifest;
  manifest.path = "/rest/v1.0/settings/permissions";
  manifest.query = {{"project_id", std::to_string(context.project_id)}};
  manifest.company_id = company_id;
  manifest.priority = priority;
  manifest.diagnose = false;
  manifest.max_total = Millis(15'000);
  manifest.context = context;
  auto permissions = Send(manifest);
  if (!permissions) {
    switch (permissions.error().code) {
      case ErrorCode::kMissingPermission:
      case ErrorCode::kProjectNotPermitted:
      case ErrorCode::kNotFound:
        return ErrorCode::kProjectNotPermitted;
      case ErrorCode::kToolDisabled:
      case ErrorCode::kAppNotInstalled:
        return permissions.error().code;
      default:
        return ErrorCode::kMissingPermission;
    }
  }
  auto j = nlohmann::json::parse(permissions->body, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* tools = nullptr;
  if (j.is_object() && j.contains("tools") && j["tools"].is_array()) tools = &j["tools"];
  if (j.is_array()) tools = &j;
  if (tools) {
    for (const auto& t : *tools) {
      ToolPermission tp = ToolPermissionFromJson(t);
      if (SameTool(tp.friendly_name, context.tool) || SameTool(tp.name, context.tool)) {
        if (IsNoAccess(tp.level)) return ErrorCode::kMissingPermission;
        break;
      }
    }
  }
  // 2. The project's tools: an inactive tool answers 403 whatever the permission.
  ApiRequest tools_request;
  tools_request.path = "/rest/v1.0/projects/" + std::to_string(context.project_id) + "/tools";
  tools_request.company_id = company_id;
  tools_request.priority = priority;
  tools_request.diagnose = false;
  tools_request.max_total = Millis(15'000);
  tools_request.context = context;
  auto project_tools = Send(tools_request);
  if (project_tools) {
    auto tj = nlohmann::json::parse(project_tools->body, nullptr, /*allow_exceptions=*/false);
    if (tj.is_array()) {
      for (const auto& t : tj) {
        ProjectTool pt = ProjectToolFromJson(t);
        if (SameTool(pt.title, context.tool) || SameTool(pt.engine_name, context.tool)) {
          if (!pt.is_active) return ErrorCode::kToolDisabled;
          break;
        }
      }
    }
  }
  return ErrorCode::kMissingPermission;
}

ProcoreResult<AccessToken> Client::VerifyCredentials() {
  return deps_.tokens.Fetch(options_.app);
}

ProcoreResult<std::vector<Company>> Client::ListCompanies(int64_t company_hint) {
  ListRequest list;
  list.path = "/rest/v1.0/companies";
  list.company_id = company_hint;
  list.per_page = 100;
  list.priority = Priority::kInteractive;
  list.context.company_id = company_hint;
  list.context.tool = "Admin";
  return ReadAll<Company>(*this, std::move(list), CompanyFromJson);
}

ProcoreResult<Me> Client::GetMe(int64_t company_id) {
  ApiRequest r;
  r.path = "/rest/v1.0/me";
  if (company_id) r.query = {{"company_id", std::to_string(company_id)}};
  r.company_id = company_id;
  r.context.company_lookup = true;
  auto response = Send(r);
  if (!response) return tl::unexpected(response.error());
  auto j = nlohmann::json::parse(response->body, nullptr, false);
  if (!j.is_object()) return FailWith(ErrorCode::kInvalidResponse, r.context);
  return MeFromJson(j);
}

ProcoreResult<CompanyUser> Client::GetCompanyMe(int64_t company_id) {
  ApiRequest r;
  r.path = "/rest/v1.0/companies/" + std::to_string(company_id) + "/me";
  r.company_id = company_id;
  r.context.company_lookup = true;
  r.context.tool = "Directory";
  auto response = Send(r);
  if (!response) return tl::unexpected(response.error());
  auto j = nlohmann::json::parse(response->body, nullptr, false);
  if (!j.is_object()) return FailWith(ErrorCode::kInvalidResponse, r.context);
  return CompanyUserFromJson(j);
}

ProcoreResult<std::vector<ToolPermission>> Client::GetPermissions(int64_t company_id, Scope scope,
                                                                  int64_t project_id) {
  ApiRequest r;
  r.path = "/rest/v1.0/settings/permissions";
  if (scope == Scope::kProject) {
    r.query = {{"project_id", std::to_string(project_id)}};
  } else {
    r.query = {{"company_id", std::to_string(company_id)}};
  }
  r.company_id = company_id;
  r.context.scope = scope;
  r.context.project_id = project_id;
  r.diagnose = false;
  auto response = Send(r);
  if (!response) return tl::unexpected(response.error());
  auto j = nlohmann::json::parse(response->body, nullptr, false);
  const nlohmann::json* tools = nullptr;
  if (j.is_object() && j.contains("tools") && j["tools"].is_array()) tools = &j["tools"];
  if (j.is_array()) tools = &j;
  if (!tools) return FailWith(ErrorCode::kInvalidResponse, r.context);
  std::vector<ToolPermission> out;
  for (const auto& t : *tools) out.push_back(ToolPermissionFromJson(t));
  return out;
}

ProcoreResult<std::vector<ProjectTool>> Client::ListProjectTools(int64_t company_id, int64_t project_id) {
  ListRequest list;
  list.path = "/rest/v1.0/projects/" + std::to_string(project_id) + "/tools";
  list.company_id = company_id;
  list.per_page = 100;
  list.priority = Priority::kInteractive;
  list.context.scope = Scope::kProject;
  list.context.project_id = project_id;
  list.context.tool = "Admin";
  return ReadAll<ProjectTool>(*this, std::move(list), ProjectToolFromJson);
}

ProcoreResult<std::vector<Project>> Client::ListProjects(int64_t company_id) {
  StreamListOptions options;
  options.company_id = company_id;
  options.priority = Priority::kInteractive;
  auto list = StreamListRequest(*FindStream("projects"), options, deps_.clock.Now());
  if (!list) return tl::unexpected(list.error());
  return ReadAll<Project>(*this, std::move(*list), ProjectFromJson);
}

ProcoreResult<std::vector<BudgetView>> Client::ListBudgetViews(int64_t company_id, int64_t project_id) {
  ListRequest list;
  list.path = "/rest/v1.0/budget_views";
  list.query = {{"project_id", std::to_string(project_id)}};
  list.company_id = company_id;
  list.per_page = 100;
  list.priority = Priority::kInteractive;
  list.context = StreamContext(*FindStream("budget_detail_rows"), company_id, project_id, "");
  return ReadAll<BudgetView>(*this, std::move(list), BudgetViewFromJson);
}

ProcoreResult<std::string> Client::GetRecord(const RecordRequest& request) {
  const StreamEndpoint* stream = FindStream(request.stream);
  CallContext context;
  if (stream) context = StreamContext(*stream, request.company_id, request.project_id, request.project_name);
  context.resource_id = request.id;
  if (!stream) {
    Evidence ev;
    ev.body.message = "unknown stream " + std::string(request.stream);
    return FailWith(ErrorCode::kValidation, context, ev);
  }
  if (stream->scope == Scope::kProject && request.project_id == 0) {
    Evidence ev;
    ev.body.message = "a project id is needed for " + std::string(stream->key);
    return FailWith(ErrorCode::kValidation, context, ev);
  }

  if (stream->record_path.empty()) {
    // Budget rows have no single-record GET: read the view's rows for that budget line item.
    StreamListOptions options;
    options.company_id = request.company_id;
    options.project_id = request.project_id;
    options.project_name = request.project_name;
    options.parent_id = request.parent_id;
    options.priority = request.priority;
    options.extra_filters = {{"budget_line_item_id[]", std::to_string(request.id)}};
    auto list = StreamListRequest(*stream, options, deps_.clock.Now());
    if (!list) return tl::unexpected(list.error());
    std::optional<std::string> found;
    auto read = ForEachPage(*this, std::move(*list), [&](const Page& page) -> ProcoreStatus {
      if (!found && !page.records.empty()) found = std::string(page.records.front().json);
      return {};
    });
    if (!read) return tl::unexpected(read.error());
    if (!found) return FailWith(ErrorCode::kNotFound, context);
    return *found;
  }

  ApiRequest r;
  r.path = Replace(
      Replace(Replace(std::string(stream->record_path), "{company_id}", std::to_string(request.company_id)),
              "{project_id}", std::to_string(request.project_id)),
      "{id}", std::to_string(request.id));
  if (!stream->scope_param.empty()) {
    int64_t scope_id = stream->scope == Scope::kCompany ? request.company_id : request.project_id;
    r.query = {{std::string(stream->scope_param), std::to_string(scope_id)}};
  }
  r.company_id = request.company_id;
  r.priority = request.priority;
  r.context = context;
  auto response = Send(r);
  if (!response) return tl::unexpected(response.error());
  return std::move(response->body);
}

}  // namespace kt::procore
