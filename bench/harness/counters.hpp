// Harness: what a throughput entry reports when its run is over: items and bytes per second, its parameters as
// counters, and its verdict (an entry whose consumer saw a wrong sequence number, or whose peer process failed,
// is reported as an error rather than as a number).
// May touch: the benchmark's counters and error state; reads the control block. Nothing else.
#pragma once

#include "harness/control.hpp"
#include "workloads/params.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace shmring_bench {

/// Fails the entry if the consumer counted wrong `what`s (first at `unit` k), or if the peer process failed.
inline void verdict(benchmark::State& state, control& ctl, const char* what, const char* unit, int child_status) {
  if (const auto bad = ctl.failed.load(std::memory_order_relaxed); bad != 0)
    state.SkipWithError(("consumer saw " + std::to_string(bad) + " wrong " + what + ", first at " + unit + " " +
                         std::to_string(ctl.first_bad.load(std::memory_order_relaxed) - 1))
                            .c_str());
  else if (child_status != 0)
    state.SkipWithError(("the consumer process exited with status " + std::to_string(child_status)).c_str());
}

/// Items, bytes and the verification outcome of a throughput run.
inline void finish_throughput(benchmark::State& state, control& ctl, std::size_t item_bytes, int child_status = 0) {
  const auto items = static_cast<std::int64_t>(state.iterations() * round_items);
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * static_cast<std::int64_t>(item_bytes));
  state.counters["capacity"] = static_cast<double>(capacity);
  state.counters["item_bytes"] = static_cast<double>(item_bytes);
  verdict(state, ctl, "sequence numbers", "element", child_status);
}

/// The verification outcome of a message run (produce_messages has set items, bytes and msg_bytes).
inline void finish_messages(benchmark::State& state, control& ctl, std::uint64_t capacity_bytes, int child_status = 0) {
  state.counters["capacity_bytes"] = static_cast<double>(capacity_bytes);
  verdict(state, ctl, "messages", "message", child_status);
}

}  // namespace shmring_bench
