#!/usr/bin/env bash
# Installs what is missing, builds deepcd, and runs examples/poisson end to end.
# Usage: scripts/demo.sh [output-dir]   (default: out/demo)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/out/demo}
jobs=$(nproc 2>/dev/null || echo 2)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$root/build.log" 2>&1 || { cat "$root/build.log"; exit 1; }
cmake --build "$root/build" -j "$jobs" >> "$root/build.log" 2>&1 || { tail -50 "$root/build.log"; exit 1; }
echo "demo: built build/bin/deepcd and build/lib/libdeepcd.so (log: build.log)"
DEEPCD="$root/build/bin/deepcd" "$root/examples/poisson/run.sh" "$outdir"
