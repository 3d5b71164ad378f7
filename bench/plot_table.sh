#!/usr/bin/env bash
# Plots a benchmark table (the Markdown written by bench/*.sh, columns
# scene | N | solver | iterations | reason | setup s | solve s) as clustered
# bars of setup + solve seconds per problem, one bar per solver (gnuplot PNG).
# Unconverged runs have no bar; a solver that converged nowhere has no
# column (gnuplot refuses a histogram column without a valid point).
# Usage: bench/plot_table.sh TABLE.md OUT.png
set -euo pipefail
table=$1
png=$2
command -v gnuplot > /dev/null || { echo "plot_table: gnuplot not installed, no plot" >&2; exit 0; }
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
# rows: problem, then total seconds of each solver in the order they first appear
awk -F'|' 'NR > 2 {
    gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4)
    prob = $2 "-" $3; s = $4; t = $7 + $8
    if (!(prob in seenp)) { seenp[prob] = 1; probs[++np] = prob }
    if (!(s in seens)) { seens[s] = 1; solvers[++ns] = s }
    v[prob, s] = ($6 ~ /CONVERGED/) ? t : "NaN"
    if ($6 ~ /CONVERGED/) conv[s] = 1
  }
  END {
    printf "problem"; for (j = 1; j <= ns; j++) if (solvers[j] in conv) printf " %s", solvers[j]; printf "\n"
    for (i = 1; i <= np; i++) {
      printf "%s", probs[i]
      for (j = 1; j <= ns; j++) if (solvers[j] in conv) printf " %s", v[probs[i], solvers[j]]
      printf "\n"
    }
  }' "$table" > "$dat"
ncol=$(head -1 "$dat" | wc -w)
gnuplot <<GP
set terminal pngcairo size 1200,600
set output "$png"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "setup + solve seconds (log)"
set key outside right top
set grid ytics
set xtics rotate by -30
plot for [c=2:$ncol] "$dat" using c:xtic(1) title columnhead(c)
GP
