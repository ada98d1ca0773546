// A loopback HTTP/1.1 endpoint for delivery tests: records every request and answers with a status chosen per
// request.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace procore_emulator::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

class TestReceiver {
 public:
  // Returns the status to answer the n-th request (0-based) with.
  using Responder = std::function<int(const ReceivedRequest& request, size_t n)>;

  TestReceiver();  // answers 200
  ~TestReceiver();
  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  void SetResponder(Responder responder);
  // http://127.0.0.1:PORT/path
  std::string Url(const std::string& path = "/procore/webhook") const;
  std::vector<ReceivedRequest> Requests() const;
  size_t Count() const;
  // True once at least n requests arrived within the timeout.
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout) const;

 private:
  void Accept();
  void Serve(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  Responder responder_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::thread> connections_;
};

}  // namespace procore_emulator::testing
