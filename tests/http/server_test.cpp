// The server end to end on loopback port 0, driven by Fetch and by raw sockets.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "http/client.h"
#include "util/thread_name.h"

namespace kt::http {
namespace {

using namespace std::chrono_literals;

class TestServer {
 public:
  explicit TestServer(std::shared_ptr<Router> router, ServerOptions options = {},
                      std::vector<Middleware> middleware = {}) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<Server>(options, std::move(router), std::move(middleware));
    auto port = server_->Start();
    if (!port) throw std::runtime_error(port.error().message);
    base_ = "http://127.0.0.1:" + std::to_string(*port);
  }
  Server& server() { return *server_; }
  std::string Url(const std::string& path) const { return base_ + path; }
  uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<Server> server_;
  std::string base_;
};

ClientResponse Get(const std::string& url, Headers headers = {}) {
  ClientRequest req;
  req.url = url;
  req.headers = std::move(headers);
  return Fetch(req);
}

// Sends raw bytes on a fresh connection and returns everything read until the server closes or timeout.
std::string RawExchange(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout = 3000ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

std::shared_ptr<Router> BasicRouter() {
  auto router = std::make_shared<Router>();
  router->Get("/hello", [](Request&) { return Response::Text(200, "hello"); });
  router->Get("/clients/{client_id}/things/{thing_id}", [](Request& r) {
    return Response::Json(200, {{"client", r.PathParam("client_id")},
                                {"thing", r.PathParam("thing_id")},
                                {"q", r.Query("q").value_or("")},
                                {"route", r.route}});
  });
  router->Post("/echo", [](Request& r) { return Response::Text(200, r.body); });
  router->Get("/id", [](Request& r) { return Response::Text(200, r.request_id); });
  return router;
}

TEST(HttpServerTest, RoutesWithParamsQueryAnd404And405) {
  TestServer ts(BasicRouter());
  auto r = Get(ts.Url("/clients/c%201/things/9?q=a%26b"));
  ASSERT_EQ(r.status, 200) << r.transport_error;
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["client"], "c 1");
  EXPECT_EQ(body["thing"], "9");
  EXPECT_EQ(body["q"], "a&b");
  EXPECT_EQ(body["route"], "/clients/{client_id}/things/{thing_id}");

  r = Get(ts.Url("/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "not_found");

  ClientRequest del;
  del.method = "DELETE";
  del.url = ts.Url("/hello");
  r = Fetch(del);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("allow"), "GET");
}

TEST(HttpServerTest, PostBodyRoundTrips) {
  TestServer ts(BasicRouter());
  ClientRequest req;
  req.method = "POST";
  req.url = ts.Url("/echo");
  req.body = std::string(200000, 'x');
  auto r = Fetch(req);
  ASSERT_EQ(r.status, 200) << r.transport_error;
  EXPECT_EQ(r.body, req.body);
}

TEST(HttpServerTest, ContentLengthOverLimitIs413BeforeTheBodyIsRead) {
  auto router = BasicRouter();
  std::atomic<int> handled{0};
  router->Post(
      "/small",
      [&](Request&) {
        ++handled;
        return Response::Text(200, "ok");
      },
      RouteOptions{.max_body_bytes = 1024});
  TestServer ts(router);

  // Only the headers are sent: the answer must come without waiting for the 10 MB body.
  std::string raw =
      RawExchange(ts.port(), "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 413"), std::string::npos) << raw;
  EXPECT_NE(raw.find("1024"), std::string::npos) << raw;

  // Through a real client that does send the body.
  ClientRequest req;
  req.method = "POST";
  req.url = ts.Url("/small");
  req.body = std::string(300000, 'y');
  auto r = Fetch(req);
  EXPECT_EQ(r.status, 413) << r.transport_error;
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "payload_too_large");

  // Under the route limit is fine; the server's default limit applies elsewhere.
  req.body = std::string(1000, 'y');
  EXPECT_EQ(Fetch(req).status, 200);
  EXPECT_EQ(handled.load(), 1);
}

TEST(HttpServerTest, ChunkedBodyOverLimitIs413) {
  ServerOptions options;
  options.max_body_bytes = 16;
  TestServer ts(BasicRouter(), options);
  std::string raw = RawExchange(ts.port(),
                                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 413"), std::string::npos) << raw;
}

TEST(HttpServerTest, KeepAliveServesManySequentialRequests) {
  std::atomic<int> connections{0};
  auto router = BasicRouter();
  router->Get("/remote", [](Request& r) { return Response::Text(200, r.remote_addr); });
  TestServer ts(router);
  std::set<std::string> remotes;
  for (int i = 0; i < 200; ++i) {
    auto r = Get(ts.Url("/remote"));
    ASSERT_EQ(r.status, 200) << r.transport_error;
    remotes.insert(r.body);
  }
  // One client port for all 200: the connection was reused.
  EXPECT_EQ(remotes.size(), 1u);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestServer ts(BasicRouter());
  std::string raw = RawExchange(ts.port(),
                                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nworld"
                                "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t a = raw.find("hello");
  size_t b = raw.find("world");
  size_t c = raw.find("hello", b == std::string::npos ? 0 : b);
  EXPECT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos && a < b && b < c)
      << raw;
}

TEST(HttpServerTest, SlowHandlerDoesNotBlockFastOne) {
  auto router = BasicRouter();
  std::promise<void> release;
  auto released = release.get_future().share();
  router->Get("/slow", [released](Request&) {
    released.wait_for(5s);
    return Response::Text(200, "slow");
  });
  ServerOptions options;
  options.io_threads = 1;
  options.worker_threads = 2;
  TestServer ts(router, options);
  auto slow = std::async(std::launch::async, [&] { return Get(ts.Url("/slow")); });
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  auto fast = Get(ts.Url("/hello"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(fast.status, 200);
  EXPECT_LT(took, 1s);
  release.set_value();
  EXPECT_EQ(slow.get().status, 200);
}

TEST(HttpServerTest, RequestIdIsReusedWhenSaneAndGeneratedOtherwise) {
  TestServer ts(BasicRouter());
  Headers h;
  h.Add("X-Request-Id", "abc-123_DEF");
  auto r = Get(ts.Url("/id"), h);
  EXPECT_EQ(r.body, "abc-123_DEF");
  EXPECT_EQ(r.headers.Get("x-request-id"), "abc-123_DEF");

  Headers bad;
  bad.Add("X-Request-Id", "no spaces<allowed>");
  r = Get(ts.Url("/id"), bad);
  ASSERT_TRUE(r.headers.Get("x-request-id"));
  EXPECT_NE(*r.headers.Get("x-request-id"), "no spaces<allowed>");
  EXPECT_EQ(*r.headers.Get("x-request-id"), r.body);
  auto r2 = Get(ts.Url("/id"));
  EXPECT_NE(r2.body, r.body);
  EXPECT_FALSE(r2.body.empty());
}

TEST(HttpServerTest, AnswersBusyWhenTheQueueIsFull) {
  auto router = BasicRouter();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> started{0};
  router->Get("/block", [&, released](Request&) {
    ++started;
    released.wait_for(5s);
    return Response::Text(200, "done");
  });
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  TestServer ts(router, options);
  // One running, one queued; the third finds the queue full.
  auto first = std::async(std::launch::async, [&] { return Get(ts.Url("/block")); });
  while (started.load() == 0) std::this_thread::sleep_for(1ms);
  auto second = std::async(std::launch::async, [&] { return Get(ts.Url("/block")); });
  std::this_thread::sleep_for(100ms);
  auto third = Get(ts.Url("/block"));
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(nlohmann::json::parse(third.body)["error"]["code"], "server_busy");
  release.set_value();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST(HttpServerTest, HandlerTimeoutAnswers503) {
  auto router = BasicRouter();
  router->Get("/stuck", [](Request&) {
    std::this_thread::sleep_for(500ms);
    return Response::Text(200, "late");
  });
  ServerOptions options;
  options.handler_timeout = 100ms;
  TestServer ts(router, options);
  auto r = Get(ts.Url("/stuck"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "handler_timeout");
}

TEST(HttpServerTest, ReadTimeoutAnswers408) {
  ServerOptions options;
  options.read_timeout = 200ms;
  TestServer ts(BasicRouter(), options);
  auto start = std::chrono::steady_clock::now();
  std::string raw = RawExchange(ts.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n");  // headers never end
  EXPECT_NE(raw.find("HTTP/1.1 408"), std::string::npos) << raw;
  EXPECT_NE(raw.find("send the whole request within 200 ms"), std::string::npos) << raw;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(HttpServerTest, IdleConnectionsAreClosed) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  TestServer ts(BasicRouter(), options);
  auto start = std::chrono::steady_clock::now();
  std::string raw = RawExchange(ts.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms);
  EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // closed by the server, not by our 5 s wait
}

TEST(HttpServerTest, Http10KeepAliveIsAcknowledged) {
  TestServer ts(BasicRouter());
  std::string raw = RawExchange(ts.port(),
                                "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                "GET /hello HTTP/1.0\r\n\r\n");
  size_t first = raw.find("Connection: keep-alive");
  EXPECT_NE(first, std::string::npos) << raw;
  EXPECT_NE(raw.find("Connection: close", first), std::string::npos) << raw;
}

// HTTP/1.1 servers must accept a target in absolute form; it routes as its path and query.
TEST(HttpServerTest, AbsoluteFormTargetsRouteByTheirPath) {
  TestServer ts(BasicRouter());
  std::string raw = RawExchange(ts.port(),
                                "GET http://127.0.0.1/clients/7/things/9?q=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Connection: close\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\"client\":\"7\""), std::string::npos) << raw;
  EXPECT_NE(raw.find("\"q\":\"x\""), std::string::npos) << raw;
  raw =
      RawExchange(ts.port(), "GET HTTPS://example.test?q=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 404"), std::string::npos) << "an empty path is /, which has no route: " << raw;
  raw = RawExchange(ts.port(), "GET http://h/hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
}

// A connection whose handler was still running when the server stopped is closed once the server is gone: its
// session used to keep it (and its socket) alive, each holding the other.
TEST(HttpServerTest, AConnectionWaitingOnAHandlerIsClosedWhenTheServerGoes) {
  auto router = BasicRouter();
  std::atomic<bool> started{false};
  router->Get("/slow", [&started](Request&) {
    started = true;
    std::this_thread::sleep_for(300ms);
    return Response::Text(200, "late");
  });
  auto ts = std::make_unique<TestServer>(router);
  const uint16_t port = ts->port();
  auto raw = std::async(std::launch::async, [port] {
    return RawExchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms);
  });
  while (!started) std::this_thread::sleep_for(5ms);
  const auto stopped_at = std::chrono::steady_clock::now();
  ts.reset();  // stops without a grace period: the handler is still sleeping
  ASSERT_EQ(raw.wait_for(3s), std::future_status::ready)
      << "the connection stayed open after the server went";
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 3s);
  EXPECT_EQ(raw.get().find("late"), std::string::npos) << "no answer is sent after the stop";
}

TEST(HttpServerTest, HeadersOverLimitAnswer431) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  TestServer ts(BasicRouter(), options);
  std::string raw = RawExchange(
      ts.port(), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 431"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\"fix\":\"shorten the URL or leave out large headers, to 1024 bytes in all\""),
            std::string::npos)
      << raw;
}

TEST(HttpServerTest, AUrlOverTheLimitAnswers414) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  TestServer ts(BasicRouter(), options);
  std::string raw =
      RawExchange(ts.port(), "GET /hello?q=" + std::string(4000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 414"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\"fix\":\"shorten the URL (its path and query) to under 1024 bytes\""),
            std::string::npos)
      << raw;
}

// A request the parser refuses says what was wrong with it and how a well-formed one looks.
TEST(HttpServerTest, MalformedRequestsAnswer400WithWhatIsWrong) {
  TestServer ts(BasicRouter());
  for (const auto& [request, what] : std::vector<std::pair<std::string, std::string>>{
           {"GET /hello HTTP/9.9\r\nHost: x\r\n\r\n", "(bad version)"},
           {"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "(multiple Content-Length)"},
           {"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "(bad Content-Length)"},
           {"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
            "(bad chunk)"}}) {
    std::string raw = RawExchange(ts.port(), request);
    EXPECT_NE(raw.find("HTTP/1.1 400"), std::string::npos) << request << "\n" << raw;
    EXPECT_NE(raw.find(what), std::string::npos) << request << "\n" << raw;
    EXPECT_NE(raw.find("\"fix\":\"send one well-formed HTTP/1.1 request"), std::string::npos) << raw;
  }
}

TEST(HttpServerTest, StopDrainsAnInFlightRequest) {
  auto router = BasicRouter();
  std::atomic<bool> started{false};
  router->Get("/work", [&](Request&) {
    started = true;
    std::this_thread::sleep_for(300ms);
    return Response::Text(200, "finished");
  });
  TestServer ts(router);
  auto in_flight = std::async(std::launch::async, [&] { return Get(ts.Url("/work")); });
  while (!started) std::this_thread::sleep_for(1ms);
  ts.server().Stop(5s);
  auto r = in_flight.get();
  EXPECT_EQ(r.status, 200) << r.transport_error;
  EXPECT_EQ(r.body, "finished");
  // Nothing listens any more.
  auto after = Get(ts.Url("/hello"));
  EXPECT_EQ(after.status, 0);
}

TEST(HttpServerTest, HandlerExceptionBecomes500WithRequestId) {
  auto router = BasicRouter();
  router->Get("/boom", [](Request&) -> Response { throw std::runtime_error("bug"); });
  TestServer ts(router);
  auto r = Get(ts.Url("/boom"));
  EXPECT_EQ(r.status, 500);
  ASSERT_TRUE(r.headers.Get("x-request-id"));
  EXPECT_NE(r.body.find(*r.headers.Get("x-request-id")), std::string::npos);
  EXPECT_EQ(Get(ts.Url("/hello")).status, 200);
}

TEST(HttpServerTest, IoThreadRoutesAndHead) {
  auto router = std::make_shared<Router>();
  router->Get(
      "/healthz", [](Request&) { return Response::Text(200, "ok"); }, RouteOptions{.on_io_thread = true});
  TestServer ts(router);
  EXPECT_EQ(Get(ts.Url("/healthz")).body, "ok");
  ClientRequest head;
  head.method = "HEAD";
  head.url = ts.Url("/healthz");
  auto r = Fetch(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("content-length"), "2");
  EXPECT_TRUE(r.body.empty());
}

TEST(HttpServerTest, AnIoThreadFrontAnswersLaterOrLeavesTheRequestToTheHandler) {
  // The front takes "/work/later" (answered from another thread), "/work/now" (answered before it returns)
  // and "/work/boom" (it throws); everything else goes to the handler on the pool.
  std::vector<std::thread> answerers;
  std::mutex answerers_mu;
  std::atomic<int> handler_runs{0};
  RouteOptions options;
  options.io_front = [&](Request& req, const Responder& respond) {
    const std::string what = req.PathParam("what");
    if (what == "later") {
      std::lock_guard lock(answerers_mu);
      answerers.emplace_back([respond] {
        std::this_thread::sleep_for(20ms);
        respond(Response::Text(202, "from the front, later"));
        respond(Response::Text(500, "a second answer is ignored"));
      });
      return true;
    }
    if (what == "now") {
      respond(Response::Text(201, "from the front"));
      return true;
    }
    if (what == "boom") throw std::runtime_error("front bug");
    return false;
  };
  auto router = std::make_shared<Router>();
  router->Get(
      "/work/{what}",
      [&](Request&) {
        ++handler_runs;
        return Response::Text(200, "from the handler");
      },
      options);
  // The middleware sees the front's answers as the handler's.
  std::atomic<int> seen{0};
  std::vector<Middleware> middleware{[&](Request& req, const Next& next) {
    Response r = next(req);
    ++seen;
    r.headers.Set("X-Seen", std::to_string(r.status));
    return r;
  }};
  {
    TestServer ts(router, {}, middleware);
    auto later = Get(ts.Url("/work/later"));
    EXPECT_EQ(later.status, 202);
    EXPECT_EQ(later.body, "from the front, later");
    EXPECT_EQ(later.headers.Get("x-seen"), "202");
    auto now = Get(ts.Url("/work/now"));
    EXPECT_EQ(now.status, 201);
    EXPECT_EQ(now.headers.Get("x-seen"), "201");
    auto boom = Get(ts.Url("/work/boom"));
    EXPECT_EQ(boom.status, 500);
    ASSERT_TRUE(boom.headers.Get("x-request-id"));
    EXPECT_NE(boom.body.find(*boom.headers.Get("x-request-id")), std::string::npos);
    EXPECT_EQ(handler_runs, 0);
    auto left = Get(ts.Url("/work/other"));
    EXPECT_EQ(left.status, 200);
    EXPECT_EQ(left.body, "from the handler");
    EXPECT_EQ(left.headers.Get("x-seen"), "200");
    EXPECT_EQ(handler_runs, 1);
    EXPECT_EQ(seen, 4);
  }
  for (auto& t : answerers) t.join();
}

TEST(HttpServerTest, AFrontThatNeverAnswersTimesOut) {
  Responder kept;
  RouteOptions options;
  options.io_front = [&](Request&, const Responder& respond) {
    kept = respond;  // never called before the timeout
    return true;
  };
  auto router = std::make_shared<Router>();
  router->Get(
      "/silent", [](Request&) { return Response::Text(200, "handler"); }, options);
  ServerOptions server_options;
  server_options.handler_timeout = 100ms;
  TestServer ts(router, server_options);
  auto r = Get(ts.Url("/silent"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "handler_timeout");
  kept(Response::Text(200, "too late"));  // harmless after the timeout
  EXPECT_EQ(Get(ts.Url("/silent")).status, 503);
  ts.server().Stop();
  kept(Response::Text(200, "later still"));  // and after the server stopped
  kept = nullptr;
}

// A persistent connection of the test: a request written, its answer's body read back (Content-Length).
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool Send(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    return connected_ &&
           send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  }
  // The body of the next answer; "" when none came.
  std::string ReadBody() {
    char buf[4096];
    for (;;) {
      const size_t head_end = in_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t at = in_.find("Content-Length: ");
        const size_t length = at < head_end ? std::stoul(in_.substr(at + 16)) : 0;
        if (in_.size() >= head_end + 4 + length) {
          std::string body = in_.substr(head_end + 4, length);
          in_.erase(0, head_end + 4 + length);
          return body;
        }
      }
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string in_;
};

// A front can gather the requests an I/O thread took together: AfterReadyRequests runs its function once the
// thread has handled every request that became ready with the current one. Off an I/O thread it declines.
TEST(HttpServerTest, AfterReadyRequestsRunsOnceTheRequestsReadyTogetherAreHandled) {
  EXPECT_FALSE(AfterReadyRequests([] { ADD_FAILURE() << "not on an I/O thread: never run"; }));
  // Touched only on the server's one I/O thread.
  std::vector<Responder> gathered;
  RouteOptions front;
  front.io_front = [&](Request&, const Responder& respond) {
    gathered.push_back(respond);
    if (gathered.size() == 1) {
      EXPECT_TRUE(AfterReadyRequests([&] {
        // Each is answered with how many were gathered with it.
        for (const Responder& r : gathered) r(Response::Text(200, std::to_string(gathered.size())));
        gathered.clear();
      }));
    }
    return true;
  };
  // The I/O thread stalls in this handler until the other requests have been sent.
  std::promise<void> stalled, sent;
  std::shared_future<void> all_sent = sent.get_future().share();
  RouteOptions on_io;
  on_io.on_io_thread = true;
  auto router = std::make_shared<Router>();
  router->Get(
      "/gather", [](Request&) { return Response::Text(500, "handler"); }, front);
  router->Get(
      "/stall",
      [&](Request&) {
        stalled.set_value();
        all_sent.wait_for(5s);
        return Response::Text(200, "stalled");
      },
      on_io);
  ServerOptions options;
  options.io_threads = 1;
  TestServer ts(router, options);

  constexpr int kConnections = 5;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(std::make_unique<RawConnection>(ts.port()));
    ASSERT_TRUE(connections.back()->Send("/gather"));
    EXPECT_EQ(connections.back()->ReadBody(), "1") << "one request alone is its own turn";
  }
  // While the thread stalls, each connection sends a request: they are ready together when it is back.
  RawConnection staller(ts.port());
  ASSERT_TRUE(staller.Send("/stall"));
  ASSERT_EQ(stalled.get_future().wait_for(5s), std::future_status::ready);
  for (auto& c : connections) EXPECT_TRUE(c->Send("/gather"));
  sent.set_value();
  EXPECT_EQ(staller.ReadBody(), "stalled");
  for (auto& c : connections) EXPECT_EQ(c->ReadBody(), std::to_string(kConnections));
}

// Each I/O thread runs its own io_context: connections are given to them in turn and each stays on its own,
// and answers that come from elsewhere (the pool, a front answering later from another thread) still reach
// the connection's thread.
TEST(HttpServerTest, ConnectionsAreSpreadOverTheIoThreadsAndEachStaysOnItsOwn) {
  RouteOptions on_io;
  on_io.on_io_thread = true;
  RouteOptions front;
  std::vector<std::thread> answerers;
  std::mutex answerers_mu;
  front.io_front = [&](Request&, const Responder& respond) {
    std::lock_guard lock(answerers_mu);
    answerers.emplace_back([respond] { respond(Response::Text(202, "later")); });
    return true;
  };
  auto router = std::make_shared<Router>();
  router->Get(
      "/thread", [](Request&) { return Response::Text(200, ThreadName()); }, on_io);
  router->Get("/pooled", [](Request&) { return Response::Text(200, "pooled"); });
  router->Get(
      "/front", [](Request&) { return Response::Text(200, "handler"); }, front);
  ServerOptions options;
  options.io_threads = 3;
  options.worker_threads = 2;
  {
    TestServer ts(router, options);
    // Six connections, each asking twice which thread serves it (then closing): the same thread both times,
    // and all three threads over the six.
    std::set<std::string> threads;
    for (int c = 0; c < 6; ++c) {
      std::string raw = RawExchange(ts.port(),
                                    "GET /thread HTTP/1.1\r\nHost: x\r\n\r\n"
                                    "GET /thread HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      std::vector<std::string> names;
      for (size_t at = raw.find("kt-http-io-"); at != std::string::npos; at = raw.find("kt-http-io-", at + 1))
        names.push_back(raw.substr(at, raw.find_first_not_of("kt-http-io-0123456789", at) - at));
      ASSERT_EQ(names.size(), 2u) << raw;
      EXPECT_EQ(names[0], names[1]) << "a connection stays on its thread";
      threads.insert(names[0]);
    }
    EXPECT_EQ(threads, (std::set<std::string>{"kt-http-io-0", "kt-http-io-1", "kt-http-io-2"}));
    // Many connections at once, answered on the pool and by the front from other threads.
    std::vector<std::future<int>> clients;
    for (int c = 0; c < 8; ++c) {
      clients.push_back(std::async(std::launch::async, [&ts, c] {
        int ok = 0;
        for (int i = 0; i < 25; ++i) {
          const bool pooled = (c + i) % 2 == 0;
          std::string raw = RawExchange(ts.port(), std::string("GET ") + (pooled ? "/pooled" : "/front") +
                                                       " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
          if (raw.rfind(pooled ? "HTTP/1.1 200" : "HTTP/1.1 202", 0) == 0) ++ok;
        }
        return ok;
      }));
    }
    for (auto& client : clients) EXPECT_EQ(client.get(), 25);
    ts.server().Stop();
  }
  for (auto& t : answerers) t.join();
}

TEST(HttpServerTest, ListensOnIpv6LoopbackAndLocalhost) {
  for (std::string listen : {"[::1]:0", "localhost:0"}) {
    ServerOptions options;
    options.listen = listen;
    Server server(options, BasicRouter());
    auto port = server.Start();
    if (!port && listen == "[::1]:0") continue;  // no IPv6 in this sandbox
    ASSERT_TRUE(port) << port.error().message;
    std::string host =
        server.host().find(':') != std::string::npos ? "[" + server.host() + "]" : server.host();
    auto r = Get("http://" + host + ":" + std::to_string(*port) + "/hello");
    EXPECT_EQ(r.status, 200) << listen << " " << r.transport_error;
    server.Stop();
  }
}

TEST(HttpServerTest, ABadListenAddressSaysWhatIsWrongAndHowToWriteIt) {
  // Only malformed addresses: a host name that is not an address would be looked up, off this machine.
  for (std::string listen : {"127.0.0.1", "127.0.0.1:abc", "127.0.0.1:70000", "[::1", "[::1]8080"}) {
    ServerOptions options;
    options.listen = listen;
    Server server(options, BasicRouter());
    auto port = server.Start();
    ASSERT_FALSE(port) << listen;
    EXPECT_EQ(port.error().code, "invalid_listen") << listen;
    EXPECT_NE(port.error().fix.find("--listen HOST:PORT"), std::string::npos) << listen;
  }
}

TEST(HttpClientTest, TimeoutIsReportedAsTimedOut) {
  auto router = BasicRouter();
  router->Get("/sleep", [](Request&) {
    std::this_thread::sleep_for(600ms);
    return Response::Text(200, "late");
  });
  TestServer ts(router);
  ClientRequest req;
  req.url = ts.Url("/sleep");
  req.timeout = 100ms;
  auto r = Fetch(req);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.transport_error, "timeout");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
}

TEST(HttpClientTest, ConnectionRefusedIsATransportError) {
  uint16_t port;
  {
    TestServer ts(BasicRouter());
    port = ts.port();
  }
  auto r = Get("http://127.0.0.1:" + std::to_string(port) + "/hello");
  EXPECT_EQ(r.transport_error, "connection_refused");
  EXPECT_FALSE(r.timed_out);
}

TEST(HttpClientTest, KeepsRepeatedResponseHeaders) {
  auto router = std::make_shared<Router>();
  router->Get("/cookies", [](Request&) {
    Response r = Response::Text(200, "");
    r.headers.Add("Set-Cookie", "a=1");
    r.headers.Add("Set-Cookie", "b=2");
    return r;
  });
  TestServer ts(router);
  auto r = Get(ts.Url("/cookies"));
  int n = 0;
  for (const auto& [k, v] : r.headers.items()) n += IEquals(k, "set-cookie");
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace kt::http
