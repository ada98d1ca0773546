// The emulator's clock: real time scaled by --time-scale, so an emulated hour can pass in a second.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace procore_emulator {

class EmulatedClock {
 public:
  // scale 1: emulated time runs with real time; 3600: one emulated hour per real second.
  explicit EmulatedClock(double scale = 1.0) { Reset(scale); }

  void Reset(double scale) {
    std::lock_guard lock(mu_);
    scale_ = scale > 0 ? scale : 1.0;
    real_start_ = std::chrono::steady_clock::now();
    emulated_start_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    offset_ms_ = 0;
  }
  // Emulated unix time in milliseconds.
  int64_t NowMs() const {
    std::lock_guard lock(mu_);
    double real_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - real_start_).count();
    return emulated_start_ms_ + offset_ms_ + static_cast<int64_t>(real_ms * scale_);
  }
  int64_t NowS() const { return NowMs() / 1000; }
  // Moves emulated time forward at once (control API and tests).
  void Advance(int64_t emulated_ms) {
    std::lock_guard lock(mu_);
    offset_ms_ += emulated_ms;
  }
  // How long to wait in real time for an emulated duration to pass.
  std::chrono::microseconds RealDelayFor(int64_t emulated_ms) const {
    std::lock_guard lock(mu_);
    return std::chrono::microseconds(
        static_cast<int64_t>(static_cast<double>(emulated_ms) * 1000.0 / scale_));
  }
  double scale() const {
    std::lock_guard lock(mu_);
    return scale_;
  }

 private:
  mutable std::mutex mu_;
  double scale_ = 1.0;
  std::chrono::steady_clock::time_point real_start_;
  int64_t emulated_start_ms_ = 0;
  int64_t offset_ms_ = 0;
};

}  // namespace procore_emulator
