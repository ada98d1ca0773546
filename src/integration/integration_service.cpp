// The integration's use cases: each reads the row, talks to Procore outside any transaction, then commits the
// change, its audit entry and any job together, re-checking the transition against the row it commits to.
#include "integration/integration_service.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "integration/hook_lifecycle.h"
#include "obs/log.h"
#include "procore/environment.h"
#include "procore/rate_budget.h"
#include "procore/webhooks.h"
#include "sync/scope.h"
#include "util/hash.h"
#include "util/json_fields.h"
#include "util/strings.h"

namespace kt::integration {
namespace {

constexpr size_t kMaxCredentialLength = 512;
// Delivery health: pages of failing and of discarded deliveries counted per check, and pages of recent ones
// read per check (a burst's thousand deliveries are caught up over a few checks, not read mid-burst).
constexpr int kCountPages = 50;
constexpr int kRecentPages = 3;

nlohmann::json Iso(const std::optional<int64_t>& ms) {
  if (!ms) return nullptr;
  return FormatIso8601(*ms);
}

// The app's use of Procore's rate limits in the company (procore-api.md §6), as KTrack's rate budget knows
// it: its own requests in each window, the limits learned from X-Rate-Limit-* headers (null until a response
// reported them), and whether requests wait for a window to reset.
nlohmann::json ApiUsageJson(const procore::RateBudgetSnapshot& s) {
  auto learned = [](int64_t limit) { return limit > 0 ? nlohmann::json(limit) : nlohmann::json(nullptr); };
  return {{"requests_last_hour", s.sent_in_hour},
          {"hourly_limit", learned(s.hourly_limit)},
          {"requests_in_spike_window", s.sent_in_spike_window},
          {"spike_limit", learned(s.spike_limit)},
          {"rate_limited_until", s.limited_until ? nlohmann::json(FormatIso8601(UnixMs(*s.limited_until)))
                                                 : nlohmann::json(nullptr)},
          {"rate_limited_responses", s.rate_limited_count},
          {"requests_waiting", s.waiting}};
}

nlohmann::json ErrorJson(const Error& e, int64_t at_ms) {
  return {{"code", e.code}, {"message", e.message}, {"fix", e.fix}, {"at", FormatIso8601(at_ms)}};
}

// Values that can be neither a client id nor a secret: empty, too long, or with spaces or control characters.
Status CheckCredentialText(const std::string& value, const char* field) {
  bool bad = value.size() > kMaxCredentialLength || std::any_of(value.begin(), value.end(), [](char c) {
               return static_cast<unsigned char>(c) <= ' ';
             });
  if (bad)
    return Fail(
        ErrorKind::kInvalidInput, "invalid_field",
        std::string("'") + field + "' does not look like a Procore " +
            (std::string(field) == "client_id" ? "client ID" : "client secret") +
            ": it has spaces or is too long.",
        "Copy it again from the app's OAuth Credentials in the Procore Developer Portal, without spaces.");
  return {};
}

bool IsTransient(const procore::ProcoreError& e) {
  return e.code == procore::ErrorCode::kProcoreUnavailable || e.code == procore::ErrorCode::kRateLimited ||
         e.code == procore::ErrorCode::kInvalidResponse;
}

// The failing checks as the things an admin fixes, in the report's order: one tool missing on 40 projects is
// one thing, and so is every project outside the app's permitted projects (each fails all its tools for that
// reason).
std::vector<std::vector<const PermissionCheck*>> GapGroups(const PermissionReport& report) {
  std::vector<std::vector<const PermissionCheck*>> groups;
  std::map<std::tuple<ToolScope, std::string, std::string>, size_t> index;
  for (const auto& c : report.checks) {
    if (!IsGap(c)) continue;
    auto key =
        std::make_tuple(c.scope, c.status == kCheckProjectNotPermitted ? std::string() : c.tool, c.status);
    auto [at, added] = index.try_emplace(key, groups.size());
    if (added) groups.emplace_back();
    groups[at->second].push_back(&c);
  }
  return groups;
}

std::string SummarizeGaps(const PermissionReport& report, std::string* fix) {
  const auto groups = GapGroups(report);
  if (groups.empty()) return {};
  const auto& group = groups.front();
  const PermissionCheck& first = *group.front();
  std::vector<std::string> projects;  // the group's projects, each once, as messages name them
  for (const auto* c : group) {
    std::string name =
        "'" + (c->project_name.empty() ? std::to_string(c->project_id.value_or(0)) : c->project_name) + "'";
    if (std::find(projects.begin(), projects.end(), name) == projects.end())
      projects.push_back(std::move(name));
  }
  const std::string others = projects.size() > 1 ? " and " + std::to_string(projects.size() - 1) +
                                                       " other project" + (projects.size() > 2 ? "s" : "")
                                                 : "";
  const std::string where = first.scope == ToolScope::kCompany ? std::string("at company level")
                                                               : "on project " + projects.front() + others;
  std::string what =
      first.status == kCheckMissing        ? first.tool + " needs " + first.required + " " + where
      : first.status == kCheckToolDisabled ? "the " + first.tool + " tool is turned off " + where
      : projects.size() == 1
          ? "project " + projects.front() + " is not one of the app's permitted projects"
          : std::to_string(projects.size()) + " projects are not among the app's permitted projects (" +
                projects.front() + others + ")";
  if (fix) {
    *fix = first.fix;
    if (projects.size() > 1) *fix += " The same for the other projects the permissions card lists.";
    *fix += " Then verify the permissions again.";
  }
  std::string more = groups.size() > 1 ? "; and " + std::to_string(groups.size() - 1) + " more to fix" : "";
  return "KTrack's app lacks permissions the settings need: " + what + more + ".";
}

std::string Joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

// A stream stopped by something an admin fixes in Procore (a permission, a tool, the permitted projects, the
// app's install), rather than by Procore failing.
bool WaitsForAFixInProcore(const sync::StreamStatus& s) {
  if (s.status != "error" || !s.error) return false;
  const std::string& code = s.error->code;
  return code == "missing_permission" || code == "tool_disabled" || code == "project_not_permitted" ||
         code == "app_not_installed";
}

// Linked projects whose permission checks matter most come first: those whose streams stopped on a permission
// (refused by Procore, or paused for a drift a check found). Returns how many there are.
size_t StoppedProjectsFirst(std::vector<ProjectRef>& linked, const std::vector<sync::StreamStatus>& streams) {
  std::set<int64_t> stopped;
  for (const auto& s : streams)
    if (s.project_id && (WaitsForAFixInProcore(s) ||
                         (s.status == "paused" && s.error && s.error->code == "permissions_drift")))
      stopped.insert(*s.project_id);
  auto end = std::stable_partition(linked.begin(), linked.end(),
                                   [&](const ProjectRef& p) { return stopped.count(p.id) > 0; });
  return static_cast<size_t>(end - linked.begin());
}

// At most this many stopped projects are checked besides the usual sample: a permission check costs up to two
// requests a project, and the re-check runs every quarter hour.
constexpr size_t kMaxStoppedProjectsChecked = 200;

// last_error's "source" when a background check set it: a later check that passes clears it.
constexpr char kHealthCheckSource[] = "health_check";

// The job that creates (or finds) the hook and its triggers and applies the sync's scope: one per client.
Status EnqueueComplete(queue::Queue& queue, store::Tx& tx, int64_t client_id) {
  queue::EnqueueOptions eo;
  eo.dedupe_key = std::string(kCompleteJob) + ":" + std::to_string(client_id);
  eo.client_id = client_id;
  eo.priority = 5;
  auto job = queue.Enqueue(tx, kCompleteJob, nlohmann::json{{"client_id", client_id}}.dump(), eo);
  if (!job) return tl::unexpected(job.error());
  return {};
}

}  // namespace

std::map<int64_t, sync::PauseReason> ProjectDrift(const nlohmann::json& last_permission_check) {
  std::map<int64_t, sync::PauseReason> out;
  if (!last_permission_check.is_object()) return out;
  std::map<int64_t, std::vector<std::string>> gaps, fixes;
  for (const auto& c : last_permission_check.value("checks", nlohmann::json::array())) {
    const std::string status = c.value("status", "");
    if (status != kCheckMissing && status != kCheckToolDisabled && status != kCheckProjectNotPermitted)
      continue;
    if (!c.value("needed", true)) continue;
    auto id = c.find("project_id");
    if (id == c.end() || !id->is_number_integer()) continue;
    const int64_t project = id->get<int64_t>();
    const std::string tool = c.value("tool", "");
    std::string gap = status == kCheckProjectNotPermitted
                          ? "the project is not one of KTrack's permitted projects"
                      : status == kCheckToolDisabled ? "the " + tool + " tool is turned off"
                                                     : tool + " needs " + c.value("required", "Read Only");
    auto& list = gaps[project];
    if (std::find(list.begin(), list.end(), gap) == list.end()) list.push_back(gap);
    const std::string fix = c.value("fix", nlohmann::json()).is_string() ? c["fix"].get<std::string>() : "";
    auto& fix_list = fixes[project];
    if (!fix.empty() && std::find(fix_list.begin(), fix_list.end(), fix) == fix_list.end())
      fix_list.push_back(fix);
  }
  for (const auto& [project, list] : gaps) {
    sync::PauseReason reason;
    reason.code = "permissions_drift";
    // The stream's status says it is paused; the message says what is wrong, as a sentence.
    reason.message = Joined(list, "; ") + ".";
    reason.message[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(reason.message[0])));
    reason.fix =
        Joined(fixes[project], " ") +
        " KTrack resumes this project's sync by itself at its next check, or at once when you choose "
        "Re-verify under Permissions on the integration page.";
    out[project] = std::move(reason);
  }
  return out;
}

std::string MaskSecret(std::string_view hint) {
  if (hint.empty()) return {};
  return "••••••••" + std::string(hint);
}

// What Procore answered to a check someone asked for (Verify, Save settings, Complete, Link). The action was
// not done, so a wait that passes by itself is not "Nothing to do" here: the person tries again.
Error VerificationError(const procore::ProcoreError& pe) {
  Error e = pe.error;
  switch (pe.code) {
    case procore::ErrorCode::kProcoreUnavailable:
      e.code = "procore_unreachable";
      e.kind = ErrorKind::kUnprocessable;
      e.fix =
          pe.http_status == 0
              ? "KTrack did not do this and nothing changed. If you entered the Login URL and API URL, check "
                "them; then try again in a few minutes. If it lasts, check https://status.procore.com."
              : "KTrack did not do this and nothing changed: try again in a few minutes. If Procore stays "
                "unavailable, check https://status.procore.com.";
      break;
    case procore::ErrorCode::kRateLimited:  // 429: KTrack's own work waits; this action did not
      e.fix = "KTrack did not do this and nothing changed: try again after " +
              procore::FormatUntil(pe.retry_at) +
              ". The sync waits for the limit by itself. If the limit runs out every day, ask Procore "
              "(Developer Portal → the app) for a higher hourly rate limit.";
      break;
    default:
      e.kind = ErrorKind::kUnprocessable;
      break;
  }
  return e;
}

IntegrationService::IntegrationService(store::Store& store, crypto::SecretStore& secrets,
                                       accounts::AuditLog& audit, queue::Queue& queue, sync::SyncEngine& sync,
                                       ProcoreClients& clients, WebhookReceiver* receiver, Clock& clock,
                                       IntegrationOptions options)
    : store_(store),
      secrets_(secrets),
      audit_(audit),
      queue_(queue),
      sync_(sync),
      clients_(clients),
      receiver_(receiver),
      clock_(clock),
      options_(std::move(options)) {}

void IntegrationService::Changed(int64_t client_id) {
  if (receiver_) receiver_->Invalidate(client_id);
}

Result<IntegrationRecord> IntegrationService::Load(int64_t client_id) {
  auto r = LoadIntegration(store_, client_id);
  if (!r) return tl::unexpected(r.error());
  if (*r) return **r;
  IntegrationRecord fresh;
  fresh.client_id = client_id;
  return fresh;
}

Result<IntegrationRecord> IntegrationService::Mutate(int64_t client_id, const Mutation& change) {
  IntegrationRecord out;
  const int64_t now = clock_.NowUnixMs();
  auto done = store_.Transact([&](store::Tx& tx) -> Status {
    auto loaded = LoadIntegration(tx, client_id, true);
    if (!loaded) return tl::unexpected(loaded.error());
    IntegrationRecord r;
    if (*loaded) {
      r = std::move(**loaded);
    } else {
      r.client_id = client_id;
      r.created_at = now;
    }
    if (auto c = change(tx, r); !c) return c;
    r.updated_at = now;
    if (auto saved = SaveIntegration(tx, r); !saved) return saved;
    out = std::move(r);
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  Changed(client_id);
  return out;
}

Status IntegrationService::Audit(store::Tx& tx, int64_t client_id, int64_t user_id, std::string_view action,
                                 const nlohmann::json& detail) {
  std::optional<int64_t> user;
  if (user_id > 0) user = user_id;
  return audit_.Record(tx, client_id, user, action, detail);
}

Status IntegrationService::RecordError(int64_t client_id, const Error& error) {
  const int64_t now = clock_.NowUnixMs();
  auto r = Mutate(client_id, [&](store::Tx&, IntegrationRecord& rec) -> Status {
    rec.last_error = ErrorJson(error, now);
    return {};
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

void IntegrationService::SetPublicBaseUrl(std::string url) {
  std::lock_guard lock(base_url_mu_);
  options_.public_base_url = std::move(url);
}

std::string IntegrationService::DestinationUrl(const IntegrationRecord& record) const {
  std::string base;
  {
    std::lock_guard lock(base_url_mu_);
    base = options_.public_base_url;
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/webhooks/procore/" + record.integration_key;
}

Result<std::vector<ProjectRef>> IntegrationService::LinkedProjects(int64_t client_id) {
  std::vector<ProjectRef> out;
  auto done = store_.Transact([&](store::Tx& tx) -> Status {
    out.clear();
    auto links = ListProjectLinks(tx, client_id);
    if (!links) return tl::unexpected(links.error());
    for (const auto& l : *links) out.push_back({l.procore_project_id, l.project_name});
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /

nlohmann::json IntegrationService::Warnings(const IntegrationRecord& r) {
  nlohmann::json warnings = nlohmann::json::array();
  if (!r.company_id || r.status == IntegrationStatus::kDisconnected) return warnings;
  // The same company of the same Procore (environment and API URL): ids of a sandbox or another instance may
  // repeat production's. Disconnected integrations do not count; nothing about the other client is told.
  auto others = store_.Query(
      "SELECT COUNT(*) FROM procore_integrations WHERE company_id = $1 AND client_id <> $2 AND environment = "
      "$3 AND api_url = $4 AND status NOT IN ($5, $6)",
      {*r.company_id, r.client_id, r.environment, r.api_url,
       std::string(StatusName(IntegrationStatus::kDisconnected)),
       std::string(StatusName(IntegrationStatus::kNotStarted))});
  if (!others || others->rows.empty() || others->rows[0].Int(0) == 0) return warnings;
  const std::string id = std::to_string(*r.company_id);
  const std::string company = r.company_name.empty() ? "company " + id : r.company_name + " (" + id + ")";
  warnings.push_back(
      {{"code", "company_connected_elsewhere"},
       {"message", "Another KTrack client is connected to this Procore company too."},
       {"fix", "Check that " + company +
                   " is this client's company. If it is not, click Change credentials and verify your own "
                   "company's. If both KTrack clients should hold its data, nothing needs doing: each keeps "
                   "its own copy, with a webhook of its own."}});
  return warnings;
}

Result<nlohmann::json> IntegrationService::Describe(int64_t client_id) {
  auto loaded = Load(client_id);
  if (!loaded) return tl::unexpected(loaded.error());
  const IntegrationRecord& r = *loaded;
  nlohmann::json j;
  j["status"] = StatusName(r.status);
  j["next_step"] = NextStep(r.status);
  j["environment"] =
      r.status == IntegrationStatus::kNotStarted ? nlohmann::json(nullptr) : nlohmann::json(r.environment);
  if (r.environment == "custom") {
    j["login_url"] = r.login_url;
    j["api_url"] = r.api_url;
  }
  if (!r.procore_client_id.empty() || r.uses_marketplace_app) {
    j["credentials"] = {{"client_id", r.procore_client_id},
                        {"client_secret", r.uses_marketplace_app ? "" : MaskSecret(r.client_secret_hint)},
                        {"uses_marketplace_app", r.uses_marketplace_app},
                        {"verified_at", Iso(r.credentials_verified_at)}};
  } else {
    j["credentials"] = nullptr;
  }
  j["company"] = r.company_id ? nlohmann::json{{"id", *r.company_id}, {"name", r.company_name}}
                              : nlohmann::json(nullptr);
  j["companies"] = r.companies;
  j["warnings"] = Warnings(r);
  j["settings"] = r.settings ? SettingsJson(*r.settings) : nlohmann::json(nullptr);
  nlohmann::json permissions =
      r.last_permission_check.is_null() ? nlohmann::json::object() : r.last_permission_check;
  permissions["verified_at"] = Iso(r.permissions_verified_at);
  j["permissions"] = permissions;
  nlohmann::json webhooks = {
      {"hook_id", r.hook_id ? nlohmann::json(*r.hook_id) : nlohmann::json(nullptr)},
      {"secret_rotation_pending", r.webhook_secret_rotating},
      {"destination_url",
       r.integration_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(DestinationUrl(r))}};
  if (r.hook.is_object())
    for (const auto& [k, v] : r.hook.items())
      if (k != "id" && k != "destination_url") webhooks[k] = v;
  if (r.webhook_health.is_object()) {
    webhooks["failing"] = r.webhook_health.value("failing", nlohmann::json(nullptr));
    webhooks["discarded"] = r.webhook_health.value("discarded", nlohmann::json(nullptr));
    webhooks["health_checked_at"] = r.webhook_health.value("checked_at", nlohmann::json(nullptr));
    webhooks["recent_deliveries"] = r.webhook_health.value("recent", nlohmann::json::array());
    webhooks["health_check_error"] = r.webhook_health.value("check_error", nlohmann::json(nullptr));
  } else {
    webhooks["failing"] = nullptr;
    webhooks["discarded"] = nullptr;
    webhooks["health_check_error"] = nullptr;
  }
  j["webhooks"] = webhooks;
  j["api_usage"] = nullptr;
  if (r.status != IntegrationStatus::kDisconnected)
    if (auto budget = clients_.RateBudgetFor(r)) j["api_usage"] = ApiUsageJson(*budget);
  nlohmann::json streams = nlohmann::json::array();
  size_t stopped = 0;
  if (r.status != IntegrationStatus::kNotStarted) {
    if (auto list = sync_.ListStreams(client_id); list)
      for (const auto& s : *list) {
        streams.push_back(sync::StreamStatusJson(s));
        if (sync::StoppedOnError(s)) ++stopped;
      }
  }
  j["streams"] = streams;
  j["last_error"] = r.last_error;
  // A running integration with a problem has a next step: what fixes it, not "Nothing to do".
  if (r.status == IntegrationStatus::kActive) {
    if (r.last_error.is_object() && r.last_error.value("fix", nlohmann::json()).is_string())
      j["next_step"] = r.last_error["fix"];
    else if (stopped > 0)
      j["next_step"] = std::to_string(stopped) + (stopped == 1 ? " data stream" : " data streams") +
                       " stopped on an error: Data streams shows what Procore answered and the fix for each.";
  }
  j["marketplace_app_available"] = clients_.options().marketplace.configured();
  j["custom_urls_allowed"] = clients_.options().allow_custom_urls;
  return j;
}

Badge IntegrationService::BadgeFor(int64_t client_id) {
  Badge b;
  auto r = LoadIntegration(store_, client_id);
  if (!r || !*r) return b;
  b.status = StatusName((*r)->status);
  b.started = (*r)->status != IntegrationStatus::kNotStarted;
  switch ((*r)->status) {
    case IntegrationStatus::kNotStarted:
      b.label = "Not connected";
      break;
    case IntegrationStatus::kActive:
      b.label = "Connected";
      break;
    case IntegrationStatus::kCompleting:
      b.label = "Completing";
      break;
    case IntegrationStatus::kError:
      b.label = "Needs attention";
      break;
    case IntegrationStatus::kDisconnected:
      b.label = "Disconnected";
      break;
    default:
      b.label = "Setup in progress";
      break;
  }
  if ((*r)->status == IntegrationStatus::kActive && (*r)->last_error.is_object()) {
    b.label = "Needs attention";
    b.problem = (*r)->last_error.value("message", std::string());
  }
  if (IsRunning((*r)->status)) {
    if (auto list = sync_.ListStreams(client_id); list) {
      for (const auto& s : *list) {
        // As the integration page counts them: a stream paused by the settings is neither synced nor failing.
        if (s.status == "paused" && !s.error) continue;
        ++b.streams;
        if (s.status == "synced") ++b.streams_synced;
        if (sync::StoppedOnError(s)) ++b.streams_failing;
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// PUT /credentials

Result<nlohmann::json> IntegrationService::SaveCredentials(int64_t client_id, int64_t user_id,
                                                           const nlohmann::json& body) {
  auto use_marketplace = OptionalBool(body, "use_marketplace_app", false);
  if (!use_marketplace) return tl::unexpected(use_marketplace.error());
  const bool marketplace = *use_marketplace;
  static const char kEnvironmentFix[] =
      "Send \"environment\": \"production\", \"sandbox\", \"monthly_sandbox\" or \"custom\".";
  auto env_given = OptionalString(body, "environment");
  if (!env_given)
    return Fail(ErrorKind::kInvalidInput, "invalid_environment", "'environment' must be a string.",
                kEnvironmentFix);
  std::string env_name = std::move(*env_given);
  if (env_name.empty() && marketplace) env_name = "production";
  auto environment = procore::ParseEnvironment(env_name);
  if (!environment)
    return Fail(
        ErrorKind::kInvalidInput, "invalid_environment",
        env_name.empty() ? "'environment' is required." : "'" + env_name + "' is not a Procore environment.",
        kEnvironmentFix);
  std::string login_url, api_url;
  if (*environment == procore::Environment::kCustom) {
    auto login = OptionalString(body, "login_url");
    if (!login) return tl::unexpected(login.error());
    auto api = OptionalString(body, "api_url");
    if (!api) return tl::unexpected(api.error());
    login_url = std::move(*login);
    api_url = std::move(*api);
  }
  auto urls =
      procore::ResolveEnvironment(*environment, login_url, api_url, clients_.options().allow_custom_urls);
  if (!urls) {
    Error e = urls.error().error;
    if (urls.error().code == procore::ErrorCode::kCustomUrlsNotAllowed ||
        urls.error().code == procore::ErrorCode::kInvalidUrl)
      e.kind = ErrorKind::kInvalidInput;
    return Fail(e);
  }

  procore::AppCredentials app;
  app.urls = *urls;
  if (marketplace) {
    if (!clients_.options().marketplace.configured())
      return Fail(ErrorKind::kInvalidInput, "marketplace_app_not_configured",
                  "This KTrack server has no Marketplace app configured.",
                  "Paste your own app's client ID and client secret instead.");
    app.client_id = clients_.options().marketplace.client_id;
    app.client_secret = clients_.options().marketplace.client_secret;
  } else {
    auto id = RequireString(body, "client_id");
    if (!id) return tl::unexpected(id.error());
    auto secret = RequireString(body, "client_secret");
    if (!secret) return tl::unexpected(secret.error());
    if (auto ok = CheckCredentialText(*id, "client_id"); !ok) return tl::unexpected(ok.error());
    if (auto ok = CheckCredentialText(*secret, "client_secret"); !ok) return tl::unexpected(ok.error());
    app.client_id = *id;
    app.client_secret = *secret;
  }
  auto company_given = OptionalInt(body, "company_id");
  if (!company_given) return tl::unexpected(company_given.error());
  const std::optional<int64_t> company_hint = *company_given;

  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  const bool running =
      current->status == IntegrationStatus::kActive || current->status == IntegrationStatus::kError;
  const IntegrationEvent event =
      running ? IntegrationEvent::kReplaceCredentials : IntegrationEvent::kSaveCredentials;
  if (auto allowed = Transition(current->status, event); !allowed) return tl::unexpected(allowed.error());

  // A running integration keeps its company: the new credentials are verified against it before they replace
  // the old ones.
  if (running) {
    auto client = clients_.ForCredentials(app);
    auto token = client->VerifyCredentials();
    if (!token) return Fail(VerificationError(token.error()));
    auto companies = client->ListCompanies(current->company_id.value_or(0));
    if (!companies) return Fail(VerificationError(companies.error()));
    bool found = std::any_of(companies->begin(), companies->end(), [&](const procore::Company& c) {
      return current->company_id && c.id == *current->company_id;
    });
    if (!found) {
      procore::CallContext context;
      context.company_id = current->company_id.value_or(0);
      return Fail(VerificationError(procore::MakeError(procore::ErrorCode::kCompanyNotFound, context)));
    }
  }

  const int64_t now = clock_.NowUnixMs();
  procore::AppCredentials previous;
  bool had_previous = false;
  if (!current->procore_client_id.empty()) {
    if (auto old = clients_.CredentialsFor(*current); old) {
      previous = *old;
      had_previous = true;
    }
  }
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, event);
    if (!next) return tl::unexpected(next.error());
    r.status = *next;
    r.environment = std::string(procore::EnvironmentName(*environment));
    r.login_url = *environment == procore::Environment::kCustom ? urls->login_url : "";
    r.api_url = *environment == procore::Environment::kCustom ? urls->api_url : "";
    r.procore_client_id = marketplace ? "" : app.client_id;
    r.uses_marketplace_app = marketplace;
    const std::string owner = SecretOwner(client_id);
    if (marketplace) {
      r.client_secret_hint.clear();
      if (auto d = secrets_.Delete(tx, owner, kClientSecretPurpose); !d) return tl::unexpected(d.error());
    } else {
      r.client_secret_hint =
          app.client_secret.size() >= 8 ? app.client_secret.substr(app.client_secret.size() - 4) : "";
      if (auto p = secrets_.Put(tx, owner, kClientSecretPurpose, app.client_secret); !p) return p;
    }
    if (running) {
      r.credentials_verified_at = now;
    } else {
      r.credentials_verified_at.reset();
      r.permissions_verified_at.reset();
      r.companies = nlohmann::json::array();
      if (company_hint) {
        r.company_id = company_hint;
        r.company_name.clear();
      }
    }
    if (r.integration_key.empty()) r.integration_key = RandomToken(24);
    // Verified against the company just now: the background check's refusal of the old credentials is
    // answered, and the webhooks card no longer shows it until the next check.
    if (running && r.last_error.is_object() && r.last_error.value("source", "") == kHealthCheckSource &&
        r.webhook_health.is_object())
      r.webhook_health.erase("check_error");
    r.last_error = nullptr;
    return Audit(tx, client_id, user_id,
                 running ? "integration.credentials_replaced" : "integration.credentials_saved",
                 {{"environment", r.environment},
                  {"procore_client_id", r.procore_client_id},
                  {"uses_marketplace_app", marketplace},
                  {"verified", running}});
  });
  if (!saved) return tl::unexpected(saved.error());
  if (had_previous) clients_.Forget(previous);
  // Streams that stopped on the old credentials (refused, or the app reinstalled meanwhile) go again now
  // rather than at the end of their backoff, up to an hour away.
  if (running)
    if (auto retried = sync_.RetryNow(client_id); !retried)
      obs::Log(obs::Level::kWarn, "credentials_retry_failed",
               {{"client_id", client_id}, {"code", retried.error().code}});
  return nlohmann::json{{"status", StatusName(saved->status)},
                        {"credentials",
                         {{"client_id", saved->procore_client_id},
                          {"client_secret", MaskSecret(saved->client_secret_hint)},
                          {"uses_marketplace_app", saved->uses_marketplace_app},
                          {"verified_at", Iso(saved->credentials_verified_at)}}}};
}

// ---------------------------------------------------------------------------------------------------------------
// POST /credentials/verify

Result<nlohmann::json> IntegrationService::VerifyCredentials(int64_t client_id, int64_t user_id,
                                                             std::optional<int64_t> company_id) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kVerifyCredentials); !allowed)
    return tl::unexpected(allowed.error());
  auto client = clients_.ForIntegration(*current);
  if (!client) return tl::unexpected(client.error());

  auto fail = [&](const Error& e) -> Result<nlohmann::json> {
    (void)RecordError(client_id, e);
    return Fail(e);
  };
  auto token = (*client)->VerifyCredentials();
  if (!token) return fail(VerificationError(token.error()));

  const int64_t hint = company_id.value_or(current->company_id.value_or(0));
  auto companies = (*client)->ListCompanies(hint);
  if (!companies) {
    if (hint == 0 && companies.error().code == procore::ErrorCode::kValidation)
      return fail(
          Error{ErrorKind::kUnprocessable, "company_id_required",
                "Procore needs the company ID to confirm where the app is installed.",
                "Enter your Procore company ID (the number after /companies/ in Procore's address bar) and "
                "click Verify again.",
                companies.error().error.detail});
    return fail(VerificationError(companies.error()));
  }
  if (companies->empty()) {
    procore::CallContext context;
    context.company_id = hint;
    Error e = VerificationError(procore::MakeError(procore::ErrorCode::kAppNotInstalled, context));
    e.message = "These credentials work, but the app is not installed in any Procore company.";
    return fail(e);
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : *companies) list.push_back({{"id", c.id}, {"name", c.name}});
  std::optional<procore::Company> chosen;
  if (hint != 0) {
    for (const auto& c : *companies)
      if (c.id == hint) chosen = c;
    if (!chosen) {
      procore::CallContext context;
      context.company_id = hint;
      Error e = VerificationError(procore::MakeError(procore::ErrorCode::kCompanyNotFound, context));
      std::string names;
      for (const auto& c : *companies)
        names += (names.empty() ? "" : ", ") + c.name + " (" + std::to_string(c.id) + ")";
      e.fix = "The app is installed in: " + names + ". Choose one of them, or install the app in company " +
              std::to_string(hint) + " (Company Admin → App Management).";
      return fail(e);
    }
  } else if (companies->size() == 1) {
    chosen = companies->front();
  }

  const int64_t now = clock_.NowUnixMs();
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, IntegrationEvent::kVerifyCredentials);
    if (!next) return tl::unexpected(next.error());
    const bool company_changed = chosen && r.company_id && *r.company_id != chosen->id;
    if (company_changed && IsRunning(r.status))
      return Fail(ErrorKind::kConflict, "company_change_requires_disconnect",
                  "The integration runs for " + r.company_name + "; it cannot move to another company.",
                  "Disconnect the integration first, then connect the other company.");
    r.status = *next;
    if (company_changed || (!chosen && !IsRunning(r.status))) {
      // Settings and permissions were for another company: they are checked again.
      if (r.status == IntegrationStatus::kConfigured || r.status == IntegrationStatus::kPermissionsVerified)
        r.status = r.settings ? IntegrationStatus::kConfigured : IntegrationStatus::kCredentialsVerified;
      r.permissions_verified_at.reset();
    }
    if (chosen) {
      r.company_id = chosen->id;
      r.company_name = chosen->name;
    } else if (!IsRunning(r.status)) {
      r.company_id.reset();
      r.company_name.clear();
      if (r.status != IntegrationStatus::kCredentialsVerified)
        r.status = IntegrationStatus::kCredentialsVerified;
    }
    r.companies = list;
    r.credentials_verified_at = now;
    r.last_error = nullptr;
    return Audit(tx, client_id, user_id, "integration.credentials_verified",
                 {{"company_id", chosen ? nlohmann::json(chosen->id) : nlohmann::json(nullptr)},
                  {"companies", list.size()}});
  });
  if (!saved) return tl::unexpected(saved.error());
  nlohmann::json company = saved->company_id
                               ? nlohmann::json{{"id", *saved->company_id}, {"name", saved->company_name}}
                               : nlohmann::json(nullptr);
  return nlohmann::json{{"ok", true},
                        {"company", company},
                        {"companies", list},
                        {"needs_company_choice", !saved->company_id.has_value()},
                        {"warnings", Warnings(*saved)},
                        {"status", StatusName(saved->status)}};
}

// ---------------------------------------------------------------------------------------------------------------
// PUT /settings, GET /permissions/requirements, POST /permissions/verify

Result<PermissionReport> IntegrationService::RunPermissionCheck(const IntegrationRecord& record,
                                                                const Settings& settings) {
  if (!record.company_id)
    return Fail(ErrorKind::kConflict, "company_required", "No Procore company is chosen yet.",
                "Verify the credentials and choose the company.");
  auto client = clients_.ForIntegration(record);
  if (!client) return tl::unexpected(client.error());
  auto linked = LinkedProjects(record.client_id);
  if (!linked) return tl::unexpected(linked.error());
  PermissionCheckOptions options = options_.permissions;
  options.every_project_needed = settings.auto_link_projects;
  if (auto streams = sync_.ListStreams(record.client_id); streams)
    options.known_first = std::min(StoppedProjectsFirst(*linked, *streams), kMaxStoppedProjectsChecked);
  auto report = CheckPermissions(**client, *record.company_id, settings, *linked, options);
  if (!report) return Fail(VerificationError(report.error()));
  return *report;
}

Result<nlohmann::json> IntegrationService::SaveSettings(int64_t client_id, int64_t user_id,
                                                        const nlohmann::json& body) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kSaveSettings); !allowed)
    return tl::unexpected(allowed.error());
  auto settings = ParseSettings(body, current->settings.value_or(Settings{}));
  if (!settings) return tl::unexpected(settings.error());

  std::optional<procore::Company> company;
  auto chosen = OptionalInt(body, "company_id");
  if (!chosen) return tl::unexpected(chosen.error());
  if (const std::optional<int64_t> id = *chosen) {
    for (const auto& known : current->companies)
      if (known.value("id", int64_t{0}) == *id)
        company = procore::Company{*id, known.value("name", std::string()), true};
    if (!company)
      return Fail(
          ErrorKind::kUnprocessable, "company_not_found",
          "Company " + std::to_string(*id) + " is not one of the companies where KTrack's app is installed.",
          "Choose one of the companies listed after verifying the credentials, or install the app in that "
          "company and verify again.");
    if (IsRunning(current->status) && current->company_id && *current->company_id != *id)
      return Fail(
          ErrorKind::kConflict, "company_change_requires_disconnect",
          "The integration runs for " + current->company_name + "; it cannot move to another company.",
          "Disconnect the integration first, then connect the other company.");
  } else if (!current->company_id) {
    return Fail(ErrorKind::kInvalidInput, "company_required", "Choose the Procore company to connect.",
                "Send \"company_id\": one of the companies listed by the credentials verification.");
  }

  // A running integration changes its settings only once their permissions are in place.
  std::optional<PermissionReport> report;
  if (current->status == IntegrationStatus::kActive) {
    auto checked = RunPermissionCheck(*current, *settings);
    if (!checked) return tl::unexpected(checked.error());
    report = *checked;
    if (!report->ok) {
      std::string fix;
      std::string message = SummarizeGaps(*report, &fix);
      const int64_t now = clock_.NowUnixMs();
      (void)Mutate(client_id, [&](store::Tx&, IntegrationRecord& r) -> Status {
        r.last_permission_check = PermissionReportJson(*report);
        r.last_permission_check["checked_at"] = FormatIso8601(now);
        r.last_permission_check["for_settings"] = SettingsJson(*settings);
        return {};
      });
      return Fail(ErrorKind::kUnprocessable, "permissions_missing", message, fix);
    }
  }

  const int64_t now = clock_.NowUnixMs();
  bool reapply = false;
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, IntegrationEvent::kSaveSettings);
    if (!next) return tl::unexpected(next.error());
    r.status = *next;
    r.settings = *settings;
    if (company) {
      r.company_id = company->id;
      r.company_name = company->name;
    }
    if (report) {
      r.last_permission_check = PermissionReportJson(*report);
      r.last_permission_check["checked_at"] = FormatIso8601(now);
      r.permissions_verified_at = now;
    } else {
      r.permissions_verified_at.reset();
    }
    reapply = false;
    if (r.status == IntegrationStatus::kActive) {
      // The hook's triggers and the sync's scope follow the new settings.
      auto completing = Transition(r.status, IntegrationEvent::kComplete);
      if (!completing) return tl::unexpected(completing.error());
      r.status = *completing;
      if (auto job = EnqueueComplete(queue_, tx, client_id); !job) return job;
      reapply = true;
    }
    return Audit(tx, client_id, user_id, "integration.settings_saved",
                 {{"settings", SettingsJson(*settings)},
                  {"company_id", r.company_id ? nlohmann::json(*r.company_id) : nlohmann::json(nullptr)}});
  });
  if (!saved) return tl::unexpected(saved.error());
  nlohmann::json out = {{"status", StatusName(saved->status)},
                        {"settings", SettingsJson(*saved->settings)},
                        {"company", saved->company_id ? nlohmann::json{{"id", *saved->company_id},
                                                                       {"name", saved->company_name}}
                                                      : nlohmann::json(nullptr)}};
  nlohmann::json reqs = nlohmann::json::array();
  for (const auto& r : integration::Requirements(*saved->settings)) reqs.push_back(RequirementJson(r));
  out["requirements"] = reqs;
  out["applying"] = reapply;
  return out;
}

Result<nlohmann::json> IntegrationService::Requirements(int64_t client_id) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : integration::Requirements(current->settings.value_or(Settings{})))
    out.push_back(RequirementJson(r));
  return out;
}

Result<nlohmann::json> IntegrationService::VerifyPermissions(int64_t client_id, int64_t user_id) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kVerifyPermissions); !allowed)
    return tl::unexpected(allowed.error());
  auto report = RunPermissionCheck(*current, current->settings.value_or(Settings{}));
  if (!report) {
    (void)RecordError(client_id, report.error());
    return tl::unexpected(report.error());
  }
  const int64_t now = clock_.NowUnixMs();
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(
        r.status, report->ok ? IntegrationEvent::kVerifyPermissions : IntegrationEvent::kPermissionsMissing);
    if (!next) return tl::unexpected(next.error());
    r.status = *next;
    r.last_permission_check = PermissionReportJson(*report);
    r.last_permission_check["checked_at"] = FormatIso8601(now);
    if (report->ok) {
      r.permissions_verified_at = now;
    } else if (!IsRunning(r.status)) {
      r.permissions_verified_at.reset();
    }
    r.last_error = nullptr;
    int64_t failing = std::count_if(report->checks.begin(), report->checks.end(),
                                    [](const PermissionCheck& c) { return IsGap(c); });
    return Audit(tx, client_id, user_id, "integration.permissions_checked",
                 {{"ok", report->ok}, {"failing", failing}});
  });
  if (!saved) return tl::unexpected(saved.error());
  nlohmann::json out = PermissionReportJson(*report);
  out["status"] = StatusName(saved->status);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// POST /complete and its job

Result<nlohmann::json> IntegrationService::Complete(int64_t client_id, int64_t user_id) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kComplete); !allowed)
    return tl::unexpected(allowed.error());
  if (!current->credentials_verified_at || !current->company_id)
    return Fail(ErrorKind::kConflict, "invalid_state",
                "Verify the credentials before completing the integration.",
                std::string(NextStep(IntegrationStatus::kCredentialsSaved)));
  std::optional<PermissionReport> report;
  if (current->status != IntegrationStatus::kPermissionsVerified) {
    // Running again (or after an error): the permissions may have changed since they were verified.
    auto checked = RunPermissionCheck(*current, current->settings.value_or(Settings{}));
    if (!checked) return tl::unexpected(checked.error());
    report = *checked;
    if (!report->ok) {
      std::string fix;
      std::string message = SummarizeGaps(*report, &fix);
      return Fail(ErrorKind::kUnprocessable, "permissions_missing", message, fix);
    }
  }
  const int64_t now = clock_.NowUnixMs();
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, IntegrationEvent::kComplete);
    if (!next) return tl::unexpected(next.error());
    r.status = *next;
    if (report) {
      r.last_permission_check = PermissionReportJson(*report);
      r.last_permission_check["checked_at"] = FormatIso8601(now);
      r.permissions_verified_at = now;
    }
    if (r.integration_key.empty()) r.integration_key = RandomToken(24);
    const std::string owner = SecretOwner(client_id);
    auto secret = secrets_.Get(tx, owner, kWebhookSecretPurpose);
    if (!secret) return tl::unexpected(secret.error());
    if (!*secret)
      if (auto p = secrets_.Put(tx, owner, kWebhookSecretPurpose, RandomToken(32)); !p) return p;
    r.last_error = nullptr;
    if (auto job = EnqueueComplete(queue_, tx, client_id); !job) return job;
    return Audit(tx, client_id, user_id, "integration.complete_requested", {{"company_id", *r.company_id}});
  });
  if (!saved) return tl::unexpected(saved.error());
  return nlohmann::json{{"status", StatusName(saved->status)}, {"webhook_url", DestinationUrl(*saved)}};
}

Result<bool> IntegrationService::ApplySyncScope(int64_t client_id) {
  // Read in the applying transaction: a scope is never older than the one it replaces (a link and a settings
  // change at once), and a disconnect that got there first is never undone.
  bool running = false;
  auto applied = sync_.ApplyScope([&](store::Tx& tx) -> Result<std::optional<sync::SyncScope>> {
    auto loaded = LoadIntegration(tx, client_id, /*for_update=*/true);
    if (!loaded) return tl::unexpected(loaded.error());
    running = *loaded && IsRunning((*loaded)->status);
    if (!running) return std::nullopt;
    const IntegrationRecord& record = **loaded;
    Settings settings = record.settings.value_or(Settings{});
    auto streams = sync::StreamsForDomains(settings.domains);
    sync::SyncScope scope;
    scope.client_id = client_id;
    scope.company_id = record.company_id.value_or(0);
    scope.company_streams = streams.company_streams;
    scope.reconcile_interval_s = settings.reconcile_interval_s;
    auto links = ListProjectLinks(tx, client_id);
    if (!links) return tl::unexpected(links.error());
    // Projects whose permissions drifted wait, paused with the fix, instead of failing in a loop.
    const auto drift = ProjectDrift(record.last_permission_check);
    if (!streams.project_streams.empty())
      for (const auto& l : *links) {
        sync::ScopedProject project{l.procore_project_id, l.project_name, streams.project_streams,
                                    std::nullopt};
        if (auto d = drift.find(l.procore_project_id); d != drift.end()) project.paused = d->second;
        scope.projects.push_back(std::move(project));
      }
    return scope;
  });
  if (!applied) return tl::unexpected(applied.error());
  return running;
}

Status IntegrationService::RunComplete(const queue::Job& job) {
  auto payload = nlohmann::json::parse(job.payload_json, nullptr, false);
  if (!payload.is_object() || !payload.contains("client_id"))
    return Fail(ErrorKind::kInvalidInput, "invalid_job", "integration.complete without a client_id");
  const int64_t client_id = payload["client_id"].get<int64_t>();
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (current->status != IntegrationStatus::kCompleting) return {};  // disconnected or already done meanwhile

  // Set once the hook may exist in Procore. A disconnect that ran meanwhile may have looked for the hook
  // before it existed, so a completion that finds itself disconnected deletes it (found by its address).
  std::function<void()> delete_hook;
  auto disconnected_meanwhile = [&]() -> Status {
    if (delete_hook) delete_hook();
    return {};
  };
  auto fail = [&](const Error& e, bool transient) -> Status {
    if (delete_hook) {
      auto latest = Load(client_id);
      if (latest && latest->status == IntegrationStatus::kDisconnected) return disconnected_meanwhile();
    }
    if (transient && job.attempts < job.max_attempts) return Fail(e);  // the queue retries with backoff
    const int64_t now = clock_.NowUnixMs();
    auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
      if (r.status != IntegrationStatus::kCompleting) return {};
      auto next = Transition(r.status, IntegrationEvent::kFail);
      if (!next) return tl::unexpected(next.error());
      r.status = *next;
      r.last_error = ErrorJson(e, now);
      return Audit(tx, client_id, 0, "integration.failed", {{"code", e.code}, {"message", e.message}});
    });
    if (!saved) return tl::unexpected(saved.error());
    return {};
  };

  auto client = clients_.ForIntegration(*current);
  if (!client) return fail(client.error(), false);
  auto secret = secrets_.Get(SecretOwner(client_id), kWebhookSecretPurpose);
  if (!secret) return Fail(secret.error());
  if (!*secret)
    return fail(Error{ErrorKind::kConflict,
                      "webhook_secret_missing",
                      "The webhook secret is missing.",
                      "Click Complete Integration again.",
                      {}},
                false);
  const Settings settings = current->settings.value_or(Settings{});
  HookPlan plan;
  plan.destination_url = DestinationUrl(*current);
  plan.api_version = settings.webhook_payload_version;
  plan.authorization = "Bearer " + **secret;
  plan.triggers = TriggersFor(settings);
  procore::WebhooksApi api(**client);
  const procore::HookScope scope{*current->company_id, 0};
  delete_hook = [&] {
    if (auto deleted = DeleteHooks(api, scope, std::nullopt, plan.destination_url); !deleted)
      obs::Log(obs::Level::kWarn, "integration_hook_left_in_procore",
               {{"client_id", client_id}, {"code", deleted.error().error.code}});
  };
  auto hook = EnsureHook(api, scope, plan, current->hook_id);
  if (!hook) return fail(hook.error().error, IsTransient(hook.error()));

  // Auto-link: every project the app can reach gets a KTrack project of its own.
  if (settings.auto_link_projects) {
    auto projects = (*client)->ListProjects(*current->company_id);
    if (!projects) return fail(projects.error().error, IsTransient(projects.error()));
    const int64_t now = clock_.NowUnixMs();
    auto linked = store_.Transact([&](store::Tx& tx) -> Status {
      auto still = LoadIntegration(tx, client_id, /*for_update=*/true);
      if (!still) return tl::unexpected(still.error());
      if (!*still || (*still)->status != IntegrationStatus::kCompleting) return {};  // seen again below
      auto links = ListProjectLinks(tx, client_id);
      if (!links) return tl::unexpected(links.error());
      // Projects an admin unlinked stay unlinked.
      auto unlinked = ListUnlinkedByAdmin(tx, client_id);
      if (!unlinked) return tl::unexpected(unlinked.error());
      std::set<int64_t> skip;
      for (const auto& [procore_id, ktrack_id] : *unlinked) skip.insert(procore_id);
      for (const auto& l : *links) skip.insert(l.procore_project_id);
      for (const auto& p : *projects) {
        if (skip.count(p.id)) continue;
        auto linked_to = AutoLinkToNewKtrackProject(tx, client_id, p.id, p.name, p.project_number, now);
        if (!linked_to) return tl::unexpected(linked_to.error());
      }
      return {};
    });
    if (!linked) return Fail(linked.error());
  }
  auto applied = ApplySyncScope(client_id);
  if (!applied) return fail(applied.error(), applied.error().kind == ErrorKind::kUnavailable);
  if (!*applied) return disconnected_meanwhile();

  const int64_t now = clock_.NowUnixMs();
  bool stopped = false;
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    if (r.status != IntegrationStatus::kCompleting) {
      stopped = r.status == IntegrationStatus::kDisconnected;
      return {};
    }
    auto next = Transition(r.status, IntegrationEvent::kCompleted);
    if (!next) return tl::unexpected(next.error());
    r.status = *next;
    // A new hook (the first, or one created again after it was deleted in Procore) has its own deliveries.
    if (r.hook_id != hook->hook.id) r.webhook_health = nullptr;
    r.hook_id = hook->hook.id;
    r.hook = HookOutcomeJson(*hook);
    r.hook["updated_at"] = FormatIso8601(now);
    // The hook now sends the current secret: the previous one is no longer accepted.
    if (r.webhook_secret_rotating) {
      r.webhook_secret_rotating = false;
      if (auto d = secrets_.Delete(tx, SecretOwner(client_id), kPreviousWebhookSecretPurpose); !d)
        return tl::unexpected(d.error());
    }
    r.last_error =
        hook->failed.empty()
            ? nlohmann::json(nullptr)
            : ErrorJson(
                  Error{ErrorKind::kUnprocessable,
                        "triggers_failed",
                        std::to_string(hook->failed.size()) + " webhook triggers could not be created: " +
                            hook->failed.front().trigger.resource_name + " " +
                            hook->failed.front().trigger.event_type + " (" + hook->failed.front().error +
                            ").",
                        "KTrack's reconciliation still keeps that data current. Check the Webhooks "
                        "API permission (Standard, company level) and complete the integration again.",
                        {}},
                  now);
    return Audit(tx, client_id, 0, "integration.activated",
                 {{"hook_id", hook->hook.id},
                  {"hook_created", hook->created},
                  {"triggers_created", hook->triggers_created},
                  {"triggers_deleted", hook->triggers_deleted},
                  {"triggers_failed", hook->failed.size()}});
  });
  if (!saved) return Fail(saved.error());
  if (stopped) return disconnected_meanwhile();
  next_health_ms_ = 0;  // the new hook's delivery health is read at the next tick
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// POST /webhooks/rotate-secret

Result<nlohmann::json> IntegrationService::RotateWebhookSecret(int64_t client_id, int64_t user_id) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kRotateWebhookSecret); !allowed)
    return tl::unexpected(allowed.error());
  if (!current->hook_id)
    return Fail(ErrorKind::kConflict, "invalid_state",
                "There is no hook in Procore yet, so there is no secret to rotate.",
                "Click Complete Integration to create the hook.");
  const std::string owner = SecretOwner(client_id);
  const std::string fresh = RandomToken(32);
  // One rotation at a time in this server (a double click, two admins at once): otherwise an earlier
  // rotation's update could reach Procore after a later one's, leaving Procore sending a secret KTrack no
  // longer keeps. A rotation on another server is caught when this one finishes (below).
  std::lock_guard one_at_a_time(rotate_mu_);
  auto rotated = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, IntegrationEvent::kRotateWebhookSecret);
    if (!next) return tl::unexpected(next.error());
    auto old = secrets_.Get(tx, owner, kWebhookSecretPurpose);
    if (!old) return tl::unexpected(old.error());
    // During a rotation that never reached Procore, the secret Procore still sends is the previous one: keep
    // it.
    if (*old && !r.webhook_secret_rotating)
      if (auto p = secrets_.Put(tx, owner, kPreviousWebhookSecretPurpose, **old); !p) return p;
    if (auto p = secrets_.Put(tx, owner, kWebhookSecretPurpose, fresh); !p) return p;
    r.webhook_secret_rotating = true;
    return Audit(tx, client_id, user_id, "integration.webhook_secret_rotated", nlohmann::json::object());
  });
  if (!rotated) return tl::unexpected(rotated.error());

  auto client = clients_.ForIntegration(*rotated);
  std::string sent = fresh;
  for (int attempt = 1;; ++attempt) {
    procore::ProcoreStatus patched = tl::unexpected(procore::ProcoreError{});
    if (client) {
      procore::WebhooksApi api(**client);
      patched = UpdateHookAuthorization(api, {*rotated->company_id, 0}, *rotated->hook_id, "Bearer " + sent);
    }
    if (!client || !patched) {
      Error e = client ? patched.error().error : client.error();
      (void)RecordError(client_id, e);
      return nlohmann::json{{"rotated", true},
                            {"hook_updated", false},
                            {"secret_rotation_pending", true},
                            {"error", {{"code", e.code}, {"message", e.message}, {"fix", e.fix}}}};
    }
    // Procore has `sent`. The rotation ends only if that is still the secret KTrack keeps; if another server
    // rotated meanwhile, Procore is given that newer secret instead.
    std::optional<std::string> newer;
    auto finished = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
      auto kept = secrets_.Get(tx, owner, kWebhookSecretPurpose);
      if (!kept) return tl::unexpected(kept.error());
      if (*kept && **kept != sent) {
        newer = **kept;
        return {};
      }
      r.webhook_secret_rotating = false;
      auto d = secrets_.Delete(tx, owner, kPreviousWebhookSecretPurpose);
      if (!d) return tl::unexpected(d.error());
      return Audit(tx, client_id, user_id, "integration.webhook_hook_updated", {{"hook_id", *r.hook_id}});
    });
    if (!finished) return tl::unexpected(finished.error());
    if (!newer) break;
    if (attempt == 3)  // still rotating elsewhere: that rotation finishes it
      return nlohmann::json{{"rotated", true}, {"hook_updated", false}, {"secret_rotation_pending", true}};
    sent = std::move(*newer);
  }
  return nlohmann::json{{"rotated", true}, {"hook_updated", true}, {"secret_rotation_pending", false}};
}

// ---------------------------------------------------------------------------------------------------------------
// DELETE /

Result<nlohmann::json> IntegrationService::Disconnect(int64_t client_id, int64_t user_id, bool purge_data) {
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (current->status == IntegrationStatus::kDisconnected && purge_data)
    return DeleteKeptData(client_id, user_id);
  if (auto allowed = Transition(current->status, IntegrationEvent::kDisconnect); !allowed)
    return tl::unexpected(allowed.error());
  // Read before they are wiped: the hook is deleted with them.
  std::optional<procore::AppCredentials> app;
  if (auto creds = clients_.CredentialsFor(*current); creds) app = *creds;

  // The status changes first, in one transaction with the wiping: from then on no completion, re-check or
  // link that is still running applies its sync scope again (ApplySyncScope checks the status in its own
  // transaction), and a completion that creates the hook after the lookup below deletes it itself.
  std::optional<int64_t> company_id, hook_id;
  std::string destination_url;
  auto saved = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    auto next = Transition(r.status, IntegrationEvent::kDisconnect);
    if (!next) return tl::unexpected(next.error());
    company_id = r.company_id;
    hook_id = r.hook_id;
    if (!r.integration_key.empty()) destination_url = DestinationUrl(r);
    r.status = *next;
    auto wiped = secrets_.DeleteOwner(tx, SecretOwner(client_id));
    if (!wiped) return tl::unexpected(wiped.error());
    r.procore_client_id.clear();
    r.uses_marketplace_app = false;
    r.client_secret_hint.clear();
    r.credentials_verified_at.reset();
    r.permissions_verified_at.reset();
    r.integration_key.clear();
    r.hook_id.reset();
    r.hook = nullptr;
    r.webhook_secret_rotating = false;
    r.webhook_health = nullptr;
    r.last_error = nullptr;
    if (purge_data)
      if (auto s = DeleteAllProjectLinks(tx, client_id); !s) return s;
    return Audit(tx, client_id, user_id, "integration.disconnected", {{"purge_data", purge_data}});
  });
  if (!saved) return tl::unexpected(saved.error());

  nlohmann::json hooks = {{"deleted", false}};
  if (company_id && !destination_url.empty() && app) {
    auto client = clients_.ForCredentials(*app);
    procore::WebhooksApi api(*client);
    auto deleted = DeleteHooks(api, {*company_id, 0}, hook_id, destination_url);
    if (deleted) {
      hooks["deleted"] = true;
    } else {
      hooks["error"] = {
          {"code", deleted.error().error.code},
          {"message", deleted.error().error.message},
          {"fix", "In Procore, open Company Admin → Webhooks and delete KTrack's hook (namespace '" +
                      std::string(kHookNamespace) + "')."}};
      (void)store_.Transact([&](store::Tx& tx) {
        return Audit(tx, client_id, user_id, "integration.hook_left_in_procore",
                     {{"code", deleted.error().error.code}});
      });
    }
  }
  // Streams stop: purged with their data, or paused with the data kept.
  if (purge_data) {
    if (auto purged = sync_.PurgeClient(client_id); !purged) return tl::unexpected(purged.error());
  } else if (company_id) {
    sync::SyncScope scope;
    scope.client_id = client_id;
    scope.company_id = *company_id;
    if (auto paused = sync_.ApplyScope(scope); !paused)
      obs::Log(obs::Level::kWarn, "integration_pause_failed",
               {{"client_id", client_id}, {"code", paused.error().code}});
  }
  if (app) clients_.Forget(*app);
  return nlohmann::json{{"status", StatusName(saved->status)}, {"hooks", hooks}, {"purge_data", purge_data}};
}

Result<nlohmann::json> IntegrationService::DeleteKeptData(int64_t client_id, int64_t user_id) {
  // The status is checked where the links go; the records follow. A purge that fails can be asked again.
  auto marked = Mutate(client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    if (auto allowed = Transition(r.status, IntegrationEvent::kDeleteKeptData); !allowed)
      return tl::unexpected(allowed.error());
    if (auto s = DeleteAllProjectLinks(tx, client_id); !s) return s;
    return Audit(tx, client_id, user_id, "integration.kept_data_deleted", nlohmann::json::object());
  });
  if (!marked) return tl::unexpected(marked.error());
  if (auto purged = sync_.PurgeClient(client_id); !purged) return tl::unexpected(purged.error());
  return nlohmann::json{
      {"status", StatusName(marked->status)}, {"purge_data", true}, {"kept_data_deleted", true}};
}

// ---------------------------------------------------------------------------------------------------------------
// Read side

Result<nlohmann::json> IntegrationService::Streams(int64_t client_id) {
  auto list = sync_.ListStreams(client_id);
  if (!list) return tl::unexpected(list.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : *list) out.push_back(sync::StreamStatusJson(s));
  return out;
}

Result<nlohmann::json> IntegrationService::Reconcile(int64_t client_id, int64_t user_id,
                                                     const nlohmann::json& body) {
  auto stream = OptionalString(body, "stream");
  if (!stream) return tl::unexpected(stream.error());
  auto project = OptionalInt(body, "project_id");
  if (!project) return tl::unexpected(project.error());
  if (*project && **project < 1)
    return Fail(
        ErrorKind::kInvalidInput, "invalid_field", "'project_id' must be a Procore project id (1 or more).",
        "Send the id of a linked project, as GET /streams lists it, or leave it out for every project.");
  auto current = Load(client_id);
  if (!current) return tl::unexpected(current.error());
  if (auto allowed = Transition(current->status, IntegrationEvent::kReconcile); !allowed)
    return tl::unexpected(allowed.error());
  const std::optional<std::string> only_stream = stream->empty() ? std::nullopt : std::optional(*stream);
  auto asked = sync_.RequestReconcile(client_id, only_stream, *project);
  if (!asked) return tl::unexpected(asked.error());
  std::string what = only_stream ? "stream \"" + *only_stream + "\"" : "streams";
  if (*project) what += " for project " + std::to_string(**project);
  if (*asked == 0) {
    // Nothing was asked: say whether no stream matches, or every one that does is paused.
    auto streams = sync_.ListStreams(client_id);
    if (!streams) return tl::unexpected(streams.error());
    const bool any = std::any_of(streams->begin(), streams->end(), [&](const sync::StreamStatus& s) {
      return (!only_stream || s.stream == *only_stream) && (!*project || s.project_id == **project);
    });
    if (!any)
      return Fail(
          ErrorKind::kNotFound, "no_such_streams", "KTrack syncs no " + what + ".",
          "Use a stream and project that GET /streams lists: a project's streams exist once it is linked, "
          "and a stream once its data is ticked in the settings.");
    return Fail(
        ErrorKind::kConflict, "streams_paused",
        "The matching streams (" + what + ") are paused, so there is nothing to reconcile now.",
        "They reconcile when they resume: tick their data in the settings, or fix in Procore what the "
        "Permissions card lists.");
  }
  auto audited = store_.Transact([&](store::Tx& tx) {
    nlohmann::json detail = {{"streams", *asked}};
    if (only_stream) detail["stream"] = *only_stream;
    if (*project) detail["project_id"] = **project;
    return Audit(tx, client_id, user_id, "integration.reconcile_requested", detail);
  });
  if (!audited) return tl::unexpected(audited.error());
  return nlohmann::json{{"queued", *asked}};
}

Result<std::string> IntegrationService::Records(const sync::RecordsQuery& query) {
  auto page = sync_.ListRecords(query);
  if (!page) return tl::unexpected(page.error());
  return sync::RecordsPageJson(*page);
}

Result<nlohmann::json> IntegrationService::AuditEntries(int64_t client_id, int64_t limit) {
  auto entries = audit_.List(client_id, limit, "integration.");
  if (!entries) return tl::unexpected(entries.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *entries) {
    // Who did it, by email, so an admin sees which of the client's members (not "User 7").
    out.push_back({{"id", e.id},
                   {"user_id", e.user_id ? nlohmann::json(*e.user_id) : nlohmann::json(nullptr)},
                   {"user_email", e.user_email ? nlohmann::json(*e.user_email) : nlohmann::json(nullptr)},
                   {"action", e.action},
                   {"detail", e.detail},
                   {"at", FormatIso8601(e.created_at)}});
  }
  return out;
}

Result<nlohmann::json> IntegrationService::WebhookEvents(int64_t client_id, int64_t limit) {
  constexpr int64_t kMaxEvents = 100;
  auto recent = sync_.inbox().Recent(client_id, std::min(limit, kMaxEvents));
  if (!recent) return tl::unexpected(recent.error());
  // Each project's name is read once (a page shows a few projects at most); null when KTrack does not hold
  // it.
  std::map<int64_t, nlohmann::json> project_names;
  auto optional_time = [](std::optional<int64_t> ms) {
    return ms ? nlohmann::json(FormatIso8601(*ms)) : nlohmann::json(nullptr);
  };
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : recent->events) {
    nlohmann::json project = nullptr, project_name = nullptr;
    if (e.project_id) {
      project = *e.project_id;
      auto [name, unread] = project_names.try_emplace(*e.project_id, nullptr);
      if (unread) {
        auto r = store_.Query("SELECT name FROM procore_projects WHERE client_id = $1 AND procore_id = $2",
                              {client_id, *e.project_id});
        if (!r) return tl::unexpected(r.error());
        if (!r->rows.empty() && !r->rows[0].Text(0).empty()) name->second = r->rows[0].Text(0);
      }
      project_name = name->second;
    }
    events.push_back({{"received_at", FormatIso8601(e.received_at_ms)},
                      {"resource_name", e.resource_name},
                      {"event_type", e.event_type},
                      {"resource_id", e.resource_id},
                      {"project_id", project},
                      {"project_name", project_name},
                      {"status", e.status},
                      {"outcome", e.outcome.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.outcome)},
                      {"processed_at", optional_time(e.processed_at_ms)}});
  }
  nlohmann::json by_outcome = nlohmann::json::object();
  for (const auto& [outcome, n] : recent->by_outcome) by_outcome[outcome.empty() ? "unknown" : outcome] = n;
  // Why the pending events wait, when processing failed and tries again later (Procore down, say).
  nlohmann::json retry = nullptr;
  if (recent->counts.pending > 0) {
    auto waiting = sync_.inbox().ProcessingRetryOf(client_id);
    if (!waiting) return tl::unexpected(waiting.error());
    if (*waiting)
      retry = {{"code", (*waiting)->code},
               {"retry_at", FormatIso8601((*waiting)->retry_at_ms)},
               {"failed_attempts", (*waiting)->failed_attempts}};
  }
  return nlohmann::json{{"events", std::move(events)},
                        {"summary",
                         {{"events", recent->window},
                          {"pending", recent->counts.pending},
                          {"done", recent->counts.done},
                          {"dropped", recent->counts.dropped},
                          {"by_outcome", std::move(by_outcome)},
                          {"processing_retry", std::move(retry)}}}};
}

// ---------------------------------------------------------------------------------------------------------------
// Delivery health

void IntegrationService::RegisterHandlers(queue::Worker& worker) {
  worker.Register(kCompleteJob, [this](const queue::Job& job) { return RunComplete(job); });
  worker.Register(kDeliveryHealthJob, [this](const queue::Job& job) { return RunDeliveryHealth(job); });
}

Status IntegrationService::Tick() {
  const int64_t now = clock_.NowUnixMs();
  if (now < next_health_ms_.load()) return {};
  next_health_ms_ = now + options_.delivery_health_interval.count();
  queue::EnqueueOptions eo;
  eo.dedupe_key = kDeliveryHealthJob;
  eo.priority = 60;
  eo.max_attempts = 1;
  auto job = queue_.Enqueue(kDeliveryHealthJob, "{}", eo);
  if (!job) return tl::unexpected(job.error());
  return {};
}

Status IntegrationService::RunDeliveryHealth(const queue::Job&) {
  auto running = ListRunningIntegrations(store_);
  if (!running) return tl::unexpected(running.error());
  for (const auto& record : *running) {
    if (auto checked = CheckHealthOf(record); !checked) {
      obs::Log(obs::Level::kWarn, "delivery_health_failed",
               {{"client_id", record.client_id},
                {"code", checked.error().code},
                {"detail", checked.error().detail}});
      if (auto noted = NoteHealthCheckFailure(record, checked.error()); !noted)
        obs::Log(obs::Level::kWarn, "delivery_health_not_saved",
                 {{"client_id", record.client_id}, {"code", noted.error().code}});
    }
    if (record.status != IntegrationStatus::kActive) continue;
    if (auto linked = AutoLinkNewProjects(record); !linked)
      obs::Log(obs::Level::kWarn, "auto_link_failed",
               {{"client_id", record.client_id}, {"code", linked.error().code}});
    if (auto rechecked = RecheckPermissions(record); !rechecked)
      obs::Log(obs::Level::kWarn, "permission_recheck_failed",
               {{"client_id", record.client_id}, {"code", rechecked.error().code}});
  }
  return {};
}

Status IntegrationService::AutoLinkNewProjects(const IntegrationRecord& record) {
  if (!record.settings || !record.settings->auto_link_projects) return {};
  // New projects reach KTrack through the projects stream (webhook or reconciliation).
  const int64_t now = clock_.NowUnixMs();
  int64_t created = 0;
  auto done = store_.Transact([&](store::Tx& tx) -> Status {
    created = 0;
    // As it is now: a disconnect (whose purge deletes the links) or a settings change may have come
    // meanwhile.
    auto now_record = LoadIntegration(tx, record.client_id, /*for_update=*/true);
    if (!now_record) return tl::unexpected(now_record.error());
    const IntegrationRecord* r = *now_record ? &**now_record : nullptr;
    if (!r || !IsRunning(r->status) || !r->settings || !r->settings->auto_link_projects) return {};
    auto fresh = tx.Query(
        "SELECT p.procore_id, p.name, p.project_number FROM procore_projects p LEFT JOIN "
        "procore_project_links l "
        "ON l.client_id = p.client_id AND l.procore_project_id = p.procore_id "
        "WHERE p.client_id = $1 AND p.deleted = 0 AND l.procore_project_id IS NULL AND NOT EXISTS (SELECT 1 "
        "FROM procore_project_unlinks u WHERE u.client_id = p.client_id AND u.procore_project_id = "
        "p.procore_id) ORDER BY p.procore_id LIMIT 500",
        {record.client_id});
    if (!fresh) return tl::unexpected(fresh.error());
    for (const auto& row : fresh->rows) {
      auto id = AutoLinkToNewKtrackProject(tx, record.client_id, row.Int("procore_id"), row.Text("name"),
                                           row.Text("project_number"), now);
      if (!id) return tl::unexpected(id.error());
      auto audited = audit_.Record(tx, record.client_id, std::nullopt, "integration.project_linked",
                                   {{"procore_project_id", row.Int("procore_id")},
                                    {"ktrack_project_id", *id},
                                    {"created", true},
                                    {"auto", true}});
      if (!audited) return audited;
      ++created;
    }
    return {};
  });
  if (!done) return done;
  if (created > 0)
    if (auto applied = ApplySyncScope(record.client_id); !applied) return tl::unexpected(applied.error());
  return {};
}

Result<bool> IntegrationService::LastCheckOutdated(const IntegrationRecord& record) {
  auto streams = sync_.ListStreams(record.client_id);
  if (!streams) return tl::unexpected(streams.error());
  const auto drift = ProjectDrift(record.last_permission_check);
  const bool last_ok =
      !record.last_permission_check.is_object() || record.last_permission_check.value("ok", true);
  for (const auto& s : *streams) {
    if (!WaitsForAFixInProcore(s)) continue;
    if (s.project_id ? !drift.count(*s.project_id) : last_ok) return true;
  }
  // Projects the check found not permitted that Procore's project list, read after the check, has again: the
  // app may read them now. (Once per list read at most, should Procore list projects it does not permit.)
  if (!record.last_permission_check.is_object()) return false;
  auto checked_at = ParseIso8601(record.last_permission_check.value("checked_at", std::string()));
  const auto list = std::find_if(streams->begin(), streams->end(), [](const sync::StreamStatus& s) {
    return s.stream == "projects" && !s.project_id;
  });
  if (!checked_at || list == streams->end() || list->last_synced_at_ms.value_or(0) <= *checked_at)
    return false;
  std::set<int64_t> not_permitted;
  for (const auto& c : record.last_permission_check.value("checks", nlohmann::json::array()))
    if (c.value("status", "") == kCheckProjectNotPermitted && c.value("needed", true) &&
        c.contains("project_id") && c["project_id"].is_number_integer())
      not_permitted.insert(c["project_id"].get<int64_t>());
  if (not_permitted.empty()) return false;
  auto listed = store_.Query("SELECT procore_id FROM procore_projects WHERE client_id = $1 AND deleted = 0",
                             {record.client_id});
  if (!listed) return tl::unexpected(listed.error());
  for (const auto& row : listed->rows)
    if (not_permitted.count(row.Int("procore_id"))) return true;
  return false;
}

Result<bool> IntegrationService::StreamsWaitForAFixInProcore(int64_t client_id) {
  auto streams = sync_.ListStreams(client_id);
  if (!streams) return tl::unexpected(streams.error());
  return std::any_of(streams->begin(), streams->end(), WaitsForAFixInProcore);
}

Status IntegrationService::RecheckPermissions(const IntegrationRecord& record) {
  const int64_t now = clock_.NowUnixMs();
  if (record.last_permission_check.is_object()) {
    auto at = ParseIso8601(record.last_permission_check.value("checked_at", std::string()));
    if (at && now - *at < options_.permission_recheck_interval.count() &&
        !record.last_permission_check.value("recheck_soon", false)) {
      // Not due; but streams answered 403s the last check did not explain (drift seen by the sync): now.
      auto outdated = LastCheckOutdated(record);
      if (!outdated) return tl::unexpected(outdated.error());
      if (!*outdated) return {};
    }
  }
  const bool was_ok =
      !record.last_permission_check.is_object() || record.last_permission_check.value("ok", true);
  auto report = RunPermissionCheck(record, record.settings.value_or(Settings{}));
  if (!report) return tl::unexpected(report.error());
  std::string fix;
  const std::string gaps = SummarizeGaps(*report, &fix);
  bool stopped = false;  // disconnected while Procore was asked: the check is of an integration that is gone
  auto saved = Mutate(record.client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    stopped = !IsRunning(r.status);
    if (stopped) return {};
    r.last_permission_check = PermissionReportJson(*report);
    r.last_permission_check["checked_at"] = FormatIso8601(now);
    if (!report->ok) {
      r.last_error = ErrorJson(Error{ErrorKind::kForbidden, "permissions_drift", gaps, fix, {}}, now);
    } else if (r.last_error.is_object() && r.last_error.value("code", "") == "permissions_drift") {
      r.last_error = nullptr;
    }
    if (was_ok != report->ok)
      return Audit(tx, record.client_id, 0,
                   report->ok ? "integration.permissions_restored" : "integration.permissions_drift",
                   {{"ok", report->ok}});
    return {};
  });
  if (!saved) return tl::unexpected(saved.error());
  if (stopped) return {};
  // Projects found short pause with their fix; projects fixed in Procore resume.
  if (auto applied = ApplySyncScope(saved->client_id); !applied) return tl::unexpected(applied.error());
  // Fixed in Procore: streams held back by permission errors go again now rather than at their next backoff.
  // Also when no check saw the gap (fixed before a check ran, or the app was reinstalled: a check cannot run
  // while it is uninstalled): a passing check is the news that what stopped them is fixed.
  if (!report->ok) return {};
  bool retry = !was_ok;
  if (!retry) {
    auto waiting = StreamsWaitForAFixInProcore(record.client_id);
    if (!waiting) return tl::unexpected(waiting.error());
    retry = *waiting;
  }
  if (retry) return sync_.RetryNow(record.client_id);
  return {};
}

Status IntegrationService::CheckHealthOf(const IntegrationRecord& record) {
  if (!record.hook_id || !record.company_id) return {};
  auto client = clients_.ForIntegration(record);
  if (!client) return tl::unexpected(client.error());
  procore::WebhooksApi api(**client);
  const procore::HookScope scope{*record.company_id, 0};
  // In the background: behind webhook follow-ups (and the wizard) in the rate budget's queue.
  auto query = [](const char* status, int64_t page_start) {
    procore::DeliveryQuery q;
    q.status = status;
    q.page_start = page_start;
    q.priority = procore::Priority::kReconciliation;
    return q;
  };
  auto failing = api.ListDeliveryPages(scope, *record.hook_id, query("failing", 0), kCountPages);
  if (!failing) {
    if (failing.error().code != procore::ErrorCode::kNotFound) return Fail(failing.error().error);
    // Gone, if Procore's list of hooks agrees: a 404 for another reason must not have KTrack create its hook
    // again every check.
    auto hooks = api.ListHooks(scope, "*");
    if (!hooks) return Fail(hooks.error().error);
    const bool listed = std::any_of(hooks->begin(), hooks->end(),
                                    [&](const procore::Hook& h) { return h.id == *record.hook_id; });
    if (listed) return Fail(failing.error().error);
    return RecreateMissingHook(record);
  }
  auto discarded = api.ListDeliveryPages(scope, *record.hook_id, query("discarded", 0), kCountPages);
  if (!discarded) return Fail(discarded.error().error);
  // Recent deliveries: read forward from where the last check ended (Procore pages oldest first), a few pages
  // a check. Not while events wait in the inbox: a burst's deliveries would take pages of the budget its
  // follow-up reads need; the next check reads them.
  const int64_t last_seen =
      record.webhook_health.is_object() ? record.webhook_health.value("last_delivery_id", int64_t{0}) : 0;
  auto waiting = sync_.inbox().HasPending(record.client_id);
  if (!waiting) return tl::unexpected(waiting.error());
  procore::DeliveryPages fresh;
  fresh.last_id = last_seen;
  if (!*waiting) {
    auto any = api.ListDeliveryPages(scope, *record.hook_id, query("any", last_seen), kRecentPages);
    if (!any) return Fail(any.error().error);
    fresh = std::move(*any);
  }
  // Discarded events KTrack has not reacted to yet: reconcile their streams (per project where known).
  const int64_t seen_up_to = record.webhook_health.is_object()
                                 ? record.webhook_health.value("last_discarded_delivery_id", int64_t{0})
                                 : 0;
  int64_t newest = seen_up_to;
  std::set<std::pair<std::string, int64_t>> to_reconcile;
  for (const procore::Delivery& d : discarded->deliveries) {
    if (d.id <= seen_up_to) continue;
    newest = std::max(newest, d.id);
    std::string resource = d.event.value("resource_name", d.event.value("resource_type", std::string()));
    auto stream = sync::StreamForWebhookResource(resource);
    if (!stream) continue;
    int64_t project = 0;
    if (auto p = d.event.find("project_id"); p != d.event.end()) {
      if (p->is_number_integer()) project = p->get<int64_t>();
      if (p->is_string()) project = ParseInt64(p->get<std::string>()).value_or(0);
    }
    to_reconcile.insert({*stream, sync::IsCompanyStream(*stream) ? 0 : project});
  }
  for (const auto& [stream, project] : to_reconcile) {
    auto asked = sync_.RequestReconcile(record.client_id, stream,
                                        project ? std::optional<int64_t>(project) : std::nullopt);
    if (!asked) return tl::unexpected(asked.error());
  }

  // Newest first, at most ten: this check's new deliveries, then the ones shown before.
  nlohmann::json recent_json = nlohmann::json::array();
  for (auto it = fresh.deliveries.rbegin(); it != fresh.deliveries.rend() && recent_json.size() < 10; ++it) {
    const procore::Delivery& d = *it;
    recent_json.push_back(
        {{"id", d.id},
         {"event_id", d.event_id},
         {"outcome", d.outcome},
         {"response_status", d.response_status},
         {"completed_at", d.completed_at},
         {"resource_name", d.event.value("resource_name", d.event.value("resource_type", std::string()))},
         {"event_type", d.event.value("event_type", d.event.value("reason", std::string()))}});
  }
  const int64_t last_delivery_id = std::max(last_seen, fresh.last_id);
  if (record.webhook_health.is_object())
    for (const auto& old : record.webhook_health.value("recent", nlohmann::json::array()))
      if (recent_json.size() < 10) recent_json.push_back(old);
  const int64_t now = clock_.NowUnixMs();
  bool was_refused = false;
  bool was_failing = false;  // the last check failed (a refusal of the app among those failures)
  auto saved = Mutate(record.client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    was_refused = false;
    // Disconnected (or its hook replaced) while the deliveries were read: they belong to a hook that is gone.
    if (!IsRunning(r.status) || r.hook_id != record.hook_id) return {};
    was_refused = r.last_error.is_object() && r.last_error.value("source", "") == kHealthCheckSource;
    was_failing =
        r.webhook_health.is_object() && r.webhook_health.value("check_error", nlohmann::json()).is_object();
    if (was_refused) {
      r.last_error = nullptr;
      if (auto a =
              Audit(tx, record.client_id, 0, "integration.procore_accepts_again", nlohmann::json::object());
          !a)
        return a;
    }
    r.webhook_health = {{"failing", static_cast<int64_t>(failing->deliveries.size())},
                        {"discarded", static_cast<int64_t>(discarded->deliveries.size())},
                        {"checked_at", FormatIso8601(now)},
                        {"recent", recent_json},
                        {"last_discarded_delivery_id", newest},
                        {"last_delivery_id", last_delivery_id}};
    if (!to_reconcile.empty())
      return Audit(tx, record.client_id, 0, "integration.discarded_events_reconciled",
                   {{"discarded", discarded->deliveries.size()}, {"streams", to_reconcile.size()}});
    return {};
  });
  if (!saved) return tl::unexpected(saved.error());
  // Procore accepts the app again, or answers again after an outage: the streams that stopped on it and the
  // webhook events waiting for it go again now, not at their backoff (up to 15 minutes after a long outage).
  if (was_failing) return sync_.RetryNow(record.client_id);
  return {};
}

Status IntegrationService::RecreateMissingHook(const IntegrationRecord& record) {
  const int64_t now = clock_.NowUnixMs();
  bool recreating = false;
  auto saved = Mutate(record.client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    recreating = false;
    // Only an active integration's own hook: one completing already creates it, a disconnected one wants
    // none.
    if (r.status != IntegrationStatus::kActive || r.hook_id != record.hook_id) return {};
    auto completing = Transition(r.status, IntegrationEvent::kComplete);
    if (!completing) return tl::unexpected(completing.error());
    r.status = *completing;
    if (auto job = EnqueueComplete(queue_, tx, record.client_id); !job) return job;
    if (!r.webhook_health.is_object()) r.webhook_health = nlohmann::json::object();
    r.webhook_health["check_error"] = ErrorJson(
        Error{ErrorKind::kNotFound,
              "hook_missing",
              "Procore no longer has KTrack's webhook (hook " + std::to_string(*record.hook_id) +
                  "): it was deleted in Procore.",
              "Nothing to do: KTrack creates it again and reconciles every stream for the changes Procore "
              "could not send meanwhile.",
              {}},
        now);
    recreating = true;
    return Audit(tx, record.client_id, 0, "integration.hook_missing", {{"hook_id", *record.hook_id}});
  });
  if (!saved) return tl::unexpected(saved.error());
  if (!recreating) return {};
  auto asked = sync_.RequestReconcile(record.client_id);
  if (!asked) return tl::unexpected(asked.error());
  return {};
}

Status IntegrationService::NoteHealthCheckFailure(const IntegrationRecord& record, const Error& error) {
  const int64_t now = clock_.NowUnixMs();
  // Procore refused the set-up: only the customer can fix it. Anything else (Procore down, the rate limit)
  // passes by itself, and the next check tries again.
  const bool refused = procore::NeedsCustomer(error.kind);
  auto saved = Mutate(record.client_id, [&](store::Tx& tx, IntegrationRecord& r) -> Status {
    if (!IsRunning(r.status) || r.hook_id != record.hook_id) return {};
    if (!r.webhook_health.is_object()) r.webhook_health = nlohmann::json::object();
    r.webhook_health["check_error"] = ErrorJson(error, now);
    // An integration in error keeps the error that stopped it; the webhooks card still shows this one.
    if (!refused || r.status != IntegrationStatus::kActive) return {};
    const bool already = r.last_error.is_object() && r.last_error.value("source", "") == kHealthCheckSource &&
                         r.last_error.value("code", "") == error.code;
    r.last_error = ErrorJson(error, now);
    r.last_error["source"] = kHealthCheckSource;
    if (already) return {};
    return Audit(tx, record.client_id, 0, "integration.procore_refused", {{"code", error.code}});
  });
  if (!saved) return tl::unexpected(saved.error());
  return {};
}

}  // namespace kt::integration
