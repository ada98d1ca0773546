// The seam between the Procore client and HTTP: the real transport calls http::Fetch, tests use fakes.
#pragma once

#include "http/client.h"

namespace kt::procore {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request and returns what came back; transport failures are reported in the response
  // (status 0, transport_error), never thrown. Must be safe to call from several threads at once.
  virtual http::ClientResponse Send(const http::ClientRequest& request) = 0;
};

// libcurl through http::Fetch: one keep-alive handle per calling thread, so connections are reused.
class CurlTransport final : public Transport {
 public:
  http::ClientResponse Send(const http::ClientRequest& request) override;
};

}  // namespace kt::procore
