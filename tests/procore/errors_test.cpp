// Procore's error bodies in every documented shape, their classification, and the message and fix each
// typed error carries.
#include "procore/errors.h"

#include <gtest/gtest.h>

#include <set>

#include "fake_procore.h"
#include "procore/environment.h"

namespace kt::procore {
namespace {

using testing::Harness;
using testing::Respond;

TEST(ErrorBody, ErrorsString) {
  auto b = ParseErrorBody(R"({"errors": "App is not connected to this company"})");
  EXPECT_TRUE(b.json);
  EXPECT_EQ(b.message, "App is not connected to this company");
}

TEST(ErrorBody, ErrorString) {
  EXPECT_EQ(ParseErrorBody(R"({"error": "Missing Procore-Company-Id header!"})").message,
            "Missing Procore-Company-Id header!");
}

TEST(ErrorBody, MessageAndError) {
  auto b = ParseErrorBody(R"({"message": "Forbidden", "error": "You do not have access to RFIs"})");
  EXPECT_EQ(b.message, "Forbidden: You do not have access to RFIs");
  auto coded = ParseErrorBody(R"({"message": "Token expired", "error": "invalid_token"})");
  EXPECT_EQ(coded.message, "Token expired");
  EXPECT_EQ(coded.code, "invalid_token");
}

TEST(ErrorBody, ErrorObjectWithCodeAndMessage) {
  auto b =
      ParseErrorBody(R"({"error": {"code": "bad_request", "message": "company_id or project_id required"}})");
  EXPECT_EQ(b.code, "bad_request");
  EXPECT_EQ(b.message, "company_id or project_id required");
}

TEST(ErrorBody, Generic401Model) {
  auto b = ParseErrorBody(
      R"({"code": "unauthorized", "message": "The access token is invalid", "fields": "", "reason": "expired", "error": "invalid_token"})");
  EXPECT_EQ(b.message, "The access token is invalid");
  EXPECT_EQ(b.code, "unauthorized");
}

TEST(ErrorBody, ValidationFieldErrors) {
  auto b =
      ParseErrorBody(R"({"errors": {"title": ["can't be blank", "is too short"], "number": ["is taken"]}})");
  ASSERT_EQ(b.fields.size(), 3u);
  EXPECT_EQ(b.fields[0].field, "number");
  EXPECT_EQ(b.fields[0].message, "is taken");
  EXPECT_EQ(b.fields[1].field, "title");
  // With no message of its own, the body's message is its field errors, each after its field.
  EXPECT_EQ(b.message, "number is taken; title can't be blank; title is too short");
}

TEST(ErrorBody, V2StandardError) {
  auto b = ParseErrorBody(R"({"error": {"code": "BAD_REQUEST", "message": "Invalid parameters",
      "details": [{"reason_code": "INVALID", "message": "must be a date", "source": {"pointer": "/filter/start"}},
                  {"reason_code": "REQUIRED", "message": "is required", "source": "payload_version"}]}})");
  EXPECT_EQ(b.code, "BAD_REQUEST");
  EXPECT_EQ(b.message, "Invalid parameters");
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[0].field, "/filter/start");
  EXPECT_EQ(b.fields[0].message, "must be a date");
  EXPECT_EQ(b.fields[1].field, "payload_version");
}

TEST(ErrorBody, OAuthError) {
  auto b =
      ParseErrorBody(R"({"error": "invalid_client", "error_description": "Client authentication failed"})");
  EXPECT_EQ(b.code, "invalid_client");
  EXPECT_EQ(b.message, "Client authentication failed");
}

TEST(ErrorBody, ArraysScalarsAndNonJson) {
  EXPECT_EQ(ParseErrorBody(R"({"errors": ["first", "second"]})").message, "first; second");
  EXPECT_EQ(ParseErrorBody(R"(["a", "b"])").message, "a; b");
  EXPECT_EQ(ParseErrorBody(R"("plain")").message, "plain");
  auto html = ParseErrorBody("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
  EXPECT_FALSE(html.json);
  EXPECT_EQ(html.message, "502 Bad Gateway");
  EXPECT_EQ(ParseErrorBody("  Service Unavailable\n").message, "Service Unavailable");
  EXPECT_EQ(ParseErrorBody("").message, "");
  EXPECT_EQ(ParseErrorBody("{not json").message, "{not json");
  EXPECT_LE(ParseErrorBody(std::string(5000, 'x')).message.size(), 510u);
}

Evidence Status(int status, std::string body) {
  Evidence ev;
  ev.status = status;
  ev.body = ParseErrorBody(body);
  return ev;
}

CallContext RfisOf(int64_t project) {
  CallContext c;
  c.tool = "RFIs";
  c.scope = Scope::kProject;
  c.company_id = 8;
  c.project_id = project;
  c.project_name = "Tower A";
  c.resource = "RFI";
  return c;
}

TEST(Classify, ForbiddenVariants) {
  auto c = RfisOf(5);
  EXPECT_EQ(ClassifyApiFailure(Status(403, R"({"errors":"App is not connected to this company"})"), c),
            ErrorCode::kAppNotInstalled);
  EXPECT_EQ(ClassifyApiFailure(Status(403, R"({"error":"The RFIs tool is disabled for this project"})"), c),
            ErrorCode::kToolDisabled);
  EXPECT_EQ(ClassifyApiFailure(
                Status(403, R"({"error":"This project is not a permitted project for the app"})"), c),
            ErrorCode::kProjectNotPermitted);
  EXPECT_EQ(ClassifyApiFailure(Status(403, R"({"error":{"code":"tool_disabled","message":"x"}})"), c),
            ErrorCode::kToolDisabled);
  EXPECT_EQ(
      ClassifyApiFailure(
          Status(403, R"({"errors":"User does not have permission access to view Change Events."})"), c),
      ErrorCode::kMissingPermission);
  EXPECT_EQ(ClassifyApiFailure(Status(403, ""), c), ErrorCode::kMissingPermission);
}

TEST(Classify, StatusTable) {
  auto c = RfisOf(5);
  EXPECT_EQ(ClassifyApiFailure(Status(404, ""), c), ErrorCode::kNotFound);
  c.company_lookup = true;
  EXPECT_EQ(ClassifyApiFailure(Status(404, ""), c), ErrorCode::kCompanyNotFound);
  c.company_lookup = false;
  EXPECT_EQ(ClassifyApiFailure(Status(400, "{}"), c), ErrorCode::kValidation);
  EXPECT_EQ(ClassifyApiFailure(Status(422, "{}"), c), ErrorCode::kValidation);
  EXPECT_EQ(ClassifyApiFailure(Status(409, "{}"), c), ErrorCode::kConflict);
  EXPECT_EQ(ClassifyApiFailure(Status(413, "{}"), c), ErrorCode::kRequestTooLarge);
  EXPECT_EQ(ClassifyApiFailure(Status(429, "{}"), c), ErrorCode::kRateLimited);
  EXPECT_EQ(ClassifyApiFailure(Status(500, "{}"), c), ErrorCode::kProcoreUnavailable);
  EXPECT_EQ(ClassifyApiFailure(Status(503, "{}"), c), ErrorCode::kProcoreUnavailable);
  EXPECT_EQ(ClassifyApiFailure(Status(401, "{}"), c), ErrorCode::kAppNotInstalled);
  CallContext no_company;
  EXPECT_EQ(ClassifyApiFailure(Status(401, "{}"), no_company), ErrorCode::kInvalidCredentials);
  Evidence timeout;
  timeout.transport_error = "timeout";
  EXPECT_EQ(ClassifyApiFailure(timeout, c), ErrorCode::kProcoreUnavailable);
}

TEST(Classify, TokenFailures) {
  EXPECT_EQ(ClassifyTokenFailure(Status(401, R"({"error":"invalid_client"})")),
            ErrorCode::kInvalidCredentials);
  EXPECT_EQ(ClassifyTokenFailure(Status(400, R"({"error":"invalid_grant"})")),
            ErrorCode::kInvalidCredentials);
  EXPECT_EQ(
      ClassifyTokenFailure(Status(
          401,
          R"({"error":"invalid_client","error_description":"Traditional service accounts were retired on March 18, 2025"})")),
      ErrorCode::kServiceAccountRetired);
  EXPECT_EQ(ClassifyTokenFailure(Status(503, "")), ErrorCode::kProcoreUnavailable);
  EXPECT_EQ(ClassifyTokenFailure(Status(429, "")), ErrorCode::kRateLimited);
}

TEST(Messages, MissingPermissionNamesToolLevelAndProject) {
  auto e = MakeError(ErrorCode::kMissingPermission, RfisOf(5));
  EXPECT_EQ(e.error.code, "missing_permission");
  EXPECT_EQ(e.error.kind, ErrorKind::kUnprocessable);
  EXPECT_NE(
      e.error.fix.find("In Procore, open Company Admin → App Management, edit KTrack's permissions and give "
                       "Read Only on RFIs for project 'Tower A'"),
      std::string::npos)
      << e.error.fix;
  CallContext company;
  company.tool = "Directory";
  auto ce = MakeError(ErrorCode::kMissingPermission, company);
  EXPECT_NE(ce.error.fix.find("company-level Directory tool"), std::string::npos);
  CallContext unnamed = RfisOf(77);
  unnamed.project_name.clear();
  EXPECT_NE(MakeError(ErrorCode::kMissingPermission, unnamed).error.fix.find("project 77"),
            std::string::npos);
}

TEST(Messages, EveryCodeHasMessageAndFix) {
  for (ErrorCode code :
       {ErrorCode::kInvalidCredentials, ErrorCode::kServiceAccountRetired, ErrorCode::kAppNotInstalled,
        ErrorCode::kCompanyNotFound, ErrorCode::kMissingPermission, ErrorCode::kToolDisabled,
        ErrorCode::kProjectNotPermitted, ErrorCode::kNotFound, ErrorCode::kValidation, ErrorCode::kConflict,
        ErrorCode::kRequestTooLarge, ErrorCode::kRateLimited, ErrorCode::kProcoreUnavailable,
        ErrorCode::kInvalidResponse, ErrorCode::kCustomUrlsNotAllowed, ErrorCode::kInvalidUrl}) {
    auto e = MakeError(code, RfisOf(5));
    EXPECT_EQ(e.error.code, ErrorCodeName(code));
    EXPECT_FALSE(e.error.message.empty()) << ErrorCodeName(code);
    EXPECT_FALSE(e.error.fix.empty()) << ErrorCodeName(code);
  }
  EXPECT_NE(MakeError(ErrorCode::kToolDisabled, RfisOf(5)).error.fix.find("Active Tools"), std::string::npos);
  EXPECT_NE(MakeError(ErrorCode::kProjectNotPermitted, RfisOf(5)).error.fix.find("permitted projects"),
            std::string::npos);
}

TEST(Messages, RateLimitedSaysUntilWhen) {
  Evidence ev;
  ev.status = 429;
  ev.retry_at = SysTime(std::chrono::seconds(1'700'000'060));
  auto e = MakeError(ErrorCode::kRateLimited, RfisOf(5), ev);
  EXPECT_EQ(e.retry_at, ev.retry_at);
  EXPECT_NE(e.error.message.find("until 14 Nov 22:14:20 UTC."), std::string::npos) << e.error.message;
}

// End to end: what comes back from Procore becomes the right typed error, with the request id kept.
class ClientErrors : public ::testing::Test {
 protected:
  Harness h;
  ProcoreError Read(int status, std::string body, bool diagnose = false) {
    h.procore.AddRoute("/rest/v1.0/projects/5/rfis", [=](const http::ClientRequest&) {
      return Respond(status, body, {{"X-Request-Id", "req-123"}});
    });
    ApiRequest r;
    r.path = "/rest/v1.0/projects/5/rfis";
    r.company_id = 8;
    r.context = RfisOf(5);
    r.diagnose = diagnose;
    auto result = h.client.Send(r);
    EXPECT_FALSE(result.has_value());
    return result ? ProcoreError{} : result.error();
  }
};

TEST_F(ClientErrors, EachShapeBecomesTypedErrorWithRequestId) {
  auto e = Read(403, R"({"errors":"App is not connected to this company"})");
  EXPECT_EQ(e.code, ErrorCode::kAppNotInstalled);
  EXPECT_EQ(e.request_id, "req-123");
  EXPECT_NE(e.error.detail.find("req-123"), std::string::npos);
  EXPECT_EQ(e.http_status, 403);
  EXPECT_EQ(Read(404, R"({"error":"Not found"})").code, ErrorCode::kNotFound);
  EXPECT_EQ(Read(422, R"({"errors":{"title":["can't be blank"]}})").fields.size(), 1u);
  EXPECT_EQ(Read(400, R"({"error":{"code":"BAD_REQUEST","message":"bad","details":[]}})").code,
            ErrorCode::kValidation);
  // Converts to kt::Error for the layers above.
  Error as_error = Read(403, "{}");
  EXPECT_EQ(as_error.code, "missing_permission");
}

TEST_F(ClientErrors, AmbiguousForbiddenIsDiagnosed) {
  // The project's manifest is readable and grants RFIs, but the project's RFIs tool is off.
  h.procore.AddRoute("/rest/v1.0/settings/permissions", [](const http::ClientRequest&) {
    return Respond(
        200,
        R"({"tools":[{"id":1,"name":"rfi","friendly_name":"RFIs","user_access_level":{"id":2,"name":"Read Only"}}]})");
  });
  h.procore.AddRoute("/rest/v1.0/projects/5/tools", [](const http::ClientRequest&) {
    return Respond(200, R"([{"id":1,"engine_name":"rfi","title":"RFIs","is_active":false}])");
  });
  EXPECT_EQ(Read(403, "", /*diagnose=*/true).code, ErrorCode::kToolDisabled);

  // The manifest says None on RFIs.
  h.procore.AddRoute("/rest/v1.0/settings/permissions", [](const http::ClientRequest&) {
    return Respond(
        200,
        R"({"tools":[{"id":1,"name":"rfi","friendly_name":"RFIs","user_access_level":{"id":0,"name":"None"}}]})");
  });
  EXPECT_EQ(Read(403, "", true).code, ErrorCode::kMissingPermission);

  // The manifest itself is refused: the project is not permitted.
  h.procore.AddRoute("/rest/v1.0/settings/permissions",
                     [](const http::ClientRequest&) { return Respond(403, R"({"errors":"Forbidden"})"); });
  auto e = Read(403, "", true);
  EXPECT_EQ(e.code, ErrorCode::kProjectNotPermitted);
  EXPECT_NE(e.error.fix.find("project 'Tower A'"), std::string::npos);
}

TEST(Environments, ProcoreUrlsAndCustomGate) {
  auto prod = ResolveEnvironment(Environment::kProduction, "", "", false);
  ASSERT_TRUE(prod);
  EXPECT_EQ(prod->login_url, "https://login.procore.com");
  EXPECT_EQ(prod->api_url, "https://api.procore.com");
  auto sandbox = ResolveEnvironment(Environment::kSandbox, "", "", false);
  EXPECT_EQ(sandbox->login_url, "https://login-sandbox.procore.com");
  EXPECT_EQ(sandbox->api_url, "https://sandbox.procore.com");
  auto monthly = ResolveEnvironment(Environment::kMonthlySandbox, "", "", false);
  EXPECT_EQ(monthly->login_url, "https://login-sandbox-monthly.procore.com");
  EXPECT_EQ(monthly->api_url, "https://api-monthly.procore.com");

  auto refused = ResolveEnvironment(Environment::kCustom, "http://127.0.0.1:1", "http://127.0.0.1:1", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.code, "custom_urls_not_allowed");
  EXPECT_FALSE(refused.error().error.fix.empty());

  auto custom =
      ResolveEnvironment(Environment::kCustom, "http://127.0.0.1:8080/", "HTTP://127.0.0.1:8080", true);
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->login_url, "http://127.0.0.1:8080");
  EXPECT_EQ(custom->api_url, "http://127.0.0.1:8080");
  for (const char* bad :
       {"ftp://x", "http://", "http://user@host", "http://h/?q=1", "javascript:alert(1)", "", "http://a b"}) {
    auto r = ResolveEnvironment(Environment::kCustom, bad, "http://ok", true);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().error.code, "invalid_url");
  }
  EXPECT_EQ(ParseEnvironment("monthly_sandbox"), Environment::kMonthlySandbox);
  EXPECT_FALSE(ParseEnvironment("staging"));
  EXPECT_EQ(UserAgent(), std::string("KTrack/") + KTRACK_VERSION + " (+procore-integration)");
}

// Retrying soon cures rate limits, outages, unreadable answers, conflicts and missing records; the rest waits
// for the customer to act in Procore or in KTrack's settings.
TEST(Classify, WhatWaitsForTheCustomer) {
  const std::set<ErrorCode> waits = {ErrorCode::kInvalidCredentials,   ErrorCode::kServiceAccountRetired,
                                     ErrorCode::kAppNotInstalled,      ErrorCode::kCompanyNotFound,
                                     ErrorCode::kMissingPermission,    ErrorCode::kToolDisabled,
                                     ErrorCode::kProjectNotPermitted,  ErrorCode::kValidation,
                                     ErrorCode::kCustomUrlsNotAllowed, ErrorCode::kInvalidUrl};
  for (int c = 0; c <= static_cast<int>(ErrorCode::kInvalidUrl); ++c) {
    const auto code = static_cast<ErrorCode>(c);
    EXPECT_EQ(NeedsCustomer(code), waits.count(code) == 1) << ErrorCodeName(code);
  }
}

}  // namespace
}  // namespace kt::procore
