#!/usr/bin/env bash
# The main demo: builds the producer and consumer examples and runs them as two processes passing 20 million
# 8-byte messages through a shmring typed ring, one at a time and then in batches of 256, printing their rates.
# Installs what it needs (Debian packages) first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/deps.sh core
cmake --preset dev -DSHMRING_BUILD_TESTS=OFF >/dev/null
cmake --build --preset dev --target producer consumer >/dev/null
bin=build/dev/examples
name="demo-$$"
count=${COUNT:-20000000}
cpus=$(nproc)
pin_c=(); pin_p=()
if [ "$cpus" -ge 2 ]; then pin_c=(--cpu 1); pin_p=(--cpu 0); fi
for batch in 1 256; do
  echo "== $count messages, batch $batch, two processes =="
  "$bin/consumer" --name "$name" --count "$count" --batch "$batch" "${pin_c[@]}" &
  cons=$!
  "$bin/producer" --name "$name" --count "$count" --batch "$batch" "${pin_p[@]}"
  wait "$cons"
done
