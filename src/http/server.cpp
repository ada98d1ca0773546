// The HTTP/1.1 server: Asio coroutines for I/O, Beast's parser, a bounded thread pool for blocking handlers.
//
// Each I/O thread runs an io_context of its own, and each connection lives on one of them (given out in turn
// as connections are accepted), so a connection's coroutine never needs a strand and an I/O thread is never
// woken for another's socket. (With one io_context shared by the threads, every completion went through the
// shared queue and woke an idle thread: a quarter of the HTTP layer's CPU went to those wake-ups and
// context switches; BENCHMARKS.md, session 22.) A connection reads one request at a time (so pipelined
// requests are answered in order), checks the limits before reading a body, runs the middleware chain and
// handler (on the pool unless the route says it never blocks) and writes the answer. I/O threads never wait
// on a handler: the coroutine suspends until the pool posts the answer back to the connection's thread. A
// route may have an I/O-thread front (RouteOptions::io_front) that takes requests it can answer without
// blocking, such as a webhook whose key is cached: it answers later from any thread (the inbox's committer
// once the event is durable), and the middleware sees that answer when the connection resumes.
//
// The hot path is kept lean for the webhook receiver: the request is parsed straight into kt::http::Request
// (no Beast message in between), the answer is serialized into a reused buffer and sent with a non-blocking
// write that almost always completes at once, and timeouts are a per-connection deadline checked by one
// ticking timer rather than a timer armed and cancelled for every read and write.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "obs/log.h"
#include "util/hash.h"
#include "util/thread_name.h"

namespace kt::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kRequestIdHeader = "X-Request-Id";
constexpr size_t kReadChunk = size_t{16} * 1024;
// Answers up to this size are copied behind the headers and sent as one buffer; larger ones are sent from
// the response's own string.
constexpr size_t kInlineBodyBytes = size_t{8} * 1024;
// How long a connection we refuse (413) keeps swallowing the unread body, so the client sees our answer
// rather than a reset.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);

Response JsonError(int status, std::string_view code, std::string_view message, std::string_view fix = {}) {
  return Response::Json(status, {{"error", {{"code", code}, {"message", message}, {"fix", fix}}}});
}

// The fix for a request the parser refused.
constexpr std::string_view kWellFormed =
    "send one well-formed HTTP/1.1 request: a request line, headers ending with a blank line, "
    "and a body that matches its Content-Length or its chunked encoding";

std::string SendWithin(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  return "send the whole request within " +
         (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
}

// A request target in absolute form ("http://host/path?q", RFC 9112 §3.2.2, which a server must accept) is
// rewritten to the origin form the router knows ("/path?q"); any other target is left as it is.
void ToOriginForm(std::string& target) {
  if (target.empty() || target.front() == '/') return;  // origin form: nearly every request
  const auto scheme_end = target.find("://");
  if (scheme_end == std::string::npos) return;
  const std::string_view scheme(target.data(), scheme_end);
  if (!beast::iequals(scheme, "http") && !beast::iequals(scheme, "https")) return;
  const auto path_start = target.find_first_of("/?", scheme_end + 3);
  if (path_start == std::string::npos) {
    target = "/";
  } else {
    target.erase(0, path_start);
    if (target.front() == '?') target.insert(0, 1, '/');
  }
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Request ids: a random per-process prefix and a counter; unique without a syscall, short enough for SSO.
std::string NewRequestId() {
  static const std::string prefix = RandomHex(3);
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%s-%llx", prefix.c_str(), static_cast<unsigned long long>(n));
  return std::string(buf, len);
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

void AppendDecimal(std::string& out, uint64_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  out.append(p, end - p);
}

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

constexpr char kListenFix[] = "Use --listen HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080 or 0.0.0.0:8080.";

Result<ListenAddress> ParseListen(std::string_view listen) {
  ListenAddress out;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Fail(ErrorKind::kInvalidInput, "invalid_listen",
                  "listen address must be HOST:PORT or [IPv6]:PORT", kListenFix);
    }
    out.host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return Fail(ErrorKind::kInvalidInput, "invalid_listen", "listen address must be HOST:PORT", kListenFix);
    }
    out.host = std::string(listen.substr(0, colon));
    port_text = listen.substr(colon + 1);
  }
  auto port = ParseInt64(port_text);
  if (!port || *port < 0 || *port > 65535) {
    return Fail(ErrorKind::kInvalidInput, "invalid_listen", "listen port must be 0..65535", kListenFix);
  }
  out.port = static_cast<uint16_t>(*port);
  return out;
}

// Beast's request parser, writing straight into our Request (no Beast message or field list in between).
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(Request& request) : request_(request) {}

  bool expect_continue() const { return expect_continue_; }
  bool has_request_id() const { return has_request_id_; }
  bhttp::verb method() const { return method_; }
  int version() const { return version_; }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, beast::error_code&) override {
    method_ = method;
    version_ = version;
    request_.method.assign(method_str.data(), method_str.size());
    request_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code&) override {
    if (name == bhttp::field::expect &&
        IEquals(std::string_view(value.data(), value.size()), "100-continue")) {
      expect_continue_ = true;
    }
    request_.headers.Add(std::string(name_string.data(), name_string.size()),
                         std::string(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, beast::error_code&) override {
    // The server checks the length against the route's limit before any body byte is read.
    if (content_length && *content_length <= (1u << 20)) request_.body.reserve(*content_length);
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& request_;
  bhttp::verb method_ = bhttp::verb::unknown;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_request_id_ = false;
};

// The bounded pool blocking handlers run on. A worker that runs out of work spins briefly before it sleeps:
// under load the next request arrives within microseconds, and handing it to an awake worker costs no
// futex wake-up (the dominant cost of a thread hop on a small VM).
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this, i] {
        SetThreadName("kt-http-pool-" + std::to_string(i));
        Run();
      });
    }
  }
  ~WorkerPool() { Stop(); }

  void Post(std::function<void()> job) {
    size_t depth;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
      depth = jobs_.size();
      size_.store(depth, std::memory_order_release);
    }
    // A spinning worker takes one job without a wake-up; anything more needs a sleeper.
    if (sleeping_.load(std::memory_order_acquire) > 0 &&
        (depth > 1 || spinning_.load(std::memory_order_acquire) == 0)) {
      cv_.notify_one();
    }
  }

  // Lets running jobs finish, drops queued ones, joins the threads.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  static constexpr auto kSpin = std::chrono::microseconds(50);

  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stopped_) return;
      if (!jobs_.empty()) {
        std::function<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        size_.store(jobs_.size(), std::memory_order_release);
        bool more = !jobs_.empty() && sleeping_.load(std::memory_order_acquire) > 0;
        lock.unlock();
        if (more) cv_.notify_one();
        job();
        job = nullptr;
        lock.lock();
        continue;
      }
      // Spin (one spinner at a time) for a moment before sleeping.
      int expected = 0;
      if (spinning_.compare_exchange_strong(expected, 1)) {
        lock.unlock();
        auto until = std::chrono::steady_clock::now() + kSpin;
        while (size_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
          std::this_thread::yield();
        }
        spinning_.store(0, std::memory_order_release);
        lock.lock();
        if (!jobs_.empty()) continue;
      }
      sleeping_.fetch_add(1, std::memory_order_acq_rel);
      cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
      sleeping_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::atomic<size_t> size_{0};
  std::atomic<int> spinning_{0};
  std::atomic<int> sleeping_{0};
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

// The io_context of the server I/O thread this is (one thread runs each), for AfterReadyRequests.
thread_local asio::io_context* this_io_thread = nullptr;

}  // namespace

// A suspended coroutine's completion handler, type-erased (it is move-only, so std::function will not do).
struct Waiter {
  virtual ~Waiter() = default;
  virtual void Complete() = 0;
};
template <typename Handler>
struct WaiterFor final : Waiter {
  explicit WaiterFor(Handler&& h) : handler(std::move(h)) {}
  void Complete() override { std::move(handler)(); }
  Handler handler;
};

// A request handed to the pool or taken by a route's I/O-thread front. Shared with whoever answers it, which
// may still hold it after a handler timeout.
struct Handoff {
  Request request;
  Response response;
  bool taken_by_front = false;        // answered through the route's io_front (set on its thread)
  std::atomic<bool> answered{false};  // the front's responder was called
};

// One accepted connection; touched only on its io_context's thread (except the server's registry, under its
// mutex).
struct Connection : std::enable_shared_from_this<Connection> {
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosed };

  Connection(tcp::socket s, std::chrono::milliseconds tick)
      : socket(std::move(s)), watchdog(socket.get_executor()), tick(tick) {}

  void SetPhase(Phase p, std::chrono::milliseconds timeout) {
    phase = p;
    deadline = std::chrono::steady_clock::now() + timeout;
  }

  // One timer per connection ticks while the connection lives and compares the clock with the deadline of the
  // current phase, so phases change deadlines with a store rather than a timer operation.
  void StartWatchdog() {
    watchdog.expires_after(tick);
    watchdog.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (ec || self->phase == Phase::kClosed) return;
      if (std::chrono::steady_clock::now() >= self->deadline) self->OnDeadline();
      if (self->phase != Phase::kClosed) self->StartWatchdog();
    });
  }

  void OnDeadline() {
    beast::error_code ec;
    switch (phase) {
      case Phase::kReading:
        // Cancel rather than close, so the session can still answer 408.
        read_timed_out = true;
        socket.cancel(ec);
        break;
      case Phase::kHandling:
        handler_timed_out = true;
        Resume();
        break;
      case Phase::kIdle:
      case Phase::kWriting:
        Close();
        break;
      case Phase::kClosed:
        break;
    }
  }

  void Close() {
    beast::error_code ec;
    phase = Phase::kClosed;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    watchdog.cancel();
  }

  // Resumes the coroutine waiting for the pool (once: the answer and the handler timeout race on its thread).
  void Resume() {
    if (!waiter) return;
    std::unique_ptr<Waiter> w = std::move(waiter);
    w->Complete();
  }

  tcp::socket socket;
  asio::steady_timer watchdog;
  std::chrono::milliseconds tick;
  Phase phase = Phase::kIdle;
  SteadyTime deadline = SteadyTime::max();
  bool read_timed_out = false;
  bool handler_timed_out = false;
  std::string remote;
  beast::flat_buffer buffer;
  std::string out;  // the serialized answer head (and small bodies), reused
  std::unique_ptr<Waiter> waiter;
  std::shared_ptr<Handoff> pending;  // the request on the pool, if any
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
    not_found.handler = [](Request&) {
      return JsonError(404, "not_found", "no such page or API path", "check the URL");
    };
    method_not_allowed.handler = [](Request& req) {
      return JsonError(405, "method_not_allowed", "this path does not accept " + req.method,
                       "use one of the methods the Allow header lists");
    };
    // The watchdog's resolution: fine enough for the shortest timeout, coarse enough to cost nothing.
    auto shortest = std::min({options.read_timeout, options.idle_timeout, options.handler_timeout});
    tick = std::clamp(shortest / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
    const size_t threads = std::max<size_t>(1, options.io_threads);
    for (size_t i = 0; i < threads; ++i) iocs.push_back(std::make_unique<asio::io_context>(1));
  }

  ServerOptions options;
  std::shared_ptr<const Router> router;
  std::vector<Middleware> middleware;
  std::vector<Next> chain;
  Route not_found;
  Route method_not_allowed;
  std::chrono::milliseconds tick{1000};

  // Declared before the io_contexts so they outlive the coroutine frames they destroy.
  std::mutex connections_mu;
  std::unordered_set<std::shared_ptr<Connection>> connections;
  std::atomic<size_t> connection_count{0};
  std::atomic<size_t> queued{0};
  std::atomic<bool> stopping{false};

  // One per I/O thread, each run by that thread alone (hence the concurrency hint of 1); the acceptor is on
  // the first. Connections are spread over them in turn.
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  size_t next_ioc = 0;  // touched only by the accepting coroutine (on the first io_context's thread)
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::unique_ptr<WorkerPool> pool;  // after iocs: joined and destroyed first
  uint16_t port = 0;
  std::string host;
  bool started = false;
  bool stopped = false;

  Response RunChain(Request& req) {
    try {
      return chain.front()(req);
    } catch (const std::exception& e) {
      // CatchAll middleware normally answers first; this is the last line of defence.
      obs::Log(obs::Level::kError, "http_handler_exception",
               {{"request_id", req.request_id}, {"what", e.what()}});
    } catch (...) {
      obs::Log(obs::Level::kError, "http_handler_exception", {{"request_id", req.request_id}});
    }
    return Response::Json(
        500, {{"error",
               {{"code", "internal_error"},
                {"message", "the server failed to answer this request"},
                {"fix", "try again; if it keeps failing, report request id " + req.request_id}}}});
  }

  // Runs the chain with a fixed answer in place of a handler, so logs and metrics see server-made answers.
  Response RunRejection(Request& req, Response answer) {
    Route reject;
    reject.pattern = req.route;
    reject.handler = [&answer](Request&) { return std::move(answer); };
    const Route* matched = req.matched_route;
    if (matched) reject.options = matched->options;  // logged and limited as the route it stands in for
    req.matched_route = &reject;
    Response out = RunChain(req);
    req.matched_route = matched;
    return out;
  }

  // A connection's executor: an io_context run by one thread is already an implicit strand.
  asio::any_io_executor ConnectionExecutor() {
    asio::io_context& ioc = *iocs[next_ioc];
    next_ioc = (next_ioc + 1) % iocs.size();
    return ioc.get_executor();
  }

  asio::awaitable<void> Accept();
  asio::awaitable<void> Session(std::shared_ptr<Connection> conn);
  asio::awaitable<Response> Dispatch(Connection& conn, Request& req, const Route* route);
  bool TryFront(const Route& route, const std::shared_ptr<Handoff>& state,
                const std::shared_ptr<Connection>& conn);
  asio::awaitable<bool> Write(Connection& conn, std::string_view body);
  asio::awaitable<void> WriteAndClose(Connection& conn, int status, std::string_view code,
                                      std::string_view message, std::string_view fix);
  asio::awaitable<void> Linger(Connection& conn);
  void Serialize(Connection& conn, int status, const Headers& headers, const std::string& request_id,
                 size_t content_length, bool send_length, bool close, std::string_view inline_body,
                 bool http10_keep_alive = false);
};

asio::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket(ConnectionExecutor());
    co_await acceptor->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping || !acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors and the like: back off briefly rather than spin.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Connection>(std::move(socket), tick);
    auto ex = conn->socket.get_executor();
    asio::co_spawn(ex, Session(std::move(conn)), asio::detached);
  }
}

void Server::Impl::Serialize(Connection& conn, int status, const Headers& headers,
                             const std::string& request_id, size_t content_length, bool send_length,
                             bool close, std::string_view inline_body, bool http10_keep_alive) {
  std::string& out = conn.out;
  out.clear();
  out += "HTTP/1.1 ";
  AppendDecimal(out, static_cast<uint64_t>(status));
  out += ' ';
  beast::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& [name, value] : headers.items()) {
    if (IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
        IEquals(name, "connection") || IEquals(name, kRequestIdHeader)) {
      continue;
    }
    // A line break in a header would let a handler's data split the response.
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!request_id.empty()) {
    out += kRequestIdHeader;
    out += ": ";
    out += request_id;
    out += "\r\n";
  }
  if (send_length) {
    out += "Content-Length: ";
    AppendDecimal(out, content_length);
    out += "\r\n";
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (http10_keep_alive) {
    out += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
  }
  out += "\r\n";
  out += inline_body;
}

// Sends conn.out then body. Tries a non-blocking write first, which nearly always takes everything.
asio::awaitable<bool> Server::Impl::Write(Connection& conn, std::string_view body) {
  std::array<asio::const_buffer, 2> buffers{asio::buffer(conn.out), asio::buffer(body.data(), body.size())};
  size_t total = conn.out.size() + body.size();
  beast::error_code ec;
  size_t sent = conn.socket.write_some(buffers, ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
  if (ec) sent = 0;
  if (sent == total) co_return true;
  // The rest goes asynchronously.
  std::array<asio::const_buffer, 2> rest;
  if (sent < conn.out.size()) {
    rest = {asio::buffer(conn.out.data() + sent, conn.out.size() - sent),
            asio::buffer(body.data(), body.size())};
  } else {
    size_t off = sent - conn.out.size();
    rest = {asio::const_buffer(), asio::buffer(body.data() + off, body.size() - off)};
  }
  co_await asio::async_write(conn.socket, rest, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<void> Server::Impl::WriteAndClose(Connection& conn, int status, std::string_view code,
                                                  std::string_view message, std::string_view fix) {
  Response answer = JsonError(status, code, message, fix);
  conn.SetPhase(Connection::Phase::kWriting, options.read_timeout);
  Serialize(conn, status, answer.headers, std::string(), answer.body.size(), true, true, answer.body);
  co_await Write(conn, {});
}

asio::awaitable<void> Server::Impl::Linger(Connection& conn) {
  beast::error_code ec;
  conn.socket.shutdown(tcp::socket::shutdown_send, ec);
  conn.SetPhase(Connection::Phase::kWriting,
                std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
  conn.buffer.clear();
  while (!ec && conn.phase != Connection::Phase::kClosed) {
    co_await conn.socket.async_read_some(conn.buffer.prepare(kReadChunk),
                                         asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<Response> Server::Impl::Dispatch(Connection& conn, Request& req, const Route* route) {
  if (!route || route->options.on_io_thread) co_return RunChain(req);
  if (queued.load(std::memory_order_relaxed) >= options.max_queued_requests) {
    co_return RunRejection(req, JsonError(503, "server_busy", "the server is too busy to take this request",
                                          "retry after a short wait"));
  }
  // Kept here too: after a timeout the pool may still be using the request.
  std::string method = req.method, route_pattern = req.route, request_id = req.request_id;
  auto state = std::make_shared<Handoff>();
  state->request = std::move(req);
  conn.pending = state;
  conn.handler_timed_out = false;
  conn.SetPhase(Connection::Phase::kHandling, options.handler_timeout);
  queued.fetch_add(1, std::memory_order_relaxed);

  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&](auto handler) {
        conn.waiter = std::make_unique<WaiterFor<decltype(handler)>>(std::move(handler));
        if (route->options.io_front && TryFront(*route, state, conn.shared_from_this())) return;
        pool->Post([this, state, c = conn.shared_from_this()] {
          queued.fetch_sub(1, std::memory_order_relaxed);
          state->response = RunChain(state->request);
          asio::post(c->socket.get_executor(), [state, c] {
            if (c->pending == state) c->Resume();
          });
        });
      },
      asio::use_awaitable);

  conn.pending.reset();
  if (state->taken_by_front) queued.fetch_sub(1, std::memory_order_relaxed);  // the pool's job does it
  if (!conn.handler_timed_out) {
    // Give the request back (the caller still reads its id, method and route) and take the answer.
    req = std::move(state->request);
    // The middleware did not run around the front: it sees its answer now, as a handler's.
    if (state->taken_by_front) co_return RunRejection(req, std::move(state->response));
    co_return std::move(state->response);
  }
  // The handler keeps running on the pool; its answer is dropped when it ends. The moved-from request gets
  // back the fields the caller reads.
  req.method = std::move(method);  // NOLINT(bugprone-use-after-move): reassigned, not read
  req.route = std::move(route_pattern);
  req.request_id = std::move(request_id);
  co_return JsonError(503, "handler_timeout", "the server took too long to answer", "retry later");
}

// Offers the request to the route's I/O-thread front. True when the front took it: its responder then
// resumes the connection, from whichever thread answers.
bool Server::Impl::TryFront(const Route& route, const std::shared_ptr<Handoff>& state,
                            const std::shared_ptr<Connection>& conn) {
  // The responder may outlive the connection (and be called after a handler timeout): it holds the connection
  // weakly and touches nothing of the server.
  Responder respond = [state, weak = std::weak_ptr<Connection>(conn)](Response answer) {
    if (state->answered.exchange(true)) return;
    state->response = std::move(answer);
    auto c = weak.lock();
    if (!c) return;
    asio::post(c->socket.get_executor(), [state, c] {
      if (c->pending == state) c->Resume();
    });
  };
  bool taken = false;
  try {
    taken = route.options.io_front(state->request, respond);
  } catch (const std::exception& e) {
    obs::Log(obs::Level::kError, "http_handler_exception",
             {{"request_id", state->request.request_id}, {"what", e.what()}});
    taken = true;
    respond(JsonError(500, "internal_error", "the server failed to answer this request",
                      "try again; if it keeps failing, report request id " + state->request.request_id));
  }
  if (!taken && state->answered.load()) {
    obs::Log(obs::Level::kError, "http_front_answered_and_declined", {{"route", route.pattern}});
    taken = true;
  }
  state->taken_by_front = taken;
  return taken;
}

// GCC sees the coroutine frame allocated by Asio's recycling allocator (std::aligned_alloc, after inlining)
// and released through the frame's class-level operator delete (std::free), and warns of a mismatch that is
// not there (a false positive, GCC PR 109224); the warning is off for this one coroutine only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
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
      conn->Close();
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
    auto ep = conn->socket.remote_endpoint(ec);
    if (!ec) {
      conn->remote = ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                                          : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
  }
  conn->socket.non_blocking(true, ec);
  conn->SetPhase(Connection::Phase::kIdle, options.idle_timeout);
  conn->StartWatchdog();

  auto& buffer = conn->buffer;
  auto& socket = conn->socket;
  auto read_more = [&]() -> asio::awaitable<bool> {
    size_t n = co_await socket.async_read_some(buffer.prepare(kReadChunk),
                                               asio::redirect_error(asio::use_awaitable, ec));
    buffer.commit(n);
    co_return !ec;
  };

  try {
    for (;;) {
      // Idle: wait for the first byte of the next request (pipelined bytes may already be buffered).
      if (buffer.size() == 0) {
        conn->SetPhase(Connection::Phase::kIdle, options.idle_timeout);
        if (!co_await read_more()) break;
      }
      conn->SetPhase(Connection::Phase::kReading, options.read_timeout);
      conn->read_timed_out = false;

      Request req;
      req.received_at = std::chrono::steady_clock::now();
      RequestParser parser(req);
      parser.header_limit(static_cast<uint32_t>(std::min<size_t>(options.max_header_bytes, UINT32_MAX)));
      // The body limit depends on the route, so it is checked (and set) once the headers are in.
      parser.body_limit(boost::none);

      // Headers.
      bool failed = false;
      for (;;) {
        size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (!ec && parser.is_header_done()) break;
        if (ec && ec != bhttp::error::need_more) {
          if (ec == bhttp::error::header_limit) {
            const std::string limit = std::to_string(options.max_header_bytes);
            // The request line is parsed as soon as it ends: if it has not been, it alone is over the limit,
            // a URL too long (414); otherwise the headers are (431).
            if (req.target.empty()) {
              co_await WriteAndClose(*conn, 414, "uri_too_long",
                                     "the request line is longer than " + limit + " bytes",
                                     "shorten the URL (its path and query) to under " + limit + " bytes");
            } else {
              co_await WriteAndClose(
                  *conn, 431, "headers_too_large", "the request line and headers exceed " + limit + " bytes",
                  "shorten the URL or leave out large headers, to " + limit + " bytes in all");
            }
          } else {
            co_await WriteAndClose(*conn, 400, "bad_request",
                                   "the request is not valid HTTP/1.1 (" + ec.message() + ")", kWellFormed);
          }
          failed = true;
          break;
        }
        ec = {};
        if (!co_await read_more()) {
          if (conn->read_timed_out) {
            co_await WriteAndClose(*conn, 408, "request_timeout", "the request was not received in time",
                                   SendWithin(options.read_timeout));
          }
          failed = true;
          break;
        }
      }
      if (failed) break;

      ToOriginForm(req.target);
      std::string_view target = req.target;
      size_t q = target.find('?');
      std::string_view raw_path = target.substr(0, q);
      req.path =
          raw_path.find('%') == std::string_view::npos ? std::string(raw_path) : UrlDecode(raw_path, false);
      if (q != std::string_view::npos) req.query = ParseQuery(target.substr(q + 1));
      req.remote_addr = conn->remote;
      req.secure = options.secure;
      auto incoming_id = req.headers.Get(kRequestIdHeader);
      req.request_id =
          incoming_id && IsSaneRequestId(*incoming_id) ? std::move(*incoming_id) : NewRequestId();
      const bool keep_alive = parser.keep_alive();
      const bool head = parser.method() == bhttp::verb::head;
      const bool http10 = parser.version() < 11;

      Router::Match match = router->Find(req.method, raw_path);
      const Route* route = match.route;
      if (route) {
        req.route = route->pattern;
        req.path_params = std::move(match.params);
        req.matched_route = route;
      } else {
        req.matched_route = match.path_matched_other_method ? &method_not_allowed : &not_found;
      }

      // Body, once its announced size is known to be within the route's limit.
      size_t limit =
          route && route->options.max_body_bytes ? route->options.max_body_bytes : options.max_body_bytes;
      std::optional<Response> early;
      auto too_large = [&] {
        return JsonError(
            413, "payload_too_large",
            "the request body is larger than this endpoint's limit of " + std::to_string(limit) + " bytes",
            "send at most " + std::to_string(limit) + " bytes");
      };
      if (parser.content_length() && *parser.content_length() > limit) {
        early = RunRejection(req, too_large());
      } else if (!parser.is_done()) {
        parser.body_limit(limit);
        parser.eager(true);
        if (parser.expect_continue() && buffer.size() == 0) {
          conn->out = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!co_await Write(*conn, {})) break;
          conn->SetPhase(Connection::Phase::kReading, options.read_timeout);
        }
        for (;;) {
          if (buffer.size() > 0) {
            size_t used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (!ec && parser.is_done()) break;
            if (ec == bhttp::error::body_limit) {
              early = RunRejection(req, too_large());
              break;
            }
            if (ec && ec != bhttp::error::need_more) {
              co_await WriteAndClose(*conn, 400, "bad_request",
                                     "the request body is not valid HTTP/1.1 (" + ec.message() + ")",
                                     kWellFormed);
              failed = true;
              break;
            }
            ec = {};
          }
          if (!co_await read_more()) {
            if (conn->read_timed_out) {
              co_await WriteAndClose(*conn, 408, "request_timeout",
                                     "the request body was not received in time",
                                     SendWithin(options.read_timeout));
            }
            failed = true;
            break;
          }
        }
        if (failed) break;
      }

      Response answer;
      bool close_after = !keep_alive || early.has_value();
      if (early) {
        answer = std::move(*early);
      } else if (match.path_matched_other_method) {
        answer = RunChain(req);
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        answer.headers.Set("Allow", std::move(allow));
      } else {
        answer = co_await Dispatch(*conn, req, route);
      }
      if (conn->phase == Connection::Phase::kClosed) break;  // stopped while the handler ran

      for (const auto& [name, value] : answer.headers.items()) {
        if (IEquals(name, "connection") && IEquals(value, "close")) close_after = true;
      }
      if (stopping) close_after = true;
      const int status = answer.status;
      const bool no_body = status < 200 || status == 204 || status == 304;
      std::string_view body = no_body || head ? std::string_view() : std::string_view(answer.body);
      bool inline_body = body.size() <= kInlineBodyBytes;
      conn->SetPhase(Connection::Phase::kWriting, options.read_timeout);
      Serialize(*conn, status, answer.headers, req.request_id, answer.body.size(), !no_body, close_after,
                inline_body ? body : std::string_view(), http10);
      if (!co_await Write(*conn, inline_body ? std::string_view() : body)) break;
      if (early) {
        co_await Linger(*conn);
        break;
      }
      if (close_after) break;
    }
  } catch (const std::exception& e) {
    // A bug in the session itself: drop this connection, keep the server.
    obs::Log(obs::Level::kError, "http_session_exception", {{"what", e.what()}});
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Server::Server(ServerOptions options, std::shared_ptr<const Router> router,
               std::vector<Middleware> middleware)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), std::move(middleware))) {}

Server::~Server() {
  Stop(std::chrono::milliseconds(0));
}

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
      tcp::resolver resolver(*s.iocs.front());
      auto results = resolver.resolve(listen->host, "", ec);
      if (ec || results.empty()) {
        return Fail(ErrorKind::kInvalidInput, "invalid_listen", "cannot resolve listen host " + listen->host,
                    kListenFix, ec.message());
      }
      address = results.begin()->endpoint().address();
    }
  }

  tcp::endpoint endpoint(address, listen->port);
  s.acceptor.emplace(*s.iocs.front());
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
  s.pool = std::make_unique<WorkerPool>(std::max<size_t>(1, s.options.worker_threads));
  asio::co_spawn(s.acceptor->get_executor(), s.Accept(), asio::detached);
  for (size_t i = 0; i < s.iocs.size(); ++i) {
    s.io_threads.emplace_back([&s, i] {
      SetThreadName("kt-http-io-" + std::to_string(i));
      asio::io_context& ioc = *s.iocs[i];
      this_io_thread = &ioc;
      // Runs until Stop(), also while it has no connection.
      auto keep = asio::make_work_guard(ioc);
      for (;;) {
        try {
          ioc.run();
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
      asio::post(conn->socket.get_executor(), [conn] {
        if (conn->phase == Connection::Phase::kIdle) conn->Close();
      });
    }
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.connection_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  // Handlers still running finish; queued ones that never started are dropped.
  s.pool->Stop();
  // A session still waiting for a handler's answer can no longer be resumed. Its coroutine and its connection
  // hold each other (the connection keeps the waiting handler), so without this they would outlive the
  // server. Dropping the handler hands the coroutine's unwinding to its stopped io_context, which destroys
  // it.
  std::vector<std::shared_ptr<Connection>> waiting;
  {
    std::lock_guard lock(s.connections_mu);
    for (const auto& conn : s.connections) {
      if (conn->waiter) waiting.push_back(conn);
    }
  }
  for (const auto& conn : waiting) conn->waiter.reset();
}

uint16_t Server::port() const {
  return impl_->port;
}
std::string Server::host() const {
  return impl_->host;
}

bool AfterReadyRequests(std::function<void()> fn) {
  if (this_io_thread == nullptr) return false;
  // A handler posted from a handler runs after those already queued: the completions of the thread's last
  // wait. Asio then polls once more without blocking (its queue is not empty) before running it.
  asio::post(*this_io_thread, std::move(fn));
  return true;
}

void WaitForShutdownSignal() {
  asio::io_context ioc;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([](const beast::error_code&, int) {});
  ioc.run();
}

}  // namespace kt::http
