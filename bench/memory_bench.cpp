// options::memory measured (include/shmring/detail/memory.hpp): for each of off, prefault, lock and huge pages
// (huge_pages::prefer), on both sides of the ring:
//   memory/first_touch/<opt>: in one process, create a 16 MiB ring of 64-byte elements and open its consumer
//     (attach_ns), fill it once (fill_ns: the producer's first write of every page) and drain it (drain_ns: the
//     consumer's first read); where the pages are faulted in moves from the first pass to the attach.
//   memory/rtt/<opt>: the typed round trip between two processes over two 4 MiB rings (8-byte elements), so the
//     run's first pass through the rings meets a fresh page every 512 round trips: the page faults show in the
//     tail (p99.9, max) unless the option mapped the pages at attach.
// Each entry reports huge_bytes (the producer's mapping, from status().memory) so a run says what it measured.
// May touch: its segments (named by unique_name, removed after each run), its child processes.
#include "harness/control.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "harness/round_trip.hpp"
#include "workloads/elements.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include <sys/resource.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

enum class memory_mode : int { off = 0, prefault = 1, lock = 2, huge = 3 };

shmring::options with(memory_mode m) {
  shmring::options o;
  o.memory.prefault = m == memory_mode::prefault;
  o.memory.lock = m == memory_mode::lock;
  o.memory.huge = m == memory_mode::huge ? shmring::huge_pages::prefer : shmring::huge_pages::off;
  return o;
}

constexpr std::uint64_t touch_capacity = std::uint64_t{1} << 18;  // 16 MiB of 64-byte elements
constexpr std::uint64_t rtt_capacity = std::uint64_t{1} << 19;    // 4 MiB of 8-byte elements

double ns_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

void BM_first_touch(benchmark::State& state, memory_mode m) {
  scoped_pin pin(bench_cpus().first);
  double attach = 0, fill = 0, drain = 0, huge = 0;
  std::uint64_t bad = 0;
  for (auto _ : state) {
    const std::string name = unique_name("touch");
    {
      auto t0 = std::chrono::steady_clock::now();
      auto p = shmring::producer<elem64>::create(name, touch_capacity, with(m));
      auto c = shmring::consumer<elem64>::open(name, with(m));
      attach += ns_since(t0);
      t0 = std::chrono::steady_clock::now();
      for (std::uint64_t i = 0; i < touch_capacity; ++i) bad += p.try_push(make<elem64>(i)) ? 0 : 1;
      fill += ns_since(t0);
      t0 = std::chrono::steady_clock::now();
      for (std::uint64_t i = 0; i < touch_capacity; ++i) {
        elem64 v;
        bad += c.try_pop(v) && v.seq == i ? 0 : 1;
      }
      drain += ns_since(t0);
      huge = static_cast<double>(p.status().memory.huge_bytes);
    }
    (void)shmring::remove(name);
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["attach_ns"] = attach / n;
  state.counters["fill_ns"] = fill / n;
  state.counters["drain_ns"] = drain / n;
  state.counters["huge_bytes"] = huge;
  state.counters["segment_bytes"] = static_cast<double>(touch_capacity * sizeof(elem64));
  if (bad != 0) state.SkipWithError((std::to_string(bad) + " elements were lost or out of order").c_str());
}

void BM_memory_rtt(benchmark::State& state, memory_mode m) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("mping"), b = unique_name("mpong");
  shared_control ctl;
  int status = 0;
  {
    auto p = shmring::producer<elem8>::create(a, rtt_capacity, with(m));
    auto c = shmring::consumer<elem8>::create(b, rtt_capacity, with(m));
    child_process child("memory_echo", {a, b, std::to_string(static_cast<int>(m))}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(state, [&](std::uint64_t v) { p.push(v); }, [&] { return c.pop(); });
    status = child.wait();
    state.counters["huge_bytes"] = static_cast<double>(p.status().memory.huge_bytes);
  }
  (void)shmring::remove(a);
  (void)shmring::remove(b);
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(memory_echo) {
  shared_control ctl(child_fd_base);
  const auto m = static_cast<memory_mode>(std::stoi(args.at(2)));
  auto c = shmring::consumer<elem8>::open(args.at(0), with(m));
  auto p = shmring::producer<elem8>::open(args.at(1), with(m));
  echo(ctl.get(), [&] { return c.pop(); }, [&](std::uint64_t v) { p.push(v); });
  return 0;
}

}  // namespace
}  // namespace shmring_bench

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

// The lock entries need more locked memory than the usual 8 MiB RLIMIT_MEMLOCK: both mappings of the 16 MiB ring
// in one process, or two 4 MiB rings per process. They are left out (and stderr says so) where it is lower, unless
// the process may lock without limit (root: CAP_IPC_LOCK).
const bool memory_entries_registered = [] {
  rlimit rl{};
  const bool may_lock = ::geteuid() == 0 || (::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
                                             (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (std::uint64_t{40} << 20)));
  if (!may_lock)
    std::fprintf(stderr, "shmring bench: RLIMIT_MEMLOCK (ulimit -l) is below 40 MiB: memory/*/lock entries left out\n");
  for (const auto& [label, m] : {std::pair{"off", memory_mode::off}, std::pair{"prefault", memory_mode::prefault},
                                 std::pair{"lock", memory_mode::lock}, std::pair{"huge", memory_mode::huge}}) {
    if (m == memory_mode::lock && !may_lock) continue;
    benchmark::RegisterBenchmark((std::string("memory/first_touch/") + label).c_str(), BM_first_touch, m)
        ->Apply(two_sided);
    benchmark::RegisterBenchmark((std::string("memory/rtt/") + label).c_str(), BM_memory_rtt, m)->Apply(round_trip);
  }
  return true;
}();
