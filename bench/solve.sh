#!/usr/bin/env bash
# All solvers side by side on the same problems, same rtol (unpreconditioned
# 2-norm), same machine, one run: deepcd with a trained model (its raw
# directions: -ksp_deepcd_smooth 0 overrides the smoothing the model carries), CG, CG+Jacobi,
# CG+ICC, CG+GAMG, CG+hypre BoomerAMG, CG+geometric multigrid on the DMDA;
# and deepcd with each direction smoothed by 10 Chebyshev/Jacobi iterations
# (-ksp_deepcd_smooth), beside the same method with the network replaced by
# Jacobi ("jacobi-cd+cheb10"), which shows what the network itself adds.
# The multigrid columns: PCMG 4-level V ("cg+mg") and tuned 5-level W
# ("cg+mg-w5"); CG with PCNEURALMG: the shipped learned model ("cg+neuralmg"),
# the same cycle untrained ("cg+neuralmg-untrained": -pc_neuralmg_model none,
# the classical parameters training starts from), and the same cycle with the
# scalings tuned by hand in an earlier session ("cg+neuralmg-hand").
# The matrix-vector products (MatMult count of -log_view) are counted too.
# Writes a Markdown table, a JSON file, a bar plot of the times, and per
# problem one PNG with the residual against the iteration and against time.
#
# Usage: bench/solve.sh [N ...]          (default: 64 128)
# Environment: MODEL (default data/models/poisson3d.h5), SCENES ("empty spheres
#   plume random plates"), SEED (2026: not a training seed), RANKS (1), RTOL (1e-6),
#   BACKEND (auto), OUT (out/bench-solve), DEEPCD (build/bin/deepcd),
#   SOLVERS (a space-separated subset of the names below), MAXIT (5000),
#   THREADS (OpenMP threads per rank for the CNN; default cores / RANKS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deepcd=${DEEPCD:-$root/build/bin/deepcd}
model=${MODEL:-$root/data/models/poisson3d.h5}
out=${OUT:-$root/out/bench-solve}
ranks=${RANKS:-1}
rtol=${RTOL:-1e-6}
seed=${SEED:-2026}
backend=${BACKEND:-auto}
maxit=${MAXIT:-5000}
read -r -a scenes <<< "${SCENES:-empty spheres plume random plates}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(64 128)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x "$deepcd" ] || { echo "bench/solve.sh: $deepcd not found (build first, or set DEEPCD)" >&2; exit 1; }
mkdir -p "$out"
# OpenMPI binds each rank to one core when there are few ranks, which leaves
# oneDNN's threads (the CNN) sharing a single core: unbind, and give each rank
# its share of the cores (THREADS overrides).
threads=${THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))}
export OMP_NUM_THREADS=$threads
run=(mpiexec --allow-run-as-root --oversubscribe --bind-to none -n "$ranks" "$deepcd")
icc="-pc_type icc"
[ "$ranks" -eq 1 ] || icc="-pc_type bjacobi -sub_pc_type icc"

all_solvers=(
  "deepcd|-ksp_type deepcd -ksp_deepcd_model $model -ksp_deepcd_backend $backend -ksp_deepcd_smooth 0"
  "deepcd+cheb10|-ksp_type deepcd -ksp_deepcd_model $model -ksp_deepcd_backend $backend -pc_type jacobi -ksp_deepcd_smooth 10 -ksp_deepcd_smooth_ksp_type chebyshev"
  "jacobi-cd+cheb10|-ksp_type deepcd -ksp_deepcd_generator pc -pc_type jacobi -ksp_deepcd_smooth 10 -ksp_deepcd_smooth_ksp_type chebyshev"
  "cg|-ksp_type cg -pc_type none"
  "cg+jacobi|-ksp_type cg -pc_type jacobi"
  "cg+icc|-ksp_type cg $icc"
  "cg+gamg|-ksp_type cg -pc_type gamg"
  "cg+boomeramg|-ksp_type cg -pc_type hypre -pc_hypre_type boomeramg"
  "cg+mg|-ksp_type cg -pc_type mg -pc_mg_levels 4 -pc_mg_galerkin both -mg_levels_ksp_type chebyshev -mg_levels_pc_type jacobi"
  "cg+mg-w5|-ksp_type cg -pc_type mg -pc_mg_levels 5 -pc_mg_cycle_type w -pc_mg_galerkin both -mg_levels_ksp_type chebyshev -mg_levels_pc_type jacobi"
  "cg+neuralmg|-ksp_type cg -pc_type neuralmg"
  "cg+neuralmg-untrained|-ksp_type cg -pc_type neuralmg -pc_neuralmg_model none"
  "cg+neuralmg-hand|-ksp_type cg -pc_type neuralmg -pc_neuralmg_model none -pc_neuralmg_correction 2.5 -pc_neuralmg_correction_second 0.8 -pc_neuralmg_correction_exact 1 -pc_neuralmg_cheb_lower 0.2"
)
solvers=()
for s in "${all_solvers[@]}"; do
  if [ -z "${SOLVERS:-}" ] || [[ " $SOLVERS " == *" ${s%%|*} "* ]]; then solvers+=("$s"); fi
done
# the model file only when a chosen solver uses it
for s in "${solvers[@]}"; do
  if [[ $s == *"$model"* ]]; then
    [ -f "$model" ] || { echo "bench/solve.sh: model $model not found (set MODEL)" >&2; exit 1; }
    break
  fi
done

table="$out/solve.md"
json="$out/solve.json"
{
  echo "| scene | N | solver | iterations | reason | setup s | solve s | total s | MatMults |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$table"
echo "[" > "$json"
first=1
for n in "${sizes[@]}"; do
  for scene in "${scenes[@]}"; do
    prob="$out/${scene}_${n}.h5"
    [ -f "$prob" ] || "$deepcd" gen --scene "$scene" --n "$n" --seed "$seed" -o "$prob" > /dev/null
    hists=()
    for s in "${solvers[@]}"; do
      name=${s%%|*}
      opts=${s#*|}
      hist="$out/hist_${scene}_${n}_${name}.txt"
      rm -f "$hist" "$out/log.txt"
      # shellcheck disable=SC2086
      line=$("${run[@]}" solve "$prob" -o "$out/sol.h5" -residuals "$hist" -ksp_rtol "$rtol" -ksp_max_it "$maxit" \
        -ksp_norm_type unpreconditioned $opts -log_view ":$out/log.txt" 2> "$out/stderr.txt" | grep '^deepcd solve:' || true)
      matmults=$(awk '$1 == "MatMult" { print $2; exit }' "$out/log.txt" 2> /dev/null || true)
      its=$(sed -n 's/.* in \([0-9]*\) iterations.*/\1/p' <<< "$line")
      reason=$(sed -n 's/.* \([A-Z_]*\) in [0-9]* iterations.*/\1/p' <<< "$line")
      setup=$(sed -n 's/.*setup \([0-9.]*\) s.*/\1/p' <<< "$line")
      solve=$(sed -n 's/.*solve \([0-9.]*\) s.*/\1/p' <<< "$line")
      if [ -z "$line" ]; then
        echo "bench/solve.sh: $name on $scene $n failed: $(tail -1 "$out/stderr.txt")" >&2
      fi
      total=$(awk -v a="${setup:-0}" -v b="${solve:-0}" 'BEGIN { printf "%.3f", a + b }')
      echo "| $scene | $n | $name | ${its:-?} | ${reason:-FAILED} | ${setup:-?} | ${solve:-?} | $total | ${matmults:-?} |" | tee -a "$table"
      [ $first -eq 1 ] || echo "," >> "$json"
      first=0
      printf '  {"scene": "%s", "n": %s, "solver": "%s", "iterations": %s, "reason": "%s", "setup_s": %s, "solve_s": %s, "total_s": %s, "matmults": %s, "ranks": %s, "rtol": %s, "seed": %s}' \
        "$scene" "$n" "$name" "${its:-null}" "${reason:-FAILED}" "${setup:-null}" "${solve:-null}" "$total" "${matmults:-null}" "$ranks" "$rtol" "$seed" >> "$json"
      [ -f "$hist" ] && hists+=("$name|$hist")
    done
    if command -v gnuplot > /dev/null && [ ${#hists[@]} -gt 0 ]; then
      plots_it=""
      plots_t=""
      k=0
      for h in "${hists[@]}"; do
        # gnuplot's 8 colours repeat: the 9th curve on is dashed
        dt=$((k < 8 ? 1 : 2))
        k=$((k + 1))
        plots_it+="\"${h#*|}\" using (\$1+1):3 with lines lw 2 dt $dt title \"${h%%|*}\", "
        plots_t+="\"${h#*|}\" using 4:3 with lines lw 2 dt $dt title \"${h%%|*}\", "
      done
      gnuplot <<GP
set terminal pngcairo size 1400,560
set output "$out/residuals_${scene}_${n}.png"
set multiplot layout 1,2 title "$scene ${n}^3, seed $seed: relative residual ||b - Ax|| / ||b||"
set logscale y
set format y "%.0e"
set grid
set key top right
set xlabel "iteration + 1"
set logscale x
plot ${plots_it%, }
set xlabel "seconds in KSPSolve"
plot ${plots_t%, }
unset multiplot
GP
    fi
  done
done
printf '\n]\n' >> "$json"
rm -f "$out/sol.h5" "$out/sol.xmf" "$out/stderr.txt" "$out/log.txt"
"$root/bench/plot_table.sh" "$table" "$out/solve.png"
echo "wrote $table, $json, $out/solve.png and $out/residuals_*.png"
