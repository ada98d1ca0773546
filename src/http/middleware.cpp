// The standard middleware.
#include "http/middleware.h"

#include <chrono>
#include <cstdio>
#include <shared_mutex>
#include <unordered_map>

namespace kt::http {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  if (start == std::chrono::steady_clock::time_point()) return 0.0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Appends s as a JSON string literal. Bytes outside ASCII go through nlohmann, which replaces invalid UTF-8.
void AppendJsonString(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {
      out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

Middleware AccessLog(obs::Logger& logger) {
  return [&logger](Request& req, const Next& next) {
    Response res = next(req);
    const bool quiet = res.status < 400 && req.matched_route && req.matched_route->options.quiet_successes;
    obs::Level level = res.status >= 500 ? obs::Level::kWarn : quiet ? obs::Level::kDebug : obs::Level::kInfo;
    if (!logger.Enabled(level)) return res;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    // Built by hand into a reused buffer: this runs for every request. The fields are ours, so no redaction.
    thread_local std::string line;
    line.clear();
    line += "{\"ts\":\"";
    line += FormatIso8601(now_ms, true);
    line += "\",\"level\":\"";
    line += obs::LevelName(level);
    line += "\",\"event\":\"http_request\",\"request_id\":";
    AppendJsonString(line, req.request_id);
    line += ",\"method\":";
    AppendJsonString(line, req.method);
    line += ",\"route\":";
    AppendJsonString(line, req.route);
    line += ",\"path\":";
    AppendJsonString(line, req.path);
    line += ",\"status\":";
    line += std::to_string(res.status);
    line += ",\"bytes\":";
    line += std::to_string(res.body.size());
    char duration[32];
    snprintf(duration, sizeof duration, "%.3f", SecondsSince(req.received_at) * 1000.0);
    line += ",\"duration_ms\":";
    line += duration;
    line += ",\"remote\":";
    AppendJsonString(line, req.remote_addr);
    line += '}';
    logger.WriteRaw(level, line);
    return res;
  };
}

Middleware Metrics(obs::Metrics& metrics) {
  // Created up front so both families render (with HELP) even before the first request.
  metrics.Counter("http_requests_total", {}, "HTTP requests answered, by route pattern, method and status");
  metrics.Histogram(
      "http_request_duration_seconds", {}, obs::Metrics::LatencyBuckets(),
      "HTTP request latency from the first byte read to the answer, by route pattern and method");
  // The series for each (route, method, status), looked up without building label maps on every request.
  struct Series {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
  };
  struct Cache {
    std::shared_mutex mu;
    std::unordered_map<std::string, Series> series;
  };
  auto cache = std::make_shared<Cache>();
  return [&metrics, cache](Request& req, const Next& next) {
    Response res = next(req);
    static const std::string kUnmatched = "unmatched";
    const std::string& route = req.route.empty() ? kUnmatched : req.route;
    thread_local std::string key;
    key.clear();
    key += route;
    key += '\n';
    key += req.method;
    key += '\n';
    key += std::to_string(res.status);
    Series series{};
    {
      std::shared_lock lock(cache->mu);
      auto it = cache->series.find(key);
      if (it != cache->series.end()) series = it->second;
    }
    if (!series.requests) {
      series.requests = &metrics.Counter(
          "http_requests_total",
          {{"route", route}, {"method", req.method}, {"status", std::to_string(res.status)}});
      series.duration =
          &metrics.Histogram("http_request_duration_seconds", {{"route", route}, {"method", req.method}});
      std::unique_lock lock(cache->mu);
      cache->series.emplace(key, series);
    }
    series.requests->Increment();
    series.duration->Observe(SecondsSince(req.received_at));
    return res;
  };
}

Middleware SecurityHeaders() {
  return [](Request& req, const Next& next) {
    Response res = next(req);
    if (!res.headers.Has("X-Content-Type-Options")) res.headers.Add("X-Content-Type-Options", "nosniff");
    if (!res.headers.Has("X-Frame-Options")) res.headers.Add("X-Frame-Options", "DENY");
    if (!res.headers.Has("Referrer-Policy")) res.headers.Add("Referrer-Policy", "same-origin");
    if (IStartsWith(res.headers.View("Content-Type"), "text/html") &&
        !res.headers.Has("Content-Security-Policy"))
      res.headers.Add("Content-Security-Policy", std::string(kDefaultContentSecurityPolicy));
    return res;
  };
}

Middleware CatchAll(obs::Logger& logger) {
  return [&logger](Request& req, const Next& next) {
    std::string what;
    try {
      return next(req);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    logger.Log(obs::Level::kError, "http_handler_exception",
               {{"request_id", req.request_id},
                {"method", req.method},
                {"route", req.route},
                {"path", req.path},
                {"what", what}});
    return Response::Json(
        500, {{"error",
               {{"code", "internal_error"},
                {"message", "the server failed to answer this request (request id " + req.request_id + ")"},
                {"fix", "try again; if it keeps failing, report the request id"}}}});
  };
}

Handler MetricsHandler(obs::Metrics& metrics) {
  return [&metrics](Request&) {
    return Response::Text(200, metrics.RenderText(), std::string(obs::Metrics::kContentType));
  };
}

}  // namespace kt::http
