// libFuzzer target: Procore error bodies (any JSON shape or none) and their classification.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "procore/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  kt::procore::Evidence ev;
  ev.body = kt::procore::ParseErrorBody(input);
  if (ev.body.message.size() > 600) __builtin_trap();
  kt::procore::CallContext context;
  context.tool = "RFIs";
  context.scope = kt::procore::Scope::kProject;
  context.project_id = 5;
  for (int status : {400, 401, 403, 404, 422, 429, 500}) {
    ev.status = status;
    auto code = kt::procore::ClassifyApiFailure(ev, context);
    auto error = kt::procore::MakeError(code, context, ev);
    if (error.error.message.empty() || error.error.fix.empty()) __builtin_trap();
  }
  (void)kt::procore::ClassifyTokenFailure(ev);
  return 0;
}
