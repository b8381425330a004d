#!/usr/bin/env bash
# The busy-path A/B of issue 15 (event descriptors): builds examples/producer and examples/consumer from this tree
# and from REF (default: main) with the same flags, then runs COUNT (default 10,000,000) 8-byte messages between
# two processes RUNS times (default 5) for each, alternating A and B, and prints each run's producer and consumer
# lines (rates, and the producer's wake-up calls, which the stats line counts). Neither side ever arms a
# descriptor: this measures what the feature costs everyone else. First it compares the machine code of the hot
# calls (try_push, try_pop, try_send) built from both trees. Usage: bench/events_ab.sh [REF]
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
# The instruction-level half: the hot calls compiled from both trees, disassembled without addresses. The same
# instructions mean the same fast path whatever the noise of the timed runs below.
cat > "$tmp/hot.cpp" <<'CPP'
#include <shmring/shmring.hpp>
#include <cstdint>
__attribute__((noinline)) bool hot_push(shmring::producer<std::uint64_t>& p, std::uint64_t v) { return p.try_push(v); }
__attribute__((noinline)) bool hot_pop(shmring::consumer<std::uint64_t>& c, std::uint64_t& v) { return c.try_pop(v); }
__attribute__((noinline)) bool hot_send(shmring::message_producer& p, std::span<const std::byte> b) { return p.try_send(b); }
CPP
for side in A B; do
  src=$here; [ "$side" = B ] && src=$tmp/ref
  g++ -std=c++20 -O2 -DNDEBUG -I"$src/include" -c "$tmp/hot.cpp" -o "$tmp/$side-hot.o"
  for fn in hot_push hot_pop hot_send; do
    objdump -d --no-show-raw-insn -C "$tmp/$side-hot.o" |
      awk -v f="$fn(" 'index($0, "<" f) { on = 1; next } on && /^$/ { on = 0 } on' |
      sed -E 's/^ *[0-9a-f]+:\t//; s/[0-9a-f]+ <[^>]*>/<target>/' > "$tmp/$side-$fn.s"
    # The same again with member displacements blanked: the attachment's new members move the ring's fields.
    sed -E 's/-?0x[0-9a-f]+\(%/D(%/g; s/^(add|lea) +\$0x[0-9a-f]+,/\1 $D,/' "$tmp/$side-$fn.s" > "$tmp/$side-$fn.d"
  done
done
for fn in hot_push hot_pop hot_send; do
  if cmp -s "$tmp/A-$fn.s" "$tmp/B-$fn.s"; then
    echo "$fn: the same $(wc -l < "$tmp/A-$fn.s") instructions in A and B"
  elif cmp -s "$tmp/A-$fn.d" "$tmp/B-$fn.d"; then
    echo "$fn: the same $(wc -l < "$tmp/A-$fn.s") instructions in A and B but for member displacements" \
         "($(diff "$tmp/B-$fn.s" "$tmp/A-$fn.s" | grep -c '^>') lines name another offset of the endpoint)"
  else
    echo "$fn: differs ($(wc -l < "$tmp/A-$fn.s") instructions in A, $(wc -l < "$tmp/B-$fn.s") in B):"
    diff "$tmp/B-$fn.s" "$tmp/A-$fn.s" | sed 's/^/  /' || true
  fi
done
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
