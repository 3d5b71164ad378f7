#!/bin/sh
# Runs an example and compares its output with the stored expected output,
# the way PETSc's test harness does:
#   tests/run-example.sh EXPECTED.out SRCDIR -- command [args...]
# Output (stdout and stderr) is filtered first: SRCDIR becomes <src>, the
# working directory <work>, timings "N s" after setup/solve become "T s".
# Then the lines must match one for one: words equal, numbers equal within a
# relative 1e-4, except an iteration count, which may differ by one (it may
# depend on floating-point rounding: machines differ). Exit 0 when they match.
# DEEPCD_UPDATE_EXPECTED=1 writes EXPECTED.out instead.
set -eu
expected=$1
src=$2
shift 3
out=$(mktemp)
trap 'rm -f "$out" "$out.f"' EXIT
status=0
"$@" > "$out" 2>&1 || status=$?
sed -E -e "s|$src|<src>|g" -e "s|$PWD|<work>|g" -e 's/(setup|solve) +[0-9.]+ s/\1 T s/g' "$out" > "$out.f"
if [ "$status" -ne 0 ]; then
  cat "$out.f"
  echo "run-example: the command exited with $status" >&2
  exit 1
fi
if [ "${DEEPCD_UPDATE_EXPECTED:-0}" = 1 ]; then
  cp "$out.f" "$expected"
  echo "run-example: wrote $expected"
  exit 0
fi
awk -v ref="$expected" '
function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?[,;:)]?$/ }
function strip(s) { sub(/[,;:)]$/, "", s); return s }
{
  if ((getline e < ref) <= 0) { printf "line %d: extra output: %s\n", NR, $0; bad = 1; exit }
  n = split($0, a, /[ \t=]+/); m = split(e, b, /[ \t=]+/)
  if (n != m) { printf "line %d differs:\n  got:      %s\n  expected: %s\n", NR, $0, e; bad = 1; exit }
  for (i = 1; i <= n; i++) {
    if (a[i] == b[i]) continue
    if (isnum(a[i]) && isnum(b[i])) {
      x = strip(a[i]) + 0; y = strip(b[i]) + 0
      if (i > 1 && (a[i-1] == "iterations" || a[i-1] == "iteration")) { if (x - y <= 1 && y - x <= 1) continue }
      else { d = x - y; if (d < 0) d = -d; s = (x < 0 ? -x : x); if (d <= 1e-4 * s) continue }
    }
    printf "line %d differs:\n  got:      %s\n  expected: %s\n", NR, $0, e; bad = 1; exit
  }
}
END {
  if (!bad && (getline e < ref) > 0) { printf "missing output from: %s\n", e; bad = 1 }
  exit bad
}' "$out.f" || { echo "run-example: output differs from $expected (DEEPCD_UPDATE_EXPECTED=1 rewrites it)" >&2; exit 1; }
echo "run-example: output matches $expected"
