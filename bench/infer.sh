#!/usr/bin/env bash
# CNN inference (the from64 network, He random weights) against what the
# hardware gives, with the driver infer_bench (bench/infer_bench.c):
#  - CPU (backend cpu, oneDNN; THREADS OpenMP threads) at each N^3, fp32 and,
#    where the CPU supports it, bf16: time per call (median and best of REPS
#    after 2 warm-ups), setup time, GFLOP/s; beside it the machine's SGEMM
#    GFLOP/s (OpenBLAS pthread build, THREADS threads, cblas_sgemm on square
#    matrices of the SGEMM sizes, best of 3) as the ceiling, the ratio, and
#    PASS/MISS of fp32 at 128^3 against 60% of it;
#  - GPU (backend cuda, when compiled in and a device is present; otherwise
#    one line says the GPU rows are skipped): per precision (fp32, tf32,
#    fp16, bf16) at GPU_N^3: the whole nn_net_forward (host arrays in and
#    out) and the device part alone, beside the roofline floor
#    max(flops / peak rate, minimal bytes / memory bandwidth) (peak rates
#    assumed: H100 SXM dense; PEAKS passes --peak-* options).
# Builds nothing: takes the build in BUILD. Writes a Markdown file (the
# tables as printed), a JSON file and a PNG bar plot of GFLOP/s against the
# ceiling (and, with GPU rows, one of device time against the floor).
#
# Usage: bench/infer.sh [N ...]          (default: 64 128; the CPU grids)
# Environment: BUILD (build), OUT (bench/results), TAG (today, YYYY-MM-DD),
#   THREADS (2), REPS (10), SGEMM ("2048 4096"), GPU_N ("128 256"),
#   GPU_REPS (10), OPENBLAS (Debian's openblas-pthread libopenblas.so.0),
#   PEAKS ("" e.g. "--peak-fp32 60 --peak-tf32 378")
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
bench=$build/bin/infer_bench
out=${OUT:-$root/bench/results}
tag=${TAG:-$(date +%F)}
threads=${THREADS:-2}
reps=${REPS:-10}
gpu_reps=${GPU_REPS:-10}
openblas=${OPENBLAS:-/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0}
read -r -a sgemm <<< "${SGEMM:-2048 4096}"
read -r -a gpu_n <<< "${GPU_N:-128 256}"
read -r -a peaks <<< "${PEAKS:-}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(64 128)
[ -x "$bench" ] || { echo "bench/infer.sh: $bench not found (build first, or set BUILD)" >&2; exit 1; }
mkdir -p "$out"
md="$out/infer-$tag.md"
json="$out/infer-$tag.json"
png="$out/infer-$tag.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
list() { local IFS=,; echo "$*"; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
machine="$(nproc) cores, $cpu_model, $os"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# bench/infer.sh, $tag"
  echo
  echo "Machine: $machine. Load average (1, 5, 15 min) before: $load_before."
  echo
  echo "## CPU (OMP_NUM_THREADS=$threads)"
  echo
} > "$md"
OMP_NUM_THREADS=$threads "$bench" --backend cpu --precision fp32,bf16 --n "$(list "${sizes[@]}")" --reps "$reps" \
  --threads "$threads" --sgemm "$(list "${sgemm[@]}")" --openblas "$openblas" --json "$tmp/cpu.json" | tee -a "$md"
printf '\n## GPU\n\n' >> "$md"
"$bench" --backend cuda --precision all --n "$(list "${gpu_n[@]}")" --reps "$gpu_reps" "${peaks[@]}" \
  --json "$tmp/gpu.json" | tee -a "$md"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
printf '\nLoad average after: %s.\n' "$load_after" >> "$md"
printf '{"date": "%s", "machine": "%s", "load_before": "%s", "load_after": "%s",\n"cpu": %s,\n"gpu": %s}\n' \
  "$tag" "$machine" "$load_before" "$load_after" "$(cat "$tmp/cpu.json")" "$(cat "$tmp/gpu.json")" > "$json"

if command -v gnuplot > /dev/null; then
  # CPU rows: label, GFLOP/s median, best; the ceiling as a line, and the 60% target
  awk -F'|' '$2 ~ /^ cpu / { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3 "-" $4, $8, $9 }' "$md" > "$tmp/cpu.dat"
  ceiling=$(sed -n 's/^SGEMM ceiling: \([0-9.]*\) GFLOP.*/\1/p' "$md")
  rows=$(wc -l < "$tmp/cpu.dat")
  lines=""
  [ -z "$ceiling" ] || lines=", $ceiling with lines lw 2 lc rgb 'black' title 'SGEMM ceiling ($threads threads)', 0.6 * $ceiling with lines lw 2 dt 2 lc rgb 'red' title '60% target'"
  gnuplot <<GP
set terminal pngcairo size 900,520
set output "$png"
set title "from64 inference on the CPU ($threads threads), $tag"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel "GFLOP/s"
set yrange [0:*]
set xrange [-0.5:$rows - 0.5]
set key below
set grid ytics
plot "$tmp/cpu.dat" using 2:xtic(1) title "median", "" using 3 title "best"$lines
GP
  # GPU rows: label, device ms, floor ms
  awk -F'|' '$2 ~ /^ cuda / { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3 "-" $4, $7, $9 }' "$md" > "$tmp/gpu.dat"
  if [ -s "$tmp/gpu.dat" ]; then
    gnuplot <<GP
set terminal pngcairo size 900,520
set output "$out/infer-gpu-$tag.png"
set title "from64 inference on the GPU: device time against the roofline floor, $tag"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel "ms per call (log)"
set logscale y
set key below
set grid ytics
set xtics rotate by -30
plot "$tmp/gpu.dat" using 2:xtic(1) title "device (median)", "" using 3 title "roofline floor"
GP
  fi
fi
echo "wrote $md, $json$([ -f "$png" ] && echo ", $png")"
