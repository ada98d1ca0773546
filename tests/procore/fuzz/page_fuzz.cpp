// libFuzzer target: a list page (v1 array or v2 data wrapper) with arbitrary body and headers, through the
// pager.
#include <cstddef>
#include <cstdint>
#include <string>

#include "procore/pagination.h"

namespace {

using namespace kt;
using namespace kt::procore;

// Answers tokens, then serves the fuzz input: the first line is the Link header, the rest the body.
class Replay final : public Transport {
 public:
  std::string input;
  http::ClientResponse Send(const http::ClientRequest& request) override {
    http::ClientResponse r;
    r.status = 200;
    if (request.url.find("/oauth/token") != std::string::npos) {
      r.body = R"({"access_token":"t","expires_in":5400})";
      return r;
    }
    size_t nl = input.find('\n');
    r.headers.Add("Link", input.substr(0, nl));
    r.headers.Add("Total", "3");
    r.body = nl == std::string::npos ? std::string() : input.substr(nl + 1);
    return r;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock;
  static SeededRandom random(1);
  static Replay transport;
  static InMemoryRateBudgetStore store;
  static RateBudget budget(store, clock, [] {
    RateBudgetPolicy p;
    p.initial_spike_limit = 1'000'000'000;
    p.headerless_spike_limit = 1'000'000'000;
    return p;
  }());
  static TokenCache tokens(transport, clock, random);
  static Client client(
      [] {
        ClientOptions o;
        o.app.urls = {Environment::kCustom, "http://127.0.0.1:9", "http://127.0.0.1:9"};
        o.app.client_id = "c";
        o.app.client_secret = "s";
        return o;
      }(),
      ClientDeps{transport, clock, random, tokens, budget, nullptr});
  transport.input.assign(reinterpret_cast<const char*>(data), size);
  for (ListShape shape : {ListShape::kV1Array, ListShape::kV2Data}) {
    ListRequest request;
    request.path = "/rest/v1.0/projects/1/rfis";
    request.company_id = 1;
    request.shape = shape;
    Pager pager(client, request);
    for (int i = 0; i < 3; ++i) {
      auto more = pager.Next();
      if (!more || !*more) break;
      for (const auto& r : pager.page().records) {
        if (r.json.empty() || r.json.front() != '{') __builtin_trap();
      }
      if (pager.done()) break;
    }
  }
  return 0;
}
