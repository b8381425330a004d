// Test support: a hostile peer. A process attached legitimately to a ring turns and writes garbage into its own
// index through a raw mapping of the segment, while the victim waits on the ring: the index moved backwards,
// jumped past the capacity, flipping constantly between valid-looking and impossible values, or random bytes
// scribbled over the whole header and data area. Used on typed rings (indices count elements) and on message
// rings (indices count bytes, kept 8-aligned).
// May touch: the segment it was given.
#pragma once

#include "raw_segment.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>

#include <unistd.h>

namespace shmring_test {

enum class attack : int { backwards = 0, past_capacity = 1, flipping = 2, scribble = 3 };

inline const char* attack_name(attack a) {
  switch (a) {
    case attack::backwards: return "backwards";
    case attack::past_capacity: return "past_capacity";
    case attack::flipping: return "flipping";
    case attack::scribble: return "scribble";
  }
  return "?";
}

/// Writes garbage forever (until the test kills this process). own: the hostile side's index; other: the
/// victim's; own_is_head: the hostile side is the producer (for the consumer's index, "ahead" means past the
/// producer's head). capacity: the ring's, in index units; step: the smallest valid move of an index (1 element
/// on a typed ring, 8 bytes on a message ring); seed: of the garbage.
[[noreturn]] inline void run_attack(attack a, raw_map& m, std::atomic<std::uint64_t>& own,
                                    std::atomic<std::uint64_t>& other, bool own_is_head, std::uint64_t capacity,
                                    std::uint64_t step, std::uint64_t seed) {
  std::mt19937_64 rng(seed + static_cast<unsigned>(a));
  const std::uint64_t cap = capacity;
  switch (a) {
    case attack::backwards:
      // head goes below tail / tail goes more than capacity behind head
      own.store(own_is_head ? other.load() - step : other.load() - cap - step, std::memory_order_release);
      for (;;) ::pause();
    case attack::past_capacity:
      // head more than capacity ahead of tail / tail ahead of head
      own.store(own_is_head ? other.load() + cap + step : other.load() + step, std::memory_order_release);
      for (;;) ::pause();
    case attack::flipping:
      for (;;) {
        // Mostly valid-looking values (any count of elements or free slots, forwards and backwards: on a message
        // ring they expose stale bytes as records), now and then an impossible one, as fast as the CPU goes: the
        // victim moves garbage (in bounds) meanwhile.
        for (int k = 0; k < 4096; ++k) {
          const std::uint64_t o = other.load(std::memory_order_acquire);
          const std::uint64_t d = step * (rng() % (cap / step + 1));
          own.store(own_is_head ? o + d : o - d, std::memory_order_release);
        }
        const std::uint64_t o = other.load(std::memory_order_acquire);
        own.store(own_is_head ? o + cap + step + rng() % 4096 : o + step + rng() % 4096, std::memory_order_release);
      }
    case attack::scribble:
      for (;;) {
        auto* w = reinterpret_cast<std::uint64_t*>(m.data());
        const std::size_t words = m.size() / sizeof(std::uint64_t);
        for (int i = 0; i < 64; ++i) std::atomic_ref<std::uint64_t>(w[rng() % words]).store(rng(), std::memory_order_relaxed);
        // and the index itself, every round
        own.store(rng(), std::memory_order_release);
      }
  }
  std::abort();
}

}  // namespace shmring_test
