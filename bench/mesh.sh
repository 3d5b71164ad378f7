#!/usr/bin/env bash
# FlexiCubes extraction (inference mode, default weights, one thread) and
# tets against VTK's Flying Edges (default SMP threads and one thread) and
# Marching Cubes and scikit-image's marching cubes, on the same fields in the
# same run: sphere |x| - 0.8 and torus R = 0.6, r = 0.25 on [-1, 1]^3 at N^3
# cubes. Times are the best of REPEAT calls on a field already in memory;
# the peak is the process's maximum resident set (GNU time), field included
# (the Python anchors also carry the interpreter and their libraries, about
# 60-80 MB). Each tool runs in its own process. An anchor that is not
# installed is skipped with a note (scripts/install-deps.sh --bench).
# Prints a Markdown table and writes it, a JSON copy and a gnuplot PNG.
# Usage: bench/mesh.sh [N ...]   (default: 128 256 512; env REPEAT=3,
#   TETS_MAX=256 (largest N with tets), OUT=out/bench, BUILD=build,
#   PYTHON=/usr/bin/python3 for the anchors)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
driver=$build/bin/mesh_bench
out=${OUT:-$root/out/bench}
repeat=${REPEAT:-3}
tets_max=${TETS_MAX:-256}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(128 256 512)
py=${PYTHON:-/usr/bin/python3} # Debian's, where python3-vtk9 and python3-skimage live
mkdir -p "$out"
[ -x "$driver" ] || { echo "mesh.sh: $driver not found: build first (cmake --build $build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "mesh.sh: GNU time (/usr/bin/time) is needed for the memory peaks: scripts/install-deps.sh --bench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
records=$tmp/records.jsonl
notes=$tmp/notes.txt
: > "$records"
: > "$notes"

# Runs a command under GNU time; appends its JSON line with the peak (MB) to the records.
measure() {
  local label=$1
  shift
  local rc=0
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" > "$tmp/line" 2> "$tmp/err" || rc=$?
  if [ $rc -eq 3 ]; then
    grep -q "$(head -1 "$tmp/err")" "$notes" || head -1 "$tmp/err" >> "$notes"
    echo "  $label: skipped ($(head -1 "$tmp/err"))" >&2
    return 0
  fi
  if [ $rc -ne 0 ]; then
    echo "  $label: FAILED: $(tail -1 "$tmp/err")" >&2
    echo "$label failed: $(tail -1 "$tmp/err")" >> "$notes"
    return 0
  fi
  "$py" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); r["label"]=sys.argv[3]; r["peak_mb"]=round(int(open(sys.argv[2]).read().split()[-1])/1024,1); print(json.dumps(r))' "$tmp/line" "$tmp/rss" "$label" >> "$records"
  echo "  $label: $(tail -1 "$records")" >&2
}

for n in "${sizes[@]}"; do
  for shape in sphere torus; do
    field=$tmp/field.raw
    measure "deepcd" "$driver" "$shape" "$n" --repeat "$repeat" --field-out "$field"
    if [ "$n" -le "$tets_max" ]; then
      measure "deepcd+tets" "$driver" "$shape" "$n" --repeat 1 --tets
    fi
    for tool in vtk-fe vtk-fe1 vtk-mc skimage; do
      measure "$tool" "$py" "$root/bench/mesh_anchors.py" "$tool" "$field" "$shape" "$n" "$repeat"
    done
    rm -f "$field"
  done
done

table=$out/mesh.md
json=$out/mesh.json
png=$out/mesh.png
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
"$py" - "$records" "$notes" "$table" "$json" "$machine" "$repeat" "$(cat /proc/loadavg)" << 'PY'
import json, sys, datetime
records, notes, table, out_json, machine, repeat, load = sys.argv[1:8]
recs = [json.loads(l) for l in open(records) if l.strip()]
notes = [l.strip() for l in open(notes) if l.strip()]
names = {"deepcd": "deepcd FlexiCubes (1 thread)", "deepcd+tets": "deepcd FlexiCubes + tets (1 thread)",
         "vtk-fe": "VTK FlyingEdges3D (%s threads)", "vtk-fe1": "VTK FlyingEdges3D (1 thread)",
         "vtk-mc": "VTK MarchingCubes", "skimage": "scikit-image marching_cubes"}
lines = ["| shape | n³ | tool | extraction s (best of %s) | all runs s | vertices | triangles | tets s | tets | peak MB |" % repeat,
         "|---|---|---|---|---|---|---|---|---|---|"]
for r in recs:
    name = names[r["label"]]
    if "%s" in name:
        name = name % r.get("threads", "?")
    tets = r.get("tets_s")
    lines.append("| %s | %d | %s | %s | %s | %d | %d | %s | %s | %.0f |" % (
        r["shape"], r["n"], name, "%.4f" % r["extract_s"] if r["label"] != "deepcd+tets" else "—",
        " ".join("%.4f" % t for t in r["extract_all_s"]) if r["label"] != "deepcd+tets" else "—",
        r["verts"], r["tris"], "%.3f" % tets if tets is not None else "—",
        "{:,}".format(r["tets"]) if tets is not None else "—", r["peak_mb"]))
# inference extraction against Flying Edges at the same n and shape
lines.append("")
lines.append("| shape | n³ | deepcd / VTK FE (default threads) | deepcd / VTK FE (1 thread) |")
lines.append("|---|---|---|---|")
by = {(r["label"], r["shape"], r["n"]): r for r in recs}
for (label, shape, n), r in sorted(by.items(), key=lambda k: (k[0][2], k[0][1])):
    if label != "deepcd":
        continue
    fe, fe1 = by.get(("vtk-fe", shape, n)), by.get(("vtk-fe1", shape, n))
    lines.append("| %s | %d | %s | %s |" % (shape, n, "%.2f" % (r["extract_s"] / fe["extract_s"]) if fe else "—",
                                          "%.2f" % (r["extract_s"] / fe1["extract_s"]) if fe1 else "—"))
lines.append("")
lines.append("Training-mode forward + backward (64³, 128³): not measured here; it comes with the backward pass (another branch), and its rows go in `training_forward_backward` of the JSON.")
for note in notes:
    lines.append("")
    lines.append("Note: " + note)
open(table, "w").write("\n".join(lines) + "\n")
doc = {"benchmark": "bench/mesh.sh", "date": datetime.date.today().isoformat(), "machine": machine,
       "load_at_end": load, "repeat": int(repeat), "records": recs, "notes": notes,
       "training_forward_backward": None}
json.dump(doc, open(out_json, "w"), indent=1)
print("\n".join(lines))
PY

# time against n, one line per tool and shape (log-log)
if command -v gnuplot > /dev/null; then
  dat=$tmp/plot.dat
  "$py" - "$records" "$dat" << 'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
series = {}
for r in recs:
    key = r["label"] + "-" + r["shape"]
    series.setdefault(key, []).append((r["n"], r["tets_s"] if r["label"] == "deepcd+tets" else r["extract_s"]))
with open(sys.argv[2], "w") as f:
    for key, pts in series.items():
        f.write('"%s"\n' % key)
        for n, t in sorted(pts):
            f.write("%d %g\n" % (n, t))
        f.write("\n\n")
PY
  gnuplot << GP
set terminal pngcairo size 1000,650
set output "$png"
set logscale xy
set xlabel "n (n^3 cubes)"
set ylabel "seconds (best of $repeat)"
set key outside right top
set grid
set title "isosurface extraction: deepcd FlexiCubes vs VTK and scikit-image (tets: deepcd+tets build)"
plot for [i=0:*] "$dat" index i using 1:2 with linespoints title columnheader(1)
GP
fi
echo "wrote $table, $json and $png"
