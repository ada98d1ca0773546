// The loopback test receiver: a listening socket, one thread per connection, keep-alive request loop.
#include "test_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "util/strings.h"

namespace procore_emulator::testing {
namespace {

constexpr int kPollMs = 50;

// Reads more bytes into buffer; false on close, error or stop.
bool ReadMore(int fd, std::string& buffer, const std::atomic<bool>& stopping) {
  while (!stopping) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, kPollMs);
    if (ready < 0) return false;
    if (ready == 0) continue;
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }
  return false;
}

bool WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TestReceiver::TestReceiver() {
  responder_ = [](const ReceivedRequest&, size_t) { return 200; };
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

TestReceiver::~TestReceiver() {
  stopping_ = true;
  acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) connection.join();
  ::close(listen_fd_);
}

void TestReceiver::SetResponder(Responder responder) {
  std::lock_guard lock(mu_);
  responder_ = std::move(responder);
}

std::string TestReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> TestReceiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t TestReceiver::Count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool TestReceiver::WaitForCount(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void TestReceiver::Accept() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestReceiver::Serve(int fd) {
  std::string buffer;
  while (!stopping_) {
    size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(fd, buffer, stopping_)) {
        ::close(fd);
        return;
      }
    }
    ReceivedRequest request;
    std::vector<std::string> lines = kt::Split(std::string_view(buffer).substr(0, header_end), '\n');
    std::vector<std::string> start = kt::Split(kt::Trim(lines.at(0)), ' ');
    request.method = start.size() > 0 ? start[0] : "";
    request.target = start.size() > 1 ? start[1] : "";
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string_view line = kt::Trim(lines[i]);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = kt::ToLower(kt::Trim(line.substr(0, colon)));
      std::string value(kt::Trim(line.substr(colon + 1)));
      if (name == "content-length") content_length = static_cast<size_t>(kt::ParseInt64(value).value_or(0));
      request.headers[name] = value;
    }
    buffer.erase(0, header_end + 4);
    while (buffer.size() < content_length) {
      if (!ReadMore(fd, buffer, stopping_)) {
        ::close(fd);
        return;
      }
    }
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    int status;
    {
      std::lock_guard lock(mu_);
      status = responder_(request, requests_.size());
      requests_.push_back(request);
    }
    arrived_.notify_all();
    std::string response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: text/plain\r\n" +
                           "Content-Length: 2\r\nX-Receiver: test\r\n\r\nok";
    if (!WriteAll(fd, response)) break;
  }
  ::close(fd);
}

}  // namespace procore_emulator::testing
