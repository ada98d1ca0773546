// HTTP requests and responses as the rest of the code sees them: plain structs, no Beast types.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/strings.h"

namespace kt::http {

struct Route;

// Header names compare case-insensitively; order is kept.
class Headers {
 public:
  void Add(std::string name, std::string value) {
    // A request carries a handful of headers: room for them at once rather than by doubling from one.
    if (items_.empty()) items_.reserve(kTypicalCount);
    items_.emplace_back(std::move(name), std::move(value));
  }
  void Set(std::string_view name, std::string value);
  std::optional<std::string> Get(std::string_view name) const;
  // The first value of the header without copying it ("" when absent); valid while the headers are.
  std::string_view View(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  void Remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  // The first value of the header, or null.
  const std::string* Find(std::string_view name) const;

  static constexpr size_t kTypicalCount = 8;
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // decoded path without the query
  QueryParams query;
  Headers headers;
  std::string body;
  std::string remote_addr;
  bool secure = false;  // served over TLS (or behind a proxy that said so)

  // Set by the server and router.
  std::string request_id;
  std::string route;  // the matched route pattern, e.g. "/api/v1/clients/{client_id}/procore"
  std::map<std::string, std::string> path_params;
  std::chrono::steady_clock::time_point received_at;
  // The route the server dispatches to (null before routing); its handler ends the middleware chain.
  const Route* matched_route = nullptr;

  std::optional<std::string> Header(std::string_view name) const { return headers.Get(name); }
  std::optional<std::string> Query(std::string_view key) const { return FindParam(query, key); }
  std::string PathParam(const std::string& name) const { return std::string(PathParamView(name)); }
  // The same without a copy; valid while the request is.
  std::string_view PathParamView(const std::string& name) const {
    auto it = path_params.find(name);
    return it == path_params.end() ? std::string_view() : std::string_view(it->second);
  }
  // The cookie's value, if sent.
  std::optional<std::string> Cookie(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response Json(int status, const nlohmann::json& body);
  static Response Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response Html(int status, std::string body);
  static Response Redirect(std::string location, int status = 303);
  // {"error": {"code", "message", "fix"}} with the status of the error's kind. Internal detail is not sent.
  static Response FromError(const Error& error);
};

}  // namespace kt::http
