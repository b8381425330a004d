// Harness: which two cores the suite runs on, pinning a thread to one, and the CPU pause every wait loop uses.
// May touch: the CPU affinity mask of the calling thread (and restore it, scoped_pin). No queue, no process.
#pragma once

#include <shmring/wait.hpp>

#include <utility>

#include <sched.h>

namespace shmring_bench {

inline void cpu_relax() noexcept { shmring::detail::cpu_relax(); }

/// The first two cores this process may run on: {producer, consumer}; -1 where there is none.
inline std::pair<int, int> bench_cpus() {
  static const std::pair<int, int> cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::pair<int, int> r{-1, -1};
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return r;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (!CPU_ISSET(c, &set)) continue;
      if (r.first < 0)
        r.first = c;
      else if (r.second < 0) {
        r.second = c;
        break;
      }
    }
    return r;
  }();
  return cpus;
}

inline void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::sched_setaffinity(0, sizeof set, &set);  // 0: the calling thread
}

/// Pins the calling thread to the producer core for its lifetime and restores the previous mask afterwards (so
/// the lock benchmarks, whose threads inherit the main thread's mask, still get both cores).
class scoped_pin {
 public:
  explicit scoped_pin(int cpu) {
    CPU_ZERO(&old_);
    saved_ = ::sched_getaffinity(0, sizeof old_, &old_) == 0;
    pin_to(cpu);
  }
  ~scoped_pin() {
    if (saved_) (void)::sched_setaffinity(0, sizeof old_, &old_);
  }
  scoped_pin(const scoped_pin&) = delete;
  scoped_pin& operator=(const scoped_pin&) = delete;

 private:
  cpu_set_t old_;
  bool saved_ = false;
};

}  // namespace shmring_bench
