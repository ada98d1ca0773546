// Procore environments (production, developer sandbox, monthly sandbox, custom) and their login/API URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "procore/errors.h"

namespace kt::procore {

enum class Environment { kProduction, kSandbox, kMonthlySandbox, kCustom };

// "production", "sandbox", "monthly_sandbox", "custom" (the names of KTrack's credentials API).
std::string_view EnvironmentName(Environment environment);
std::optional<Environment> ParseEnvironment(std::string_view name);

struct EnvironmentUrls {
  Environment environment = Environment::kProduction;
  std::string login_url;  // OAuth base, no trailing slash: https://login.procore.com
  std::string api_url;    // REST base, no trailing slash: https://api.procore.com
};

// The URLs of a Procore environment (procore-api.md §1). Custom URLs are accepted only when
// `allow_custom_urls` is set (the server's procore.allow_custom_urls); otherwise a tenant could point
// the server at internal addresses. They must be http(s) origins, optionally with a path prefix.
ProcoreResult<EnvironmentUrls> ResolveEnvironment(Environment environment, std::string_view login_url,
                                                  std::string_view api_url, bool allow_custom_urls);

// "KTrack/<version> (+procore-integration)", sent as User-Agent on every call.
const std::string& UserAgent();

}  // namespace kt::procore
