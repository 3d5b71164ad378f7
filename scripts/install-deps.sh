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
  libfftw3-dev
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
# h5dump (hdf5-tools) reads the run files of bench/moe.sh. And OpenBLAS's pthread build, the 2-thread SGEMM ceiling of bench/infer.sh
# (infer_bench dlopen()s it by path); it must not become the system BLAS.
bench=0
if [ "${1:-}" = "--bench" ]; then
  bench=1
  packages+=(python3-vtk9 python3-skimage python3-numpy python3-h5py time paraview python3-paraview xvfb xauth
    libopenblas0-pthread hdf5-tools)
fi

# libopenblas0-pthread has a higher alternatives priority (100) than the
# serial build (90): installing it would switch libblas.so.3, liblapack.so.3
# and libopenblas.so.0 to threads under every MPI rank. Keep the serial build.
keep_serial_blas() {
  local a
  [ $bench -eq 1 ] || return 0
  for a in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    local name=$a-x86_64-linux-gnu serial=/usr/lib/x86_64-linux-gnu/openblas-serial/$a
    if [ -e "$serial" ] && [ "$(update-alternatives --query "$name" 2> /dev/null | sed -n 's/^Value: //p')" != "$serial" ]; then
      $SUDO update-alternatives --set "$name" "$serial"
    fi
  done
}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  keep_serial_blas
  echo "install-deps: all dependencies present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
keep_serial_blas
