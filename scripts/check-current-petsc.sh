#!/usr/bin/env bash
# Builds deepcd against a current PETSc (and SLEPc), from the source
# distributions on PyPI, beside Debian's PETSc 3.18 that the build and CI use.
# Not part of CI (about 30 minutes on 2 cores); run it when the PETSc
# compatibility layer (include/deepcd/private/petsccompat.h) changes.
#
# Usage: scripts/check-current-petsc.sh [WORKDIR]   (default: build-petsc-current)
# Environment: PETSC_VERSION (default: the newest on PyPI), SLEPC_VERSION (idem),
#   JOBS (make jobs, default nproc)
# Needs: Debian's OpenMPI, HDF5 (openmpi), BLAS/LAPACK (scripts/install-deps.sh),
#   access to PyPI.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(realpath -m "${1:-$root/build-petsc-current}")
jobs=${JOBS:-$(nproc)}
mkdir -p "$work/src"
fetch() { # package version -> unpacked source directory on stdout
  # the source distribution from PyPI's JSON API (pip download would build the
  # package's metadata, and for slepc a whole PETSc, first)
  local pkg=$1 ver=$2
  if ! ls "$work/src/$pkg"-*.tar.gz > /dev/null 2>&1; then
    python3 - "$pkg" "$ver" "$work/src" << 'PY' || { echo "check-current-petsc: cannot download $pkg from PyPI" >&2; exit 1; }
import json, sys, urllib.parse, urllib.request
pkg, ver, dest = sys.argv[1:4]
base = "https://pypi.org/pypi/%s/%sjson" % (pkg, ver + "/" if ver else "")
info = json.load(urllib.request.urlopen(base, timeout=120))
url = [u["url"] for u in info["urls"] if u["packagetype"] == "sdist"][0]
url = urllib.parse.urljoin(base, url)
name = url.rsplit("/", 1)[1]
urllib.request.urlretrieve(url, dest + "/" + name)
PY
  fi
  local tgz
  tgz=$(ls "$work/src/$pkg"-*.tar.gz | head -1)
  local dir=$work/src/$(basename "$tgz" .tar.gz)
  [ -d "$dir" ] || tar xzf "$tgz" -C "$work/src"
  echo "$dir"
}
petsc_src=$(fetch petsc "${PETSC_VERSION:-}")
petsc=$work/petsc
if [ ! -e "$petsc/lib/pkgconfig/petsc.pc" ]; then
  echo "== PETSc from $petsc_src"
  (cd "$petsc_src" && unset PETSC_DIR PETSC_ARCH &&
    ./configure --prefix="$petsc" --with-cc=mpicc --with-cxx=mpicxx --with-fc=0 --with-debugging=0 \
      --with-shared-libraries=1 --with-x=0 --with-blaslapack-lib="-llapack -lblas" \
      --with-hdf5-include=/usr/include/hdf5/openmpi \
      --with-hdf5-lib="-L/usr/lib/x86_64-linux-gnu/hdf5/openmpi -lhdf5" > "$work/petsc-configure.log" 2>&1 &&
    make -j "$jobs" > "$work/petsc-make.log" 2>&1 && make install > "$work/petsc-install.log" 2>&1) ||
    { echo "check-current-petsc: PETSc build failed (logs in $work)" >&2; exit 1; }
fi
slepc_src=$(fetch slepc "${SLEPC_VERSION:-}")
slepc=$work/slepc
if [ ! -e "$slepc/lib/pkgconfig/slepc.pc" ]; then
  echo "== SLEPc from $slepc_src"
  (cd "$slepc_src" && export PETSC_DIR=$petsc && unset PETSC_ARCH &&
    ./configure --prefix="$slepc" > "$work/slepc-configure.log" 2>&1 &&
    make SLEPC_DIR="$slepc_src" -j "$jobs" > "$work/slepc-make.log" 2>&1 &&
    make SLEPC_DIR="$slepc_src" install > "$work/slepc-install.log" 2>&1) ||
    { echo "check-current-petsc: SLEPc build failed (logs in $work)" >&2; exit 1; }
fi
echo "== deepcd against PETSc $(pkg-config --modversion "$petsc/lib/pkgconfig/petsc.pc")"
export PKG_CONFIG_PATH=$petsc/lib/pkgconfig:$slepc/lib/pkgconfig
cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPCD_ENABLE_TESTS=OFF -DDEEPCD_ENABLE_CUDA=OFF > "$work/deepcd-cmake.log" 2>&1
cmake --build "$work/build" -j "$jobs" 2>&1 | tee "$work/deepcd-build.log" | grep -E "error|warning: .*deprecated" || true
[ -x "$work/build/bin/deepcd" ] || { echo "check-current-petsc: deepcd did not build (log: $work/deepcd-build.log)" >&2; exit 1; }
# a smoke run: generate, solve with deepcd (pc and cnn generators), the plugin in a plain PETSc program
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
b=$work/build/bin
"$b/deepcd" gen --scene spheres --n 16 --seed 1 -o "$work/p.h5" > /dev/null
"$b/deepcd" solve "$work/p.h5" -o "$work/o.h5" -ksp_converged_reason
"$b/deepcd" solve "$work/p.h5" -o "$work/o2.h5" -ksp_deepcd_model "$root/data/models/poisson3d.h5" -ksp_deepcd_smooth 10 \
  -ksp_deepcd_smooth_ksp_type chebyshev -ksp_converged_reason
echo "check-current-petsc: deepcd builds and runs against PETSc $(pkg-config --modversion petsc)"
