// shmring: a wrapper that counts how any lock is acquired: acquisitions, contention, time spent waiting.
// May touch: only the lock it wraps and its own counters, and the clock on a contended acquisition. Never
// allocates; the only system calls are whatever the wrapped lock itself makes.
#pragma once

#include <shmring/config.hpp>
#include <shmring/stats/snapshot.hpp>
#include <shmring/stats/spinlock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace shmring {

namespace detail {

/// Adds to a counter written only by the exclusive holder of a lock. The lock's acquire/release already
/// orders successive holders, so a relaxed load and store cannot lose an update and saves a locked
/// read-modify-write on the hot path; the counter is atomic only so that snapshot() may read it meanwhile.
inline void bump_owned(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

/// One side's counters, on a cache line of their own so that counting never contends with the lock word.
/// All relaxed: they order nothing, they only count.
struct alignas(cache_line) lock_counters {
  std::atomic<std::uint64_t> acquisitions{0};
  std::atomic<std::uint64_t> contended{0};
  std::atomic<std::uint64_t> failed_try_locks{0};
  std::atomic<std::uint64_t> wait_ns{0};
  std::atomic<std::uint64_t> max_wait_ns{0};

  /// Exclusive holder only.
  void add_contended_owned(std::uint64_t waited) noexcept {
    bump_owned(acquisitions);
    bump_owned(contended);
    bump_owned(wait_ns, waited);
    if (waited > max_wait_ns.load(std::memory_order_relaxed)) max_wait_ns.store(waited, std::memory_order_relaxed);
  }

  /// Any number of shared holders at once, hence read-modify-writes.
  void add_contended_shared(std::uint64_t waited) noexcept {
    acquisitions.fetch_add(1, std::memory_order_relaxed);
    contended.fetch_add(1, std::memory_order_relaxed);
    wait_ns.fetch_add(waited, std::memory_order_relaxed);
    // The CAS loop only keeps a larger maximum stored by another holder meanwhile from being overwritten.
    std::uint64_t seen = max_wait_ns.load(std::memory_order_relaxed);
    while (waited > seen && !max_wait_ns.compare_exchange_weak(seen, waited, std::memory_order_relaxed)) {
    }
  }

  [[nodiscard]] lock_stats load() const noexcept {
    return {acquisitions.load(std::memory_order_relaxed), contended.load(std::memory_order_relaxed),
            failed_try_locks.load(std::memory_order_relaxed), wait_ns.load(std::memory_order_relaxed),
            max_wait_ns.load(std::memory_order_relaxed)};
  }

  void reset() noexcept {
    acquisitions.store(0, std::memory_order_relaxed);
    contended.store(0, std::memory_order_relaxed);
    failed_try_locks.store(0, std::memory_order_relaxed);
    wait_ns.store(0, std::memory_order_relaxed);
    max_wait_ns.store(0, std::memory_order_relaxed);
  }
};

/// Stands in for the shared counters of a lock without shared members.
struct no_lock_counters {
  void reset() noexcept {}
};

/// Runs a blocking acquisition and returns how long it took. Out of line and cold: reached only after a
/// failed try_lock, so the uncontended path never reads the clock.
template <class Acquire>
SHMRING_COLD std::uint64_t timed_acquire(Acquire acquire) noexcept(noexcept(acquire())) {
  const auto start = std::chrono::steady_clock::now();
  acquire();
  const auto waited = std::chrono::steady_clock::now() - start;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count());
}

}  // namespace detail

/// Wraps a lock (std::mutex, std::shared_mutex, shmring::spinlock, boost::interprocess::interprocess_mutex,
/// ...) and counts its acquisitions, the contended ones, and the time they waited. Lockable, and
/// SharedLockable when L is, so std::lock_guard, std::unique_lock and std::shared_lock work on it.
/// An acquisition costs one try_lock and one relaxed increment; only when that try_lock fails is the clock
/// read, around the blocking lock(). A spurious try_lock failure (std::mutex may have them) counts as
/// contended. Address-free when L is (e.g. stats_lock<spinlock> may live in a shared segment).
template <lockable L>
class stats_lock {
 public:
  using lock_type = L;

  /// Constructs the wrapped lock by default and zeroes the counters.
  stats_lock() = default;
  stats_lock(const stats_lock&) = delete;
  stats_lock& operator=(const stats_lock&) = delete;

  /// Blocks until the caller holds the lock exclusively; times the wait only if the first try_lock fails.
  void lock() noexcept(nothrow_lock_) {
    if (SHMRING_LIKELY(lock_.try_lock())) {
      detail::bump_owned(exclusive_.acquisitions);
      return;
    }
    const std::uint64_t waited = detail::timed_acquire([this]() noexcept(nothrow_lock_) { lock_.lock(); });
    exclusive_.add_contended_owned(waited);
  }

  /// Takes the lock exclusively if it is free and returns true; a false return is counted in failed_try_locks.
  [[nodiscard]] bool try_lock() noexcept(nothrow_try_lock_) {
    if (lock_.try_lock()) {
      detail::bump_owned(exclusive_.acquisitions);
      return true;
    }
    // Not the holder: another thread may count at the same time, so a read-modify-write.
    exclusive_.failed_try_locks.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  /// Releases an exclusive hold. Exclusive holder only.
  void unlock() noexcept(noexcept(std::declval<L&>().unlock())) { lock_.unlock(); }

  /// Blocks until the caller holds the lock shared; times the wait only if the first try_lock_shared fails.
  void lock_shared() noexcept(nothrow_lock_shared_) requires shared_lockable<L> {
    if (SHMRING_LIKELY(lock_.try_lock_shared())) {
      // Other shared holders count at the same time, so a read-modify-write.
      shared_.acquisitions.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::uint64_t waited =
        detail::timed_acquire([this]() noexcept(nothrow_lock_shared_) { lock_.lock_shared(); });
    shared_.add_contended_shared(waited);
  }

  /// Takes the lock shared if no writer holds it and returns true; a false return is counted.
  [[nodiscard]] bool try_lock_shared() noexcept(nothrow_try_lock_shared_) requires shared_lockable<L> {
    if (lock_.try_lock_shared()) {
      shared_.acquisitions.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    shared_.failed_try_locks.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  /// Releases a shared hold. Shared holder only.
  void unlock_shared() noexcept(noexcept(std::declval<L&>().unlock_shared())) requires shared_lockable<L> {
    lock_.unlock_shared();
  }

  /// The exclusive side's counters. Any thread, any time; exact once the lock is quiescent.
  [[nodiscard]] lock_stats snapshot() const noexcept { return exclusive_.load(); }

  /// The shared side's counters. Any thread, any time; exact once the lock is quiescent.
  [[nodiscard]] lock_stats snapshot_shared() const noexcept requires shared_lockable<L> { return shared_.load(); }

  /// Zeroes every counter; the lock itself is untouched. A reset racing with acquisitions may lose to them.
  void reset() noexcept {
    exclusive_.reset();
    shared_.reset();
  }

  /// The wrapped lock. Locking it directly bypasses the counters.
  [[nodiscard]] L& underlying() noexcept { return lock_; }
  /// The wrapped lock.
  [[nodiscard]] const L& underlying() const noexcept { return lock_; }

 private:
  static constexpr bool nothrow_try_lock_ = noexcept(std::declval<L&>().try_lock());
  static constexpr bool nothrow_lock_ = noexcept(std::declval<L&>().lock()) && nothrow_try_lock_;
  static constexpr bool nothrow_try_lock_shared_ = [] {
    if constexpr (shared_lockable<L>)
      return noexcept(std::declval<L&>().try_lock_shared());
    else
      return false;
  }();
  static constexpr bool nothrow_lock_shared_ = [] {
    if constexpr (shared_lockable<L>)
      return noexcept(std::declval<L&>().lock_shared()) && nothrow_try_lock_shared_;
    else
      return false;
  }();

  // The lock word(s) start the object and the counters follow on their own lines, so waiters spinning on
  // the lock never share a line with counting; exclusive and shared counters are apart so that readers
  // counting concurrently do not slow a writer's counting.
  L lock_;
  detail::lock_counters exclusive_;
  [[no_unique_address]] std::conditional_t<shared_lockable<L>, detail::lock_counters, detail::no_lock_counters> shared_;
};

}  // namespace shmring
