// What the library's slow paths and record timestamps pay the system, measured alone: one CLOCK_MONOTONIC read
// (each timestamped message makes one: detail::monotonic_ns), one CLOCK_REALTIME read (each attach), one
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) (each time a side goes to sleep: the heavy half of the wake-up
// protocol in include/shmring/wait.hpp), and one futex wake of a word nobody waits on (what a waker pays when it
// finds the sleeper already gone). The README's figures for these come from these entries.
#include <shmring/detail/clock.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/wait.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

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
BENCHMARK(BM_clock_realtime)->Name("sys/clock_gettime_realtime");
BENCHMARK(BM_membarrier)->Name("sys/membarrier_global_expedited");
BENCHMARK(BM_futex_wake_nobody)->Name("sys/futex_wake_nobody");

}  // namespace shmring_bench
