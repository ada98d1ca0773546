// Deterministic pseudo-randomness for generated data: every value is a pure function of the seeds mixed in.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

namespace procore_emulator {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t Mix(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x5851f42d4c957f2dULL;
  for (uint64_t p : parts) h = SplitMix64(h ^ p);
  return h;
}

// A small generator seeded once; the same seed always yields the same sequence.
class Dice {
 public:
  explicit Dice(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return SplitMix64(state_);
  }
  // Uniform in [lo, hi] (inclusive).
  int64_t Range(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  bool Chance(double p) { return Unit() < p; }
  template <typename T>
  const T& Pick(std::span<const T> items) {
    return items[Next() % items.size()];
  }

 private:
  uint64_t state_;
};

}  // namespace procore_emulator
