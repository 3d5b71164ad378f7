#!/usr/bin/env bash
# Mixture-of-experts hard constraints (docs/moe.md), two parts:
#  1. accuracy: relative L2 error on held-out instances of the soft baseline,
#     the global hard constraint (K = 1) and the mixture of experts (K = 4,
#     4 x 1 spatial experts as in the reference) on heat, Burgers and
#     diffusion-sorption, all trained with the same settings, once per seed
#     (network, instances, batches and point draws; the seed-to-seed spread
#     is as large as the differences between the models);
#  2. scaling: time per training step and per inference against the total
#     number of PDE rows (10^2 .. 10^5, equal total for K = 1 and K = 4) on
#     diffusion-sorption, K = 1 on 1 rank, K = 4 on 1 and 2 ranks (K = 1 cannot
#     use a second rank: an expert lives on one rank), with BACKBONE or the default
#     backbone (fno since 2026-12-07; the tables in docs/results.md of 2026-11-23
#     used the mlp), every column with the same batch of SCALE_BATCH instances
#     per step and as many held-out instances per inference pass (the fno spreads
#     a batch's instances over the ranks, docs/moe.md "Ranks"; the mlp splits
#     each instance's points). The table, plot and JSON name the backbone; a
#     second table (and the JSON) has the process CPU time of the busiest rank,
#     which a machine shared with other work does not inflate.
# Prints Markdown tables and writes them, a JSON copy and PNG plots (loss
# curves, prediction vs reference, the scaling curve) to the output dir.
# Usage: bench/moe.sh   (env: STEPS=300 accuracy steps, SEEDS="1 2 3",
#        PDES="heat burgers diffsorp", BACKBONE=mlp|fno the basis network of every accuracy run
#        (default: the trainer's), EXTRA="" more options for every accuracy run (e.g. "-moe_loss mse"),
#        SCALE_STEPS=3, SCALE_BATCH=4, POINTS="100 1000 10000 100000", SKIP_ACCURACY=1 (only
#        scaling), SKIP_SCALING=1 (only accuracy), OUT=out/bench,
#        DEEPCD=build/bin/deepcd)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deepcd=${DEEPCD:-$root/build/bin/deepcd}
out=${OUT:-$root/out/bench}/moe
steps=${STEPS:-300}
scale_steps=${SCALE_STEPS:-3}
scale_batch=${SCALE_BATCH:-4}
read -ra points <<< "${POINTS:-100 1000 10000 100000}"
read -ra seeds <<< "${SEEDS:-1 2 3}"
read -ra pdes <<< "${PDES:-heat burgers diffsorp}"
backbone=()
[ -n "${BACKBONE:-}" ] && backbone=(--backbone "$BACKBONE")
mkdir -p "$out"
command -v h5dump > /dev/null || { echo "bench/moe.sh: h5dump not found (Debian's hdf5-tools: scripts/install-deps.sh --bench)" >&2; exit 1; }
export DEEPCD_PROGRESS=plain DEEPCD_PROGRESS_INTERVAL=60
mpi() { mpiexec --allow-run-as-root --oversubscribe -n "$1" "${@:2}"; }
# a scalar attribute of an HDF5 file
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *\([-0-9.eE+a-z]*\).*/\1/p' | head -1; }
# the mean of a 1-D dataset, in percent
mean_pct() { h5dump -d "/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -c '0-9.eE+\n-' ' ' | tr ' ' '\n' | grep -E '^[-0-9]' | awk '{s += $1; n++} END {printf "%.2f", 100 * s / n}'; }
values() { h5dump -d "/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -c '0-9.eE+\n-' ' ' | tr ' ' '\n' | grep -E '^[-0-9]'; }
std_pct() { h5dump -d "/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -c '0-9.eE+\n-' ' ' | tr ' ' '\n' | grep -E '^[-0-9]' | awk '{s += $1; q += $1 * $1; n++} END {m = s / n; v = q / n - m * m; if (v < 0) v = 0; printf "%.2f", 100 * sqrt(v)}'; }

json="$out/moe${BACKBONE:+_$BACKBONE}.json"
echo "{" > "$json"

if [ -z "${SKIP_ACCURACY:-}" ]; then
  acc="$out/moe_accuracy.md"
  {
    echo "| PDE | model | experts | held-out rel. L2 (mean ± std over instances and seeds, %) | per seed (%) | loss (mean of last 10 steps) | ms/step | ms/inference | train s (all seeds) |"
    echo "|---|---|---|---|---|---|---|---|---|"
  } > "$acc"
  echo '  "accuracy": [' >> "$json"
  first=1
  for pde in "${pdes[@]}"; do
    for m in "soft|-|--model soft" "global hard|1|--experts 1,1" "MoE|4 (4x1)|--experts 4,1"; do
      IFS='|' read -r name experts opts <<< "$m"
      tag="${pde}_$(tr ' ' '_' <<< "$name")"
      errs="" losses="" ms_all="" mi_all="" secs=0
      for seed in "${seeds[@]}"; do
        run="$out/${tag}_seed$seed.h5"
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$deepcd" moe train --pde "$pde" $opts "${backbone[@]}" --steps "$steps" --eval-every 50 --seed "$seed" --plot "$out/$tag-seed$seed-loss.png" -o "$run" ${EXTRA:-} | tail -1
        t1=$(date +%s.%N)
        [ "$name" = MoE ] && [ "$seed" = "${seeds[0]}" ] && "$deepcd" moe eval "$run" --plot "$out/${pde}_prediction.png" > /dev/null
        errs="$errs $(values "$run" errors | tr '\n' ' ')"
        losses="$losses $(values "$run" loss | tail -10 | awk '{s += $1; n++} END {printf "%.6g", s / n}')"
        ms_all="$ms_all $(attr "$run" time_per_step)"
        mi_all="$mi_all $(attr "$run" time_per_inference)"
        secs=$(awk -v a="$t0" -v b="$t1" -v s="$secs" 'BEGIN {printf "%.1f", s + b - a}')
      done
      # mean and std over every held-out instance of every seed; per-seed means for the record
      err=$(tr ' ' '\n' <<< "$errs" | grep -E '^[-0-9]' | awk '{s += $1; n++} END {printf "%.2f", 100 * s / n}')
      sd=$(tr ' ' '\n' <<< "$errs" | grep -E '^[-0-9]' | awk '{s += $1; q += $1 * $1; n++} END {m = s / n; v = q / n - m * m; if (v < 0) v = 0; printf "%.2f", 100 * sqrt(v)}')
      per=$(for seed in "${seeds[@]}"; do mean_pct "$out/${tag}_seed$seed.h5" errors; printf ' '; done | sed 's/ $//; s/ /, /g')
      avg() { tr ' ' '\n' <<< "$1" | grep -E '^[-0-9]' | awk -v f="$2" -v k="$3" '{s += $1; n++} END {printf f, k * s / n}'; }
      loss=$(avg "$losses" "%.3g" 1)
      ms=$(avg "$ms_all" "%.1f" 1e3)
      mi=$(avg "$mi_all" "%.1f" 1e3)
      echo "| $pde | $name | $experts | $err ± $sd | $per | $loss | $ms | $mi | $(printf '%.0f' "$secs") |" | tee -a "$acc"
      [ $first -eq 1 ] || echo "," >> "$json"
      first=0
      printf '    {"pde": "%s", "model": "%s", "experts": "%s", "rel_l2_mean_pct": %s, "rel_l2_std_pct": %s, "rel_l2_per_seed_pct": [%s], "seeds": [%s], "final_loss": %s, "ms_per_step": %s, "ms_per_inference": %s, "steps": %s}' \
        "$pde" "$name" "$experts" "$err" "$sd" "$per" "$(tr ' ' ',' <<< "${seeds[*]}")" "$loss" "$ms" "$mi" "$steps" >> "$json"
    done
  done
  printf '\n  ]' >> "$json"
fi

if [ -z "${SKIP_SCALING:-}" ]; then
  [ -z "${SKIP_ACCURACY:-}" ] && echo "," >> "$json"
  sb=${BACKBONE:-default}
  sc="$out/moe_scaling_$sb.md"
  dat="$out/moe_scaling_$sb.dat"
  {
    echo "| backbone | total PDE rows | K = 1, 1 rank: ms/step | K = 4, 1 rank | K = 4, 2 ranks | speed-up K=4 2 ranks vs K=1 | K = 1, 1 rank: ms/inference | K = 4, 1 rank | K = 4, 2 ranks | speed-up |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
  } > "$sc"
  cpu="$out/moe_scaling_${sb}_cpu.md"
  {
    echo "| backbone | total PDE rows | K = 1, 1 rank: CPU ms/step (max over ranks) | K = 4, 1 rank | K = 4, 2 ranks | speed-up K=4 2 ranks vs K=1 | K = 1, 1 rank: CPU ms/inference | K = 4, 1 rank | K = 4, 2 ranks | speed-up |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
  } > "$cpu"
  : > "$dat"
  echo '  "scaling": [' >> "$json"
  first=1
  common=(moe train --pde diffsorp --grid 512,201 --steps "$scale_steps" --batch "$scale_batch" --test "$scale_batch" --eval-every 0 --plot none -moe_ref_cells 512 "${backbone[@]}")
  for m in "${points[@]}"; do
    row=() crow=()
    for cfg in "1 1,1 $m" "1 4,1 $((m / 4))" "2 4,1 $((m / 4))"; do
      read -r ranks experts per <<< "$cfg"
      run="$out/scale_${sb}_${m}_${experts/,/x}_${ranks}.h5"
      mpi "$ranks" "$deepcd" "${common[@]}" --experts "$experts" --points "$per" -o "$run" > /dev/null
      bb=$(h5dump -a /backbone "$run" | sed -n 's/^ *(0): *"\([a-z]*\)".*/\1/p' | head -1)
      row+=("$(awk -v s="$(attr "$run" time_per_step)" 'BEGIN {printf "%.1f", 1e3 * s}')" "$(awk -v s="$(attr "$run" time_per_inference)" 'BEGIN {printf "%.1f", 1e3 * s}')")
      crow+=("$(awk -v s="$(attr "$run" cpu_per_step)" 'BEGIN {printf "%.1f", 1e3 * s}')" "$(awk -v s="$(attr "$run" cpu_per_inference)" 'BEGIN {printf "%.1f", 1e3 * s}')")
    done
    cp=$(awk -v a="${crow[0]}" -v b="${crow[4]}" 'BEGIN {printf "%.2f", a / b}')
    ci=$(awk -v a="${crow[1]}" -v b="${crow[5]}" 'BEGIN {printf "%.2f", a / b}')
    echo "| $bb | $m | ${crow[0]} | ${crow[2]} | ${crow[4]} | ${cp}x | ${crow[1]} | ${crow[3]} | ${crow[5]} | ${ci}x |" >> "$cpu"
    sp=$(awk -v a="${row[0]}" -v b="${row[4]}" 'BEGIN {printf "%.2f", a / b}')
    si=$(awk -v a="${row[1]}" -v b="${row[5]}" 'BEGIN {printf "%.2f", a / b}')
    echo "| $bb | $m | ${row[0]} | ${row[2]} | ${row[4]} | ${sp}x | ${row[1]} | ${row[3]} | ${row[5]} | ${si}x |" | tee -a "$sc"
    echo "$m ${row[*]}" >> "$dat"
    [ $first -eq 1 ] || echo "," >> "$json"
    first=0
    printf '    {"backbone": "%s", "batch": %s, "points": %s, "k1_r1_ms_step": %s, "k1_r1_ms_infer": %s, "k4_r1_ms_step": %s, "k4_r1_ms_infer": %s, "k4_r2_ms_step": %s, "k4_r2_ms_infer": %s, "k1_r1_cpu_ms_step": %s, "k1_r1_cpu_ms_infer": %s, "k4_r1_cpu_ms_step": %s, "k4_r1_cpu_ms_infer": %s, "k4_r2_cpu_ms_step": %s, "k4_r2_cpu_ms_infer": %s}' \
      "$bb" "$scale_batch" "$m" "${row[@]}" "${crow[@]}" >> "$json"
  done
  printf '\n  ]' >> "$json"
  echo "CPU time (process CPU, the busiest rank; what a step costs on free cores when the machine is shared):"
  cat "$cpu"
  gnuplot <<EOF
set terminal pngcairo size 900,600
set output "$out/moe_scaling_$sb.png"
set title "diffusion-sorption 512 x 201, N = 16, $bb, batch $scale_batch: wall ms per step and per inference"
set xlabel "total PDE rows (sum over experts)"
set ylabel "ms"
set logscale xy
set grid
set key top left
plot "$dat" u 1:2 w lp t "train, K = 1, 1 rank", "$dat" u 1:4 w lp t "train, K = 4, 1 rank", "$dat" u 1:6 w lp t "train, K = 4, 2 ranks", \
     "$dat" u 1:3 w lp dt 2 t "inference, K = 1, 1 rank", "$dat" u 1:5 w lp dt 2 t "inference, K = 4, 1 rank", "$dat" u 1:7 w lp dt 2 t "inference, K = 4, 2 ranks"
EOF
fi
printf '\n}\n' >> "$json"
echo "wrote $out ($([ -z "${SKIP_ACCURACY:-}" ] && printf 'moe_accuracy.md, ')$([ -z "${SKIP_SCALING:-}" ] && printf 'moe_scaling_%s.md, moe_scaling_%s_cpu.md, ' "${BACKBONE:-default}" "${BACKBONE:-default}")$(basename "$json"), PNG plots)"
