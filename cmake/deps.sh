#!/usr/bin/env bash
# Installs the Debian packages shmring's build needs, if any are missing.
# Usage: cmake/deps.sh [core|test|bench|package|all]
#   core: compiler, CMake (the library itself)   test: + Catch2, Boost (a peer), clang (fuzzing, second compiler),
#   pkg-config, ZeroMQ with CURVE (libzmq3-dev, cppzmq-dev, libsodium-dev: shmring-bridge and its tests), and the
#   Python binding's build and tests (python3-dev, python3-pybind11, python3-numpy, python3-pytest; python3-pip and
#   python3-setuptools for `pip install bindings/python`)
#   bench: + Google Benchmark, atomic_queue, gnuplot, iceoryx (a peer, with iox-roudi)      all: everything
#   package: + debhelper, dpkg-dev, build-essential, pkg-config (building the .debs: tests/package/deb.sh)
#   On amd64, test also installs g++-multilib: the hardening tests build a 32-bit peer and check that it
#   interoperates with (or is refused by) 64-bit processes; without it they skip that part.
set -euo pipefail
what=${1:-test}
pkgs=(g++ cmake make)
case "$what" in
  core) ;;
  test) pkgs+=(catch2 libboost-dev clang libclang-rt-dev pkg-config libzmq3-dev cppzmq-dev libsodium-dev)
        pkgs+=(python3-dev python3-pybind11 python3-numpy python3-pytest python3-pip python3-setuptools) ;;
  bench) pkgs+=(libboost-dev libbenchmark-dev libatomic-queue-dev gnuplot-nox python3 libiceoryx-posh-dev iceoryx)
         pkgs+=(python3-dev python3-pybind11 python3-numpy) ;;  # bench/bindings/python_bench.py
  package) pkgs+=(build-essential debhelper dpkg-dev pkg-config) ;;
  all) pkgs+=(catch2 libboost-dev clang libclang-rt-dev pkg-config libbenchmark-dev libatomic-queue-dev gnuplot-nox python3
              libzmq3-dev cppzmq-dev libsodium-dev
              build-essential debhelper dpkg-dev libiceoryx-posh-dev iceoryx)
       pkgs+=(python3-dev python3-pybind11 python3-numpy python3-pytest python3-pip python3-setuptools) ;;
  *) echo "usage: $0 [core|test|bench|package|all]" >&2; exit 2 ;;
esac
if { [ "$what" = test ] || [ "$what" = all ]; } && [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
  pkgs+=(g++-multilib)
fi
# test and all: mono (mono-mcs, mono-runtime: the C# binding and its tests) and zlib (zlib1g-dev: the
# cross-language peers' CRC-32).
if [ "$what" = test ] || [ "$what" = all ]; then
  pkgs+=(mono-mcs mono-runtime zlib1g-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "shmring: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
