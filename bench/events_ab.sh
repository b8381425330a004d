#!/usr/bin/env bash
# The busy-path A/B of issue 15 (event descriptors): builds examples/producer and examples/consumer from this tree
# and from REF (default: main) with the same flags, then runs COUNT (default 10,000,000) 8-byte messages between
# two processes RUNS times (default 5) for each, alternating A and B, and prints each run's producer and consumer
# lines (rates, and the producer's wake-up calls, which the stats line counts). Neither side ever arms a
# descriptor: this measures what the feature costs everyone else. Usage: bench/events_ab.sh [REF]
set -euo pipefail
ref=${1:-main}
count=${COUNT:-10000000}
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
cleanup() { git -C "$here" worktree remove --force "$tmp/ref" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git -C "$here" worktree add --detach "$tmp/ref" "$ref" >/dev/null 2>&1
build() {  # build SRC OUT
  for prog in producer consumer; do
    g++ -std=c++20 -O2 -DNDEBUG -I"$1/include" "$1/examples/$prog.cpp" -o "$2-$prog" -pthread
  done
}
build "$here" "$tmp/A"
build "$tmp/ref" "$tmp/B"
pin_c=(); pin_p=()
if [ "$(nproc)" -ge 2 ]; then pin_c=(--cpu 1); pin_p=(--cpu 0); fi
echo "A = $(git -C "$here" rev-parse --short HEAD) (this tree), B = $(git -C "$here" rev-parse --short "$ref") ($ref)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$runs"); do
  for side in A B; do
    name="ev-ab-$$-$side-$r"
    "$tmp/$side-consumer" --name "$name" --count "$count" "${pin_c[@]}" | sed "s/^/$side run $r: /" &
    cons=$!
    "$tmp/$side-producer" --name "$name" --count "$count" "${pin_p[@]}" | sed "s/^/$side run $r: /"
    wait "$cons"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
