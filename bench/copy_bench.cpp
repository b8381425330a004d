// Why consumers copy out of the ring with detail::copy_from_peer rather than memcpy: the same transfer, two ways.
// A producer thread writes messages (page-aligned source, 32 bytes into each slot, as the message ring places a
// payload after its header) into a 4 MiB buffer; a consumer thread on the other core copies each one out into a
// page-aligned buffer, with glibc's memcpy or with copy_from_peer, and checks its sequence numbers at both ends.
// Nothing else differs. If a future glibc or CPU makes the memcpy entry as steady and fast as the other, the loop
// in include/shmring/detail/copy.hpp can go.
#include "harness/cores.hpp"
#include "harness/registration.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <shmring/config.hpp>
#include <shmring/detail/copy.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <string>
#include <thread>

namespace shmring_bench {
namespace {

enum class copier : int { glibc_memcpy = 0, copy_from_peer = 1 };

void BM_copy_out(benchmark::State& state, std::size_t size, copier how) {
  scoped_pin pin(bench_cpus().first);
  const std::size_t stride = size + 64;  // a 32-byte "header" and padding keep slots 64-byte aligned + 32
  const std::uint64_t slots = msg_capacity / stride;
  const std::uint64_t per_round = msg_round_bytes / size;
  page_buffer ring(slots * stride);
  message_source src(size);
  // Messages written (producer) and copied out (consumer), each on its own line.
  struct alignas(shmring::cache_line) counter {
    std::atomic<std::uint64_t> v{0};
  };
  counter written, copied;
  std::atomic<std::uint64_t> bad{0};
  std::atomic<bool> stop{false};

  std::thread consumer([&] {
    pin_to(bench_cpus().second);
    page_buffer out(size);
    for (std::uint64_t n = 0;; ++n) {
      // acquire: pairs with the producer's release store of written; the message's bytes are visible after it.
      while (written.v.load(std::memory_order_acquire) == n) {
        if (stop.load(std::memory_order_relaxed)) return;
        cpu_relax();
      }
      const std::byte* p = ring.data() + (n % slots) * stride + 32;
      if (how == copier::glibc_memcpy)
        std::memcpy(out.data(), p, size);
      else
        shmring::detail::copy_from_peer(out.data(), p, size);
      const auto [first, last] = ends_of(out.data(), size);
      if (first != n || last != n) bad.fetch_add(1, std::memory_order_relaxed);
      // release: pairs with the producer's acquire load of copied; our reads of the slot are done before it.
      copied.v.store(n + 1, std::memory_order_release);
    }
  });

  std::uint64_t seq = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_round; ++i, ++seq) {
      // acquire: pairs with the consumer's release store of copied; it has finished reading the slot we reuse.
      while (seq - copied.v.load(std::memory_order_acquire) >= slots) cpu_relax();
      std::memcpy(ring.data() + (seq % slots) * stride + 32, src.stamp(seq), size);
      // release: pairs with the consumer's acquire load of written; publishes the bytes just copied.
      written.v.store(seq + 1, std::memory_order_release);
    }
    // acquire: as above; an iteration is a complete transfer.
    while (copied.v.load(std::memory_order_acquire) != seq) cpu_relax();
  }
  stop.store(true, std::memory_order_relaxed);
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(seq));
  state.SetBytesProcessed(static_cast<std::int64_t>(seq * size));
  if (const auto b = bad.load(std::memory_order_relaxed); b != 0)
    state.SkipWithError(("the consumer saw " + std::to_string(b) + " messages with wrong sequence numbers").c_str());
}

const bool registered = [] {
  // 3 KiB: above glibc's rep movsb threshold on FSRM CPUs (2112 bytes) and below it elsewhere (4096 with AVX2).
  for (const std::size_t s : {std::size_t{3} << 10, std::size_t{64} << 10, std::size_t{1} << 20}) {
    benchmark::RegisterBenchmark(("copy_out/thread/glibc_memcpy/" + size_name(s)).c_str(), BM_copy_out, s,
                                 copier::glibc_memcpy)
        ->Apply(two_sided);
    benchmark::RegisterBenchmark(("copy_out/thread/copy_from_peer/" + size_name(s)).c_str(), BM_copy_out, s,
                                 copier::copy_from_peer)
        ->Apply(two_sided);
  }
  return true;
}();

}  // namespace
}  // namespace shmring_bench
