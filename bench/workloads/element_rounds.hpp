// Workloads: the element stream of the throughput entries, for shmring and every peer. The benchmark thread is
// the producer; the consumer runs on the other core, as a thread or as a separate process. One benchmark iteration
// is one round: the producer sends round_items elements (sequence numbers 0, 1, 2, ...), the consumer checks every
// sequence number and, at the end of each round, stores the round number into the control block; the producer
// waits for that acknowledgement before the next iteration. So an iteration is a complete, verified transfer and
// real time is the right clock. push/pop (or push_n/pop_n) are the queue under test, supplied by the entry.
// May touch: the queue only through the push/pop it is given, the control block, the benchmark's state loop.
#pragma once

#include "harness/control.hpp"
#include "workloads/elements.hpp"
#include "workloads/params.hpp"

#include <shmring/config.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace shmring_bench {

/// The consumer's loop, for every peer: pop() returns the next element; every sequence number is checked; each
/// completed round is acknowledged through ctl.acked. Ends at the quit element.
template <class E, class Pop>
inline void consume_rounds(control& ctl, Pop&& pop) {
  // release: pairs with the benchmark thread's acquire load in start(); it may send once we are attached.
  ctl.ready.store(1, std::memory_order_release);
  for (std::uint64_t n = 0;;) {
    const E v = pop();
    const std::uint64_t s = seq_of(v);
    if (SHMRING_UNLIKELY(s != n)) {
      if (s == quit) return;
      if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
    }
    ++n;
    // release: pairs with the acquire load in end_round(); orders the failed count before the acknowledgement.
    if ((n & (round_items - 1)) == 0) ctl.acked.store(n / round_items, std::memory_order_release);
  }
}

/// The same with a batch pop: pop_n(span) returns how many it copied (at least 1).
template <class E, class PopN>
inline void consume_rounds_n(control& ctl, PopN&& pop_n) {
  ctl.ready.store(1, std::memory_order_release);  // pairs as in consume_rounds
  E buf[batch];
  for (std::uint64_t n = 0;;) {
    const std::size_t k = pop_n(buf);
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint64_t s = seq_of(buf[i]);
      if (SHMRING_UNLIKELY(s != n)) {
        if (s == quit) return;
        if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
      }
      ++n;
      if ((n & (round_items - 1)) == 0) ctl.acked.store(n / round_items, std::memory_order_release);  // as above
    }
  }
}

/// The producer's loop for single-element peers. push(e) must not return before e is in the queue.
template <class E, class Push>
inline void produce_rounds(benchmark::State& state, control& ctl, Push&& push, child_process* peer = nullptr) {
  start(ctl, peer);
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < round_items; ++i) push(make<E>(seq++));
    end_round(ctl, ++round, peer);
  }
  push(make<E>(quit));
}

/// The producer's loop for batch peers: push_n(span) must push all of it.
template <class E, class PushN>
inline void produce_rounds_n(benchmark::State& state, control& ctl, PushN&& push_n, child_process* peer = nullptr) {
  start(ctl, peer);
  static_assert(round_items % batch == 0);
  E buf[batch];
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < round_items; i += batch) {
      for (auto& e : buf) e = make<E>(seq++);
      push_n(std::span<const E>(buf, batch));
    }
    end_round(ctl, ++round, peer);
  }
  buf[0] = make<E>(quit);
  push_n(std::span<const E>(buf, 1));
}

}  // namespace shmring_bench
