// The Procore emulator's control API (/_emulator/..., docs/emulator.md) as the tests and tools call it.
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace kt::testing {

class EmulatorControl {
 public:
  // url: the emulator's base URL, "http://HOST:PORT".
  explicit EmulatorControl(std::string url) : url_(std::move(url)) {}

  // METHOD url+path, with body sent as JSON unless it is null; returns the answer's JSON (an empty object
  // when the answer has no body). Throws std::runtime_error naming the call, the status and the answer (or
  // the transport's error) when the answer is not 2xx or not JSON: a control call that fails leaves the
  // emulator in a state the caller did not ask for.
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) const;

 private:
  std::string url_;
};

}  // namespace kt::testing
