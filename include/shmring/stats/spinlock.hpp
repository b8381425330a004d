// shmring: a spinlock that can live in a shared segment, and the lock concepts the statistics wrappers use.
// May touch: only the lock word it is called on; the only system call is sched_yield in a long wait.
#pragma once

#include <shmring/config.hpp>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <type_traits>

#include <sched.h>

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
  /// every further look is preceded by sched_yield() instead.
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
          ::sched_yield();
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

}  // namespace shmring
