// The standard middleware.
#include "http/middleware.h"

#include <chrono>

namespace kt::http {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  if (start == std::chrono::steady_clock::time_point()) return 0.0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Middleware AccessLog(obs::Logger& logger) {
  return [&logger](Request& req, const Next& next) {
    Response res = next(req);
    obs::Level level = res.status >= 500 ? obs::Level::kWarn : obs::Level::kInfo;
    if (!logger.Enabled(level)) return res;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    double duration_ms = SecondsSince(req.received_at) * 1000.0;
    // Fields we build ourselves hold no secrets, so the line skips the redaction pass.
    nlohmann::json line = {
        {"ts", FormatIso8601(now_ms, true)},
        {"level", obs::LevelName(level)},
        {"event", "http_request"},
        {"request_id", req.request_id},
        {"method", req.method},
        {"route", req.route},
        {"path", req.path},
        {"status", res.status},
        {"bytes", res.body.size()},
        {"duration_ms", static_cast<double>(static_cast<int64_t>(duration_ms * 1000.0)) / 1000.0},
        {"remote", req.remote_addr},
    };
    logger.WriteLine(level, line);
    return res;
  };
}

Middleware Metrics(obs::Metrics& metrics) {
  // Created up front so both families render (with HELP) even before the first request.
  metrics.Counter("http_requests_total", {}, "HTTP requests answered, by route pattern, method and status");
  metrics.Histogram("http_request_duration_seconds", {}, obs::Metrics::LatencyBuckets(),
                    "HTTP request latency from the first byte read to the answer, by route pattern and method");
  return [&metrics](Request& req, const Next& next) {
    Response res = next(req);
    static const std::string kUnmatched = "unmatched";
    const std::string& route = req.route.empty() ? kUnmatched : req.route;
    metrics.Counter("http_requests_total", {{"route", route}, {"method", req.method}, {"status", std::to_string(res.status)}})
        .Increment();
    metrics.Histogram("http_request_duration_seconds", {{"route", route}, {"method", req.method}})
        .Observe(SecondsSince(req.received_at));
    return res;
  };
}

Middleware SecurityHeaders() {
  return [](Request& req, const Next& next) {
    Response res = next(req);
    if (!res.headers.Get("X-Content-Type-Options")) res.headers.Add("X-Content-Type-Options", "nosniff");
    if (!res.headers.Get("X-Frame-Options")) res.headers.Add("X-Frame-Options", "DENY");
    if (!res.headers.Get("Referrer-Policy")) res.headers.Add("Referrer-Policy", "same-origin");
    auto type = res.headers.Get("Content-Type");
    if (type && StartsWith(ToLower(*type), "text/html") && !res.headers.Get("Content-Security-Policy")) {
      res.headers.Add("Content-Security-Policy", std::string(kDefaultContentSecurityPolicy));
    }
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
               {{"request_id", req.request_id}, {"method", req.method}, {"route", req.route}, {"path", req.path},
                {"what", what}});
    return Response::Json(500, {{"error",
                                 {{"code", "internal_error"},
                                  {"message", "the server failed to answer this request (request id " +
                                                  req.request_id + ")"},
                                  {"fix", "try again; if it keeps failing, report the request id"}}}});
  };
}

Handler MetricsHandler(obs::Metrics& metrics) {
  return [&metrics](Request&) {
    return Response::Text(200, metrics.RenderText(), std::string(obs::Metrics::kContentType));
  };
}

}  // namespace kt::http
