// Replay (issue 18, docs/replay.md): what message_replay costs on a ring whose messages were all consumed and
// whose producer has wrapped many times (every byte of the data area written), in one process.
//   replay/seek_oldest/<capacity>: seek_oldest(): the scan of 8-aligned candidates from head + window - capacity
//     until one chains to the tail (then the chain). Real time per scan; items = bytes of capacity scanned.
//   replay/next/<capacity>/<payload>: seek_tail() over a full ring of unconsumed messages, then next() to the head:
//     items_per_second = messages replayed (copied out, checked, re-checked against the indices).
#include <shmring/message/replay.hpp>
#include <shmring/shmring.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

std::string name_for(const char* what, std::int64_t a, std::int64_t b = 0) {
  return "bench-replay-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(a) + "-" +
         std::to_string(b);
}

shmring::options keep() {
  shmring::options o;
  o.persistent = true;
  return o;
}

void seek_oldest(benchmark::State& st) {
  const auto cap = static_cast<std::uint64_t>(st.range(0));
  const std::string n = name_for("oldest", st.range(0));
  (void)shmring::remove(n);
  {
    auto c = shmring::message_consumer::create(n, cap, keep());
    auto p = shmring::message_producer::open(n);
    const std::vector<std::byte> payload(100, std::byte{7});
    for (std::uint64_t sent = 0; sent < 3 * cap / 136 + 16; ++sent) {  // three laps of 136-byte records
      if (!p.try_send(payload)) break;
      (void)c.try_receive();
    }
    auto r = shmring::message_replay::open(n);
    std::uint64_t from = 0;
    for (auto _ : st) {
      from = r.seek_oldest();
      benchmark::DoNotOptimize(from);
    }
    st.counters["bytes_back_from_tail"] = static_cast<double>(r.tail() - from);
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(cap));
  }
  (void)shmring::remove(n);
}

void replay_next(benchmark::State& st) {
  const auto cap = static_cast<std::uint64_t>(st.range(0));
  const auto size = static_cast<std::size_t>(st.range(1));
  const std::string n = name_for("next", st.range(0), st.range(1));
  (void)shmring::remove(n);
  {
    auto c = shmring::message_consumer::create(n, cap, keep());
    auto p = shmring::message_producer::open(n);
    const std::vector<std::byte> payload(size, std::byte{7});
    std::uint64_t count = 0;
    while (p.try_send(payload)) ++count;
    auto r = shmring::message_replay::open(n);
    shmring::replay_message m;
    std::uint64_t replayed = 0;
    for (auto _ : st) {
      r.seek_tail();
      while (r.next(m) == shmring::message_replay::status::ready) ++replayed;
    }
    if (replayed != count * static_cast<std::uint64_t>(st.iterations())) st.SkipWithError("replayed a different number of messages");
    st.SetItemsProcessed(static_cast<std::int64_t>(replayed));
    st.SetBytesProcessed(static_cast<std::int64_t>(replayed * size));
  }
  (void)shmring::remove(n);
}

}  // namespace

BENCHMARK(seek_oldest)->Name("replay/seek_oldest")->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 24)->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(replay_next)->Name("replay/next")->Args({1 << 20, 64})->Args({1 << 20, 1024})->UseRealTime();

BENCHMARK_MAIN();
