// Error bodies, classification and the customer-facing message and fix for each Procore failure.
#include "procore/errors.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <nlohmann/json.hpp>

#include "util/strings.h"

namespace kt::procore {
namespace {

constexpr size_t kMaxMessage = 500;

std::string Clip(std::string s) {
  if (s.size() > kMaxMessage) {
    s.resize(kMaxMessage);
    s += "...";
  }
  return s;
}

std::string ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  if (v.is_number() || v.is_boolean()) return v.dump();
  return {};
}

// {"field": ["msg", ...]} or {"field": "msg"}; nested objects are flattened with dots.
void CollectFieldErrors(const nlohmann::json& obj, const std::string& prefix, std::vector<FieldError>& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string field = prefix.empty() ? it.key() : prefix + "." + it.key();
    const auto& v = it.value();
    if (v.is_array()) {
      for (const auto& item : v) {
        if (item.is_object()) {
          CollectFieldErrors(item, field, out);
        } else {
          out.push_back({field, ScalarText(item)});
        }
      }
    } else if (v.is_object()) {
      CollectFieldErrors(v, field, out);
    } else {
      out.push_back({field, ScalarText(v)});
    }
  }
}

// v2 "details": [{"reason_code", "message", "source"}], where source may be a string or
// {"pointer"|"parameter"}.
void CollectDetails(const nlohmann::json& details, std::vector<FieldError>& out) {
  for (const auto& d : details) {
    if (d.is_string()) {
      out.push_back({"", d.get<std::string>()});
      continue;
    }
    if (!d.is_object()) continue;
    FieldError fe;
    if (auto s = d.find("source"); s != d.end()) {
      if (s->is_string()) {
        fe.field = s->get<std::string>();
      } else if (s->is_object()) {
        for (const char* k : {"pointer", "parameter", "field", "header"}) {
          if (auto p = s->find(k); p != s->end() && p->is_string()) {
            fe.field = p->get<std::string>();
            break;
          }
        }
      }
    }
    if (auto f = d.find("field"); fe.field.empty() && f != d.end()) fe.field = ScalarText(*f);
    if (auto m = d.find("message"); m != d.end()) fe.message = ScalarText(*m);
    if (fe.message.empty()) {
      if (auto r = d.find("reason_code"); r != d.end()) fe.message = ScalarText(*r);
    }
    if (!fe.message.empty() || !fe.field.empty()) out.push_back(std::move(fe));
  }
}

std::string JoinStrings(const nlohmann::json& arr) {
  std::string out;
  for (const auto& item : arr) {
    std::string s = ScalarText(item);
    if (s.empty() && item.is_object()) {
      if (auto m = item.find("message"); m != item.end()) s = ScalarText(*m);
    }
    if (s.empty()) continue;
    if (!out.empty()) out += "; ";
    out += s;
  }
  return out;
}

bool LooksLikeCode(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

void ParseObject(const nlohmann::json& j, ParsedErrorBody& out) {
  std::string message;
  if (auto m = j.find("message"); m != j.end()) message = ScalarText(*m);
  if (auto c = j.find("code"); c != j.end()) out.code = ScalarText(*c);

  if (auto e = j.find("error"); e != j.end()) {
    if (e->is_object()) {
      // {"error": {"code", "message", "details": [...]}} (v2 and some v1 endpoints)
      if (auto c = e->find("code"); c != e->end()) out.code = ScalarText(*c);
      if (auto m = e->find("message"); m != e->end() && message.empty()) message = ScalarText(*m);
      if (auto d = e->find("details"); d != e->end() && d->is_array()) CollectDetails(*d, out.fields);
      if (auto f = e->find("fields"); f != e->end() && f->is_object()) CollectFieldErrors(*f, "", out.fields);
    } else if (e->is_string()) {
      std::string err = e->get<std::string>();
      if (auto desc = j.find("error_description"); desc != j.end()) {
        // OAuth: {"error": "invalid_client", "error_description": "..."}
        out.code = err;
        if (message.empty()) message = ScalarText(*desc);
      } else if (message.empty()) {
        message = err;
      } else if (err != message) {
        // {"message": "...", "error": "..."}: keep both; a code-like "error" is Procore's code.
        if (LooksLikeCode(err)) {
          if (out.code.empty()) out.code = err;
        } else {
          message += ": " + err;
        }
      }
    } else if (e->is_array()) {
      if (message.empty()) message = JoinStrings(*e);
    }
  }

  if (auto errs = j.find("errors"); errs != j.end()) {
    if (errs->is_string()) {
      if (message.empty()) {
        message = errs->get<std::string>();
      } else if (message != errs->get<std::string>()) {
        message += ": " + errs->get<std::string>();
      }
    } else if (errs->is_object()) {
      CollectFieldErrors(*errs, "", out.fields);
    } else if (errs->is_array()) {
      bool all_objects = !errs->empty() &&
                         std::all_of(errs->begin(), errs->end(), [](const auto& x) { return x.is_object(); });
      if (all_objects) {
        CollectDetails(*errs, out.fields);
      } else if (message.empty()) {
        message = JoinStrings(*errs);
      }
    }
  }

  if (auto r = j.find("reason"); r != j.end() && message.empty()) message = ScalarText(*r);
  if (auto f = j.find("fields"); f != j.end()) {
    if (f->is_object()) {
      CollectFieldErrors(*f, "", out.fields);
    } else if (f->is_string() && !f->get<std::string>().empty()) {
      out.fields.push_back({f->get<std::string>(), ""});
    }
  }
  if (message.empty() && !out.fields.empty()) {
    for (const auto& fe : out.fields) {
      if (!message.empty()) message += "; ";
      message += fe.field.empty() ? fe.message : fe.field + " " + fe.message;
    }
  }
  out.message = std::move(message);
}

std::string TextBodyMessage(std::string_view body) {
  std::string lower = ToLower(body.substr(0, std::min<size_t>(body.size(), 4096)));
  size_t t = lower.find("<title>");
  if (t != std::string::npos) {
    size_t end = lower.find("</title>", t);
    if (end != std::string::npos) return std::string(Trim(body.substr(t + 7, end - t - 7)));
  }
  if (lower.find('<') != std::string::npos && lower.find("html") != std::string::npos) {
    // Some other HTML page: keep only its text.
    std::string text;
    bool in_tag = false;
    for (char c : body.substr(0, std::min<size_t>(body.size(), 4096))) {
      if (c == '<') {
        in_tag = true;
      } else if (c == '>') {
        in_tag = false;
        text.push_back(' ');
      } else if (!in_tag) {
        text.push_back(c);
      }
    }
    std::string collapsed;
    for (char c : text) {
      bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
      if (space && (collapsed.empty() || collapsed.back() == ' ')) continue;
      collapsed.push_back(space ? ' ' : c);
    }
    return std::string(Trim(collapsed));
  }
  return std::string(Trim(body));
}

bool Has(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string LowerText(const Evidence& ev) {
  std::string text = ToLower(ev.body.message) + " | " + ToLower(ev.body.code);
  for (const auto& f : ev.body.fields) text += " | " + ToLower(f.field) + " " + ToLower(f.message);
  return text;
}

bool MentionsRetiredServiceAccount(const std::string& text) {
  if (Has(text, "service_account_retired") || Has(text, "legacy_service_account")) return true;
  if (!Has(text, "service account") && !Has(text, "service_account")) return false;
  return Has(text, "retired") || Has(text, "deprecat") || Has(text, "sunset") || Has(text, "legacy") ||
         Has(text, "traditional") || Has(text, "no longer") || Has(text, "disabled") || Has(text, "stopped");
}

std::string Tool(const CallContext& c) {
  return c.tool.empty() ? std::string("the tool this data needs") : c.tool;
}

std::string EnvironmentLabel(const std::string& env) {
  if (env == "sandbox") return "Developer Sandbox";
  if (env == "monthly_sandbox") return "Monthly Sandbox";
  if (env == "custom") return "custom";
  return "Production";
}

}  // namespace

std::string FormatUntil(const std::optional<SysTime>& t) {
  if (!t) return "shortly";
  // For people: "30 Nov 09:11:19 UTC" (the API's fields carry the exact instant). The server runs in the C
  // locale, so %b is the English month.
  const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::string out(buf, std::strftime(buf, sizeof buf, "%d %b %H:%M:%S UTC", &tm));
  if (!out.empty() && out[0] == '0') out.erase(0, 1);  // "5 Nov", not "05 Nov"
  return out;
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidCredentials:
      return "invalid_credentials";
    case ErrorCode::kServiceAccountRetired:
      return "service_account_retired";
    case ErrorCode::kAppNotInstalled:
      return "app_not_installed";
    case ErrorCode::kCompanyNotFound:
      return "company_not_found";
    case ErrorCode::kMissingPermission:
      return "missing_permission";
    case ErrorCode::kToolDisabled:
      return "tool_disabled";
    case ErrorCode::kProjectNotPermitted:
      return "project_not_permitted";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kValidation:
      return "validation";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kRequestTooLarge:
      return "request_too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kProcoreUnavailable:
      return "procore_unavailable";
    case ErrorCode::kInvalidResponse:
      return "invalid_response";
    case ErrorCode::kCustomUrlsNotAllowed:
      return "custom_urls_not_allowed";
    case ErrorCode::kInvalidUrl:
      return "invalid_url";
  }
  return "procore_unavailable";
}

ErrorKind KindFor(ErrorCode code) {
  switch (code) {
    // Setup problems on the Procore side: the caller's request to KTrack was fine, Procore refused.
    case ErrorCode::kInvalidCredentials:
    case ErrorCode::kServiceAccountRetired:
    case ErrorCode::kAppNotInstalled:
    case ErrorCode::kCompanyNotFound:
    case ErrorCode::kMissingPermission:
    case ErrorCode::kToolDisabled:
    case ErrorCode::kProjectNotPermitted:
    case ErrorCode::kValidation:
      return ErrorKind::kUnprocessable;
    case ErrorCode::kNotFound:
      return ErrorKind::kNotFound;
    case ErrorCode::kConflict:
      return ErrorKind::kConflict;
    case ErrorCode::kRequestTooLarge:
      return ErrorKind::kPayloadTooLarge;
    case ErrorCode::kRateLimited:
      return ErrorKind::kRateLimited;
    case ErrorCode::kProcoreUnavailable:
    case ErrorCode::kInvalidResponse:
      return ErrorKind::kUnavailable;
    case ErrorCode::kCustomUrlsNotAllowed:
    case ErrorCode::kInvalidUrl:
      return ErrorKind::kInvalidInput;
  }
  return ErrorKind::kInternal;
}

bool NeedsCustomer(ErrorCode code) {
  return NeedsCustomer(KindFor(code));
}

bool NeedsCustomer(ErrorKind kind) {
  // Procore refused the set-up (credentials, install, permissions, tools) or KTrack refused the address.
  return kind == ErrorKind::kUnprocessable || kind == ErrorKind::kInvalidInput;
}

std::string_view ScopeName(Scope scope) {
  return scope == Scope::kCompany ? "company" : "project";
}

ParsedErrorBody ParseErrorBody(std::string_view body) {
  ParsedErrorBody out;
  std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return out;
  auto j = nlohmann::json::parse(trimmed.begin(), trimmed.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    out.message = Clip(TextBodyMessage(trimmed));
    return out;
  }
  out.json = true;
  if (j.is_object()) {
    ParseObject(j, out);
  } else if (j.is_array()) {
    out.message = JoinStrings(j);
  } else {
    out.message = ScalarText(j);
  }
  out.message = Clip(std::move(out.message));
  for (auto& f : out.fields) f.message = Clip(std::move(f.message));
  return out;
}

std::string ProjectLabel(const CallContext& c) {
  if (!c.project_name.empty()) return "project '" + c.project_name + "'";
  if (c.project_id != 0) return "project " + std::to_string(c.project_id);
  return "the project";
}

ErrorCode ClassifyApiFailure(const Evidence& ev, const CallContext& ctx) {
  if (!ev.transport_error.empty() || ev.status == 0) return ErrorCode::kProcoreUnavailable;
  const std::string text = LowerText(ev);
  const std::string code = ToLower(ev.body.code);
  // A body that names one of our codes outright (an emulator, or a future Procore) is taken at its word.
  for (ErrorCode c : {ErrorCode::kToolDisabled, ErrorCode::kProjectNotPermitted, ErrorCode::kAppNotInstalled,
                      ErrorCode::kCompanyNotFound, ErrorCode::kServiceAccountRetired}) {
    if (code == ErrorCodeName(c)) return c;
  }
  if (ev.status >= 200 && ev.status < 300) return ErrorCode::kInvalidResponse;
  switch (ev.status) {
    case 401:
      if (MentionsRetiredServiceAccount(text)) return ErrorCode::kServiceAccountRetired;
      // A fresh token refused on a company's data means the app is not (or no longer) installed there.
      if (ctx.company_id != 0) return ErrorCode::kAppNotInstalled;
      return ErrorCode::kInvalidCredentials;
    case 403:
      if (Has(text, "not connected") || Has(text, "not installed") || Has(text, "uninstalled") ||
          Has(text, "app is not") || Has(text, "app_not_installed")) {
        return ErrorCode::kAppNotInstalled;
      }
      if (MentionsRetiredServiceAccount(text)) return ErrorCode::kServiceAccountRetired;
      if (Has(text, "tool") && (Has(text, "disabled") || Has(text, "not active") || Has(text, "inactive") ||
                                Has(text, "not enabled") || Has(text, "turned off"))) {
        return ErrorCode::kToolDisabled;
      }
      if (Has(text, "permitted project") || Has(text, "project is not permitted") ||
          Has(text, "project not permitted") || Has(text, "not a permitted")) {
        return ErrorCode::kProjectNotPermitted;
      }
      if (Has(text, "company not found")) return ErrorCode::kCompanyNotFound;
      if (ctx.company_lookup) return ErrorCode::kAppNotInstalled;
      return ErrorCode::kMissingPermission;
    case 404:
      if (ctx.company_lookup || Has(text, "company not found")) return ErrorCode::kCompanyNotFound;
      return ErrorCode::kNotFound;
    case 408:
      return ErrorCode::kProcoreUnavailable;
    case 409:
      return ErrorCode::kConflict;
    case 413:
      return ErrorCode::kRequestTooLarge;
    case 429:
      return ErrorCode::kRateLimited;
    default:
      break;
  }
  if (ev.status >= 500) return ErrorCode::kProcoreUnavailable;
  return ErrorCode::kValidation;
}

ErrorCode ClassifyTokenFailure(const Evidence& ev) {
  if (!ev.transport_error.empty() || ev.status == 0 || ev.status >= 500 || ev.status == 408) {
    return ErrorCode::kProcoreUnavailable;
  }
  if (ev.status == 429) return ErrorCode::kRateLimited;
  const std::string text = LowerText(ev);
  if (MentionsRetiredServiceAccount(text)) return ErrorCode::kServiceAccountRetired;
  if (ev.status >= 200 && ev.status < 300) return ErrorCode::kInvalidResponse;
  if (ev.status == 400 || ev.status == 401 || ev.status == 403) return ErrorCode::kInvalidCredentials;
  // 404 and the like: the login URL does not serve OAuth (only possible with custom URLs).
  return ErrorCode::kProcoreUnavailable;
}

ProcoreError MakeError(ErrorCode code, const CallContext& c, const Evidence& ev) {
  ProcoreError pe;
  pe.code = code;
  pe.http_status = ev.status;
  pe.request_id = ev.request_id;
  pe.procore_message = ev.body.message;
  pe.context = c;
  pe.retry_at = ev.retry_at;
  pe.fields = ev.body.fields;

  const std::string project = ProjectLabel(c);
  const std::string company = c.company_id ? "company " + std::to_string(c.company_id) : "the company";
  const std::string tool = Tool(c);
  std::string message;
  std::string fix;
  switch (code) {
    case ErrorCode::kInvalidCredentials:
      message = "Procore did not accept the client ID and client secret.";
      fix =
          "In the Procore Developer Portal, open the app's OAuth Credentials for the " +
          EnvironmentLabel(ev.environment) +
          " environment, copy the Client ID and Client Secret again and save them in KTrack. Sandbox "
          "credentials only work in the Developer Sandbox, production credentials only in Production and its "
          "sandboxes.";
      break;
    case ErrorCode::kServiceAccountRetired:
      message =
          "These credentials belong to a traditional Procore service account, which Procore switched off "
          "on 18 March 2025.";
      fix =
          "Create a Developer Managed Service Account instead: in the Procore Developer Portal add a Data "
          "Connector Component with Service Account Authentication to an app, set its tool permissions, "
          "install it in Procore under Company Admin → App Management → Install Custom App (App Version "
          "Key), "
          "then enter that app's client ID and secret in KTrack.";
      break;
    case ErrorCode::kAppNotInstalled:
      message = "KTrack's app is not installed in Procore " + company + ", or it was disconnected.";
      fix =
          "In Procore, open Company Admin → App Management → Install Custom App and install the app with its "
          "App Version Key (or reconnect it if App Management lists it as disconnected). During the setup, "
          "verify again; a running integration carries on by itself at KTrack's next check.";
      break;
    case ErrorCode::kCompanyNotFound:
      message = "Procore " + company + " was not found, or these credentials cannot see it.";
      fix =
          "Check the company ID (the number after /companies/ in Procore's address bar) and that KTrack's "
          "app "
          "is installed in that company under Company Admin → App Management.";
      break;
    case ErrorCode::kMissingPermission:
      if (c.scope == Scope::kProject) {
        message = "KTrack's service account lacks " + c.required_level + " permission on " + tool + " in " +
                  project + ".";
        fix = "In Procore, open Company Admin → App Management, edit KTrack's permissions and give " +
              c.required_level + " on " + tool + " for " + project +
              " (and check the permission template of the app's user in that project's Directory).";
      } else {
        message = "KTrack's service account lacks " + c.required_level + " permission on the company-level " +
                  tool + " tool.";
        fix = "In Procore, open Company Admin → App Management, edit KTrack's permissions and give " +
              c.required_level + " on the company-level " + tool + " tool.";
      }
      break;
    case ErrorCode::kToolDisabled:
      message = "The " + tool + " tool is not active in " + project + ".";
      fix = "In Procore, open " + project + ", go to Project Admin → Active Tools, set " + tool +
            " to active and save.";
      break;
    case ErrorCode::kProjectNotPermitted:
      message = "Procore " + project + " is not one of KTrack's permitted projects.";
      fix = "In Procore, open Company Admin → App Management, select KTrack and add " + project +
            " to its permitted projects (after an app update or reinstall they must be chosen again).";
      break;
    case ErrorCode::kNotFound: {
      std::string what = c.resource.empty() ? std::string("record") : c.resource;
      if (c.resource_id) what += " " + std::to_string(c.resource_id);
      message = "Procore has no " + what + (c.project_id ? " in " + project : std::string()) +
                ", or KTrack's service account cannot see it.";
      fix =
          "Check that it still exists in Procore. Procore also answers 'not found' when the app has no "
          "access, "
          "so check that KTrack has " +
          c.required_level + " on " + tool +
          (c.scope == Scope::kProject ? " for " + project : std::string()) + ".";
      break;
    }
    case ErrorCode::kValidation: {
      message = "Procore refused the request";
      std::string why = ev.body.message;
      if (why.empty() && !ev.body.fields.empty()) why = ev.body.fields.front().message;
      message += why.empty() ? "." : ": " + why;
      fix = "Correct the values Procore named and try again.";
      break;
    }
    case ErrorCode::kConflict:
      message = "Procore reported a conflict" + (ev.body.message.empty() ? "." : ": " + ev.body.message);
      fix = "Reload the data from Procore and try again.";
      break;
    case ErrorCode::kRequestTooLarge:
      message = "The request was too large for Procore.";
      fix = "Send fewer items at a time.";
      break;
    case ErrorCode::kRateLimited:
      message = "Procore's rate limit for KTrack's app in " + company + " is used up until " +
                FormatUntil(ev.retry_at) + ".";
      fix =
          "Nothing to do: KTrack waits and carries on by itself. If this happens every day, ask Procore "
          "(Developer Portal → the app) for a higher hourly rate limit.";
      break;
    case ErrorCode::kProcoreUnavailable:
      if (!ev.transport_error.empty()) {
        message = ev.transport_error == "timeout"
                      ? "Procore did not answer in time."
                      : "KTrack could not reach Procore (" + ev.transport_error + ").";
      } else if (ev.status == 408) {
        message = "Procore took too long to answer the request.";
      } else {
        message = "Procore is unavailable (HTTP " + std::to_string(ev.status) + ").";
      }
      fix = "Usually temporary: KTrack retries by itself. If it lasts, check https://status.procore.com" +
            (ev.request_id.empty() ? std::string(".")
                                   : " and quote request id " + ev.request_id + " to Procore.");
      break;
    case ErrorCode::kInvalidResponse:
      message = "Procore answered with something KTrack could not read.";
      fix = "Usually temporary: KTrack retries later. If it lasts, report it to KTrack support" +
            (ev.request_id.empty() ? std::string(".") : " with Procore request id " + ev.request_id + ".");
      break;
    case ErrorCode::kCustomUrlsNotAllowed:
      message = "Custom Procore URLs are not allowed on this KTrack server.";
      fix =
          "Choose Production, Developer Sandbox or Monthly Sandbox. Custom URLs (for a Procore emulator) "
          "need "
          "a server administrator to set procore.allow_custom_urls = true.";
      break;
    case ErrorCode::kInvalidUrl:
      message = "The Procore login or API URL is not a valid http(s) address.";
      fix = "Enter the address as scheme and host only, for example https://login.procore.com.";
      break;
  }

  std::string detail;
  if (!ev.method.empty() || !ev.path.empty()) detail = ev.method + " " + ev.path;
  if (ev.status) detail += (detail.empty() ? "" : " -> ") + std::string("HTTP ") + std::to_string(ev.status);
  if (!ev.transport_error.empty()) detail += (detail.empty() ? "" : " -> ") + ev.transport_error;
  if (!ev.request_id.empty()) detail += " (x-request-id " + ev.request_id + ")";
  if (!ev.body.message.empty()) detail += ": " + ev.body.message;
  if (!ev.body.code.empty()) detail += " [" + ev.body.code + "]";

  pe.error = Error{KindFor(code), std::string(ErrorCodeName(code)), std::move(message), std::move(fix),
                   std::move(detail)};
  return pe;
}

}  // namespace kt::procore
