// The JSON-lines logger and secret redaction.
#include "obs/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ostream>
#include <thread>

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "util/strings.h"
#include "util/thread_name.h"

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

std::shared_ptr<spdlog::logger> MakeSink(std::string name, spdlog::sink_ptr sink,
                                         spdlog::level::level_enum flush_on = spdlog::level::trace) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);  // Logger filters; spdlog writes what it is given
  logger->flush_on(flush_on);
  return logger;
}

// Standard error in batches: lines gather in a buffer written by one write(2) when a warning or error
// arrives, when the buffer is large, or a few milliseconds after its first line (a flusher thread), so a busy
// server's access log costs a copy per request rather than a system call. Info lines reach the file at most
// kFlushDelay late (lost if the process is killed in that window); warnings and errors are written at once.
class BatchingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BatchingStderrSink()
      : flusher_([this] {
          SetThreadName("kt-log-flush");
          RunFlusher();
        }) {}
  ~BatchingStderrSink() override {
    {
      std::lock_guard lock(flusher_mu_);
      stopping_ = true;
    }
    flusher_cv_.notify_all();
    flusher_.join();
    flush();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const bool was_empty = buffer_.empty();
    buffer_.append(msg.payload.data(), msg.payload.size());
    buffer_ += '\n';
    if (msg.level >= spdlog::level::warn || buffer_.size() >= kMaxBuffered) {
      flush_();
    } else if (was_empty) {
      {
        std::lock_guard lock(flusher_mu_);
        pending_ = true;
      }
      flusher_cv_.notify_one();
    }
  }

  void flush_() override {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(STDERR_FILENO, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: drop the batch rather than spin
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
  }

 private:
  static constexpr size_t kMaxBuffered = 32 << 10;
  static constexpr auto kFlushDelay = std::chrono::milliseconds(5);

  void RunFlusher() {
    std::unique_lock lock(flusher_mu_);
    for (;;) {
      flusher_cv_.wait(lock, [this] { return stopping_ || pending_; });
      if (stopping_) return;
      flusher_cv_.wait_for(lock, kFlushDelay, [this] { return stopping_; });
      pending_ = false;
      lock.unlock();
      flush();  // takes the sink's mutex
      lock.lock();
    }
  }

  std::string buffer_;  // guarded by the sink's mutex
  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool pending_ = false;   // guarded by flusher_mu_
  bool stopping_ = false;  // guarded by flusher_mu_
  std::thread flusher_;
};

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
  return std::make_shared<Logger>(
      MakeSink("ktrack", std::make_shared<BatchingStderrSink>(), spdlog::level::warn), level);
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
