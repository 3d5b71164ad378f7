#!/usr/bin/env bash
# examples/poisson: generate a smoke-plume problem, solve it with deepcd on
# two MPI ranks through the CLI, compare solvers through the C API, and plot
# the residual histories.
# Usage: examples/poisson/run.sh [output-dir]  (DEEPCD=path/to/deepcd, N=grid size, MODEL=model file)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/out/demo}
deepcd=${DEEPCD:-$root/build/bin/deepcd}
poisson=$(dirname "$deepcd")/poisson_example
n=${N:-64}
model=${MODEL:-$root/data/models/poisson3d.h5}
# the shipped network's directions, each smoothed by 10 Chebyshev/Jacobi
# iterations (docs/ksp-deepcd.md: without smoothing it stalls on plumes)
learned="-ksp_type deepcd -ksp_deepcd_model $model -pc_type jacobi -ksp_deepcd_smooth 10 -ksp_deepcd_smooth_ksp_type chebyshev"
mpiexec="mpiexec --allow-run-as-root --oversubscribe"
# each of the 2 ranks is bound to one core: one oneDNN thread per rank
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$out"

echo "== 1. problem: smoke plume, ${n}^3 cells"
"$deepcd" gen --scene plume --n "$n" --seed 1 -o "$out/plume.h5"

echo "== 2. deepcd solve on 2 MPI ranks (KSP deepcd with the shipped model, smoothed; rtol 1e-6)"
# shellcheck disable=SC2086
$mpiexec -n 2 "$deepcd" solve "$out/plume.h5" -o "$out/plume_solution.h5" -ksp_rtol 1e-6 $learned -mesh_geometry "$out/plume_view.xdmf"

echo "== 3. solvers side by side through the C API (examples/poisson/poisson.c)"
run() { # name, options...
  local name=$1; shift
  printf '%-22s ' "$name"
  "$poisson" -problem "$out/plume.h5" -o "$out/plume_$name.h5" -residuals "$out/history_$name.dat" -ksp_rtol 1e-6 "$@"
}
# shellcheck disable=SC2086
run deepcd_model $learned
run deepcd_jacobi -ksp_type deepcd -pc_type jacobi
run cg_jacobi -ksp_type cg -pc_type jacobi
run deepcd_gamg -ksp_type deepcd -pc_type gamg
run cg_neuralmg -ksp_type cg -pc_type neuralmg
run cg_neuralmg_untrained -ksp_type cg -pc_type neuralmg -pc_neuralmg_model none
run cg_mg -ksp_type cg -pc_type mg -pc_mg_levels 5 -pc_mg_cycle_type w -pc_mg_galerkin both -mg_levels_ksp_type chebyshev -mg_levels_pc_type jacobi
run cg_none -ksp_type cg -pc_type none

if command -v gnuplot > /dev/null; then
  gnuplot <<GP
set terminal pngcairo size 900,600
set output "$out/residuals.png"
set logscale y
set format y "10^{%T}"
set xlabel "iteration"
set ylabel "||r|| / ||b||"
set title "plume ${n}^3, rtol 1e-6"
set grid
plot "$out/history_deepcd_model.dat" w l lw 3 t "deepcd + model + chebyshev 10", \
     "$out/history_deepcd_jacobi.dat" w l lw 2 t "deepcd + jacobi", \
     "$out/history_cg_jacobi.dat" w l lw 2 dt 2 t "cg + jacobi", \
     "$out/history_deepcd_gamg.dat" w lp lw 2 t "deepcd + gamg", \
     "$out/history_cg_neuralmg.dat" w lp lw 3 t "cg + neuralmg (learned)", \
     "$out/history_cg_neuralmg_untrained.dat" w lp lw 2 dt 2 t "cg + neuralmg untrained", \
     "$out/history_cg_mg.dat" w lp lw 2 dt 3 t "cg + mg (5 levels, W)", \
     "$out/history_cg_none.dat" w l lw 1 t "cg"
GP
  plot="$out/residuals.png"
else
  plot="(gnuplot not installed: no plot)"
fi

cat <<MSG

demo outputs in $out:
  plume.h5                 the problem (open plume.h5's datasets with any HDF5 tool)
  plume_solution.h5/.xmf   the solution from 'deepcd solve' on 2 ranks: open plume_solution.xmf in ParaView
  plume_view.xdmf          the solution and the obstacle surface together (open this one in ParaView)
  plume_<solver>.h5/.xmf   the solutions of the side-by-side run
  history_<solver>.dat     residual histories
  $plot
MSG
