// Harness: round trips, timed one by one. The benchmark thread sends a sequence number, the peer echoes it back,
// the benchmark thread checks it; every round trip is timed with the TSC (calibrated against steady_clock over the
// run itself), so percentiles come out as counters (p50_ns ... p999_ns, max_ns). send and recv are the transport
// under test, supplied by the entry.
// May touch: the TSC and steady_clock, its own sample buffer, the benchmark's counters, and the control block's
// ready word (echo). The transport only through the send/recv it is given.
#pragma once

#include "harness/control.hpp"

#include <shmring/config.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace shmring_bench {

inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// The benchmark thread's ping-pong loop: send(seq), then recv() must return seq. Each round trip is timed; the
/// TSC is calibrated against steady_clock over the run itself. Percentiles go to counters in nanoseconds.
template <class Send, class Recv>
inline void ping_pong(benchmark::State& state, Send&& send, Recv&& recv) {
  constexpr std::size_t max_samples = std::size_t{1} << 23;
  std::vector<std::uint32_t> samples(std::min<std::size_t>(static_cast<std::size_t>(state.max_iterations), max_samples));
  std::size_t n = 0;
  std::uint64_t bad = 0, seq = 1;
  const auto c0 = std::chrono::steady_clock::now();
  const std::uint64_t t_begin = ticks();
  std::uint64_t t0 = t_begin;
  for (auto _ : state) {
    send(seq);
    if (SHMRING_UNLIKELY(recv() != seq)) ++bad;
    ++seq;
    const std::uint64_t t1 = ticks();
    if (n < samples.size()) samples[n++] = static_cast<std::uint32_t>(std::min<std::uint64_t>(t1 - t0, 0xffffffffu));
    t0 = t1;
  }
  const std::uint64_t t_end = ticks();
  const auto c1 = std::chrono::steady_clock::now();
  send(quit);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 2 * 8);
  if (bad != 0) state.SkipWithError((std::to_string(bad) + " round trips returned the wrong sequence number").c_str());
  if (n == 0 || t_end <= t_begin) return;
  const double ns_per_tick = std::chrono::duration<double, std::nano>(c1 - c0).count() / static_cast<double>(t_end - t_begin);
  std::sort(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(n));
  auto pct = [&](double p) {
    const auto i = std::min(n - 1, static_cast<std::size_t>(p * static_cast<double>(n)));
    return static_cast<double>(samples[i]) * ns_per_tick;
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p90_ns"] = pct(0.90);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["p999_ns"] = pct(0.999);
  state.counters["max_ns"] = static_cast<double>(samples[n - 1]) * ns_per_tick;
}

/// The echo peer's loop, for every peer: returns at quit.
template <class Recv, class Send>
inline void echo(control& ctl, Recv&& recv, Send&& send) {
  ctl.ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (;;) {
    const std::uint64_t v = recv();
    if (v == quit) return;
    send(v);
  }
}

}  // namespace shmring_bench
