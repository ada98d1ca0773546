// One-time libsodium initialisation.
#include "crypto/sodium_init.h"

#include <sodium.h>

#include <stdexcept>

namespace kt::crypto {

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace kt::crypto
