// Time as an injected dependency, so retry, backoff, expiry and lease logic is tested exactly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kt {

using SysTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

inline int64_t UnixMs(SysTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (used for expiries and timestamps stored or sent elsewhere).
  virtual SysTime Now() = 0;
  // Blocks the calling thread; a manual clock advances instead of sleeping.
  virtual void SleepFor(Millis d) = 0;

  int64_t NowUnixMs() { return UnixMs(Now()); }
  int64_t NowUnixS() { return NowUnixMs() / 1000; }
};

class SystemClock final : public Clock {
 public:
  SysTime Now() override { return std::chrono::system_clock::now(); }
  void SleepFor(Millis d) override;
  static SystemClock& Instance();
};

// A clock for tests: time moves only when told to (or when someone sleeps on it).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SysTime start = SysTime(std::chrono::seconds(1'700'000'000))) : now_(start) {}
  SysTime Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void SleepFor(Millis d) override { Advance(d); }
  void Advance(Millis d) {
    std::lock_guard lock(mu_);
    now_ += d;
    slept_total_ += d;
  }
  Millis SleptTotal() {
    std::lock_guard lock(mu_);
    return slept_total_;
  }

 private:
  std::mutex mu_;
  SysTime now_;
  Millis slept_total_{0};
};

}  // namespace kt
