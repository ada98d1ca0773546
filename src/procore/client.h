// The Procore API client for one app: every request gets a token, the company header, the User-Agent, a
// place in the company's rate budget, retries with backoff, and a typed error naming what to fix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"
#include "procore/errors.h"
#include "procore/metrics.h"
#include "procore/models.h"
#include "procore/rate_budget.h"
#include "procore/retry.h"
#include "procore/streams.h"
#include "procore/token_cache.h"
#include "procore/transport.h"
#include "util/clock.h"
#include "util/random.h"
#include "util/strings.h"

namespace kt::procore {

struct ClientOptions {
  AppCredentials app;
  Millis timeout{30'000};
  Millis connect_timeout{5'000};
  RetryPolicy retry;
  // On a 403 with no telling body, probe the project's permission manifest and tools to tell a missing
  // permission from a disabled tool or a project that is not permitted.
  bool diagnose_forbidden = true;
};

// What the client uses; shared between the clients of all apps in a process.
struct ClientDeps {
  Transport& transport;
  Clock& clock;
  Random& random;
  TokenCache& tokens;
  RateBudget& budget;
  ClientMetrics* metrics = nullptr;
};

struct ApiRequest {
  std::string method = "GET";
  std::string path;  // "/rest/v1.0/me", without the query
  QueryParams query;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  int64_t company_id = 0;  // sent as Procore-Company-Id (0: none, only for GET /companies without a hint)
  Priority priority = Priority::kInteractive;
  CallContext context;              // for errors; its company_id defaults to company_id
  std::optional<bool> idempotent;   // default: everything but POST
  std::optional<Millis> max_total;  // overrides the retry policy's bound on the whole call
  bool diagnose = true;
};

struct ApiResponse {
  int status = 0;
  http::Headers headers;
  std::string body;
  std::string request_id;
  int attempts = 0;
};

// Which record of a stream to fetch (webhook follow-ups).
struct RecordRequest {
  std::string_view stream;
  int64_t company_id = 0;
  int64_t project_id = 0;  // project streams
  int64_t id = 0;
  int64_t parent_id = 0;  // budget_detail_rows: the budget view
  std::string project_name;
  Priority priority = Priority::kWebhookFollowUp;
};

class Client {
 public:
  Client(ClientOptions options, ClientDeps deps);

  // One API call with everything above. 2xx comes back as a response; everything else as a ProcoreError.
  ProcoreResult<ApiResponse> Send(const ApiRequest& request);

  // --- Calls the wizard needs ---
  // A fresh token for the credentials (not from the cache): invalid_credentials, service_account_retired...
  ProcoreResult<AccessToken> VerifyCredentials();
  // The companies where the app is installed. With a DMSA, Procore wants Procore-Company-Id here too (§1.1):
  // pass the company the customer named when there is one.
  ProcoreResult<std::vector<Company>> ListCompanies(int64_t company_hint = 0);
  ProcoreResult<Me> GetMe(int64_t company_id);
  ProcoreResult<CompanyUser> GetCompanyMe(int64_t company_id);
  // The app's permission manifest, company-wide (project_id 0) or for one project.
  ProcoreResult<std::vector<ToolPermission>> GetPermissions(int64_t company_id, Scope scope,
                                                            int64_t project_id = 0);
  ProcoreResult<std::vector<ProjectTool>> ListProjectTools(int64_t company_id, int64_t project_id);
  ProcoreResult<std::vector<Project>> ListProjects(int64_t company_id);
  ProcoreResult<std::vector<BudgetView>> ListBudgetViews(int64_t company_id, int64_t project_id);
  // One record of a stream, as raw JSON (webhook follow-ups).
  ProcoreResult<std::string> GetRecord(const RecordRequest& request);

  // "Rate limited until T" for a company, for the status pages.
  std::optional<SysTime> RateLimitedUntil(int64_t company_id);
  RateBudgetSnapshot RateBudgetStatus(int64_t company_id);
  std::string BudgetKeyFor(int64_t company_id) const;

  const AppCredentials& app() const { return options_.app; }
  Clock& clock() { return deps_.clock; }

 private:
  ErrorCode DiagnoseForbidden(const CallContext& context, int64_t company_id, Priority priority);

  ClientOptions options_;
  ClientDeps deps_;
  ClientMetrics& metrics_;
};

}  // namespace kt::procore
