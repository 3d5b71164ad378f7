#!/usr/bin/env bash
# Makes data/models/neuralmg.h5, the shipped PCNEURALMG model: generates the
# training problems (seeds 1 and 2 at 32^3) and validation problems (seed 3
# at 48^3) of four scene families, then trains from the classical parameters
# (docs/pc-neuralmg.md, "Learning"). About 80 s on 2 cores.
# Usage: scripts/train-neuralmg.sh [OUT.h5]   (default: out/neuralmg/neuralmg.h5)
# Environment: DEEPCD (build/bin/deepcd), STEPS (300)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deepcd=${DEEPCD:-$root/build/bin/deepcd}
out=${1:-$root/out/neuralmg/neuralmg.h5}
steps=${STEPS:-300}
[ -x "$deepcd" ] || { echo "scripts/train-neuralmg.sh: $deepcd not found (build first, or set DEEPCD)" >&2; exit 1; }
work=$(dirname "$out")/problems
mkdir -p "$work"
train=() val=()
for scene in spheres plates random plume; do
  for seed in 1 2; do
    "$deepcd" gen --scene "$scene" --n 32 --seed "$seed" -o "$work/${scene}32_$seed.h5" > /dev/null
    train+=("$work/${scene}32_$seed.h5")
  done
  "$deepcd" gen --scene "$scene" --n 48 --seed 3 -o "$work/${scene}48_3.h5" > /dev/null
  val+=("$work/${scene}48_3.h5")
done
"$deepcd" train --arch neuralmg "${train[@]}" --val "$(IFS=,; echo "${val[*]}")" \
  --steps "$steps" --val-every 25 --seed 1 -o "$out"
