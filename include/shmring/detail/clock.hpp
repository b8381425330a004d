// shmring: the message ring's record timestamp, CLOCK_MONOTONIC in nanoseconds, read without a clock_gettime per
// message where the CPU allows it.
// May touch: the TSC, the clocks, CPUID, /sys/devices/system/clocksource (read once per process), and one
// thread_local block of each thread that stamps records.
//
// HOW. On x86-64 with an invariant TSC (CPUID 0x80000007 EDX bit 8: constant rate, runs in every C-state; Linux's
// constant_tsc + nonstop_tsc) and a kernel whose clocksource is "tsc" (so CLOCK_MONOTONIC is itself the TSC scaled
// by the kernel), a thread's timestamp is its TSC mapped linearly onto CLOCK_MONOTONIC:
//   now = anchor_ns + (tsc - anchor_tsc) * ns_per_tick
// The first stamps of a thread read clock_gettime as before and calibrate: after 2 ms (of CLOCK_MONOTONIC) the
// rate is (ns - ns0) / (tsc - tsc0). From then on a stamp is one rdtsc, a multiply and an add; every 1 ms of TSC
// the thread re-anchors on clock_gettime (the narrowest of 4 reads bracketed by two rdtsc, its midpoint taken) and refines
// the rate over the whole time since its first anchor, so NTP's slewing of CLOCK_MONOTONIC is followed.
// ACCURACY. A stamp differs from a clock_gettime(CLOCK_MONOTONIC) taken at the same instant by the anchor's read
// error (half the bracket, about 10-20 ns on the Intel host) plus the rate error times the time since the anchor
// (at most 1 ms): the rate error is about that read error over the calibration baseline (2 ms at first: ~10 ppm,
// ~10 ns over 1 ms; less as the baseline grows). So within ~50 ns by design, and comparable across processes,
// since every process anchors on the same CLOCK_MONOTONIC. Measured on the Intel host (sys/record_timestamp_error,
// bench/results/xeon/2026-12-02-timestamp-accuracy.txt): every one of 5 x 2^20 stamps lay between the two
// clock_gettime reads around it; its distance from their midpoint was 2 ns median, 7 ns p99. A thread's stamps
// never decrease (each is at least the last); a producer moved between threads may see one step back by the error.
// Elsewhere (another CPU, a non-invariant TSC, another clocksource such as kvm-clock or hpet, 32-bit builds)
// every stamp is clock_gettime(CLOCK_MONOTONIC), exactly as before.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/proc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace shmring::detail {

/// Where record timestamps come from in this process.
enum class timestamp_source : std::uint8_t { clock_gettime, tsc };

/// "clock_gettime" or "tsc".
constexpr const char* to_string(timestamp_source s) noexcept { return s == timestamp_source::tsc ? "tsc" : "clock_gettime"; }

/// Whether this process stamps with the TSC (decided once: invariant TSC and the kernel's clocksource is "tsc").
inline timestamp_source stamp_source() noexcept {
  static const timestamp_source s = [] {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u) return timestamp_source::clock_gettime;
    __cpuid(0x80000007u, a, b, c, d);
    if ((d & (1u << 8)) == 0) return timestamp_source::clock_gettime;  // no invariant TSC
    std::FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (f == nullptr) return timestamp_source::clock_gettime;
    char buf[32] = {};
    const bool tsc = std::fgets(buf, sizeof buf, f) != nullptr && std::strncmp(buf, "tsc\n", 4) == 0;
    std::fclose(f);
    return tsc ? timestamp_source::tsc : timestamp_source::clock_gettime;
#else
    return timestamp_source::clock_gettime;
#endif
  }();
  return s;
}

#if defined(__x86_64__)
__extension__ typedef unsigned __int128 u128;  // gcc and clang on x86-64; __extension__: not ISO C++ (-Wpedantic)

/// One thread's mapping of its TSC onto CLOCK_MONOTONIC (see the top of this file).
struct tsc_stamper {
  static constexpr std::uint64_t calibration_ns = 2'000'000;  // CLOCK_MONOTONIC time of the first calibration
  static constexpr std::uint64_t anchor_every_ns = 1'000'000;  // re-anchor after this much TSC time

  enum : std::uint8_t { fresh, calibrating, running, fallback } mode = fresh;
  std::uint64_t base_tsc = 0, base_ns = 0;      // the first anchor: the rate is measured from here
  std::uint64_t anchor_tsc = 0, anchor_ns = 0;  // the latest anchor
  std::uint64_t limit = 0;                      // ticks after anchor_tsc that need a new anchor
  std::uint64_t mult = 0;                       // ns per tick, 32.32 fixed point
  std::uint64_t last = 0;                       // the last stamp given: stamps never go back

  /// A clock_gettime bracketed by two rdtsc, as (tsc, ns): the TSC at the midpoint of the read.
  /// The narrowest of 4 brackets is kept: a thread preempted inside one must not misplace the anchor.
  static void sample(std::uint64_t& tsc, std::uint64_t& ns) noexcept {
    std::uint64_t best = ~std::uint64_t{0};
    for (int i = 0; i < 4; ++i) {
      const std::uint64_t t0 = __rdtsc();
      const std::uint64_t c = monotonic_ns();
      const std::uint64_t t1 = __rdtsc();
      if (t1 >= t0 && t1 - t0 < best) {
        best = t1 - t0;
        tsc = t0 + (t1 - t0) / 2;
        ns = c;
      }
    }
    if (best == ~std::uint64_t{0}) {  // the TSC went back within a bracket: the caller's checks stop using it
      tsc = 0;
      ns = monotonic_ns();
    }
  }

  std::uint64_t give(std::uint64_t v) noexcept {
    if (v < last) v = last;
    last = v;
    return v;
  }

  /// The slow path: first use, calibration, re-anchoring.
  SHMRING_NOINLINE std::uint64_t slow() noexcept {
    if (mode == fresh) {
      if (stamp_source() != timestamp_source::tsc) {
        mode = fallback;
        return monotonic_ns();
      }
      sample(base_tsc, base_ns);
      mode = base_tsc != 0 ? calibrating : fallback;
      return give(base_ns);
    }
    std::uint64_t tsc = 0, ns = 0;
    sample(tsc, ns);
    if (mode == calibrating && ns - base_ns < calibration_ns) return give(ns);
    if (tsc <= base_tsc || ns <= base_ns) {  // a TSC that went back (it must not): stop trusting it
      mode = fallback;
      return give(ns);
    }
    const std::uint64_t ticks = tsc - base_tsc;
    mult = static_cast<std::uint64_t>((static_cast<u128>(ns - base_ns) << 32) / ticks);
    if (mult == 0) {
      mode = fallback;
      return give(ns);
    }
    anchor_tsc = tsc;
    anchor_ns = ns;
    limit = static_cast<std::uint64_t>((static_cast<u128>(anchor_every_ns) << 32) / mult);
    mode = running;
    return give(ns);
  }

  /// CLOCK_MONOTONIC now, in ns.
  std::uint64_t now() noexcept {
    if (SHMRING_LIKELY(mode == running)) {
      const std::uint64_t d = __rdtsc() - anchor_tsc;
      if (SHMRING_LIKELY(d < limit))
        return give(anchor_ns + static_cast<std::uint64_t>((static_cast<u128>(d) * mult) >> 32));
    } else if (mode == fallback) {
      return monotonic_ns();
    }
    return slow();
  }
};

/// The calling thread's stamper.
inline tsc_stamper& thread_stamper() noexcept {
  static thread_local tsc_stamper s;
  return s;
}
#endif

/// A record's timestamp: CLOCK_MONOTONIC in ns, from the TSC where stamp_source() says so (see above).
inline std::uint64_t timestamp_ns() noexcept {
#if defined(__x86_64__)
  return thread_stamper().now();
#else
  return monotonic_ns();
#endif
}

}  // namespace shmring::detail
