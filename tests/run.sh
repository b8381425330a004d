#!/usr/bin/env bash
# Builds and runs all of shmring's tests (the dev preset: tests, examples, tools). Installs what it needs first.
# Usage: tests/run.sh [preset]   (dev by default; also asan, tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}
bash cmake/deps.sh test
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
