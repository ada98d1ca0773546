// Structured logs: one JSON object per line ({"ts", "level", "event", ...fields}), written through spdlog.
#pragma once

#include <atomic>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spdlog {
class logger;
}

namespace kt::obs {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" (or "warning"), "error"; case-insensitive.
std::optional<Level> ParseLevel(std::string_view name);
const char* LevelName(Level level);

class Logger {
 public:
  // Lines go to standard error.
  static std::shared_ptr<Logger> Stderr(Level level = Level::kInfo);
  // Lines go to out, which must outlive the logger (tests read them back).
  static std::shared_ptr<Logger> ToStream(std::ostream& out, Level level = Level::kDebug);

  Logger(std::shared_ptr<spdlog::logger> sink, Level level);
  ~Logger();

  void SetLevel(Level level) { level_.store(static_cast<int>(level), std::memory_order_relaxed); }
  Level level() const { return static_cast<Level>(level_.load(std::memory_order_relaxed)); }
  bool Enabled(Level level) const {
    return static_cast<int>(level) >= level_.load(std::memory_order_relaxed);
  }

  // Writes {"ts", "level", "event", ...fields} with secrets in fields masked (see RedactSecrets).
  void Log(Level level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());
  // Writes line as it is, without redaction: for hot paths whose fields are known not to hold secrets.
  void WriteLine(Level level, const nlohmann::json& line);
  // Writes text (one serialized JSON object, no newline) as it is: for the hottest paths, like the access
  // log.
  void WriteRaw(Level level, std::string_view text);

 private:
  std::shared_ptr<spdlog::logger> sink_;
  std::atomic<int> level_;
};

// The process-wide logger: standard error at info until replaced or re-levelled from the configuration.
Logger& DefaultLogger();
void SetDefaultLogger(std::shared_ptr<Logger> logger);

// Logs to the process-wide logger.
void Log(Level level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());

// True for keys whose values must never reach a log: client_secret, secret, password, token, access_token,
// refresh_token, authorization, cookie, set-cookie, api_key, ... (case-insensitive, "-" as "_"; also
// "*_secret",
// "*_token", "*_password").
bool IsSecretKey(std::string_view key);
// A copy of value with the values of secret keys replaced by "[redacted]", at any depth.
nlohmann::json RedactSecrets(nlohmann::json value);

}  // namespace kt::obs
