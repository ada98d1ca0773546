// The no-op metrics sink and endpoint families.
#include "procore/metrics.h"

#include "util/strings.h"

namespace kt::procore {

ClientMetrics& NoMetrics() {
  static ClientMetrics none;
  return none;
}

std::string EndpointFamily(std::string_view path) {
  size_t q = path.find('?');
  if (q != std::string_view::npos) path = path.substr(0, q);
  std::vector<std::string> segments;
  for (auto& s : Split(path, '/')) {
    if (!s.empty()) segments.push_back(std::move(s));
  }
  if (segments.empty()) return "other";
  if (segments[0] == "oauth") return "oauth";
  size_t start = 0;
  if (segments[0] == "rest" && segments.size() > 1) start = 2;  // skip "rest" and "v1.0"
  if (start < segments.size() && (segments[start] == "webhooks" || segments[start] == "settings")) {
    return segments[start];
  }
  // The last segment that is not an id and not an action suffix.
  for (size_t i = segments.size(); i-- > start;) {
    const std::string& s = segments[i];
    if (ParseInt64(s)) continue;
    if (s == "sync" || s == "bulk") continue;
    return s;
  }
  return "other";
}

}  // namespace kt::procore
