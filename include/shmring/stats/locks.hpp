// shmring: a spinlock that can live in a shared segment, a wrapper that counts how any lock is acquired
// (acquisitions, contention, time spent waiting) and an atomic counter that counts its own operations.
// May touch: only the lock or counter it is called on, and the clock on a contended acquisition. Never
// allocates (except to_string()); the only system calls are sched_yield in a long spinlock wait and
// whatever the wrapped lock itself makes.
#pragma once

#include <shmring/config.hpp>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

namespace shmring {

/// What std::lock_guard and std::unique_lock need (the standard's Lockable): lock, try_lock, unlock.
template <class L>
concept lockable = requires(L& l) {
  l.lock();
  { l.try_lock() } -> std::convertible_to<bool>;
  l.unlock();
};

/// What std::shared_lock needs on top of lockable (the standard's SharedLockable). stats_lock offers the
/// shared members, with their own counters, exactly when the wrapped lock has them.
template <class L>
concept shared_lockable = lockable<L> && requires(L& l) {
  l.lock_shared();
  { l.try_lock_shared() } -> std::convertible_to<bool>;
  l.unlock_shared();
};

namespace detail {

/// One spin-wait hint to the CPU: yields the pipeline to a sibling hyper-thread and avoids the
/// memory-order flush when the awaited store lands. Does nothing where no such hint is known.
inline void lock_pause() noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7))
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

}  // namespace detail

/// A test-and-test-and-set lock in one 32-bit word. Not recursive, not fair.
/// Standard-layout, trivially destructible and address-free (no pointers, no per-process state), so it may
/// be placed in memory shared between processes: construct it once in the segment (placement new) and any
/// process that maps the segment may lock it. A process that dies holding it leaves it held.
class spinlock {
 public:
  /// Upper bound of the pause burst, which doubles after each failed look at the word; once reached,
  /// every further look is preceded by std::this_thread::yield() instead.
  static constexpr std::uint32_t max_pauses = 64;

  /// Constructs an unlocked lock.
  constexpr spinlock() noexcept = default;
  spinlock(const spinlock&) = delete;
  spinlock& operator=(const spinlock&) = delete;

  /// Blocks (spinning, then yielding) until the caller holds the lock. The holder must not call it.
  void lock() noexcept {
    std::uint32_t pauses = 1;
    // SYNC POINT READ: acquire pairs with the release store in unlock(): the previous holder's writes are
    // visible inside our critical section.
    while (word_.exchange(1, std::memory_order_acquire) != 0) {
      // Waiters only load, so the line stays shared among them instead of bouncing on every exchange; the
      // acquire is taken by the exchange above once the word reads free.
      do {
        if (pauses <= max_pauses) {
          for (std::uint32_t i = 0; i < pauses; ++i) detail::lock_pause();
          pauses *= 2;
        } else {
          std::this_thread::yield();
        }
      } while (word_.load(std::memory_order_relaxed) != 0);
    }
  }

  /// Takes the lock if it is free and returns true; never blocks. May be called by anyone.
  [[nodiscard]] bool try_lock() noexcept {
    // The relaxed load first keeps a failing try_lock from pulling the line exclusive away from the holder.
    // SYNC POINT READ: the exchange's acquire pairs with the release store in unlock().
    return word_.load(std::memory_order_relaxed) == 0 && word_.exchange(1, std::memory_order_acquire) == 0;
  }

  /// Releases the lock. Holder only.
  void unlock() noexcept {
    // SYNC POINT WRITE: release pairs with the acquire exchange in the next holder's lock() or try_lock().
    word_.store(0, std::memory_order_release);
  }

 private:
  std::atomic<std::uint32_t> word_{0};  // 0 free, 1 held
};

static_assert(sizeof(spinlock) == 4, "spinlock is one 32-bit word: it is part of shared layouts");
static_assert(alignof(spinlock) == 4, "spinlock is one 32-bit word: it is part of shared layouts");
static_assert(std::is_standard_layout_v<spinlock>, "spinlock must be standard-layout to live in a shared segment");
static_assert(std::is_trivially_destructible_v<spinlock>,
              "spinlock must be trivially destructible: a segment is unmapped, never destroyed member by member");
static_assert(lockable<spinlock>);

/// A copy of one side (exclusive or shared) of a stats_lock's counters. Plain data.
/// Copied field by field while the lock may be in use, so the fields are exact only once it is quiescent.
struct lock_stats {
  std::uint64_t acquisitions = 0;      ///< successful lock() and try_lock() calls
  std::uint64_t contended = 0;         ///< acquisitions whose first try_lock failed, so they waited
  std::uint64_t failed_try_locks = 0;  ///< explicit try_lock() calls that returned false (not acquisitions)
  std::uint64_t wait_ns = 0;           ///< total time spent waiting in contended acquisitions
  std::uint64_t max_wait_ns = 0;       ///< longest single contended wait

  /// Contended acquisitions / acquisitions; 0 when there were none.
  [[nodiscard]] constexpr double contention_ratio() const noexcept {
    return acquisitions == 0 ? 0.0 : static_cast<double>(contended) / static_cast<double>(acquisitions);
  }
  /// Mean wait per acquisition; uncontended acquisitions are not timed and count as zero.
  [[nodiscard]] constexpr double mean_wait_ns() const noexcept {
    return acquisitions == 0 ? 0.0 : static_cast<double>(wait_ns) / static_cast<double>(acquisitions);
  }
  /// Mean wait per contended acquisition; 0 when there were none.
  [[nodiscard]] constexpr double mean_contended_wait_ns() const noexcept {
    return contended == 0 ? 0.0 : static_cast<double>(wait_ns) / static_cast<double>(contended);
  }
  /// One line: `acquisitions=10 contended=2 (20.0%) ...`. Allocates: not for the hot path.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const lock_stats&, const lock_stats&) = default;
};

/// A copy of a stats_counter's statistics. Plain data, exact once the counter is quiescent.
struct counter_stats {
  std::uint64_t adds = 0;          ///< fetch_add() and increment() calls
  std::uint64_t loads = 0;         ///< load() calls
  std::uint64_t cas_attempts = 0;  ///< compare_exchange() calls
  std::uint64_t cas_failures = 0;  ///< compare_exchange() calls that found another value: each is a CAS-loop retry

  /// All counted operations.
  [[nodiscard]] constexpr std::uint64_t operations() const noexcept { return adds + loads + cas_attempts; }
  /// Failed / attempted compare_exchange calls; 0 when there were none.
  [[nodiscard]] constexpr double cas_failure_ratio() const noexcept {
    return cas_attempts == 0 ? 0.0 : static_cast<double>(cas_failures) / static_cast<double>(cas_attempts);
  }
  /// One line: `adds=... loads=... cas_attempts=... cas_failures=... (..%)`. Allocates: not for the hot path.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const counter_stats&, const counter_stats&) = default;
};

inline std::string lock_stats::to_string() const {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf,
                              "acquisitions=%" PRIu64 " contended=%" PRIu64 " (%.1f%%) failed_try_locks=%" PRIu64
                              " wait_ns=%" PRIu64 " mean_contended_wait_ns=%.1f max_wait_ns=%" PRIu64,
                              acquisitions, contended, 100.0 * contention_ratio(), failed_try_locks, wait_ns,
                              mean_contended_wait_ns(), max_wait_ns);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

inline std::string counter_stats::to_string() const {
  char buf[192];
  const int n = std::snprintf(
      buf, sizeof buf, "adds=%" PRIu64 " loads=%" PRIu64 " cas_attempts=%" PRIu64 " cas_failures=%" PRIu64 " (%.1f%%)",
      adds, loads, cas_attempts, cas_failures, 100.0 * cas_failure_ratio());
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

/// Writes lock_stats::to_string().
inline std::ostream& operator<<(std::ostream& os, const lock_stats& s) { return os << s.to_string(); }
/// Writes counter_stats::to_string().
inline std::ostream& operator<<(std::ostream& os, const counter_stats& s) { return os << s.to_string(); }

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
