// The standard middleware: access log, metrics, security headers and the exception catch-all.
//
// Recommended order (outermost first): {AccessLog, Metrics, SecurityHeaders, CatchAll}, so a handler's
// exception becomes a 500 that is still logged, counted and given the security headers.
#pragma once

#include "http/router.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace kt::http {

// One JSON line per request: ts, request_id, method, route (the pattern), path (never the query string: it
// may carry secrets), status, bytes, duration_ms, remote.
Middleware AccessLog(obs::Logger& logger);

// http_requests_total{route,method,status} and http_request_duration_seconds{route,method}. Unrouted
// requests are labelled route="unmatched", so scanners cannot blow up the label space.
Middleware Metrics(obs::Metrics& metrics);

// X-Content-Type-Options, X-Frame-Options, Referrer-Policy; a default Content-Security-Policy on HTML answers
// that set none of their own.
Middleware SecurityHeaders();
inline constexpr std::string_view kDefaultContentSecurityPolicy =
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

// Turns an exception escaping the rest of the chain into a 500 JSON error naming the request id, and logs it.
Middleware CatchAll(obs::Logger& logger);

// A handler serving metrics.RenderText() (mount it as GET /metrics).
Handler MetricsHandler(obs::Metrics& metrics);

}  // namespace kt::http
