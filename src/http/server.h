// The HTTP server: Boost.Beast on Asio with C++20 coroutines. The only code that includes Beast is in http/.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/router.h"

namespace kt::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  size_t io_threads = 1;
  size_t worker_threads = 8;          // the bounded pool blocking handlers run on
  size_t max_queued_requests = 4096;  // beyond this the server answers 503 rather than queueing without bound
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds handler_timeout{60000};
  std::chrono::milliseconds idle_timeout{60000};
  // Browsers reach the server over TLS (a TLS-terminating proxy in front of it): requests are marked secure,
  // so cookies carry the Secure flag.
  bool secure = false;
};

class Server {
 public:
  // middleware runs outermost first, around every routed handler (and around 404/405 answers).
  Server(ServerOptions options, std::shared_ptr<const Router> router,
         std::vector<Middleware> middleware = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads. Returns the bound port.
  Result<uint16_t> Start();
  // Stops accepting, lets in-flight requests finish (up to the grace period), then stops the threads.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  uint16_t port() const;
  std::string host() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks until SIGINT or SIGTERM arrives.
void WaitForShutdownSignal();

// On a server's I/O thread: queues `fn` to run on this thread once it has handled the requests that became
// ready together with the current one (those one wait of the thread returned), before it waits again, and
// returns true. Elsewhere (a pool thread, a test's thread) returns false and does nothing. A route's front
// uses it to do for all of those requests at once what each would do alone (one write to a file for many).
bool AfterReadyRequests(std::function<void()> fn);

}  // namespace kt::http
