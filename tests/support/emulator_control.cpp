// The emulator's control API over HTTP, failing loudly.
#include "emulator_control.h"

#include <chrono>
#include <stdexcept>

#include "http/client.h"

namespace kt::testing {

nlohmann::json EmulatorControl::Call(const std::string& method, const std::string& path,
                                     const nlohmann::json& body) const {
  http::ClientRequest request;
  request.method = method;
  request.url = url_ + path;
  if (!body.is_null()) {
    request.body = body.dump();
    request.headers.Set("Content-Type", "application/json");
  }
  request.timeout = std::chrono::seconds(60);
  auto response = http::Fetch(request);
  const std::string call = "emulator control call " + method + " " + path;
  if (!response.transport_error.empty())
    throw std::runtime_error(call + " -> no answer: " + response.transport_error);
  if (!response.ok())
    throw std::runtime_error(call + " -> " + std::to_string(response.status) + " " + response.body);
  if (response.body.empty()) return nlohmann::json::object();
  auto answer = nlohmann::json::parse(response.body, nullptr, false);
  if (answer.is_discarded())
    throw std::runtime_error(call + " -> " + std::to_string(response.status) +
                             ": not JSON: " + response.body);
  return answer;
}

}  // namespace kt::testing
