#!/usr/bin/env bash
# Installs deepcd's build and test dependencies from Debian packages.
# Idempotent: packages already present are not reinstalled, apt is not
# touched at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  petsc-dev libslepc-real-dev
  libhdf5-openmpi-dev openmpi-bin libopenmpi-dev
  libgtest-dev libdnnl-dev gnuplot-nox
  # An optimised BLAS/LAPACK behind Debian's libblas.so.3/liblapack.so.3
  # alternatives (PETSc, SLEPc and src/moe link those): the serial build, one
  # thread per MPI rank; netlib's reference BLAS is ~50x slower at dgemm.
  libopenblas0-serial
)
# --bench (opt-in; the build and the tests never need them): the anchors of
# bench/mesh.sh (VTK's Flying Edges and Marching Cubes, scikit-image) and
# GNU time for its memory peaks; bench/mesh.sh skips what is missing. Also
# ParaView (pvbatch + its Python modules) and Xvfb for scripts/check-paraview.sh
# (Debian's ParaView renders through X only: no offscreen EGL/OSMesa build).
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3-vtk9 python3-skimage python3-numpy python3-h5py time paraview python3-paraview xvfb xauth)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
