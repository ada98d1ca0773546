// The real clock.
#include "util/clock.h"

#include <thread>

namespace kt {

void SystemClock::SleepFor(Millis d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

}  // namespace kt
