// The peers' entries, every one under the name bench/report.py and the committed results (bench/results/) know it
// by, in one list: the order is the suite's run order without random interleaving. The code of each peer is in its
// own file (peers.hpp says which).
// May touch: Google Benchmark's registry of entries. Nothing else.
#include "peers/peers.hpp"

#include "harness/registration.hpp"
#include "harness/sysctl.hpp"
#include "workloads/elements.hpp"
#include "workloads/params.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

BENCHMARK_TEMPLATE(BM_boost_spsc_thread, elem8)->Name("boost_spsc/thread/8B")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_thread_batch, elem8)->Name("boost_spsc/thread/8B/batch")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_process, elem8)->Name("boost_spsc/process/8B")->Apply(two_sided);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK_TEMPLATE(BM_atomic_queue_thread, elem8)->Name("atomic_queue/thread/8B")->Apply(two_sided);
#endif
#if SHMRING_BENCH_HAVE_ICEORYX
BENCHMARK(BM_iceoryx_process)->Name("iceoryx/process/8B")->Apply(two_sided);
#endif
BENCHMARK_TEMPLATE(BM_boost_spsc_thread, elem64)->Name("boost_spsc/thread/64B")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_process, elem64)->Name("boost_spsc/process/64B")->Apply(two_sided);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK_TEMPLATE(BM_atomic_queue_thread, elem64)->Name("atomic_queue/thread/64B")->Apply(two_sided);
#endif

// Message sizes: one entry per size, named msg/<peer>/.../<size> (the report's throughput-by-size chart).
template <class Reg>
void by_size(const char* name, Reg reg, std::size_t max_size = ~std::size_t{0}) {
  for (const std::size_t s : msg_sizes)
    if (s <= max_size) reg(std::string(name) + "/" + size_name(s), s)->Apply(two_sided);
}

const bool message_peers_registered = [] {
  by_size("msg/memcpy", [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_memcpy, s); });
  by_size("msg/pipe/process",
          [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_pipe_process, s); });
  by_size("msg/unix_socket/process", [](const std::string& n, std::size_t s) {
    return benchmark::RegisterBenchmark(n.c_str(), BM_unix_socket_process, s);
  });
  by_size(
      "msg/posix_mq/process", [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_posix_mq_process, s); },
      static_cast<std::size_t>(read_long("/proc/sys/fs/mqueue/msgsize_max", 8192)));
  by_size("msg/bip_message_queue/process",
          [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_bip_mq_process, s); });
  return true;
}();

BENCHMARK_CAPTURE(BM_cache_line_rtt_process, floor, false)->Name("rtt/cache_line/process")->Apply(round_trip);
BENCHMARK_CAPTURE(BM_cache_line_rtt_process, pause, true)->Name("rtt/cache_line_pause/process")->Apply(round_trip);
BENCHMARK_CAPTURE(BM_two_lines_rtt_process, floor, false)->Name("rtt/two_lines/process")->Apply(round_trip);
BENCHMARK_CAPTURE(BM_two_lines_rtt_process, pause, true)->Name("rtt/two_lines_pause/process")->Apply(round_trip);
BENCHMARK(BM_boost_spsc_rtt_thread)->Name("rtt/boost_spsc/thread")->Apply(round_trip);
BENCHMARK(BM_boost_spsc_rtt_process)->Name("rtt/boost_spsc/process")->Apply(round_trip);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK(BM_atomic_queue_rtt_thread)->Name("rtt/atomic_queue/thread")->Apply(round_trip);
#endif
#if SHMRING_BENCH_HAVE_ICEORYX
BENCHMARK(BM_iceoryx_rtt_process)->Name("rtt/iceoryx/process")->Apply(round_trip);
#endif
BENCHMARK(BM_pipe_rtt_process)->Name("rtt/pipe/process")->Apply(round_trip);
BENCHMARK(BM_unix_socket_rtt_process)->Name("rtt/unix_socket/process")->Apply(round_trip);
BENCHMARK(BM_posix_mq_rtt_process)->Name("rtt/posix_mq/process")->Apply(round_trip);
BENCHMARK(BM_bip_mq_rtt_process)->Name("rtt/bip_message_queue/process")->Apply(round_trip);
