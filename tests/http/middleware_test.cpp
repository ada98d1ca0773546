// The standard middleware around a real server: access log lines, metrics, security headers, the catch-all.
#include "http/middleware.h"

#include <sstream>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace kt::http {
namespace {

struct Fixture {
  std::ostringstream log_lines;
  std::shared_ptr<obs::Logger> logger = obs::Logger::ToStream(log_lines, obs::Level::kInfo);
  obs::Metrics metrics;
  std::unique_ptr<Server> server;
  std::string base;

  Fixture() {
    auto router = std::make_shared<Router>();
    router->Post("/webhooks/procore/{integration_key}", [](Request&) {
      return Response::Json(200, {{"ok", true}});
    });
    router->Get("/page", [](Request&) { return Response::Html(200, "<h1>hi</h1>"); });
    router->Get("/boom", [](Request&) -> Response { throw std::runtime_error("database exploded"); });
    router->Get("/metrics", MetricsHandler(metrics), RouteOptions{.on_io_thread = true});
    // Quiet routes answer with the status in their path: one on the pool, one from an I/O-thread front.
    auto status_of = [](Request& r) { return std::stoi(std::string(r.PathParamView("status"))); };
    router->Post(
        "/quiet/{status}",
        [=](Request& r) {
          return Response::Json(status_of(r), {{"ok", true}});
        },
        RouteOptions{.quiet_successes = true});
    router->Post(
        "/quiet-front/{status}",
        [](Request&) {
          return Response::Json(500, {{"ok", false}});
        },
        RouteOptions{.io_front =
                         [=](Request& r, const Responder& respond) {
                           respond(Response::Json(status_of(r), {{"ok", true}}));
                           return true;
                         },
                     .quiet_successes = true});
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    server = std::make_unique<Server>(
        options, router,
        std::vector<Middleware>{AccessLog(*logger), Metrics(metrics), SecurityHeaders(), CatchAll(*logger)});
    base = "http://127.0.0.1:" + std::to_string(server->Start().value());
  }

  ClientResponse Call(std::string method, std::string path, std::string body = {}) {
    ClientRequest req;
    req.method = std::move(method);
    req.url = base + path;
    req.body = std::move(body);
    return Fetch(req);
  }

  std::vector<nlohmann::json> Lines() {
    std::vector<nlohmann::json> out;
    std::istringstream in(log_lines.str());
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

TEST(HttpMiddlewareTest, AccessLogIsOneJsonLineWithoutTheQuery) {
  Fixture f;
  auto r = f.Call("POST", "/webhooks/procore/k1?token=supersecret", "{}");
  ASSERT_EQ(r.status, 200);
  f.server->Stop();
  EXPECT_EQ(f.log_lines.str().find("supersecret"), std::string::npos);
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto& line = lines[0];
  EXPECT_EQ(line["event"], "http_request");
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["route"], "/webhooks/procore/{integration_key}");
  EXPECT_EQ(line["path"], "/webhooks/procore/k1");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["bytes"], r.body.size());
  EXPECT_EQ(line["request_id"], *r.headers.Get("x-request-id"));
  EXPECT_TRUE(line["duration_ms"].is_number());
  EXPECT_TRUE(StartsWith(line["remote"].get<std::string>(), "127.0.0.1:"));
  EXPECT_TRUE(line.contains("ts"));
}

// A quiet route's successes are written at debug level; its rejections and failures as on any route.
TEST(HttpMiddlewareTest, QuietRoutesLogOnlyRejectionsAtInfo) {
  Fixture f;
  for (const char* route : {"/quiet/", "/quiet-front/"}) {
    for (int status : {200, 202, 400, 401, 503})
      ASSERT_EQ(f.Call("POST", route + std::to_string(status), "{}").status, status);
  }
  f.server->Stop();
  std::vector<std::pair<std::string, int>> logged;
  for (const auto& line : f.Lines()) logged.emplace_back(line["path"], line["status"]);
  EXPECT_EQ(logged, (std::vector<std::pair<std::string, int>>{{"/quiet/400", 400},
                                                              {"/quiet/401", 401},
                                                              {"/quiet/503", 503},
                                                              {"/quiet-front/400", 400},
                                                              {"/quiet-front/401", 401},
                                                              {"/quiet-front/503", 503}}));
}

TEST(HttpMiddlewareTest, QuietRoutesSuccessesAreThereAtDebugLevel) {
  Fixture f;
  f.logger->SetLevel(obs::Level::kDebug);
  ASSERT_EQ(f.Call("POST", "/quiet/200", "{}").status, 200);
  ASSERT_EQ(f.Call("POST", "/quiet-front/202", "{}").status, 202);
  f.server->Stop();
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["level"], "debug");
  EXPECT_EQ(lines[0]["path"], "/quiet/200");
  EXPECT_EQ(lines[1]["level"], "debug");
  EXPECT_EQ(lines[1]["path"], "/quiet-front/202");
}

TEST(HttpMiddlewareTest, AccessLogEscapesOddPaths) {
  Fixture f;
  EXPECT_EQ(f.Call("GET", "/x%22y%0Az%5C%C3%A9%FF").status, 404);
  f.server->Stop();
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 1u);
  std::string path = lines[0]["path"];
  EXPECT_TRUE(StartsWith(path, "/x\"y\nz\\\u00e9")) << path;
  EXPECT_EQ(lines[0]["route"], "");
}

TEST(HttpMiddlewareTest, MetricsCountRequestsAndRender) {
  Fixture f;
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(f.Call("POST", "/webhooks/procore/k" + std::to_string(i), "{}").status, 200);
  EXPECT_EQ(f.Call("GET", "/missing/thing").status, 404);
  auto r = f.Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.Get("content-type")->find("text/plain"), std::string::npos);
  const std::string& text = r.body;
  EXPECT_NE(text.find("http_requests_total{method=\"POST\",route=\"/webhooks/procore/{integration_key}\","
                      "status=\"200\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_request_duration_seconds_count{method=\"POST\",route=\"/webhooks/procore/"
                      "{integration_key}\"} 3"),
            std::string::npos)
      << text;
}

TEST(HttpMiddlewareTest, SecurityHeadersAndHtmlPolicy) {
  Fixture f;
  auto page = f.Call("GET", "/page");
  EXPECT_EQ(page.headers.Get("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.headers.Get("x-frame-options"), "DENY");
  EXPECT_EQ(page.headers.Get("referrer-policy"), "same-origin");
  EXPECT_EQ(page.headers.Get("content-security-policy"), std::string(kDefaultContentSecurityPolicy));
  auto json = f.Call("POST", "/webhooks/procore/k", "{}");
  EXPECT_EQ(json.headers.Get("x-frame-options"), "DENY");
  EXPECT_FALSE(json.headers.Get("content-security-policy"));
}

TEST(HttpMiddlewareTest, CatchAllAnswers500AndLogsTheException) {
  Fixture f;
  auto r = f.Call("GET", "/boom");
  EXPECT_EQ(r.status, 500);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "internal_error");
  std::string id = *r.headers.Get("x-request-id");
  EXPECT_NE(body["error"]["message"].get<std::string>().find(id), std::string::npos);
  EXPECT_EQ(r.body.find("database exploded"), std::string::npos);  // internal detail stays in the log
  EXPECT_EQ(r.headers.Get("x-frame-options"), "DENY");
  f.server->Stop();
  bool logged = false, counted = false;
  for (const auto& line : f.Lines()) {
    if (line["event"] == "http_handler_exception" && line["what"] == "database exploded" &&
        line["request_id"] == id)
      logged = true;
    if (line["event"] == "http_request" && line["status"] == 500) counted = true;
  }
  EXPECT_TRUE(logged);
  EXPECT_TRUE(counted);
}

TEST(HttpMiddlewareTest, ServerRejectionsPassThroughMiddleware) {
  Fixture f;
  auto r = f.Call("POST", "/webhooks/procore/k", std::string(2 << 20, 'x'));  // over the 1 MiB default
  EXPECT_EQ(r.status, 413);
  auto metrics = f.Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("status=\"413\"} 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace kt::http
