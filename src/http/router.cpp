// Pattern routing: literal segments, {param} segments and a trailing "/*", most specific match first.
#include "http/router.h"

#include <algorithm>
#include <stdexcept>

namespace kt::http {
namespace {

constexpr uint8_t kLiteral = 0;
constexpr uint8_t kParam = 1;
constexpr uint8_t kRest = 2;

// Splits on '/', skipping empty segments. Views point into s.
void SplitPath(std::string_view s, std::vector<std::string_view>& out) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t slash = s.find('/', pos);
    if (slash == std::string_view::npos) slash = s.size();
    if (slash > pos) out.push_back(s.substr(pos, slash - pos));
    pos = slash + 1;
  }
}

std::string DecodeSegment(std::string_view s) {
  return s.find('%') == std::string_view::npos ? std::string(s) : UrlDecode(s, false);
}

bool SegmentEquals(std::string_view literal, std::string_view raw) {
  if (raw.find('%') == std::string_view::npos) return literal == raw;
  return literal == UrlDecode(raw, false);
}

// True when route matches the path segments (ignoring the method).
bool Matches(const Route& route, const std::vector<std::string_view>& segments) {
  const size_t n = route.kinds.size();
  bool rest = n > 0 && route.kinds.back() == kRest;
  size_t fixed = rest ? n - 1 : n;
  if (rest ? segments.size() < fixed : segments.size() != fixed) return false;
  for (size_t i = 0; i < fixed; ++i) {
    if (route.kinds[i] == kLiteral && !SegmentEquals(route.segments[i], segments[i])) return false;
  }
  return true;
}

void Capture(const Route& route, const std::vector<std::string_view>& segments,
             std::map<std::string, std::string>& params) {
  for (size_t i = 0; i < route.kinds.size(); ++i) {
    if (route.kinds[i] == kParam) {
      const std::string& seg = route.segments[i];
      params.emplace(seg.substr(1, seg.size() - 2), DecodeSegment(segments[i]));
    } else if (route.kinds[i] == kRest) {
      std::string rest;
      for (size_t j = i; j < segments.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest += DecodeSegment(segments[j]);
      }
      params.emplace("*", std::move(rest));
    }
  }
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  Route route;
  std::vector<std::string_view> parts;
  SplitPath(pattern, parts);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    if (part == "*") {
      if (i + 1 != parts.size()) throw std::invalid_argument("'*' must be the last segment: " + pattern);
      route.kinds.push_back(kRest);
    } else if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      route.kinds.push_back(kParam);
    } else {
      route.kinds.push_back(kLiteral);
    }
    route.segments.emplace_back(part);
  }
  for (const Route& existing : routes_) {
    if (existing.method == method && existing.kinds == route.kinds) {
      bool same = true;
      for (size_t i = 0; i < route.kinds.size() && same; ++i) {
        same = route.kinds[i] != kLiteral || route.segments[i] == existing.segments[i];
      }
      if (same) throw std::invalid_argument("duplicate route: " + method + " " + pattern);
    }
  }
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  route.options = std::move(options);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  thread_local std::vector<std::string_view> segments;
  segments.clear();
  SplitPath(path, segments);

  const Route* best = nullptr;
  const Route* best_get = nullptr;  // for HEAD without its own route
  bool any_path_match = false;
  for (const Route& route : routes_) {
    if (!Matches(route, segments)) continue;
    any_path_match = true;
    if (route.method == method) {
      if (!best || route.kinds < best->kinds) best = &route;
    } else if (method == "HEAD" && route.method == "GET") {
      if (!best_get || route.kinds < best_get->kinds) best_get = &route;
    }
  }
  if (!best) best = best_get;

  Match match;
  if (best) {
    match.route = best;
    Capture(*best, segments, match.params);
  } else if (any_path_match) {
    match.path_matched_other_method = true;
    for (const Route& route : routes_) {
      if (Matches(route, segments) && std::find(match.allowed_methods.begin(), match.allowed_methods.end(),
                                                route.method) == match.allowed_methods.end()) {
        match.allowed_methods.push_back(route.method);
      }
    }
  }
  return match;
}

}  // namespace kt::http
