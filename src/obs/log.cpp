// The JSON-lines logger and secret redaction.
#include "obs/log.h"

#include <chrono>
#include <ostream>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "util/strings.h"

namespace kt::obs {
namespace {

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> MakeSink(std::string name, spdlog::sink_ptr sink) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);  // Logger filters; spdlog writes what it is given
  logger->flush_on(spdlog::level::trace);
  return logger;
}

std::mutex& DefaultMutex() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<Logger>& DefaultSlot() {
  static std::shared_ptr<Logger> logger = Logger::Stderr(Level::kInfo);
  return logger;
}

nlohmann::json Line(Level level, std::string_view event) {
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return nlohmann::json{{"ts", FormatIso8601(now_ms, true)}, {"level", LevelName(level)}, {"event", event}};
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  std::string n = ToLower(Trim(name));
  if (n == "debug" || n == "trace") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "error" || n == "err") return Level::kError;
  return std::nullopt;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<Logger> Logger::Stderr(Level level) {
  return std::make_shared<Logger>(MakeSink("ktrack", std::make_shared<spdlog::sinks::stderr_sink_mt>()),
                                  level);
}

std::shared_ptr<Logger> Logger::ToStream(std::ostream& out, Level level) {
  return std::make_shared<Logger>(
      MakeSink("ktrack-stream", std::make_shared<spdlog::sinks::ostream_sink_mt>(out, /*force_flush=*/true)),
      level);
}

Logger::Logger(std::shared_ptr<spdlog::logger> sink, Level level)
    : sink_(std::move(sink)), level_(static_cast<int>(level)) {}

Logger::~Logger() = default;

void Logger::Log(Level level, std::string_view event, const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  nlohmann::json line = Line(level, event);
  if (fields.is_object()) {
    nlohmann::json redacted = RedactSecrets(fields);
    for (auto it = redacted.begin(); it != redacted.end(); ++it) {
      const std::string& key = it.key();
      if (key != "ts" && key != "level" && key != "event") line[key] = std::move(it.value());
    }
  } else if (!fields.is_null()) {
    line["value"] = RedactSecrets(fields);
  }
  WriteLine(level, line);
}

void Logger::WriteLine(Level level, const nlohmann::json& line) {
  if (!Enabled(level)) return;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  sink_->log(ToSpdlog(level), std::string_view(text));
}

void Logger::WriteRaw(Level level, std::string_view text) {
  if (!Enabled(level)) return;
  sink_->log(ToSpdlog(level), text);
}

Logger& DefaultLogger() {
  // The slot is only replaced at start-up (SetDefaultLogger); the reference stays valid as the old logger is
  // kept alive for the process's lifetime.
  std::lock_guard lock(DefaultMutex());
  return *DefaultSlot();
}

void SetDefaultLogger(std::shared_ptr<Logger> logger) {
  static std::vector<std::shared_ptr<Logger>> retired;  // references handed out earlier stay valid
  std::lock_guard lock(DefaultMutex());
  retired.push_back(DefaultSlot());
  DefaultSlot() = std::move(logger);
}

void Log(Level level, std::string_view event, const nlohmann::json& fields) {
  DefaultLogger().Log(level, event, fields);
}

bool IsSecretKey(std::string_view key) {
  std::string k = ToLower(key);
  for (char& c : k) {
    if (c == '-') c = '_';
  }
  static constexpr std::string_view kExact[] = {
      "secret",       "client_secret", "password",   "passwd",        "token",
      "access_token", "refresh_token", "id_token",   "authorization", "cookie",
      "set_cookie",   "api_key",       "apikey",     "private_key",   "secret_key",
      "credentials",  "session",       "csrf_token", "code_verifier",
  };
  for (std::string_view e : kExact) {
    if (k == e) return true;
  }
  auto ends_with = [&](std::string_view suffix) {
    return k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with("_secret") || ends_with("_token") || ends_with("_password");
}

nlohmann::json RedactSecrets(nlohmann::json value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (IsSecretKey(it.key())) {
        if (!it.value().is_null()) it.value() = "[redacted]";
      } else if (it.value().is_structured()) {
        it.value() = RedactSecrets(std::move(it.value()));
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) {
      if (item.is_structured()) item = RedactSecrets(std::move(item));
    }
  }
  return value;
}

}  // namespace kt::obs
