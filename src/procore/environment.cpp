// Environment names and URLs, and the one place custom Procore URLs are vetted.
#include "procore/environment.h"

#include <cctype>

#include "util/strings.h"

#ifndef KTRACK_VERSION
#define KTRACK_VERSION "0.0.0"
#endif

namespace kt::procore {
namespace {

// Accepts "http(s)://host[:port][/prefix]" and returns it without a trailing slash.
std::optional<std::string> NormalizeOrigin(std::string_view url) {
  url = Trim(url);
  std::string lower = ToLower(url);
  size_t scheme_len = 0;
  if (StartsWith(lower, "https://")) {
    scheme_len = 8;
  } else if (StartsWith(lower, "http://")) {
    scheme_len = 7;
  } else {
    return std::nullopt;
  }
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  std::string_view rest = url.substr(scheme_len);
  if (rest.find_first_of("?#@\\") != std::string_view::npos) return std::nullopt;
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty() || host.front() == ':') return std::nullopt;
  std::string out = lower.substr(0, scheme_len) + std::string(rest);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

std::string_view EnvironmentName(Environment environment) {
  switch (environment) {
    case Environment::kProduction:
      return "production";
    case Environment::kSandbox:
      return "sandbox";
    case Environment::kMonthlySandbox:
      return "monthly_sandbox";
    case Environment::kCustom:
      return "custom";
  }
  return "production";
}

std::optional<Environment> ParseEnvironment(std::string_view name) {
  for (Environment e : {Environment::kProduction, Environment::kSandbox, Environment::kMonthlySandbox,
                        Environment::kCustom}) {
    if (IEquals(name, EnvironmentName(e))) return e;
  }
  return std::nullopt;
}

ProcoreResult<EnvironmentUrls> ResolveEnvironment(Environment environment, std::string_view login_url,
                                                  std::string_view api_url, bool allow_custom_urls) {
  switch (environment) {
    case Environment::kProduction:
      return EnvironmentUrls{environment, "https://login.procore.com", "https://api.procore.com"};
    case Environment::kSandbox:
      // The developer sandbox serves the API and the browser UI on one host.
      return EnvironmentUrls{environment, "https://login-sandbox.procore.com", "https://sandbox.procore.com"};
    case Environment::kMonthlySandbox:
      // API host, not the browser host (api-sandbox-monthly.procore.com).
      return EnvironmentUrls{environment, "https://login-sandbox-monthly.procore.com",
                             "https://api-monthly.procore.com"};
    case Environment::kCustom:
      break;
  }
  CallContext none;
  Evidence ev;
  ev.environment = "custom";
  if (!allow_custom_urls) return FailWith(ErrorCode::kCustomUrlsNotAllowed, none, ev);
  auto login = NormalizeOrigin(login_url);
  auto api = NormalizeOrigin(api_url);
  if (!login || !api) return FailWith(ErrorCode::kInvalidUrl, none, ev);
  return EnvironmentUrls{environment, *login, *api};
}

const std::string& UserAgent() {
  static const std::string kUserAgent = std::string("KTrack/") + KTRACK_VERSION + " (+procore-integration)";
  return kUserAgent;
}

}  // namespace kt::procore
