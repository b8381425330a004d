// Workloads: the message stream of the message entries, for shmring's message ring and every message peer. As the
// element stream (element_rounds.hpp), with msg_round_bytes per iteration: 65536 messages of 64 B, 64 of 64 KiB,
// ...; every message carries its sequence number at both ends, and the consumer checks both. send/recv are the
// queue under test, supplied by the entry.
// May touch: the queue only through the send/recv it is given, the control block, the benchmark's state loop and
// its items, bytes and msg_bytes counters.
#pragma once

#include "harness/control.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <shmring/config.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmring_bench {

/// The producer's loop of a message run: send(bytes, size) must not return before the message is queued.
template <class Send>
inline void produce_messages(benchmark::State& state, control& ctl, std::size_t size, Send&& send,
                             child_process* peer = nullptr) {
  start(ctl, peer);
  message_source src(size);
  const std::uint64_t per_round = msg_round_bytes / size;
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_round; ++i) send(src.stamp(seq++), size);
    end_round(ctl, ++round, peer);
  }
  send(src.stamp(quit), size);
  const auto n = static_cast<std::int64_t>(state.iterations() * per_round);
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * static_cast<std::int64_t>(size));
  state.counters["msg_bytes"] = static_cast<double>(size);
}

/// The consumer's loop of a message run: recv() returns {first, last} sequence words of the next message.
template <class Recv>
inline void consume_messages(control& ctl, std::size_t size, Recv&& recv) {
  const std::uint64_t per_round = msg_round_bytes / size;
  ctl.ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (std::uint64_t n = 0;;) {
    const auto [first, last] = recv();
    if (SHMRING_UNLIKELY(first != n || last != n)) {
      if (first == quit && last == quit) return;
      if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
    }
    ++n;
    if (n % per_round == 0) ctl.acked.store(n / per_round, std::memory_order_release);  // pairs with end_round()
  }
}

}  // namespace shmring_bench
