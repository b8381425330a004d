// shmring: an atomic counter that counts its own operations (adds, loads, compare-and-swaps and their failures).
// May touch: only the counter it is called on. No system call, no allocation.
#pragma once

#include <shmring/config.hpp>
#include <shmring/stats/snapshot.hpp>

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace shmring {

/// A 64-bit atomic counter that counts the operations made on it and the failed compare-and-swaps.
/// The value and the statistics are on separate cache lines; each operation costs one extra relaxed
/// read-modify-write on the statistics line. Standard-layout and address-free: may live in a shared segment.
class stats_counter {
 public:
  /// Starts at `initial` with zeroed statistics.
  constexpr explicit stats_counter(std::uint64_t initial = 0) noexcept : value_{initial} {}
  stats_counter(const stats_counter&) = delete;
  stats_counter& operator=(const stats_counter&) = delete;

  /// Adds `n` and returns the value before. Relaxed by default: a pure count publishes nothing.
  std::uint64_t fetch_add(std::uint64_t n, std::memory_order order = std::memory_order_relaxed) noexcept {
    stats_.adds.fetch_add(1, std::memory_order_relaxed);
    return value_.fetch_add(n, order);
  }

  /// Adds one and returns the value after, like prefix ++. Relaxed.
  std::uint64_t increment() noexcept { return fetch_add(1) + 1; }

  /// Reads the value. Acquire by default: pairs with the release half of a successful compare_exchange(),
  /// so a value installed by CAS also publishes what its writer wrote before it.
  [[nodiscard]] std::uint64_t load(std::memory_order order = std::memory_order_acquire) const noexcept {
    stats_.loads.fetch_add(1, std::memory_order_relaxed);
    return value_.load(order);
  }

  /// If the value equals `expected`, replaces it with `desired` and returns true; otherwise stores the
  /// current value in `expected`, counts a failure and returns false. Strong: it never fails spuriously, so
  /// every counted failure is a real conflict. acq_rel on success (acquires what the previous writer
  /// published, releases ours), acquire on failure (the value returned in `expected` may be acted upon).
  bool compare_exchange(std::uint64_t& expected, std::uint64_t desired,
                        std::memory_order success = std::memory_order_acq_rel,
                        std::memory_order failure = std::memory_order_acquire) noexcept {
    stats_.cas_attempts.fetch_add(1, std::memory_order_relaxed);
    if (value_.compare_exchange_strong(expected, desired, success, failure)) return true;
    stats_.cas_failures.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  /// The statistics. Any thread, any time; exact once the counter is quiescent.
  [[nodiscard]] counter_stats snapshot() const noexcept {
    return {stats_.adds.load(std::memory_order_relaxed), stats_.loads.load(std::memory_order_relaxed),
            stats_.cas_attempts.load(std::memory_order_relaxed), stats_.cas_failures.load(std::memory_order_relaxed)};
  }

  /// Zeroes the statistics; the value is untouched. A reset racing with operations may lose to them.
  void reset() noexcept {
    stats_.adds.store(0, std::memory_order_relaxed);
    stats_.loads.store(0, std::memory_order_relaxed);
    stats_.cas_attempts.store(0, std::memory_order_relaxed);
    stats_.cas_failures.store(0, std::memory_order_relaxed);
  }

 private:
  struct alignas(cache_line) counters {
    std::atomic<std::uint64_t> adds{0};
    std::atomic<std::uint64_t> loads{0};
    std::atomic<std::uint64_t> cas_attempts{0};
    std::atomic<std::uint64_t> cas_failures{0};
  };

  alignas(cache_line) std::atomic<std::uint64_t> value_;
  mutable counters stats_;  // mutable: load() is const yet counted
};

static_assert(std::is_standard_layout_v<stats_counter>, "stats_counter may be placed in a shared segment");
static_assert(sizeof(stats_counter) == 2 * cache_line, "stats_counter keeps its value and statistics on two lines");

}  // namespace shmring
