// Randomness as an injected dependency (jitter, fault injection), seedable for repeatable tests.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

namespace kt {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double Uniform() = 0;
  // Uniform in [lo, hi] (inclusive).
  virtual int64_t UniformInt(int64_t lo, int64_t hi) = 0;
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  double Uniform() override {
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }
  int64_t UniformInt(int64_t lo, int64_t hi) override {
    std::lock_guard lock(mu_);
    return std::uniform_int_distribution<int64_t>(lo, hi)(engine_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

// Seeded from the OS once; for production use.
Random& DefaultRandom();

}  // namespace kt
