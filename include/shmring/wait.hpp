// shmring: how a side waits for its peer (spin, yield, sleep on a futex) and how the peer wakes it.
// May touch: the wait_line words in the segment header, the futex and membarrier system calls, the clock.
// Nothing here runs on the fast path except notify(), which is one relaxed load and a compiler barrier.
//
// THE WAKE-UP PROTOCOL (why no wake-up is lost, and why the fast path needs no fence)
// A sleeper S (the consumer waiting for data, or the producer waiting for room) and a waker W share a
// wait_line {seq, sleeping}. W's fast path publishes its index and then looks at `sleeping`:
//     W1: index.store(new, release)            (the ring's publish)
//     W2: signal_fence(seq_cst)                (compiler barrier only: the light half)
//     W3: if (sleeping.load(relaxed)) { sleeping.exchange(0); seq.fetch_add(1); futex_wake(seq) }
// S, once spinning has failed:
//     S1: s = seq.load(acquire)
//     S2: sleeping.store(1, seq_cst)
//     S3: membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)   (the heavy half)
//     S4: if (ready()) return                  (re-reads the index)
//     S5: futex_wait(seq, s, timeout)          (sleeps only while seq == s)
// membarrier makes every running thread of every registered process execute a full barrier between S2 and
// S4. So for any W1 that S4 does not see, W's W3 runs after that barrier and sees sleeping == 1 (store-load
// order is restored on both sides, the Dekker condition). W3 then bumps seq after S1 read it, so S5 returns
// at once (the futex compares seq under the kernel's lock) or is woken. Hence: either S sees the data at S4,
// or W wakes S. The cost is paid by the side going to sleep (~0.3-0.5 us), never by a push or pop.
// Where membarrier is unavailable (old kernel, seccomp), S5 uses a short timeout (fallback_sleep) instead, so
// a missed wake-up costs at most that long; correctness never depends on it. The barrier reaches only processes
// that registered (every attach does; the registration survives fork and is dropped by exec, which attaches
// again): a peer process that could not register is not covered by our S3, and a wake-up it misses then costs
// at most the liveness interval, which bounds every sleep.
// Every sleep is also bounded by the liveness interval so a dead peer is noticed promptly.
// close() is a W1 like a publish: the closing side release-stores its attach slot's state (closed) and then does
// W2-W3, and the sleeper's probe (S4) reads that state when the ring has nothing for it; so by the same argument
// a close is never missed, and a sleeping peer learns of it at once rather than at its next liveness check.
// A side that waits on its descriptor (native_handle(), event/channel.hpp) runs S2-S4 in arm() with `sleeping` =
// layout::sleeping_fd (2) instead of 1, and waits in poll/epoll instead of S5; wake_slow() returns the word it
// cleared, and the attachment then sends the sleeper's wake datagram. So the waker's fast path is W1-W3 unchanged.
#pragma once

#include <shmring/config.hpp>
#include <shmring/layout/header.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ratio>
#include <string_view>
#include <type_traits>

#include <sched.h>
#include <time.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SHMRING_HAVE_FUTEX 1
#else
#define SHMRING_HAVE_FUTEX 0
#endif


namespace shmring {

/// How a waiting call waits.
enum class wait_policy : std::uint8_t {
  spin,   ///< busy-spin with a CPU pause: lowest latency, burns a core while waiting
  yield,  ///< spin, then sched_yield in a loop: frees the core to other runnable threads
  sleep,  ///< spin, yield briefly, then sleep in the kernel on a futex until woken (default)
};

/// Tuning of waiting calls. The defaults suit two processes on two cores.
struct wait_options {
  wait_policy policy = wait_policy::sleep;
  std::uint32_t spin_iterations = 4096;  ///< polls with a CPU pause before yielding: 100 us measured on the
                                         ///< reference AMD EPYC (24 ns a pause); a pause is 10-140 cycles by CPU.
                                         ///< A timed wait still ends at its deadline, whatever this is.
  std::uint32_t yield_iterations = 16;   ///< sched_yield polls before sleeping (sleep policy)
  /// How often a waiting call checks that the peer is still alive (and the longest single futex sleep). Zero or
  /// less means the default; nanoseconds::max() checks once per wait (saturated, never wrapped into the past).
  std::chrono::nanoseconds liveness_interval = std::chrono::milliseconds(20);
};

/// How a wait ended.
enum class wait_status : std::uint8_t { ready, timeout, peer_dead, corrupted, closed };

/// What a readiness probe says.
/// closed: nothing to do and the peer closed its side (end of stream, or no reader any more).
enum class poll_result : std::uint8_t { ready, not_ready, corrupted, closed };

/// What is known of the peer.
/// alive: attached now; absent: never attached or detached cleanly; dead: died attached; closed: it called close().
enum class peer_state : std::uint8_t { alive, absent, dead, closed };

/// "alive", "absent" or "dead".
constexpr std::string_view to_string(peer_state s) noexcept {
  switch (s) {
    case peer_state::alive: return "alive";
    case peer_state::absent: return "absent";
    case peer_state::dead: return "dead";
    case peer_state::closed: return "closed";
  }
  return "unknown";
}

namespace detail {
/// Any duration as nanoseconds, saturated (STYLE.md lesson 14): negative, zero or NaN gives zero ("don't wait"),
/// anything beyond nanoseconds::max() (hours::max(), 1000 years, +inf) gives nanoseconds::max(). A plain
/// duration_cast overflows silently there: hours::max() became a negative (or arbitrary) count.
template <class Rep, class Period>
  requires std::is_arithmetic_v<Rep>
constexpr std::chrono::nanoseconds saturated_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using ns = std::chrono::nanoseconds;
  using per_tick = std::ratio_divide<Period, std::nano>;  // nanoseconds per tick: num / den (reduced)
  constexpr auto max = static_cast<std::uintmax_t>(std::numeric_limits<ns::rep>::max());
  constexpr auto num = static_cast<std::uintmax_t>(per_tick::num);
  constexpr auto den = static_cast<std::uintmax_t>(per_tick::den);
  const Rep c = d.count();
  if constexpr (std::is_floating_point_v<Rep>) {
    const long double v = static_cast<long double>(c) * per_tick::num / per_tick::den;
    if (!(v > 0)) return ns::zero();  // negative, zero or NaN
    if (v >= static_cast<long double>(max)) return ns::max();
    return ns(static_cast<ns::rep>(v));
  } else {
    if (!(c > Rep{0})) return ns::zero();
    const auto u = static_cast<std::uintmax_t>(c);
    const std::uintmax_t whole = u / den;  // whole multiples of den ticks: whole * num nanoseconds
    if (whole > max / num) return ns::max();
    std::uintmax_t part = 0;  // the remaining u % den ticks, < num nanoseconds
    if constexpr (den == 1)
      part = 0;
    else if constexpr (num <= std::numeric_limits<std::uintmax_t>::max() / den)
      part = (u % den) * num / den;
    else
      part = static_cast<std::uintmax_t>(static_cast<long double>(u % den) * per_tick::num / per_tick::den);
    const std::uintmax_t total = whole * num;
    if (part > max - total) return ns::max();
    return ns(static_cast<ns::rep>(total + part));
  }
}

/// t + d, saturated at time_point::max() (a deadline never wraps into the past); d <= 0 gives t.
inline std::chrono::steady_clock::time_point saturating_add(std::chrono::steady_clock::time_point t,
                                                            std::chrono::nanoseconds d) noexcept {
  using clock = std::chrono::steady_clock;
  if (d <= std::chrono::nanoseconds::zero()) return t;
  // t before the epoch cannot overflow by adding at most nanoseconds::max(); after it, max - t is exact.
  if (t.time_since_epoch() > clock::duration::zero() && d >= clock::time_point::max() - t) return clock::time_point::max();
  return t + d;
}

/// now + d on the steady clock, saturated at time_point::max(); d <= 0 gives now (a deadline already reached).
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds d) noexcept {
  return saturating_add(std::chrono::steady_clock::now(), d);
}
/// now + d for any duration, converted with saturation (saturated_ns) first.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return deadline_after(saturated_ns(d));
}
}  // namespace detail

namespace detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();  // the PAUSE instruction (what _mm_pause emits, without <immintrin.h>)
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

inline constexpr std::chrono::nanoseconds fallback_sleep = std::chrono::microseconds(500);

#if SHMRING_HAVE_FUTEX
// The futex timeout in the layout the kernel reads, never the C library's timespec: on a 32-bit ABI built with
// _TIME_BITS=64 (Debian armhf's default, or -m32 -D_TIME_BITS=64) glibc's timespec has a 64-bit tv_sec, while
// SYS_futex there reads a __kernel_old_timespec of two 32-bit longs: 20 ms became {0 s, 0 ns} (tv_nsec read from
// the upper half of tv_sec), so every sleep returned at once and the sleep policy spun.
#if defined(SYS_futex_time64)
// A 32-bit ABI with the 64-bit time system calls (Linux 5.1): SYS_futex_time64 reads a __kernel_timespec.
// Kernels without it (ENOSYS) get SYS_futex with its __kernel_old_timespec.
inline constexpr long futex_syscall = SYS_futex_time64;
struct futex_old_timespec {  // __kernel_old_timespec of a 32-bit ABI
  std::int32_t tv_sec;
  std::int32_t tv_nsec;
};
static_assert(sizeof(futex_old_timespec) == 8 && offsetof(futex_old_timespec, tv_nsec) == 4);
/// The timeout futex_syscall reads: __kernel_timespec, 64-bit seconds and 64-bit nanoseconds.
struct futex_timespec {
  std::int64_t tv_sec;
  std::int64_t tv_nsec;
};
#elif defined(__LP64__) || (defined(__x86_64__) && defined(__ILP32__))
// 64-bit ABIs and x32: SYS_futex reads a __kernel_timespec, 64-bit seconds and 64-bit nanoseconds.
inline constexpr long futex_syscall = SYS_futex;
struct futex_timespec {
  std::int64_t tv_sec;
  std::int64_t tv_nsec;
};
#else
// A 32-bit ABI whose kernel headers predate SYS_futex_time64: SYS_futex reads a __kernel_old_timespec.
inline constexpr long futex_syscall = SYS_futex;
struct futex_timespec {
  long tv_sec;
  long tv_nsec;
};
#endif
static_assert(sizeof(futex_timespec) == 2 * sizeof(futex_timespec::tv_sec) &&
              offsetof(futex_timespec, tv_nsec) == sizeof(futex_timespec::tv_sec));

/// A relative timeout as the kernel reads it (negative gives zero; seconds saturate at the field's maximum).
constexpr futex_timespec to_futex_timespec(std::chrono::nanoseconds t) noexcept {
  using sec_t = decltype(futex_timespec::tv_sec);
  const std::int64_t n = t.count() > 0 ? static_cast<std::int64_t>(t.count()) : 0;
  const std::int64_t sec = std::min<std::int64_t>(n / 1'000'000'000, std::numeric_limits<sec_t>::max());
  return {static_cast<sec_t>(sec), static_cast<decltype(futex_timespec::tv_nsec)>(n % 1'000'000'000)};
}

/// FUTEX_WAIT on word while it holds expected, for at most timeout: 0 when woken, -1 with errno (ETIMEDOUT,
/// EAGAIN when the word differs, EINTR).
inline long futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept {
  const futex_timespec ts = to_futex_timespec(timeout);
  // FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is in a MAP_SHARED mapping used by several processes.
  auto* const w = reinterpret_cast<std::uint32_t*>(word);
  const long r = ::syscall(futex_syscall, w, FUTEX_WAIT, expected, &ts, nullptr, 0);
#if defined(SYS_futex_time64)
  if (r == -1 && errno == ENOSYS) {
    const futex_old_timespec old{static_cast<std::int32_t>(std::min<std::int64_t>(ts.tv_sec, INT32_MAX)),
                                 static_cast<std::int32_t>(ts.tv_nsec)};
    return ::syscall(SYS_futex, w, FUTEX_WAIT, expected, &old, nullptr, 0);
  }
#endif
  return r;
}

inline long futex_wake(std::atomic<std::uint32_t>* word) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

/// Registers this process for MEMBARRIER_CMD_GLOBAL_EXPEDITED once; true when the heavy barrier is usable.
inline bool heavy_barrier_available() noexcept {
  static const bool ok = [] {
    const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  }();
  return ok;
}

/// The heavy half of the asymmetric barrier (S3 above). False when it could not be executed.
inline bool heavy_barrier() noexcept {
  return heavy_barrier_available() && ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}
#else
inline bool heavy_barrier_available() noexcept { return false; }
inline bool heavy_barrier() noexcept { return false; }
#endif

/// How a wait ends for a probe result other than not_ready.
constexpr wait_status status_of(poll_result r) noexcept {
  return r == poll_result::ready ? wait_status::ready : r == poll_result::closed ? wait_status::closed : wait_status::corrupted;
}

/// W3 of the protocol, out of line: the sleeper announced itself. Returns what `sleeping` said (0: someone else
/// woke it first): with layout::sleeping_fd set the caller also signals the sleeper's descriptor (event/).
SHMRING_COLD inline std::uint32_t wake_slow(layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) noexcept {
  // acq_rel: only one waker per sleep round issues the system call; pairs with S2's seq_cst store.
  const std::uint32_t was = w.sleeping.exchange(0, std::memory_order_acq_rel);
  if (was == 0) return 0;
  // release: pairs with S1's acquire load of seq in the sleeper's next round.
  w.seq.fetch_add(1, std::memory_order_release);
#if SHMRING_HAVE_FUTEX
  if (was != layout::sleeping_fd) futex_wake(&w.seq);  // a sleeper on its descriptor only is not on the futex
#endif
  wake_calls.store(wake_calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return was;
}

}  // namespace detail

/// W2-W3 of the protocol: after publishing an index, wake the peer if it sleeps. One relaxed load of a line
/// the peer writes only when it goes to sleep; no fence, no system call unless the peer is asleep.
inline void notify(layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) noexcept {
  // The light half of the asymmetric barrier: keeps the compiler from moving this load above the caller's
  // release store of its index; the CPU side is covered by the sleeper's membarrier (S3).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (SHMRING_UNLIKELY(w.sleeping.load(std::memory_order_relaxed) != 0)) detail::wake_slow(w, wake_calls);
}

/// Waits until poll() says ready, the deadline passes, the peer dies or the ring is found corrupted.
/// poll() re-reads the peer's index; peer() checks liveness (a system call: called at most once per
/// liveness interval, and only once spinning has failed). Reads the clock only on this slow path.
template <class Poll, class Peer>
SHMRING_NOINLINE wait_status wait_until(Poll&& poll, Peer&& peer, layout::wait_line& w, layout::stats_line& stats,
                                        const wait_options& o, std::chrono::steady_clock::time_point deadline) {
  using clock = std::chrono::steady_clock;
  // A timed wait reads the clock every 64 polls of its spin and yield phases too, so that no spin_iterations or
  // yield_iterations outlasts its deadline (2^31 pauses took minutes). An untimed one never reads it there.
  const bool timed = deadline != clock::time_point::max();
  const auto expired = [&](std::uint32_t i) { return timed && (i & 63) == 63 && clock::now() >= deadline; };
  for (std::uint32_t i = 0; i < o.spin_iterations; ++i) {
    // Pause first: the caller has just found nothing, and polling again at once only pulls the peer's index
    // line away from the peer that is about to write it.
    detail::cpu_relax();
    const poll_result r = poll();
    if (r != poll_result::not_ready) return detail::status_of(r);
    if (SHMRING_UNLIKELY(expired(i))) return wait_status::timeout;
  }
  clock::time_point next_liveness = clock::now();
  const auto interval = o.liveness_interval > std::chrono::nanoseconds::zero() ? o.liveness_interval
                                                                                : std::chrono::milliseconds(20);
  for (;;) {
    // Bursts between clock reads: the spin policy keeps spinning, the others yield.
    const std::uint32_t burst = o.policy == wait_policy::spin ? 1024 : std::max<std::uint32_t>(o.yield_iterations, 1);
    for (std::uint32_t i = 0; i < burst; ++i) {
      const poll_result r = poll();
      if (r != poll_result::not_ready) return detail::status_of(r);
      if (SHMRING_UNLIKELY(expired(i))) return wait_status::timeout;
      if (o.policy == wait_policy::spin)
        detail::cpu_relax();
      else
        ::sched_yield();
    }
    const clock::time_point now = clock::now();
    if (now >= deadline) return wait_status::timeout;
    if (now >= next_liveness) {
      if (peer() == peer_state::dead) {
        // The peer may have published just before dying: what it published is still delivered.
        const poll_result r = poll();
        return r == poll_result::not_ready ? wait_status::peer_dead : detail::status_of(r);
      }
      // Saturated: nanoseconds::max() as the interval wrapped now + interval into the past (a liveness check on
      // every round, and a sleep computed from the wrapped value).
      next_liveness = detail::saturating_add(now, interval);
    }
    if (o.policy != wait_policy::sleep) continue;

    std::chrono::nanoseconds timeout = std::min<std::chrono::nanoseconds>(deadline - now, next_liveness - now);
    // S1: acquire pairs with the waker's release fetch_add of seq.
    const std::uint32_t s = w.seq.load(std::memory_order_acquire);
    // S2: seq_cst orders this store before the barrier below and before our re-check of the index.
    w.sleeping.store(1, std::memory_order_seq_cst);
    // S3: the heavy half. Without it the waker could miss `sleeping` and we could miss its index: lost wake-up.
    if (!detail::heavy_barrier()) timeout = std::min<std::chrono::nanoseconds>(timeout, detail::fallback_sleep);
    // S4
    const poll_result r = poll();
    if (r != poll_result::not_ready) {
      w.sleeping.store(0, std::memory_order_relaxed);
      return detail::status_of(r);
    }
    // S5
#if SHMRING_HAVE_FUTEX
    if (timeout > std::chrono::nanoseconds::zero()) {
      stats.sleeps.store(stats.sleeps.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      detail::futex_wait(&w.seq, s, timeout);
    }
#else
    (void)s;
    const auto pause = std::min<std::chrono::nanoseconds>(timeout, detail::fallback_sleep);
    timespec ts{0, static_cast<long>(pause.count())};
    ::nanosleep(&ts, nullptr);
#endif
    w.sleeping.store(0, std::memory_order_relaxed);
  }
}

}  // namespace shmring
