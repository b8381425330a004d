#!/usr/bin/env bash
# The layout A/B of issue 14: one commit, built three times with the compiler told to lay the code out differently
# (alignment of functions, loops and jump targets: where every hot loop starts relative to 16/32/64-byte
# boundaries, and so which loops straddle a decoded-instruction-cache or JCC-erratum boundary), then run
# alternately by bench/ab.py with the single-element and round-trip entries and their peers in every run.
# Usage: bench/layout_ab.sh [OUT.md] [ROUNDS] [REPS]     (Release builds in build/layout-{a,b,c})
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
rounds=${2:-3}
reps=${3:-3}
declare -A flags=(
  [a]=""                                                                            # gcc's defaults
  [b]="-falign-functions=64 -falign-loops=64 -falign-jumps=64"                      # everything on a line start
  [c]="-falign-functions=1 -falign-loops=1 -falign-jumps=1 -falign-labels=1"        # nothing aligned: packed
)
for v in a b c; do
  cmake -S . -B "build/layout-$v" -DCMAKE_BUILD_TYPE=Release -DSHMRING_BUILD_BENCH=ON -DSHMRING_BUILD_TESTS=OFF \
    -DSHMRING_BUILD_EXAMPLES=OFF "-DCMAKE_CXX_FLAGS=${flags[$v]}" >/dev/null
  cmake --build "build/layout-$v" --target shmring_bench -j2 >/dev/null
done
entries='^(typed/process/8B/(try|wait)|atomic_queue/thread/8B|boost_spsc/thread/8B|rtt/typed/process/(try|wait)|rtt/cache_line(_pause)?/process|rtt/atomic_queue/thread)/real_time$'
{
  echo "# Layout A/B: $(git rev-parse --short HEAD), three code layouts of one commit"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uname -r); $(g++ --version | head -1)"
  echo "- date: $(date -u +%FT%TZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  for v in a b c; do echo "- build $v: CMAKE_CXX_FLAGS='${flags[$v]}' (Release, -O3)"; done
  echo "- command: bench/layout_ab.sh OUT $rounds $reps"
  echo
  python3 bench/ab.py --rounds "$rounds" --reps "$reps" --filter "$entries" \
    --ratio 'push/pop >= 1.2x atomic_queue=typed/process/8B/try,atomic_queue/thread/8B:1.2' \
    --ratio 'push/pop >= 3x boost::lockfree=typed/process/8B/try,boost_spsc/thread/8B:3' \
    --ratio 'waiting push/pop >= 1.2x atomic_queue=typed/process/8B/wait,atomic_queue/thread/8B:1.2' \
    --ratio 'round trip <= 1.2x bounce=rtt/typed/process/try,rtt/cache_line/process:0.8333' \
    --ratio 'waiting round trip <= 1.2x bounce=rtt/typed/process/wait,rtt/cache_line/process:0.8333' \
    build/layout-a/bench/shmring_bench build/layout-b/bench/shmring_bench build/layout-c/bench/shmring_bench
  echo
  echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out"
