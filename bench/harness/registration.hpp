// Harness: the Google Benchmark glue every entry shares: how a throughput or a round-trip entry is registered
// (real time, its unit), and the size part of an entry's name. Entry names are what bench/report.py and the
// committed results in bench/results/ key on: keep them stable.
// May touch: the settings of the benchmarks it is applied to. Nothing else.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

namespace shmring_bench {

/// Throughput runs: real time (two sides), one round per iteration.
inline void two_sided(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kMicrosecond); }
/// Round-trip runs: real time, one round trip per iteration.
inline void round_trip(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kNanosecond); }

/// "64B", "1KiB", "64KiB", "1MiB": the size in entry names.
inline std::string size_name(std::size_t s) {
  if (s >= (1u << 20)) return std::to_string(s >> 20) + "MiB";
  if (s >= 1024) return std::to_string(s >> 10) + "KiB";
  return std::to_string(s) + "B";
}

}  // namespace shmring_bench
