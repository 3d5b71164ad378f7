#!/usr/bin/env bash
# Packs a built deepcd into a directory that runs on a machine without PETSc,
# MPI or HDF5 (e.g. a GPU machine that has only CUDA and cuDNN):
#
#   OUT/bin/deepcd            the command
#   OUT/bin/test_nmg_cuda     the GPU test of the PCNEURALMG kernels, when BUILD has it
#                             (CUDA runtime only; tests/gpu/README.md)
#   OUT/lib/                  libdeepcd.so(.0), the cuda module libdeepcd_nn_cuda.so, and every shared library they need
#                             (ldd, transitively), except the system's and the CUDA ones
#   OUT/openmpi/              Open MPI's run-time files for a singleton run:
#                             MCA components (+ their libraries in OUT/lib), help texts, etc/
#   OUT/env.sh                to source: LD_LIBRARY_PATH, OPAL_PREFIX and MCA settings
#
# Usage: scripts/device-bundle.sh [OUT] [BUILD] [--tar]
#   OUT    default build-bundle (in the repository root; ignored by git)
#   BUILD  the build directory holding bin/deepcd, default build
#   --tar  also write OUT-tar/bundle.tar.xz (about 4x smaller, to carry the bundle;
#          build-bundle-tar/ is ignored by git like build-bundle/). Unpack on the
#          target, next to where OUT should be: tar xJf OUT-tar/bundle.tar.xz
# Then, on the target:  . OUT/env.sh && deepcd --version
#
# Limits:
# - Same CPU architecture (x86-64), and the target's glibc, libstdc++ and
#   libgcc_s at least as new as this machine's (they are not bundled).
# - Not bundled, taken from the target: the NVIDIA driver (libcuda), the CUDA
#   runtime, cuBLAS(Lt) and cuDNN, of the major versions deepcd was built
#   with. env.sh looks for them in the Python wheels of the target's python3
#   (nvidia.* packages) and in /usr/local/cuda; DEEPCD_BUNDLE_CUDA_DIRS
#   (colon-separated, may be empty) replaces that search.
# - Open MPI: singleton runs only (one process, no mpirun): the isolated
#   singleton mode (OMPI_MCA_ess_singleton_isolated=1) needs no orted.
#   Components whose libraries are missing here or heavy network stacks
#   (UCX, OFI, PSM, verbs, usNIC, hcoll) are left out; pml ob1 with the self,
#   vader (shared memory) and tcp transports remain.
# - The copied files keep the RUNPATH of the build (no patchelf here);
#   LD_LIBRARY_PATH, searched first, points at the bundle.
# - No HDF5 filter plugins, no hwloc plugins (HWLOC_PLUGINS_PATH points into
#   the bundle, where there are none).
# - Size: PETSc with its solver libraries dominates, then oneDNN (~38 MiB,
#   needed only by the nn "cpu" backend): configure the build with
#   -DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON to leave it out. The script prints
#   the size.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tar=0
args=()
for a in "$@"; do
  case $a in
  --tar) tar=1 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) args+=("$a") ;;
  esac
done
out=${args[0]:-$root/build-bundle}
build=${args[1]:-$root/build}
[ -x "$build/bin/deepcd" ] || {
  echo "device-bundle: $build/bin/deepcd not found (build first, or name the build directory)" >&2
  exit 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "${out:?}"/bin "$out"/lib "$out"/openmpi "$out"/env.sh
mkdir -p "$out/bin" "$out/lib"

# Libraries every Linux system has, and those the GPU machine brings (driver, CUDA, cuDNN).
system_re='^(linux-vdso|linux-gate|ld-linux|libc\.so|libm\.so|libmvec\.so|libpthread\.so|libdl\.so|librt\.so|libutil\.so|libresolv\.so|libanl\.so|libstdc\+\+\.so|libgcc_s\.so)'
device_re='^(libcuda\.so|libnvidia-|libcudart\.so|libcublas\.so|libcublasLt\.so|libcudnn[a-z_]*\.so|libnvrtc|libnvJitLink|libcufft|libcurand|libcusparse|libcusolver|libnccl)'
device_libs=() # the CUDA libraries the bundle expects from the target

# Copies the non-system libraries FILE needs into OUT/lib; fails when one is missing.
add_deps() {
  local file=$1 line name path missing=0
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+=\>[[:space:]]*(.*)$ ]] || continue
    name=${BASH_REMATCH[1]}
    path=${BASH_REMATCH[2]%% (*}
    [[ $name =~ $system_re ]] && continue
    if [[ $name =~ $device_re ]]; then
      [[ " ${device_libs[*]-} " == *" $name "* ]] || device_libs+=("$name")
      continue
    fi
    if [[ $path == "not found" || ! -e $path ]]; then
      missing=1
      continue
    fi
    [ -e "$out/lib/$name" ] || cp -L "$path" "$out/lib/$name"
  done < <(ldd "$file" 2>/dev/null)
  return $missing
}

cp -L "$build/bin/deepcd" "$out/bin/deepcd"
add_deps "$out/bin/deepcd" || {
  echo "device-bundle: some libraries of deepcd are not found here (ldd $build/bin/deepcd)" >&2
  exit 1
}
[ -e "$out/lib/libdeepcd.so.0" ] && ln -sf libdeepcd.so.0 "$out/lib/libdeepcd.so"
# the cuda backend module, dlopen()ed from beside libdeepcd.so (not in ldd's list)
if [ -e "$build/lib/libdeepcd_nn_cuda.so" ]; then
  cp -L "$build/lib/libdeepcd_nn_cuda.so" "$out/lib/libdeepcd_nn_cuda.so"
  add_deps "$out/lib/libdeepcd_nn_cuda.so" || true # CUDA libraries come from the target
fi

# the GPU test of the PCNEURALMG kernels (needs only the CUDA runtime of the target)
if [ -x "$build/bin/test_nmg_cuda" ]; then
  cp -L "$build/bin/test_nmg_cuda" "$out/bin/test_nmg_cuda"
  add_deps "$out/bin/test_nmg_cuda" || true # CUDA libraries come from the target
fi

# Open MPI run-time files, when deepcd links Open MPI.
ompi=0
if ls "$out"/lib/libopen-pal.so* > /dev/null 2>&1; then
  ompi=1
  pkglibdir=$(ompi_info --path pkglibdir --parsable 2> /dev/null | sed -n 's/^path:pkglibdir://p' | head -1 || true)
  pkgdatadir=$(ompi_info --path pkgdatadir --parsable 2> /dev/null | sed -n 's/^path:pkgdatadir://p' | head -1 || true)
  sysconfdir=$(ompi_info --path sysconfdir --parsable 2> /dev/null | sed -n 's/^path:sysconfdir://p' | head -1 || true)
  if [ -z "$pkglibdir" ]; then # no ompi_info: next to libmpi
    libmpi=$(ldd "$out/bin/deepcd" | sed -n 's/^[[:space:]]*libmpi\.so[^ ]* => \([^ ]*\).*/\1/p' | head -1)
    for d in "$(dirname "$(readlink -f "$libmpi")")"/openmpi* "$(dirname "$libmpi")"/openmpi*; do
      [ -d "$d" ] && ls "$d"/mca_*.so > /dev/null 2>&1 && pkglibdir=$d && break
    done
  fi
  [ -d "$pkglibdir" ] || {
    echo "device-bundle: Open MPI's component directory not found (ompi_info missing?)" >&2
    exit 1
  }
  comp=$out/openmpi/lib/openmpi
  mkdir -p "$comp" "$out/openmpi/share" "$out/openmpi/etc"
  skipped=()
  for so in "$pkglibdir"/mca_*.so; do
    base=$(basename "$so")
    case $base in
    *ucx* | *ofi* | *psm* | *openib* | *usnic* | *_uct* | *hcoll* | *fca* | *portals* | *verbs* | *cuda*)
      skipped+=("$base")
      continue
      ;;
    esac
    if add_deps "$so"; then cp -L "$so" "$comp/$base"; else skipped+=("$base"); fi
  done
  [ -n "$pkgdatadir" ] && [ -d "$pkgdatadir" ] && cp -rL "$pkgdatadir" "$out/openmpi/share/openmpi"
  [ -n "$sysconfdir" ] && [ -d "$sysconfdir" ] && cp -rL "$sysconfdir"/. "$out/openmpi/etc/"
  echo "device-bundle: $(ls "$comp" | wc -l) Open MPI components, ${#skipped[@]} left out: ${skipped[*]-}"
fi

cat > "$out/env.sh" << 'EOF'
# Source this file (". env.sh") to run the bundled deepcd. Made by scripts/device-bundle.sh.
DEEPCD_BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
export DEEPCD_BUNDLE
EOF
cat >> "$out/env.sh" << EOF
_deepcd_cuda_libs="${device_libs[*]-}" # expected from the target
EOF
cat >> "$out/env.sh" << 'EOF'
if [ -n "${DEEPCD_BUNDLE_CUDA_DIRS+set}" ]; then
  _deepcd_cuda_dirs=$DEEPCD_BUNDLE_CUDA_DIRS
else # the Python wheels (nvidia-cudnn-cu*, nvidia-cublas*, ...), then the toolkit
  _deepcd_cuda_dirs=$(python3 - $_deepcd_cuda_libs 2> /dev/null << 'PY' || true
import glob, os, sys
dirs = []
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
for r in roots:
    for name in sys.argv[1:]:
        for f in glob.glob(os.path.join(r, "**", name), recursive=True):
            d = os.path.dirname(f)
            if d not in dirs:
                dirs.append(d)
print(":".join(dirs))
PY
)
  for _d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
    [ -d "$_d" ] && _deepcd_cuda_dirs=${_deepcd_cuda_dirs:+$_deepcd_cuda_dirs:}$_d
  done
fi
export LD_LIBRARY_PATH="$DEEPCD_BUNDLE/lib${_deepcd_cuda_dirs:+:$_deepcd_cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$DEEPCD_BUNDLE/bin${PATH:+:$PATH}"
export HWLOC_PLUGINS_PATH="$DEEPCD_BUNDLE/lib/hwloc"
EOF
if [ $ompi = 1 ]; then
  cat >> "$out/env.sh" << 'EOF'
# Open MPI from the bundle, singleton runs without orted
export OPAL_PREFIX="$DEEPCD_BUNDLE/openmpi"
export OPAL_EXEC_PREFIX="$OPAL_PREFIX" OPAL_LIBDIR="$DEEPCD_BUNDLE/lib" OPAL_PKGLIBDIR="$OPAL_PREFIX/lib/openmpi"
export OPAL_DATAROOTDIR="$OPAL_PREFIX/share" OPAL_DATADIR="$OPAL_PREFIX/share" OPAL_PKGDATADIR="$OPAL_PREFIX/share/openmpi"
export OPAL_SYSCONFDIR="$OPAL_PREFIX/etc"
export OMPI_MCA_mca_base_component_path="$OPAL_PREFIX/lib/openmpi"
export OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
fi
echo 'unset _deepcd_cuda_libs _deepcd_cuda_dirs _d' >> "$out/env.sh"

size=$(du -sb "$out" | cut -f1)
echo "device-bundle: $out: $(ls "$out/lib" | wc -l) libraries, $((size / 1048576)) MiB"
echo "device-bundle: from the target: ${device_libs[*]-none}"
big=$(find "$out/lib" -type f -size +4M -printf '%s %f\n' | sort -rn | awk '{printf "%s %d MiB, ", $2, $1 / 1048576}')
[ -n "$big" ] && echo "device-bundle: largest: ${big%, }"
if [ $tar = 1 ]; then
  mkdir -p "$out-tar"
  tar -C "$(dirname "$out")" -cJf "$out-tar/bundle.tar.xz" "$(basename "$out")"
  echo "device-bundle: $out-tar/bundle.tar.xz: $(($(stat -c %s "$out-tar/bundle.tar.xz") / 1048576)) MiB"
fi
