// Benchmarks of shmring/stats/locks.hpp: each lock with and without the statistics wrapper, on 1 and 2 threads,
// so the wrapper's cost is read off adjacent rows. One iteration = lock, increment a shared counter,
// unlock (readers: lock_shared, read it, unlock_shared). Every peer runs with the same parameters, in
// real time; items/s counts iterations summed over threads.
#include "harness/compiler.hpp"

#include <shmring/stats/locks.hpp>

#include <benchmark/benchmark.h>

#include <boost/interprocess/sync/interprocess_mutex.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace {

namespace bip = boost::interprocess;

// The counter has a line of its own for every peer: stats_lock's alignment puts it there anyway, so a
// plain lock gets the same layout and adjacent rows differ by the wrapper's work only.
template <class Lock>
struct guarded {
  Lock lock;
  alignas(shmring::cache_line) std::uint64_t value = 0;
};

// One instance per lock type, shared by all threads of a benchmark run.
template <class Lock>
guarded<Lock>& shared_state() {
  static guarded<Lock> state;
  return state;
}

template <class Lock>
void run_exclusive(benchmark::State& state, guarded<Lock>& g) {
  for (auto _ : state) {
    g.lock.lock();
    ++g.value;
    g.lock.unlock();
  }
  state.SetItemsProcessed(state.iterations());
}

template <class Lock>
void run_shared(benchmark::State& state, guarded<Lock>& g) {
  for (auto _ : state) {
    g.lock.lock_shared();
    // Readers read: incrementing under a shared lock would be a data race.
    benchmark::DoNotOptimize(g.value);
    g.lock.unlock_shared();
  }
  state.SetItemsProcessed(state.iterations());
}

// Thread 0 zeroes the statistics before the start barrier and reads them after the stop barrier, when
// no thread is inside the loop. Only thread 0 reports, so the sum over threads is its value.
template <class Lock, class Run, class Snapshot>
void run_with_stats(benchmark::State& state, Run run, Snapshot snapshot) {
  auto& g = shared_state<shmring::stats_lock<Lock>>();
  if (state.thread_index() == 0) g.lock.reset();
  run(state, g);
  if (state.thread_index() == 0) state.counters["contended"] = snapshot(g.lock).contention_ratio();
}

template <class Lock>
void BM_lock(benchmark::State& state) {
  run_exclusive(state, shared_state<Lock>());
}

template <class Lock>
void BM_lock_stats(benchmark::State& state) {
  run_with_stats<Lock>(
      state, [](benchmark::State& s, auto& g) { run_exclusive(s, g); }, [](const auto& l) { return l.snapshot(); });
}

template <class Lock>
void BM_lock_shared(benchmark::State& state) {
  run_shared(state, shared_state<Lock>());
}

template <class Lock>
void BM_lock_shared_stats(benchmark::State& state) {
  run_with_stats<Lock>(
      state, [](benchmark::State& s, auto& g) { run_shared(s, g); }, [](const auto& l) { return l.snapshot_shared(); });
}

void BM_fetch_add(benchmark::State& state) {
  alignas(shmring::cache_line) static std::atomic<std::uint64_t> value{0};
  for (auto _ : state) value.fetch_add(1, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}

void BM_fetch_add_stats(benchmark::State& state) {
  static shmring::stats_counter value;
  for (auto _ : state) value.fetch_add(1);
  state.SetItemsProcessed(state.iterations());
}

void one_and_two_threads(benchmark::internal::Benchmark* b) { b->Threads(1)->Threads(2)->UseRealTime(); }

// Recorded in the context block of every run, so a table never loses which compiler and layout it measured.
const bool context_recorded = [] {
  if (shmring_bench::compiler_version != nullptr) benchmark::AddCustomContext("compiler", shmring_bench::compiler_version);
  benchmark::AddCustomContext("shmring::cache_line", std::to_string(shmring::cache_line));
  return true;
}();

}  // namespace

BENCHMARK_TEMPLATE(BM_lock, std::mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_stats, std::mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock, std::shared_mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_stats, std::shared_mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_shared, std::shared_mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_shared_stats, std::shared_mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock, shmring::spinlock)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_stats, shmring::spinlock)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock, bip::interprocess_mutex)->Apply(one_and_two_threads);
BENCHMARK_TEMPLATE(BM_lock_stats, bip::interprocess_mutex)->Apply(one_and_two_threads);
BENCHMARK(BM_fetch_add)->Apply(one_and_two_threads);
BENCHMARK(BM_fetch_add_stats)->Apply(one_and_two_threads);

#ifndef SHMRING_BENCH_NO_MAIN
BENCHMARK_MAIN();
#endif
