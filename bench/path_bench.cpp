// The instruction path of one 64-byte hand-off, without the other core: one thread sends (or pushes) 64 elements
// into a ring, then receives (or pops) them back, every sequence number checked. No cache line moves between
// cores and no peer is scheduled, so on a shared machine this is the steadiest view of what each path costs per
// message: the typed ring, the message ring with and without record timestamps (detail/clock.hpp), and the
// timestamp's share (with minus without). Names: path/<ring>/64B.
// May touch: its segments (named by unique_name, removed after each run).
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "workloads/elements.hpp"

#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstring>
#include <string>

namespace shmring_bench {
namespace {

constexpr std::uint64_t burst = 64;

void BM_path_typed(benchmark::State& state) {
  const std::string name = unique_name("path-typed");
  std::uint64_t bad = 0, seq = 0;
  {
    auto p = shmring::producer<elem64>::create(name, 4096);
    auto c = shmring::consumer<elem64>::open(name);
    for (auto _ : state) {
      for (std::uint64_t i = 0; i < burst; ++i) bad += p.try_push(make<elem64>(seq + i)) ? 0 : 1;
      for (std::uint64_t i = 0; i < burst; ++i) {
        elem64 v;
        bad += c.try_pop(v) && v.seq == seq + i ? 0 : 1;
      }
      seq += burst;
    }
  }
  (void)shmring::remove(name);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
  if (bad != 0) state.SkipWithError("an element was lost or out of order");
}

void BM_path_message(benchmark::State& state, bool timestamps) {
  const std::string name = unique_name("path-msg");
  shmring::options o;
  o.timestamps = timestamps;
  std::uint64_t bad = 0, seq = 0;
  {
    auto p = shmring::message_producer::create(name, 1 << 20, o);
    auto c = shmring::message_consumer::open(name);
    elem64 buf;
    for (auto _ : state) {
      for (std::uint64_t i = 0; i < burst; ++i) bad += p.try_send(shmring::object_bytes(make<elem64>(seq + i))) ? 0 : 1;
      for (std::uint64_t i = 0; i < burst; ++i) {
        const auto info = c.try_receive(std::span<std::byte>(reinterpret_cast<std::byte*>(&buf), sizeof buf));
        bad += info && info->length == sizeof buf && buf.seq == seq + i && (info->timestamp_ns != 0) == timestamps ? 0 : 1;
      }
      seq += burst;
    }
  }
  (void)shmring::remove(name);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
  if (bad != 0) state.SkipWithError("a message was lost, out of order or wrongly stamped");
}

}  // namespace
}  // namespace shmring_bench

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

BENCHMARK(BM_path_typed)->Name("path/typed/64B");
BENCHMARK_CAPTURE(BM_path_message, ts, true)->Name("path/msg_copy/64B");
BENCHMARK_CAPTURE(BM_path_message, no_ts, false)->Name("path/msg_copy_no_ts/64B");
