// The HTTP/1.1 server: Beast on Asio coroutines for I/O, a bounded thread pool for blocking handlers.
//
// Each connection is one coroutine on its own strand. It reads one request at a time (so pipelined requests are
// answered in order), checks the limits before reading a body, runs the middleware chain and handler (on the
// pool unless the route says it never blocks) and writes the answer. I/O threads never wait on a handler: the
// coroutine parks on a timer that the pool cancels when the answer is ready, and that same timer is the
// handler timeout.
#include "http/server.h"

#include <atomic>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "obs/log.h"
#include "util/hash.h"

namespace kt::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kRequestIdHeader = "X-Request-Id";
constexpr size_t kReadChunk = 16 * 1024;
// How long a connection we refuse (413) keeps swallowing the unread body, so the client sees our answer
// rather than a reset.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);

Response JsonError(int status, std::string_view code, std::string_view message, std::string_view fix = {}) {
  return Response::Json(status, {{"error", {{"code", code}, {"message", message}, {"fix", fix}}}});
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Request ids: a random per-process prefix and a counter; unique without a syscall per request.
std::string NewRequestId() {
  static const std::string prefix = RandomHex(6);
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char buf[20];
  int len = snprintf(buf, sizeof buf, "-%llx", static_cast<unsigned long long>(n));
  std::string id;
  id.reserve(prefix.size() + len);
  id += prefix;
  id.append(buf, len);
  return id;
}

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

Result<ListenAddress> ParseListen(std::string_view listen) {
  ListenAddress out;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Fail(ErrorKind::kInvalidInput, "invalid_listen", "listen address must be HOST:PORT or [IPv6]:PORT");
    }
    out.host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return Fail(ErrorKind::kInvalidInput, "invalid_listen", "listen address must be HOST:PORT");
    }
    out.host = std::string(listen.substr(0, colon));
    port_text = listen.substr(colon + 1);
  }
  auto port = ParseInt64(port_text);
  if (!port || *port < 0 || *port > 65535) {
    return Fail(ErrorKind::kInvalidInput, "invalid_listen", "listen port must be 0..65535");
  }
  out.port = static_cast<uint16_t>(*port);
  return out;
}

}  // namespace

// One accepted connection; touched only on its strand (except the registry's set, under the server's mutex).
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)), deadline(stream.get_executor()) {}

  // The request read timeout cancels the read rather than closing the socket (as tcp_stream's own expiry
  // would), so a 408 can still be written.
  void ArmReadDeadline(std::chrono::milliseconds d) {
    read_timed_out = false;
    deadline.expires_after(d);
    deadline.async_wait([self = shared_from_this(), generation = ++deadline_generation](beast::error_code ec) {
      if (ec || generation != self->deadline_generation) return;
      self->read_timed_out = true;
      self->stream.socket().cancel(ec);
    });
  }
  void DisarmReadDeadline() {
    ++deadline_generation;
    deadline.cancel();
  }

  beast::tcp_stream stream;
  asio::steady_timer deadline;
  uint64_t deadline_generation = 0;
  bool read_timed_out = false;
  std::string remote;
  bool busy = false;  // between the first byte of a request and the end of its answer
};

// What the pool hands back to the connection's coroutine.
struct Handoff {
  explicit Handoff(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  Request request;
  Response response;
  bool done = false;  // set on the connection's strand
};

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<const Router> r, std::vector<Middleware> m)
      : options(std::move(o)), router(std::move(r)), middleware(std::move(m)) {
    // chain[i] runs middleware[i] with chain[i+1] as next; the last runs the matched route's handler.
    chain.resize(middleware.size() + 1);
    chain.back() = [](Request& req) { return req.matched_route->handler(req); };
    for (size_t i = 0; i < middleware.size(); ++i) {
      chain[i] = [this, i](Request& req) { return middleware[i](req, chain[i + 1]); };
    }
    not_found.pattern = "";
    not_found.handler = [](Request&) {
      return JsonError(404, "not_found", "no such page or API path", "check the URL");
    };
    method_not_allowed.handler = [](Request& req) {
      return JsonError(405, "method_not_allowed", "this path does not accept " + req.method);
    };
  }

  ServerOptions options;
  std::shared_ptr<const Router> router;
  std::vector<Middleware> middleware;
  std::vector<Next> chain;
  Route not_found;
  Route method_not_allowed;

  // Declared before the io_context so they outlive the coroutine frames it destroys.
  std::mutex connections_mu;
  std::unordered_set<std::shared_ptr<Connection>> connections;
  std::atomic<size_t> connection_count{0};
  std::atomic<size_t> queued{0};
  std::atomic<bool> stopping{false};

  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::unique_ptr<asio::thread_pool> pool;  // after ioc: joined and destroyed first
  uint16_t port = 0;
  std::string host;
  bool started = false;
  bool stopped = false;

  Response RunChain(Request& req) {
    try {
      return chain.front()(req);
    } catch (const std::exception& e) {
      // CatchAll middleware normally answers first; this is the last line of defence.
      obs::Log(obs::Level::kError, "http_handler_exception", {{"request_id", req.request_id}, {"what", e.what()}});
    } catch (...) {
      obs::Log(obs::Level::kError, "http_handler_exception", {{"request_id", req.request_id}});
    }
    return Response::Json(500, {{"error",
                                 {{"code", "internal_error"},
                                  {"message", "the server failed to answer this request"},
                                  {"fix", "try again; if it keeps failing, report request id " + req.request_id}}}});
  }

  // Runs the chain with a fixed answer in place of a handler, so logs and metrics see server-made answers.
  Response RunRejection(Request& req, Response answer) {
    Route reject;
    reject.pattern = req.route;
    reject.handler = [&answer](Request&) { return std::move(answer); };
    req.matched_route = &reject;
    Response out = RunChain(req);
    req.matched_route = nullptr;
    return out;
  }

  asio::awaitable<void> Accept();
  asio::awaitable<void> Session(std::shared_ptr<Connection> conn);
  asio::awaitable<Response> Dispatch(Request& req, const Route* route);
  asio::awaitable<void> WriteAndClose(Connection& conn, int status, std::string_view code, std::string_view message);
  asio::awaitable<void> Linger(Connection& conn);
};

asio::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    beast::error_code ec;
    auto socket = co_await acceptor->async_accept(asio::make_strand(ioc),
                                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping || !acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors and the like: back off briefly rather than spin.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Connection>(tcp::socket(std::move(socket)));
    auto ex = conn->stream.get_executor();
    asio::co_spawn(ex, Session(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::WriteAndClose(Connection& conn, int status, std::string_view code,
                                                  std::string_view message) {
  Response answer = JsonError(status, code, message);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(answer.body);
  res.keep_alive(false);
  res.prepare_payload();
  beast::error_code ec;
  conn.stream.expires_after(options.read_timeout);
  co_await bhttp::async_write(conn.stream, res, asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Server::Impl::Linger(Connection& conn) {
  beast::error_code ec;
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  conn.stream.expires_after(kLingerTime);
  char sink[kReadChunk];
  while (!ec) {
    co_await conn.stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<Response> Server::Impl::Dispatch(Request& req, const Route* route) {
  if (!route || route->options.on_io_thread) co_return RunChain(req);
  if (queued.load(std::memory_order_relaxed) >= options.max_queued_requests) {
    co_return RunRejection(req, JsonError(503, "server_busy", "the server is too busy to take this request",
                                          "retry after a short wait"));
  }
  auto state = std::make_shared<Handoff>(co_await asio::this_coro::executor);
  // Kept here too: after a timeout the pool may still be using the request.
  std::string method = req.method, route_pattern = req.route, request_id = req.request_id;
  state->request = std::move(req);
  state->timer.expires_after(options.handler_timeout);
  queued.fetch_add(1, std::memory_order_relaxed);
  asio::post(*pool, [this, state] {
    queued.fetch_sub(1, std::memory_order_relaxed);
    state->response = RunChain(state->request);
    asio::post(state->timer.get_executor(), [state] {
      state->done = true;
      state->timer.cancel();
    });
  });
  beast::error_code ec;
  co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (state->done) {
    // Give the request back (the caller still reads its id, method and route) and take the answer.
    req = std::move(state->request);
    co_return std::move(state->response);
  }
  // The handler keeps running on the pool; its answer is dropped when it ends.
  req.method = std::move(method);
  req.route = std::move(route_pattern);
  req.request_id = std::move(request_id);
  co_return JsonError(503, "handler_timeout", "the server took too long to answer", "retry later");
}

asio::awaitable<void> Server::Impl::Session(std::shared_ptr<Connection> conn) {
  {
    std::lock_guard lock(connections_mu);
    connections.insert(conn);
  }
  connection_count.fetch_add(1);
  struct Unregister {
    Impl* impl;
    std::shared_ptr<Connection> conn;
    ~Unregister() {
      {
        std::lock_guard lock(impl->connections_mu);
        impl->connections.erase(conn);
      }
      impl->connection_count.fetch_sub(1);
    }
  } unregister{this, conn};
  if (stopping) co_return;

  beast::error_code ec;
  {
    auto ep = conn->stream.socket().remote_endpoint(ec);
    if (!ec) {
      conn->remote = ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                                          : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
  }

  beast::flat_buffer buffer;
  auto& stream = conn->stream;
  try {
    for (;;) {
      // Idle: wait for the first byte of the next request (pipelined bytes may already be buffered).
      if (buffer.size() == 0) {
        stream.expires_after(options.idle_timeout);
        size_t n = co_await stream.async_read_some(buffer.prepare(kReadChunk),
                                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        buffer.commit(n);
      }
      conn->busy = true;
      auto received_at = std::chrono::steady_clock::now();

      stream.expires_never();
      conn->ArmReadDeadline(options.read_timeout);
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(std::min<size_t>(options.max_header_bytes, UINT32_MAX)));
      // The body limit depends on the route, so it is checked (and set) once the headers are in.
      parser.body_limit(boost::none);
      co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        conn->DisarmReadDeadline();
        if (ec == bhttp::error::header_limit) {
          co_await WriteAndClose(*conn, 431, "headers_too_large",
                                 "request headers exceed " + std::to_string(options.max_header_bytes) + " bytes");
        } else if (conn->read_timed_out) {
          co_await WriteAndClose(*conn, 408, "request_timeout", "the request was not received in time");
        } else if (&ec.category() == &beast::error_code(bhttp::error::end_of_stream).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          co_await WriteAndClose(*conn, 400, "bad_request", "the request is not valid HTTP/1.1");
        }
        break;
      }

      auto& msg = parser.get();
      Request req;
      req.received_at = received_at;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      std::string_view target = req.target;
      size_t q = target.find('?');
      std::string_view raw_path = target.substr(0, q);
      req.path = raw_path.find('%') == std::string_view::npos ? std::string(raw_path) : UrlDecode(raw_path, false);
      if (q != std::string_view::npos) req.query = ParseQuery(target.substr(q + 1));
      for (const auto& field : msg) {
        req.headers.Add(std::string(field.name_string()), std::string(field.value()));
      }
      req.remote_addr = conn->remote;
      auto id_field = msg.find(kRequestIdHeader);
      std::string_view incoming_id = id_field == msg.end() ? std::string_view() : std::string_view(id_field->value());
      req.request_id = IsSaneRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
      const bool keep_alive = msg.keep_alive();
      const bool head = msg.method() == bhttp::verb::head;

      Router::Match match = router->Find(req.method, raw_path);
      const Route* route = match.route;
      if (route) {
        req.route = route->pattern;
        req.path_params = std::move(match.params);
        req.matched_route = route;
      } else {
        req.matched_route = match.path_matched_other_method ? &method_not_allowed : &not_found;
      }

      size_t limit = route && route->options.max_body_bytes ? route->options.max_body_bytes : options.max_body_bytes;
      std::optional<Response> early;
      auto too_large = [&] {
        return JsonError(413, "payload_too_large",
                         "the request body is larger than this endpoint's limit of " + std::to_string(limit) +
                             " bytes",
                         "send at most " + std::to_string(limit) + " bytes");
      };
      if (parser.content_length() && *parser.content_length() > limit) {
        early = RunRejection(req, too_large());
      } else if (!parser.is_done()) {
        parser.body_limit(limit);
        auto expect = msg.find(bhttp::field::expect);
        if (expect != msg.end() && IEquals(expect->value(), "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
        }
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == bhttp::error::body_limit) {
          early = RunRejection(req, too_large());
        } else if (conn->read_timed_out) {
          co_await WriteAndClose(*conn, 408, "request_timeout", "the request body was not received in time");
          break;
        } else if (ec) {
          break;
        }
      }
      conn->DisarmReadDeadline();

      Response answer;
      bool close_after = !keep_alive || early.has_value();
      if (early) {
        answer = std::move(*early);
      } else {
        req.body = std::move(msg.body());
        if (match.path_matched_other_method) {
          // The Allow header is part of a 405; the middleware may wrap it but the server adds it.
          answer = RunChain(req);
          std::string allow;
          for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
          answer.headers.Set("Allow", std::move(allow));
        } else {
          answer = co_await Dispatch(req, route);
        }
      }

      bhttp::response<bhttp::string_body> res;
      res.version(11);
      res.result(static_cast<unsigned>(answer.status));
      for (auto& [name, value] : answer.headers.items()) {
        if (IEquals(name, "content-length") || IEquals(name, "transfer-encoding")) continue;
        if (IEquals(name, "connection")) {
          if (IEquals(value, "close")) close_after = true;
          continue;
        }
        res.insert(name, value);
      }
      res.set(kRequestIdHeader, req.request_id);
      if (stopping) close_after = true;
      res.keep_alive(!close_after);
      if (answer.status == 204 || answer.status == 304 || answer.status < 200) {
        answer.body.clear();
        res.prepare_payload();
      } else if (head) {
        res.content_length(answer.body.size());
      } else {
        res.body() = std::move(answer.body);
        res.prepare_payload();
      }

      stream.expires_after(options.read_timeout);
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      conn->busy = false;
      if (ec) break;
      if (early) {
        co_await Linger(*conn);
        break;
      }
      if (close_after) break;
    }
  } catch (const std::exception&) {
    // A bug in the session itself: drop this connection, keep the server.
  }
  conn->DisarmReadDeadline();
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream.close();
}

Server::Server(ServerOptions options, std::shared_ptr<const Router> router, std::vector<Middleware> middleware)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), std::move(middleware))) {}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

Result<uint16_t> Server::Start() {
  Impl& s = *impl_;
  if (s.started) return Fail(ErrorKind::kConflict, "already_started", "the server is already started");
  auto listen = ParseListen(s.options.listen);
  if (!listen) return Fail(listen.error());

  beast::error_code ec;
  asio::ip::address address;
  if (listen->host.empty() || listen->host == "*") {
    address = asio::ip::address_v4::any();
  } else {
    address = asio::ip::make_address(listen->host, ec);
    if (ec) {
      tcp::resolver resolver(s.ioc);
      auto results = resolver.resolve(listen->host, "", ec);
      if (ec || results.empty()) {
        return Fail(ErrorKind::kInvalidInput, "invalid_listen", "cannot resolve listen host " + listen->host, "",
                    ec.message());
      }
      address = results.begin()->endpoint().address();
    }
  }

  tcp::endpoint endpoint(address, listen->port);
  s.acceptor.emplace(asio::make_strand(s.ioc));
  auto fail = [&](const char* what) {
    s.acceptor.reset();
    return Fail(ErrorKind::kUnavailable, "listen_failed",
                std::string("cannot listen on ") + s.options.listen + ": " + ec.message(),
                "choose a free port or stop the other process", what);
  };
  s.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (address.is_v6()) s.acceptor->set_option(asio::ip::v6_only(false), ec);
  s.acceptor->bind(endpoint, ec);
  if (ec) return fail("bind");
  s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  auto local = s.acceptor->local_endpoint(ec);
  s.port = local.port();
  s.host = local.address().to_string();

  s.started = true;
  s.pool = std::make_unique<asio::thread_pool>(std::max<size_t>(1, s.options.worker_threads));
  asio::co_spawn(s.acceptor->get_executor(), s.Accept(), asio::detached);
  size_t n = std::max<size_t>(1, s.options.io_threads);
  for (size_t i = 0; i < n; ++i) {
    s.io_threads.emplace_back([&s] {
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          obs::Log(obs::Level::kError, "http_io_exception", {{"what", e.what()}});
        }
      }
    });
  }
  return s.port;
}

void Server::Stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  asio::post(s.acceptor->get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor->close(ec);
  });
  {
    // Idle connections close now; busy ones close after their answer is written.
    std::lock_guard lock(s.connections_mu);
    for (const auto& conn : s.connections) {
      asio::post(conn->stream.get_executor(), [conn] {
        if (!conn->busy) {
          beast::error_code ec;
          conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
          conn->stream.socket().close(ec);
        }
      });
    }
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.connection_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  // Handlers still running finish; queued ones that never started are dropped.
  s.pool->stop();
  s.pool->join();
}

uint16_t Server::port() const { return impl_->port; }
std::string Server::host() const { return impl_->host; }

void WaitForShutdownSignal() {
  asio::io_context ioc;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([](const beast::error_code&, int) {});
  ioc.run();
}

}  // namespace kt::http
