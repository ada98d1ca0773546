// The Procore client's one error taxonomy: typed codes with the tool, scope and project they concern,
// mapped onto kt::Error with a message and a fix written in Procore's own words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "util/clock.h"
#include "util/error.h"

namespace kt::procore {

enum class ErrorCode {
  kInvalidCredentials,     // Procore refused the client id/secret
  kServiceAccountRetired,  // credentials of a traditional service account (switched off March 2025)
  kAppNotInstalled,        // the app is not installed in (or was disconnected from) the company
  kCompanyNotFound,        // the company does not exist or is not visible to the app
  kMissingPermission,  // the app's permission on a tool is too low (tool, scope, project known when possible)
  kToolDisabled,       // the tool is not active in the project
  kProjectNotPermitted,   // the project is not among the app's permitted projects
  kNotFound,              // the record does not exist, or the app cannot see it
  kValidation,            // Procore refused the request's content (400/406/422)
  kConflict,              // 409
  kRequestTooLarge,       // 413
  kRateLimited,           // 429, or the rate budget is spent until `retry_at`
  kProcoreUnavailable,    // 5xx, timeouts, network failures
  kInvalidResponse,       // a 2xx KTrack could not read
  kCustomUrlsNotAllowed,  // custom login/API URLs while procore.allow_custom_urls is off
  kInvalidUrl,            // a custom URL that is not an http(s) origin
};

// The stable snake_case name ("missing_permission"), used as kt::Error::code.
std::string_view ErrorCodeName(ErrorCode code);
ErrorKind KindFor(ErrorCode code);
// Failures that retrying soon will not fix: they wait for the customer (credentials, installs, permissions,
// tools, URLs, requests Procore finds invalid).
bool NeedsCustomer(ErrorCode code);
// The same for a kt::Error made from one (its kind, as KindFor gave it).
bool NeedsCustomer(ErrorKind kind);

enum class Scope { kCompany, kProject };
std::string_view ScopeName(Scope scope);

// What a call was about, so a failure can name the tool, level and project to fix.
struct CallContext {
  std::string tool;  // Procore tool guarding the endpoint ("RFIs", "Directory", ...)
  std::string required_level = "Read Only";
  Scope scope = Scope::kCompany;
  int64_t company_id = 0;
  int64_t project_id = 0;
  std::string project_name;  // for messages; the id is used when empty
  std::string resource;      // singular noun for not-found messages ("RFI")
  int64_t resource_id = 0;
  bool company_lookup = false;  // a 404 here means the company itself is unknown
};

struct FieldError {
  std::string field;  // empty when Procore named none
  std::string message;
};

// What could be read from an error body, whichever of Procore's shapes it had (procore-api.md §9.2).
struct ParsedErrorBody {
  std::string message;
  std::string code;  // Procore's own code when the body had one ("BAD_REQUEST", "invalid_client", ...)
  std::vector<FieldError> fields;
  bool json = false;
};
ParsedErrorBody ParseErrorBody(std::string_view body);

// What was observed about one failed call; secrets and tokens never go in here.
struct Evidence {
  int status = 0;               // 0: no response
  std::string transport_error;  // "timeout", "connection_refused", ...
  std::string method;
  std::string path;        // path and query (no credentials travel in either)
  std::string request_id;  // x-request-id of the response
  ParsedErrorBody body;
  std::optional<SysTime> retry_at;  // from Retry-After / X-Rate-Limit-Reset
  std::string environment;          // "production", "sandbox", ...
};

struct ProcoreError {
  ErrorCode code = ErrorCode::kProcoreUnavailable;
  Error error;  // kind, code name, message, fix, detail (for logs: method, path, status, x-request-id)
  int http_status = 0;
  std::string request_id;
  std::string procore_message;
  CallContext context;
  std::optional<SysTime> retry_at;  // rate_limited: until when; unavailable: when Procore said to retry
  std::vector<FieldError> fields;

  operator const Error&() const { return error; }  // NOLINT: lets callers return it as a kt::Error
};

template <typename T>
using ProcoreResult = tl::expected<T, ProcoreError>;
using ProcoreStatus = tl::expected<void, ProcoreError>;

// An instant for people, as messages show it: "30 Nov 09:11:19 UTC"; "shortly" when unknown.
std::string FormatUntil(const std::optional<SysTime>& t);

// Builds the error for a code: message and fix from the context, detail from the evidence.
ProcoreError MakeError(ErrorCode code, const CallContext& context, const Evidence& evidence = {});
inline tl::unexpected<ProcoreError> FailWith(ErrorCode code, const CallContext& context,
                                             const Evidence& evidence = {}) {
  return tl::unexpected<ProcoreError>(MakeError(code, context, evidence));
}

// Classifies a failed API call (not the token endpoint) from its status and body. A 401 reaching this point
// came back even with a freshly issued token.
ErrorCode ClassifyApiFailure(const Evidence& evidence, const CallContext& context);
// Classifies a failed POST /oauth/token.
ErrorCode ClassifyTokenFailure(const Evidence& evidence);

// "project 'Tower A'" or "project 562949953421312".
std::string ProjectLabel(const CallContext& context);

}  // namespace kt::procore
