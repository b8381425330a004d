// Peer: the floors of the round trips. One 8-byte word alone on a cache line, in a shared mapping, bounced between
// this process and a child: nothing can go between two processes faster. Plain load loops (the floor), and the same
// with a CPU pause in both loops (as every queue's wait loop has). And the floor of any round trip over two rings
// (one per direction, as shmring's and every SPSC queue's ping-pong is): the ping on one line, the pong on another,
// each written by one side only and read by the other.
// May touch: its shared lines (a memfd mapping), the child process of each run.
#include "peers/peers.hpp"

#include "harness/control.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"

#include <shmring/config.hpp>

#include <atomic>
#include <cstdint>

namespace shmring_bench {
namespace {

/// One 8-byte word alone on a cache line, in a shared mapping. The benchmark thread writes 2k+1 and spins until it
/// reads 2k+2; the child spins until it reads an odd value and writes it + 1. Each round trip moves the line to the
/// other core and back: nothing can go between two processes faster. Plain load loops, no pause (the floor); the
/// `pause` variant spins with a CPU pause as every queue's wait loop does (on Zen 3 one pause is ~25 ns).
struct alignas(shmring::cache_line) bounce_line {
  std::atomic<std::uint64_t> word{0};
};

/// The lines of a run: `ping` (written by the benchmark thread), `pong` (written by the child). A one-line bounce
/// uses ping both ways. The two are 256 bytes apart, so that neither shares a 128-byte adjacent-line prefetch pair
/// (Intel's spatial prefetcher, AMD's up/down prefetcher) with the other: as two rings' lines would not.
struct bounce_lines {
  alignas(4 * shmring::cache_line) bounce_line ping;
  alignas(4 * shmring::cache_line) bounce_line pong;
};

/// The lines in a memfd mapping, inherited by the child as a descriptor.
class shared_lines : public shared_block<bounce_lines> {
 public:
  shared_lines() : shared_block("shmring-bench-line") {}
  explicit shared_lines(int fd) : shared_block(fd) {}
  [[nodiscard]] std::atomic<std::uint64_t>& ping() const noexcept { return get().ping.word; }
  /// The line the child answers on: ping itself for a one-line bounce.
  [[nodiscard]] std::atomic<std::uint64_t>& pong(bool two) const noexcept { return two ? get().pong.word : ping(); }
};

/// args of cache_line_echo: pause ("1"/"0"), two lines ("1"/"0").
void rtt(benchmark::State& state, bool pause, bool two) {
  scoped_pin pin(bench_cpus().first);
  shared_control ctl;
  shared_lines lines;
  auto& out = lines.ping();
  auto& in = lines.pong(two);
  int status = 0;
  {
    child_process child("cache_line_echo", {pause ? "1" : "0", two ? "1" : "0"}, {ctl.fd(), lines.fd()});
    start(ctl.get(), &child);
    std::uint64_t last = 0;
    ping_pong(
        state,
        [&](std::uint64_t v) {
          // release/acquire: pair with the child's acquire load and release store (the data is the word itself).
          if (v == quit) return out.store(quit, std::memory_order_release);
          last = 2 * v + 2;
          out.store(2 * v + 1, std::memory_order_release);
        },
        [&] {
          while (in.load(std::memory_order_acquire) != last)
            if (pause) cpu_relax();
          return (last - 2) / 2;
        });
    status = child.wait();
  }
  if (status != 0) state.SkipWithError("the echo process failed");
}

}  // namespace

void BM_cache_line_rtt_process(benchmark::State& state, bool pause) { rtt(state, pause, false); }

void BM_two_lines_rtt_process(benchmark::State& state, bool pause) { rtt(state, pause, true); }

SHMRING_CHILD(cache_line_echo) {
  shared_control ctl(child_fd_base);
  shared_lines lines(child_fd_base + 1);
  const bool pause = args.at(0) == "1";
  auto& in = lines.ping();
  auto& out = lines.pong(args.at(1) == "1");
  ctl.get().ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (std::uint64_t expect = 3;; expect += 2) {  // ping_pong's first sequence number is 1: 2*1+1
    std::uint64_t v;
    // acquire: pairs with the parent's release store of the ping.
    while ((v = in.load(std::memory_order_acquire)) != expect) {
      if (v == quit) return 0;
      if (pause) cpu_relax();
    }
    out.store(expect + 1, std::memory_order_release);  // release: pairs with the parent's acquire load
  }
}

}  // namespace shmring_bench
