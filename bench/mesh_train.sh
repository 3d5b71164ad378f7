#!/usr/bin/env bash
# FlexiCubes training mode: forward (extraction, 4 triangles per quad) +
# backward (flexicubes_backward, gradient arrays zeroed first) at 64^3 and
# 128^3 for a sphere and a torus, plus L_dev with its gradient; peak memory.
# One process per case (bench/mesh_train.c, built as mesh_train_bench), one
# thread. Target: forward + backward at 128^3 under 0.3 s.
# Writes a Markdown table, a JSON copy and a PNG (gnuplot) to the output dir,
# and prints the table. The load average is recorded: on a shared machine
# the wall times are inflated; the CPU-time column shows our own share.
# Usage: bench/mesh_train.sh [N ...]   (default: 64 128; env REPS=5, OUT=out/bench,
#        MESH_TRAIN=build/bin/mesh_train_bench, TAG=name suffix of the outputs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
driver=${MESH_TRAIN:-$root/build/bin/mesh_train_bench}
out=${OUT:-$root/out/bench}
reps=${REPS:-5}
tag=${TAG:-}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(64 128)
mkdir -p "$out"
table="$out/mesh_train$tag.md"
json="$out/mesh_train$tag.json"
png="$out/mesh_train$tag.png"
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\)\"\{0,1\}[,}].*/\1/p" <<< "$1"; }

{
  echo "| field | n | vertices | triangles | forward s | backward s | fwd+bwd s (best) | fwd+bwd s (median) | fwd+bwd CPU s | L_dev + grad s | peak MB | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee "$table"
echo "[" > "$json"
first=1
for n in "${sizes[@]}"; do
  for f in sphere torus; do
    l0=$(load)
    line=$("$driver" "$f" "$n" "$reps")
    l1=$(load)
    echo "| $f | $n | $(field "$line" verts) | $(field "$line" tris) | $(field "$line" forward_s) | $(field "$line" backward_s) | $(field "$line" fwd_bwd_s) | $(field "$line" fwd_bwd_median_s) | $(field "$line" fwd_bwd_cpu_s) | $(field "$line" ldev_s) | $(field "$line" peak_rss_mb) | $l0-$l1 |" | tee -a "$table"
    [ $first -eq 1 ] || echo "," >> "$json"
    first=0
    printf '  %s' "${line%\}}, \"load_before\": $l0, \"load_after\": $l1, \"date\": \"$(date -u +%Y-%m-%d)\", \"cpu\": \"$(nproc) cores\"}" >> "$json"
    echo "$f-$n $(field "$line" forward_s) $(field "$line" backward_s)" >> "$dat"
  done
done
printf '\n]\n' >> "$json"
if command -v gnuplot > /dev/null; then
  gnuplot <<GP
set terminal pngcairo size 900,600
set output "$png"
set style data histogram
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set ylabel "seconds: best forward, best backward (of $reps)"
set title "FlexiCubes training mode: forward + backward, one thread"
set grid y
set yrange [0:0.35<*]
set arrow from graph 0, first 0.3 to graph 1, first 0.3 nohead dt 2 lw 2
set label "target 0.3 s (128^3)" at graph 0.02, first 0.31
plot "$dat" u 2:xtic(1) t "forward", "" u 3 t "backward"
GP
fi
echo "wrote $table, $json and $png"
