#!/usr/bin/env bash
# C# to C# on mono between two processes: shmring 64-byte messages against System.IO.Pipes, the same count each,
# in one run (bench/bindings/csharp_bench.cs). Needs a build with the C# binding (Shmring.dll in <build>/csharp).
# Usage: bench/bindings/csharp_bench.sh [build-dir] [count] [output-file]
#   defaults: build/dev, 1000000, standard output. The output names the CPU and the load before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/dev}
count=${2:-1000000}
out=${3:-/dev/stdout}
mono=$(command -v mono)
dll="$build/csharp/Shmring.dll"
[ -f "$dll" ] || { echo "csharp_bench: $dll not found (configure with the C# binding and build shmring_csharp)" >&2; exit 2; }
mcs -nologo -unsafe -optimize+ -warnaserror -r:"$dll" -r:System.Core.dll -out:"$build/csharp/csharp_bench.exe" \
    bench/bindings/csharp_bench.cs
{
  echo "# bench/bindings/csharp_bench.sh $build $count ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; $(mono --version | head -1)"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$mono" "$build/csharp/csharp_bench.exe" "$mono" "$count"
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out"
