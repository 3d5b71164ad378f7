#!/usr/bin/env bash
# Installs what is missing, builds deepcd and runs the whole test suite, then
# the CNN tests once more with oneDNN limited to AVX2.
# Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

# OpenMPI refuses to run as root without these (our machines run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCD_ENABLE_TESTS=ON
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 600

# The CNN tests again with oneDNN held to AVX2: results that hang on the
# instruction set (AVX-512 rounds differently) must not decide a test, and
# developer machines with AVX-512 would not see it otherwise (about 30 s on 2 cores).
ONEDNN_MAX_CPU_ISA=AVX2 ctest --output-on-failure -j "$jobs" --timeout 600 \
  -R '^(DirGenCNN\.|NnBackendCpu|Grids/NnBackendCpu|NnGradCpu\.|mpi\.cnn_)'

# Optional (DEEPCD_CI_SANITIZE=1): a second build with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DDEEPCD_SANITIZE=ON, in BUILD-sanitize) and the suite under it, with the suppressions of
# tests/sanitize (library leaks; Open MPI's malloc hooks off). DEEPCD_SANITIZE_TESTS narrows it to a
# ctest regex. Off by default: the build and the run take about 3x the normal ones on 2 cores.
if [ "${DEEPCD_CI_SANITIZE:-0}" = 1 ]; then
  san_build=$build-sanitize
  cmake -S "$root" -B "$san_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCD_ENABLE_TESTS=ON -DDEEPCD_SANITIZE=ON -DDEEPCD_ENABLE_CUDA=OFF
  cmake --build "$san_build" -j "$jobs"
  (
    SAN=$root/tests/sanitize
    # shellcheck source=../tests/sanitize/asan.env
    . "$SAN/asan.env"
    # ulimit -v (the out-of-memory cases) and ASan's shadow memory do not mix
    export DEEPCD_NO_ULIMIT=1
    cd "$san_build"
    ctest --output-on-failure -j "$jobs" --timeout 1800 -R "${DEEPCD_SANITIZE_TESTS:-.}"
  )
fi
