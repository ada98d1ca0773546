// libsodium must be initialised once before use; every crypto entry point calls this first.
#pragma once

namespace kt::crypto {

// Initialises libsodium (idempotent, thread-safe); throws std::runtime_error if it cannot, which is a
// start-up failure (no usable CSPRNG).
void EnsureSodium();

}  // namespace kt::crypto
