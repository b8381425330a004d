// The benchmark suite's main: runs a child function when started with the hidden flag (the cross-process entries
// re-run this binary as their peer), otherwise the benchmarks, with the machine recorded in the JSON context.
#include "harness/compiler.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "workloads/params.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && argv[1] == shmring_bench::child_flag) return shmring_bench::run_child(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const auto [p, c] = shmring_bench::bench_cpus();
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("producer_cpu", std::to_string(p));
  benchmark::AddCustomContext("consumer_cpu", std::to_string(c));
  if (shmring_bench::compiler_version != nullptr)
    benchmark::AddCustomContext("suite_compiler", shmring_bench::compiler_version);
  benchmark::AddCustomContext("capacity", std::to_string(shmring_bench::capacity));
  benchmark::AddCustomContext("round_items", std::to_string(shmring_bench::round_items));
  benchmark::AddCustomContext("batch", std::to_string(shmring_bench::batch));
  if (c < 0) std::fprintf(stderr, "shmring_bench: only one core is available; two-sided runs share it\n");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
