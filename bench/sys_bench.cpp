// What the library's slow paths and record timestamps pay the system, measured alone: one CLOCK_MONOTONIC read
// (each timestamped message makes one: detail::monotonic_ns), one CLOCK_REALTIME read (each attach), one
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) (each time a side goes to sleep: the heavy half of the wake-up
// protocol in include/shmring/wait.hpp), and one futex wake of a word nobody waits on (what a waker pays when it
// finds the sleeper already gone). The README's figures for these come from these entries.
#include <shmring/detail/clock.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/wait.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

namespace shmring_bench {
namespace {

void BM_clock_monotonic(benchmark::State& state) {
  std::uint64_t sum = 0;
  for (auto _ : state) sum += shmring::detail::monotonic_ns();
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

// A message record's timestamp (detail/clock.hpp): the TSC mapped onto CLOCK_MONOTONIC where it can, the clock read
// elsewhere. The source is reported as a counter: tsc = 1 or 0.
void BM_record_timestamp(benchmark::State& state) {
  std::uint64_t sum = 0;
  for (auto _ : state) sum += shmring::detail::timestamp_ns();
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["tsc"] = shmring::detail::stamp_source() == shmring::detail::timestamp_source::tsc ? 1 : 0;
}

// How far a record timestamp is from CLOCK_MONOTONIC: each iteration reads the clock (a), stamps (t), reads the
// clock again (b); the error is t - (a + b) / 2, whose uncertainty is half the bracket b - a. Counters in ns:
// the median and p99 of |error|, its largest value (a preempted iteration has a wide bracket), the largest
// distance of t outside [a, b] (outside_max_ns: 0 when every stamp lay between its two clock reads), and the
// median bracket. The thread stamps for the whole run,
// so the TSC source is past its calibration and re-anchors as it would in a sender.
void BM_record_timestamp_error(benchmark::State& state) {
  std::vector<double> err, bracket;
  double outside = 0;
  err.reserve(1 << 20);
  bracket.reserve(1 << 20);
  for (auto _ : state) {
    const std::uint64_t a = shmring::detail::monotonic_ns();
    const std::uint64_t t = shmring::detail::timestamp_ns();
    const std::uint64_t b = shmring::detail::monotonic_ns();
    if (err.size() < (1u << 20)) {
      const double mid = static_cast<double>(a) + static_cast<double>(b - a) / 2;
      err.push_back(std::fabs(static_cast<double>(t) - mid));
      bracket.push_back(static_cast<double>(b - a));
      if (t < a) outside = std::max(outside, static_cast<double>(a - t));
      if (t > b) outside = std::max(outside, static_cast<double>(t - b));
    }
  }
  if (err.empty()) return;
  std::sort(err.begin(), err.end());
  std::sort(bracket.begin(), bracket.end());
  state.counters["err_p50_ns"] = err[err.size() / 2];
  state.counters["err_p99_ns"] = err[err.size() * 99 / 100];
  state.counters["err_max_ns"] = err.back();
  state.counters["bracket_p50_ns"] = bracket[bracket.size() / 2];
  state.counters["outside_max_ns"] = outside;
  state.counters["tsc"] = shmring::detail::stamp_source() == shmring::detail::timestamp_source::tsc ? 1 : 0;
}

void BM_clock_realtime(benchmark::State& state) {
  std::uint64_t sum = 0;
  for (auto _ : state) sum += shmring::detail::realtime_ns();
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void BM_membarrier(benchmark::State& state) {
  if (!shmring::detail::heavy_barrier_available()) {
    state.SkipWithError("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) is not available here");
    return;
  }
  for (auto _ : state)
    if (!shmring::detail::heavy_barrier()) state.SkipWithError("membarrier failed");
  state.SetItemsProcessed(state.iterations());
}

void BM_futex_wake_nobody(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  for (auto _ : state) benchmark::DoNotOptimize(shmring::detail::futex_wake(&word));
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_clock_monotonic)->Name("sys/clock_gettime_monotonic");
BENCHMARK(BM_record_timestamp)->Name("sys/record_timestamp");
BENCHMARK(BM_record_timestamp_error)->Name("sys/record_timestamp_error")->MinTime(2.0);
BENCHMARK(BM_clock_realtime)->Name("sys/clock_gettime_realtime");
BENCHMARK(BM_membarrier)->Name("sys/membarrier_global_expedited");
BENCHMARK(BM_futex_wake_nobody)->Name("sys/futex_wake_nobody");

}  // namespace shmring_bench
