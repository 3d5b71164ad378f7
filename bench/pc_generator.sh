#!/usr/bin/env bash
# KSP deepcd with the PC direction generator against PETSc's CG and FCG on the
# scenes of `deepcd gen`: iterations and times for the same rtol, one run.
# Prints a Markdown table and writes it, a JSON copy and a PNG plot (gnuplot)
# of setup + solve seconds to the output dir.
# Usage: bench/pc_generator.sh [N ...]   (default: 64; env RANKS=1, RTOL=1e-6, OUT=out/bench)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deepcd=${DEEPCD:-$root/build/bin/deepcd}
out=${OUT:-$root/out/bench}
ranks=${RANKS:-1}
rtol=${RTOL:-1e-6}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(64)
mkdir -p "$out"
run=(mpiexec --allow-run-as-root --oversubscribe -n "$ranks" "$deepcd")

solvers=(
  "deepcd+jacobi|-ksp_type deepcd -pc_type jacobi"
  "fcg(2)+jacobi|-ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard -pc_type jacobi"
  "cg+jacobi|-ksp_type cg -pc_type jacobi"
  "deepcd+gamg|-ksp_type deepcd -pc_type gamg"
  "cg+gamg|-ksp_type cg -pc_type gamg"
  "deepcd+mg|-ksp_type deepcd -pc_type mg -pc_mg_levels 4 -pc_mg_galerkin both -mg_levels_ksp_type chebyshev -mg_levels_pc_type jacobi"
  "cg+mg|-ksp_type cg -pc_type mg -pc_mg_levels 4 -pc_mg_galerkin both -mg_levels_ksp_type chebyshev -mg_levels_pc_type jacobi"
)

table="$out/pc_generator.md"
json="$out/pc_generator.json"
{
  echo "| scene | N | solver | iterations | reason | setup s | solve s |"
  echo "|---|---|---|---|---|---|---|"
} > "$table"
echo "[" > "$json"
first=1
for n in "${sizes[@]}"; do
  for scene in empty spheres plume random; do
    prob="$out/${scene}_${n}.h5"
    [ -f "$prob" ] || "$deepcd" gen --scene "$scene" --n "$n" --seed 2026 -o "$prob" > /dev/null
    for s in "${solvers[@]}"; do
      name=${s%%|*}
      opts=${s#*|}
      # shellcheck disable=SC2086
      line=$("${run[@]}" solve "$prob" -o "$out/sol.h5" -ksp_rtol "$rtol" -ksp_norm_type unpreconditioned $opts 2> /dev/null | grep '^deepcd solve:' || true)
      its=$(sed -n 's/.* in \([0-9]*\) iterations.*/\1/p' <<< "$line")
      reason=$(sed -n 's/.* \([A-Z_]*\) in [0-9]* iterations.*/\1/p' <<< "$line")
      setup=$(sed -n 's/.*setup \([0-9.]*\) s.*/\1/p' <<< "$line")
      solve=$(sed -n 's/.*solve \([0-9.]*\) s.*/\1/p' <<< "$line")
      echo "| $scene | $n | $name | ${its:-?} | ${reason:-FAILED} | ${setup:-?} | ${solve:-?} |" | tee -a "$table"
      [ $first -eq 1 ] || echo "," >> "$json"
      first=0
      printf '  {"scene": "%s", "n": %s, "solver": "%s", "iterations": %s, "reason": "%s", "setup_s": %s, "solve_s": %s, "ranks": %s, "rtol": %s}' \
        "$scene" "$n" "$name" "${its:-null}" "${reason:-FAILED}" "${setup:-null}" "${solve:-null}" "$ranks" "$rtol" >> "$json"
    done
  done
done
printf '\n]\n' >> "$json"
rm -f "$out/sol.h5" "$out/sol.xmf"
"$root/bench/plot_table.sh" "$table" "$out/pc_generator.png"
echo "wrote $table, $json and $out/pc_generator.png"
