// A synchronous HTTP client on libcurl, with one keep-alive handle per thread. Used for outbound calls
// (KTrack to Procore through procore/, the emulator's webhook deliveries, tests).
#pragma once

#include <chrono>
#include <string>

#include "http/message.h"

namespace kt::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
};

// A response body is allocated with at least this many spare bytes past its end, so a parser that reads past
// the end (simdjson's padding) can take it as it is instead of copying it into a larger string.
constexpr size_t kBodySpareBytes = 64;

struct ClientResponse {
  int status = 0;  // 0 when no response arrived (see error)
  Headers headers;
  std::string body;
  // Set when the transport failed: "timeout", "connection_refused", "dns", "tls", or curl's text.
  std::string transport_error;
  bool timed_out = false;
  bool ok() const { return transport_error.empty() && status >= 200 && status < 300; }
};

// Performs the request on this thread's reusable curl handle (connection reuse across calls).
ClientResponse Fetch(const ClientRequest& request);

}  // namespace kt::http
