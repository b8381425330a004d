// Peer: the ceiling of the message entries. What one core does alone with the same bytes: the producer's source
// message (stamped as in every message run) copied with memcpy into successive places of a destination as large as
// the message ring's data area. No queue, no second side.
// May touch: its two heap buffers and the benchmark thread's core.
#include "peers/peers.hpp"

#include "harness/cores.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <cstdint>
#include <cstring>

namespace shmring_bench {

void BM_memcpy(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  message_source src(size);
  page_buffer dst(msg_capacity);
  std::byte* d = dst.data();
  const std::uint64_t per_round = msg_round_bytes / size;
  std::uint64_t seq = 0, off = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_round; ++i) {
      std::memcpy(d + off, src.stamp(seq++), size);
      off = (off + size) & (msg_capacity - 1);
    }
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(d);
  const auto n = static_cast<std::int64_t>(state.iterations() * per_round);
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * static_cast<std::int64_t>(size));
  state.counters["msg_bytes"] = static_cast<double>(size);
  state.counters["capacity_bytes"] = static_cast<double>(msg_capacity);
}

}  // namespace shmring_bench
