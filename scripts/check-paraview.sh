#!/usr/bin/env bash
# Opens every kind of XDMF file deepcd writes with ParaView's XDMF reader
# (Debian's paraview + python3-paraview, under Xvfb) and checks point and cell
# counts, cell types, array names and VTK's tet volumes, then renders one PNG.
# Heavy and opt-in: not part of scripts/test.sh or CI (docs/mesh.md).
# Usage: scripts/check-paraview.sh [build-dir] [out.png]
#   needs: scripts/install-deps.sh --bench (paraview, python3-paraview, xvfb)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
png=$(realpath -m "${2:-check-paraview.png}")
deepcd=$build/bin/deepcd
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1

for tool in pvbatch xvfb-run; do
  command -v "$tool" > /dev/null || { echo "check-paraview: $tool not found (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
[ -x "$deepcd" ] || { echo "check-paraview: $deepcd not found (build first)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
n=16
"$deepcd" gen --scene spheres --n $n --seed 3 -o p.h5 > /dev/null
"$deepcd" solve p.h5 -o sol.h5 -mesh_geometry geo.xdmf > /dev/null
s=$("$deepcd" mesh p.h5 --close -o s.xdmf)
t=$("$deepcd" mesh p.h5 --close --tets -o t.xdmf)
# the counts ParaView must see, from deepcd's own report lines; -mesh_geometry
# meshes the sdf as `deepcd mesh --close` does (options.md), so geo.xdmf's
# surface has s.xdmf's counts
sv=$(echo "$s" | sed -n 's/.*(\([0-9]*\) vertices, \([0-9]*\) triangles.*/\1/p')
st=$(echo "$s" | sed -n 's/.*(\([0-9]*\) vertices, \([0-9]*\) triangles.*/\2/p')
tv=$(echo "$t" | sed -n 's/.*(\([0-9]*\) vertices, \([0-9]*\) tetrahedra, \([0-9]*\) boundary.*/\1/p')
tn=$(echo "$t" | sed -n 's/.*(\([0-9]*\) vertices, \([0-9]*\) tetrahedra, \([0-9]*\) boundary.*/\2/p')
tb=$(echo "$t" | sed -n 's/.*(\([0-9]*\) vertices, \([0-9]*\) tetrahedra, \([0-9]*\) boundary.*/\3/p')
xvfb-run -a -s "-screen 0 1024x768x24" pvbatch "$root/scripts/check-paraview.py" "$work" $n $n $n "$sv" "$st" "$tv" "$tn" "$tb" "$sv" "$st" "$png"
