#!/usr/bin/env bash
# shmring-bridge against raw ZeroMQ PUSH/PULL over loopback (issue 17), in one run: builds bench/bridge/bridge_bench
# with -O2 against the headers and libzmq, runs it against a Release build of shmring-bridge, and prints a markdown
# report with the CPU and the load. Usage: bench/bridge/run.sh [BUILD_DIR] [SCALE]  (BUILD_DIR default build/bench;
# it is configured and the bridge built there if needed; SCALE multiplies the message counts, default 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/bench}
scale=${2:-1}
if [ ! -x "$build/tools/bridge/shmring-bridge" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHMRING_BUILD_BRIDGE=ON -DSHMRING_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target shmring_bridge -j2 >/dev/null
fi
mkdir -p "$build/bench-bridge"
g++ -O2 -std=c++20 -Wall -Wextra -Iinclude bench/bridge/bridge_bench.cpp -o "$build/bench-bridge/bridge_bench" -lzmq -lpthread
echo "# shmring-bridge vs raw ZeroMQ, loopback TCP"
echo
echo "- command: \`bench/bridge/run.sh $build $scale\` ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) vCPUs"
echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?'); bridge: Release build, window 8 MiB, batch 256 KiB, rings 4 MiB, HWM 1000"
echo "- throughput: N messages after one warm-up (1 M for 64 B and 1 KiB, 8192 for 64 KiB, times SCALE); raw = PUSH->PULL"
echo "  between two processes; bridge = producer -> ring -> send -> recv -> ring -> consumer (four processes), exactly-once on"
echo "- round trip: median of 2000 pings; raw = PUSH/PULL pair to an echo process; bridge = two bridge pairs and an echo process"
echo
"$build/bench-bridge/bridge_bench" "$build/tools/bridge/shmring-bridge" "$scale"
echo
echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
