// Headers, cookies and the response constructors every handler uses.
#include "http/message.h"

#include <algorithm>

namespace kt::http {

void Headers::Set(std::string_view name, std::string value) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (IEquals(it->first, name)) {
      it->second = std::move(value);
      // Drop any later duplicates so Set means "exactly one".
      items_.erase(
          std::remove_if(it + 1, items_.end(), [&](const auto& kv) { return IEquals(kv.first, name); }),
          items_.end());
      return;
    }
  }
  items_.emplace_back(std::string(name), std::move(value));
}

const std::string* Headers::Find(std::string_view name) const {
  for (const auto& [key, value] : items_) {
    if (IEquals(key, name)) return &value;
  }
  return nullptr;
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  const std::string* value = Find(name);
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

std::string_view Headers::View(std::string_view name) const {
  const std::string* value = Find(name);
  return value ? std::string_view(*value) : std::string_view();
}

void Headers::Remove(std::string_view name) {
  items_.erase(
      std::remove_if(items_.begin(), items_.end(), [&](const auto& kv) { return IEquals(kv.first, name); }),
      items_.end());
}

std::optional<std::string> Request::Cookie(std::string_view name) const {
  for (const auto& [key, value] : headers.items()) {
    if (!IEquals(key, "cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = Trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (Trim(pair.substr(0, eq)) != name) continue;
      std::string_view v = Trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
  }
  return std::nullopt;
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers.Add("Content-Type", "application/json");
  // Replace invalid UTF-8 rather than throwing: a handler's answer should not turn into a 500 over one byte.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.Add("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::Html(int status, std::string body) {
  return Text(status, std::move(body), "text/html; charset=utf-8");
}

Response Response::Redirect(std::string location, int status) {
  Response r;
  r.status = status;
  r.headers.Add("Location", std::move(location));
  return r;
}

Response Response::FromError(const Error& error) {
  nlohmann::json body = {
      {"error",
       {{"code", error.code.empty() ? std::string(DefaultCodeFor(error.kind)) : error.code},
        {"message", error.message},
        {"fix", error.fix}}}};
  return Json(HttpStatusFor(error.kind), body);
}

}  // namespace kt::http
