// Process-wide default randomness.
#include "util/random.h"

namespace kt {

Random& DefaultRandom() {
  static SeededRandom random(std::random_device{}());
  return random;
}

}  // namespace kt
