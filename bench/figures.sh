#!/usr/bin/env bash
# The README's figures that are not in the benchmark report, measured in one run and written to one file with the
# machine they came from: the main demo three times (examples/demo.sh: 20 million 8-byte messages between two
# processes, one at a time and in batches of 256), ping_pong's round-trip table for every wait policy, and the
# system costs the library's paths pay (bench/sys_bench.cpp: a clock read, membarrier, a futex wake).
# Usage: bench/figures.sh OUT_FILE     (e.g. bench/results/xeon/2026-12-01-figures.txt)
# Installs what it needs (cmake/deps.sh bench), builds the examples (dev preset) and the suite (bench preset).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/figures.sh OUT_FILE}
mkdir -p "$(dirname "$out")"
bash cmake/deps.sh bench
cmake --preset bench >/dev/null
cmake --build --preset bench --target shmring_bench ping_pong >/dev/null
{
  echo "# bench/figures.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) online)"
  echo "hypervisor: $(lscpu 2>/dev/null | awk -F: '/Hypervisor vendor/ {gsub(/^ +/, "", $2); print $2}')"
  echo "kernel: $(uname -r); compiler: $(g++ --version | head -1)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  for run in 1 2 3; do
    echo "## examples/demo.sh, run $run"
    bash examples/demo.sh
    echo
  done
  echo "## ping_pong --wait all --count 100000 (ns; bench preset, Release)"
  build/bench/examples/ping_pong --wait all --count 100000
  echo
  echo "## ping_pong --wait sleep --spin 0 --yields 0 --count 20000 (a kernel wake-up on every message)"
  build/bench/examples/ping_pong --wait sleep --spin 0 --yields 0 --count 20000
  echo
  echo "## shmring_bench --benchmark_filter='^sys/' (median of 5 repetitions)"
  build/bench/bench/shmring_bench --benchmark_filter='^sys/' --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_display_aggregates_only=true 2>&1 |
    grep -E '^(sys/|Run on|CPU Caches|Load Average|-----|Benchmark)' || true
  echo
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
