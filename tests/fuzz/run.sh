#!/usr/bin/env bash
# Builds the message-ring fuzzer (tests/fuzz/message_fuzz.cpp; or typed_fuzz.cpp, see below) with libFuzzer, ASan and UBSan, and runs it for
# N seconds (first argument, default 30) on a copy of the seed corpus tests/fuzz/corpus (the committed corpus is
# never modified). Exits non-zero on a crash, an out-of-bounds access, undefined behaviour, a leak, an input that
# runs longer than 10 s (an endless loop) or one that needs more than 2 GB. The inputs that failed are copied to
# build/fuzz-artifacts/ for `./message_fuzz <file>` (or typed_fuzz) to reproduce.
# With a second argument "typed" it builds and runs the typed consumer's fuzzer (tests/fuzz/typed_fuzz.cpp) on
# tests/fuzz/typed_corpus instead.
#   usage: bash tests/fuzz/run.sh [seconds] [message|typed]   (CXX_FUZZ overrides the compiler, default clang++)
set -euo pipefail
secs=${1:-30}
target=${2:-message}
case "$target" in
  message) seeds=corpus ;;
  typed) seeds=typed_corpus ;;
  *) echo "usage: $0 [seconds] [message|typed]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
cxx=${CXX_FUZZ:-clang++}
work=$(mktemp -d "${TMPDIR:-/tmp}/shmring-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I "$root/include" "$root/tests/fuzz/${target}_fuzz.cpp" -o "$work/fuzzer"
mkdir "$work/corpus" "$work/artifacts"
cp "$root"/tests/fuzz/"$seeds"/* "$work/corpus/"

status=0
(cd "$work" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./fuzzer -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 corpus) || status=$?
if [ "$status" -ne 0 ]; then
  mkdir -p "$root/build/fuzz-artifacts"
  cp "$work"/artifacts/* "$root/build/fuzz-artifacts/" 2>/dev/null || true
  echo "${target}_fuzz failed (exit $status); failing inputs are in $root/build/fuzz-artifacts/" >&2
  exit "$status"
fi
echo "${target}_fuzz: no failure in ${secs} s"
