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

# The sanitizers (AddressSanitizer + UndefinedBehaviorSanitizer, -DDEEPCD_SANITIZE=ON, in
# BUILD-sanitize), with the suppressions of tests/sanitize (library leaks; Open MPI's malloc hooks off).
# DEEPCD_CI_SANITIZE picks how much:
#   cli (default) - only the command-line program, and the shell tests of every command on bad input,
#                   fuzzer findings, stale temporaries, kills mid-write and full disks (ctest -R '^cli\.'):
#                   the error paths, where memory errors hide. About 4 minutes on 2 idle cores.
#   all (or 1)    - every target and the whole suite (DEEPCD_SANITIZE_TESTS narrows it to a ctest
#                   regex): about 3x the normal build and run.
#   0             - none.
san_mode=${DEEPCD_CI_SANITIZE:-cli}
[ "$san_mode" = 1 ] && san_mode=all
if [ "$san_mode" != 0 ]; then
  san_build=$build-sanitize
  cmake -S "$root" -B "$san_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCD_ENABLE_TESTS=ON -DDEEPCD_SANITIZE=ON -DDEEPCD_ENABLE_CUDA=OFF
  if [ "$san_mode" = cli ]; then
    cmake --build "$san_build" -j "$jobs" --target deepcd_cli h5mutate
    san_tests='^cli\.'
  else
    cmake --build "$san_build" -j "$jobs"
    san_tests=${DEEPCD_SANITIZE_TESTS:-.}
  fi
  (
    SAN=$root/tests/sanitize
    # shellcheck source=../tests/sanitize/asan.env
    . "$SAN/asan.env"
    # ulimit -v (the out-of-memory cases) and ASan's shadow memory do not mix
    export DEEPCD_NO_ULIMIT=1
    cd "$san_build"
    ctest --output-on-failure -j "$jobs" --timeout 1800 -R "$san_tests"
  )
fi
