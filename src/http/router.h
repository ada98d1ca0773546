// Routes requests to handlers by method and path pattern ("/clients/{client_id}/procore").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace kt::http {

using Handler = std::function<Response(Request&)>;
// Middleware wraps the rest of the chain: call next(request) to continue, or answer yourself.
using Next = std::function<Response(Request&)>;
using Middleware = std::function<Response(Request&, const Next&)>;

// Answers a request its route's I/O-thread front took: callable from any thread; the first call counts.
using Responder = std::function<void(Response)>;
// A route's non-blocking front, tried on the I/O thread before the blocking handler. It either takes the
// request (returns true, and answers through the responder now or later, from any thread) or leaves it to the
// handler on the pool (returns false without answering). The middleware sees the answer as the handler's.
using IoFront = std::function<bool(Request&, const Responder&)>;

struct RouteOptions {
  // Handlers run on the bounded blocking pool by default (they may touch the database or Procore).
  // A handler that never blocks (health checks, static files) may run on the I/O thread instead.
  bool on_io_thread = false;
  // Tried on the I/O thread first; the handler runs (on the pool) only for requests it leaves.
  IoFront io_front;
  // Overrides the server's body limit for this route (0: the server's default).
  size_t max_body_bytes = 0;
  // The access log writes this route's successful answers (below 400) at debug level, not info: for routes
  // whose traffic is counted elsewhere and can arrive by the thousand a second (Procore's webhook
  // deliveries). Rejections and failures are logged as on every route.
  bool quiet_successes = false;
};

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
  RouteOptions options;
  std::vector<std::string> segments;  // pattern split on '/'
  // Per segment: 0 literal, 1 {param}, 2 trailing "*"; compared lexicographically, lower is more specific.
  std::vector<uint8_t> kinds;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  void Get(std::string pattern, Handler h, RouteOptions o = {}) {
    Add("GET", std::move(pattern), std::move(h), std::move(o));
  }
  void Post(std::string pattern, Handler h, RouteOptions o = {}) {
    Add("POST", std::move(pattern), std::move(h), std::move(o));
  }
  void Put(std::string pattern, Handler h, RouteOptions o = {}) {
    Add("PUT", std::move(pattern), std::move(h), std::move(o));
  }
  void Patch(std::string pattern, Handler h, RouteOptions o = {}) {
    Add("PATCH", std::move(pattern), std::move(h), std::move(o));
  }
  void Delete(std::string pattern, Handler h, RouteOptions o = {}) {
    Add("DELETE", std::move(pattern), std::move(h), std::move(o));
  }
  // A pattern ending in "/*" matches any rest of the path (stored as path param "*").

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    bool path_matched_other_method = false;    // for 405
    std::vector<std::string> allowed_methods;  // set with path_matched_other_method (the Allow header)
  };
  // path is the request path as sent (percent-encoded, no query); each segment is decoded before it is
  // compared or captured, so "%2F" inside a parameter stays part of that parameter. Exact segments win over
  // {params}, and params over "/*". HEAD falls back to GET routes. Empty segments ("//", a trailing "/") are
  // ignored.
  Match Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace kt::http
