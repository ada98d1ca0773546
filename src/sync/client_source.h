// The seam through which the sync engine gets a Procore client for a KTrack client. The integration module
// implements it (it owns the credentials); tests implement it over the emulator or a fake transport.
#pragma once

#include <cstdint>
#include <memory>

#include "procore/client.h"
#include "util/error.h"

namespace kt::sync {

class ProcoreClientSource {
 public:
  virtual ~ProcoreClientSource() = default;
  // The client for the KTrack client's Procore app. kNotFound or kConflict when the client has no usable
  // integration (never connected, disconnected): the engine then stops working for it rather than retrying.
  virtual Result<std::shared_ptr<procore::Client>> ClientFor(int64_t client_id) = 0;
};

}  // namespace kt::sync
