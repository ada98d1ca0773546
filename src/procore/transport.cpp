// The real transport.
#include "procore/transport.h"

namespace kt::procore {

http::ClientResponse CurlTransport::Send(const http::ClientRequest& request) {
  return http::Fetch(request);
}

}  // namespace kt::procore
