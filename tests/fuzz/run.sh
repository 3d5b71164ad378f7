#!/usr/bin/env bash
# Coverage-guided fuzzing of deepcd's file readers (libFuzzer): builds the harnesses of tests/fuzz with
# clang in BUILD (default build-fuzz), makes valid seed files with a normal build's deepcd (DEEPCD,
# default build/bin/deepcd), and runs each harness for SECONDS (default 120) on its own corpus
# (fuzz-work/NAME/corpus), crashes in fuzz-work/NAME/ (crash-*, leak-*, timeout-*). A summary
# line per harness: executions, corpus size, findings.
#   tests/fuzz/run.sh [SECONDS] [HARNESS ...]     (HARNESS: problem model checkpoint train_data moe_run)
# FUZZ_FLAGS: more libFuzzer flags (e.g. "-fork=1 -ignore_crashes=1" to go on past a known crash).
# Crashes found become regression cases: copy the input to tests/fuzz/regressions/NAME-*.h5
# (tests/fuzz/regressions.sh runs the normal build's deepcd on each: one-line error, no crash).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-120}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(problem model checkpoint train_data moe_run)
build=${BUILD:-$root/build-fuzz}
deepcd=${DEEPCD:-$root/build/bin/deepcd}
work=${FUZZ_WORK:-$root/fuzz-work}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMPI_MCA_ess_singleton_isolated=1
export OMPI_MCA_memory=^patcher OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

command -v clang > /dev/null || { echo "fuzz: clang is not installed (apt-get install clang)"; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDEEPCD_FUZZ=ON -DDEEPCD_ENABLE_TESTS=OFF -DDEEPCD_ENABLE_CUDA=OFF > /dev/null || exit 1
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${harnesses[@]}") > "$build/fuzz-build.log" 2>&1 || { tail -20 "$build/fuzz-build.log"; exit 1; }

# valid seeds, small (the mutations start from real files)
mkdir -p "$work/seeds"
s=$work/seeds
if [ ! -e "$s/r.h5" ]; then
  "$deepcd" gen --scene spheres --n 6 --seed 1 -o "$s/p.h5" > /dev/null &&
    "$deepcd" gen --scene plates --n 6 --seed 2 -o "$s/plates.h5" > /dev/null &&
    "$deepcd" model init --arch from64 --seed 1 -o "$s/m.h5" > /dev/null &&
    "$deepcd" train-data "$s/p.h5" -o "$s/d.h5" -nev 3 -samples 4 -progress 0 > /dev/null &&
    "$deepcd" train "$s/d.h5" -o "$s/t.h5" --steps 1 --batch 1 --backend ref --plot none --val-fraction 0.25 --checkpoint "$s/ck.h5" > /dev/null &&
    "$deepcd" moe train --pde heat --experts 1,1 --basis 2 --width 2 --depth 1 --grid 4,4 --points 8 --steps 1 --batch 1 \
      --train 1 --test 1 --eval-every 1 --plot none -o "$s/r.h5" > /dev/null || { echo "fuzz: cannot make the seeds"; exit 1; }
fi
export DEEPCD_FUZZ_DATA=$s/d.h5
declare -A seed=([problem]="p.h5 plates.h5" [model]="m.h5 t.h5" [checkpoint]="ck.h5" [train_data]="d.h5" [moe_run]="r.h5")
status=0
for h in "${harnesses[@]}"; do
  dir=$work/$h
  mkdir -p "$dir/corpus"
  for f in ${seed[$h]}; do cp -n "$s/$f" "$dir/corpus/"; done
  max=$(for f in ${seed[$h]}; do stat -c %s "$s/$f"; done | sort -n | tail -1)
  # the inputs that failed before, first (libFuzzer runs the files given and exits)
  regs=("$root"/tests/fuzz/regressions/"$h"-*.h5)
  if [ -e "${regs[0]}" ] && ! (cd "$dir" && "$build/bin/fuzz_$h" "${regs[@]}" > regressions.txt 2>&1); then
    echo "fuzz_$h: a regression input fails again (see $dir/regressions.txt)"
    status=1
  fi
  (cd "$dir" && "$build/bin/fuzz_$h" -max_total_time="$secs" -max_len=$((max + 4096)) -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=65536 \
    -print_final_stats=1 ${FUZZ_FLAGS:-} corpus > log.txt 2>&1)
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt" | tail -1)
  found=$(ls "$dir" | grep -cE '^(crash|leak|timeout|oom)-')
  echo "fuzz_$h: ${secs} s, ${execs:-?} executions, corpus $(ls "$dir/corpus" | wc -l) files, findings $found (exit $rc)"
  [ "$found" -eq 0 ] || status=1
done
exit $status
