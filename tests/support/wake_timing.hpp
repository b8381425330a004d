// Test support: the wake-up protocol between two processes, exercised. Options under which a waiting side really
// sleeps in the kernel (so a lost wake-up hangs instead of being hidden by a periodic wake-up), and the timing of
// a publish against a peer that is (or will be) waiting for it, spread over the points where a missing barrier
// loses wake-ups.
#pragma once

#include "checksum.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <cstdint>
#include <thread>

namespace shmring_test {

/// Sleep policy that really sleeps: `spin` polls before the sleep, no yielding, and a liveness interval of an
/// hour so every futex sleep is unbounded in practice. A lost wake-up then cannot be hidden by the periodic
/// liveness wake-up: it hangs, and the test's CTest TIMEOUT fails it.
inline shmring::options sleepy(std::uint32_t spin = 0) {
  shmring::options o;
  o.wait.policy = shmring::wait_policy::sleep;
  o.wait.spin_iterations = spin;
  o.wait.yield_iterations = 0;
  o.wait.liveness_interval = std::chrono::hours(1);
  return o;
}

/// How the publisher of cycle i times its push (or send) against the peer, which is (or will be) waiting for it
/// (i % 8). peer_wait and peer_stats are the peer's words in the segment; peer_sleeps_before is the peer's sleep
/// count as it reported it after its previous pop.
///  0: after the peer has really gone to sleep (its sleep counter passed peer_sleeps_before): it is in the
///     futex, or entering it, and only our wake call can wake it;
///  1: right after the peer announced its sleep (sleeping == 1): we land in its S2..S5 window, between its
///     announcement and its futex call;
///  2: at once, wherever the peer is (usually still spinning or announcing);
///  3-7: after a pseudo-random pause of 0 to ~5 us, spreading our publish (W1) and our look at `sleeping` (W3)
///     across the peer's announce-barrier-recheck (S2-S4). This is where a missing barrier loses wake-ups: W3
///     reads 0 while W1 still sits in our store buffer and S4 reads the old index. The pause explores
///     interleavings; nothing waits on it.
/// Waiting in 0 and 1 is on the shared words themselves (events), never a sleep; it yields so that on a busy
/// machine the peer gets the core it needs to reach its sleep.
inline void time_push(std::uint64_t i, const shmring::layout::wait_line& peer_wait,
                      const shmring::layout::stats_line& peer_stats, std::uint64_t peer_sleeps_before) {
  switch (i % 8) {
    case 0:
      // relaxed: a counter only its owner writes; we wait for it to move.
      while (peer_stats.sleeps.load(std::memory_order_relaxed) <= peer_sleeps_before) std::this_thread::yield();
      break;
    case 1:
      // acquire: pairs with the sleeper's seq_cst store of sleeping (S2 in wait.hpp).
      while (peer_wait.sleeping.load(std::memory_order_acquire) == 0) std::this_thread::yield();
      break;
    case 2:
      break;
    default:
      for (std::uint64_t n = mix(i) % 128; n > 0; --n) shmring::detail::cpu_relax();  // a pause is ~40 ns here
      break;
  }
}

}  // namespace shmring_test
