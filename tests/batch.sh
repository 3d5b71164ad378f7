#!/bin/sh
# deepcd batch end to end (ctest batch.*):
#   tests/batch.sh DEEPCD MPIEXEC RANKS GROUP_SIZE MODE [MODEL.h5]
# MODE quick: the first run of MODE basic only (90 outputs, 10 failures, exit 3).
# MODE basic: 100 problems of which 10 are corrupt: 90 valid outputs, 10
#   failures recorded with their messages, exit code 3; a -resume then finds
#   the 90 outputs valid and solves nothing twice; diverged solves fail
#   without output; shards split the list.
# MODE kill: the same batch SIGKILLed at random moments (ranks and mpiexec),
#   resumed each time, then SIGTERMed, then resumed to the end: nothing
#   corrupted, no temporary left, no finished problem solved again (the
#   journal holds one "ok" line per problem, outputs keep their mtimes), all
#   90 solved, the same iteration counts as an uninterrupted batch.
set -u
DEEPCD=$1
MPIEXEC=$2
RANKS=$3
G=$4
MODE=$5
MODEL=${6:-}
# the kill test's solves take longer, so that the kills land among them
KILLOPTS="-ksp_rtol 1e-8"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 DEEPCD_PROGRESS=plain
W=$(mktemp -d "${TMPDIR:-/tmp}/deepcd-batch-test.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
run_batch() { # LIST DIR [options...]: exit code in $rc, output in $W/log
  list=$1
  dir=$2
  shift 2
  if [ "$RANKS" -eq 1 ]; then
    "$DEEPCD" batch "$list" -o "$dir" -batch_group_size "$G" "$@" > "$W/log" 2>&1
  else
    "$MPIEXEC" --oversubscribe -n "$RANKS" "$DEEPCD" batch "$list" -o "$dir" -batch_group_size "$G" "$@" > "$W/log" 2>&1
  fi
  rc=$?
}
field() { # CSV STATUS: the number of rows with that status
  awk -F, -v s="$2" 'NR > 1 && $3 == s' "$1" | wc -l
}

# ---- 100 problems: 90 valid (copies of 4 generated ones, two sizes), 10 corrupt
mkdir -p "$W/in"
"$DEEPCD" gen --scene spheres --n 8 --seed 1 -o "$W/g1.h5" > /dev/null || fail "gen"
"$DEEPCD" gen --scene spheres --n 8 --seed 2 -o "$W/g2.h5" > /dev/null || fail "gen"
"$DEEPCD" gen --scene plume --n 8 --seed 3 -o "$W/g3.h5" > /dev/null || fail "gen"
"$DEEPCD" gen --scene random --nx 10 --ny 8 --nz 6 --seed 4 -o "$W/g4.h5" > /dev/null || fail "gen"
"$DEEPCD" solve "$W/g1.h5" -o "$W/solution.h5" > /dev/null || fail "solve"
: > "$W/list.txt"
i=0
while [ $i -lt 100 ]; do
  name=$(printf "p%03d.h5" $i)
  case $((i % 10)) in
  3)
    # the corrupt ones: text, empty, truncated HDF5, random bytes, a solution
    # file, a directory, a missing file, a list line with a space, ...
    case $((i / 10)) in
    0) echo "not a problem" > "$W/in/$name" ;;
    1) : > "$W/in/$name" ;;
    2) head -c 2048 "$W/g1.h5" > "$W/in/$name" ;;
    3) head -c 800 "$W/g3.h5" > "$W/in/$name" ;;
    4) dd if=/dev/urandom of="$W/in/$name" bs=1024 count=4 2> /dev/null ;;
    5) cp "$W/solution.h5" "$W/in/$name" ;;
    6) mkdir "$W/in/$name" ;;
    7) ;; # missing
    8) head -c 4096 "$W/g2.h5" > "$W/in/$name" ;;
    9) head -c 6000 "$W/g4.h5" > "$W/in/$name" ;;
    esac
    ;;
  *) cp "$W/g$((i % 4 + 1)).h5" "$W/in/$name" ;;
  esac
  echo "$W/in/$name" >> "$W/list.txt"
  i=$((i + 1))
done
echo "# comments and blank lines are skipped" >> "$W/list.txt"
echo >> "$W/list.txt"

check_complete() { # DIR: 90 valid outputs, 10 failures with messages, nothing temporary
  dir=$1
  csv=$dir/summary.csv
  [ -f "$csv" ] && [ -f "$dir/summary.json" ] || fail "$dir: no summary"
  ok=$(($(field "$csv" ok) + $(field "$csv" resumed)))
  [ "$ok" -eq 90 ] || fail "$dir: $ok problems ok, expected 90"
  [ "$(field "$csv" failed)" -eq 10 ] || fail "$dir: $(field "$csv" failed) failures, expected 10"
  n=$(ls "$dir"/p*.h5 | wc -l)
  [ "$n" -eq 90 ] || fail "$dir: $n outputs, expected 90"
  [ "$(ls "$dir"/p*.xmf | wc -l)" -eq 90 ] || fail "$dir: XDMF files missing"
  for f in $(awk -F, 'NR > 1 && $3 == "failed" { gsub(/"/, "", $1); print $1 }' "$csv"); do
    case $f in *p??3.h5) ;; *) fail "$dir: $f failed but is valid" ;; esac
    b=$(basename "$f" .h5)
    [ ! -e "$dir/$b.h5" ] || fail "$dir: the failed $f has an output"
  done
  # every failure has a one-line message naming its file
  awk -F, 'NR > 1 && $3 == "failed" && ($12 == "" || $12 == "\"\"" || index($12, $1) == 0 && index($12, substr($1, 2, length($1) - 2)) == 0) { print; bad = 1 } END { exit bad }' "$csv" || fail "$dir: a failure without a message naming its file"
  [ -z "$(ls -A "$dir" | grep -v -E '^(p[0-9]{3}\.(h5|xmf)|journal\..*\.jsonl|summary\..*(json|csv))$')" ] || fail "$dir: unexpected files: $(ls -A "$dir")"
}

if [ "$MODE" = basic ] || [ "$MODE" = quick ]; then
  run_batch "$W/list.txt" "$W/out"
  [ $rc -eq 3 ] || {
    cat "$W/log"
    fail "exit code $rc, expected 3 (some problems failed)"
  }
  check_complete "$W/out"
  grep -q "failed:" "$W/log" || fail "no failure list on screen"
  if [ "$MODE" = quick ]; then
    echo "batch quick ($RANKS ranks, groups of $G): 100 problems, 90 solved, 10 failures recorded"
    exit 0
  fi
  # an earlier batch is not overwritten without -resume
  run_batch "$W/list.txt" "$W/out"
  [ $rc -eq 1 ] && grep -q "give -resume" "$W/log" || fail "a second batch into the same directory was not refused"
  # -resume: the 90 outputs validate and are kept (same mtimes), the 10 failures are tried again
  ls -l --time-style=+%s.%N "$W/out"/p*.h5 > "$W/before"
  run_batch "$W/list.txt" "$W/out" -resume
  [ $rc -eq 3 ] || fail "-resume: exit code $rc, expected 3"
  [ "$(field "$W/out/summary.csv" resumed)" -eq 90 ] || fail "-resume: $(field "$W/out/summary.csv" resumed) outputs kept, expected 90"
  ls -l --time-style=+%s.%N "$W/out"/p*.h5 > "$W/after"
  cmp -s "$W/before" "$W/after" || fail "-resume rewrote outputs"
  check_complete "$W/out"
  # an output that is corrupt is never trusted: solved again
  head -c 1000 "$W/in/p000.h5" > "$W/out/p000.h5"
  run_batch "$W/list.txt" "$W/out" -resume
  grep -q "p000.h5: not a valid output" "$W/log" || fail "-resume trusted a corrupt output"
  check_complete "$W/out"
  if [ "$G" -ne 1 ]; then
    echo "batch basic ($RANKS ranks, groups of $G): 100 problems, 90 solved, 10 failures recorded; resume and corrupt output checked"
    exit 0
  fi
  # with the shipped CNN model (read once per process)
  if [ -f "$MODEL" ]; then
    printf '%s\n%s\n%s\n' "$W/in/p000.h5" "$W/in/p001.h5" "$W/in/p002.h5" > "$W/three.txt"
    run_batch "$W/three.txt" "$W/cnn" -ksp_deepcd_model "$MODEL"
    [ $rc -eq 0 ] && [ "$(field "$W/cnn/summary.csv" ok)" -eq 3 ] || {
      cat "$W/log"
      fail "batch with -ksp_deepcd_model: exit code $rc"
    }
  fi
  # diverged solves fail, and leave no output
  printf '%s\n%s\n' "$W/in/p000.h5" "$W/in/p001.h5" > "$W/two.txt"
  run_batch "$W/two.txt" "$W/div" -ksp_max_it 2
  [ $rc -eq 3 ] && [ "$(field "$W/div/summary.csv" failed)" -eq 2 ] && grep -q "DIVERGED_ITS" "$W/div/summary.csv" || fail "diverged solves not recorded as failures"
  [ -z "$(ls "$W/div" | grep '^p')" ] || fail "a diverged solve left an output"
  # shards: two jobs split one list into one directory
  run_batch "$W/list.txt" "$W/sh" -batch_shard 0/2
  run_batch "$W/list.txt" "$W/sh" -batch_shard 1/2 -resume
  n=$(($(field "$W/sh/summary.shard-0-of-2.csv" ok) + $(field "$W/sh/summary.shard-1-of-2.csv" ok)))
  [ "$n" -eq 90 ] || fail "shards solved $n problems, expected 90"
  echo "batch basic ($RANKS ranks, groups of $G): 100 problems, 90 solved, 10 failures recorded; resume, corrupt output, CNN model, divergence and shards checked"
  exit 0
fi

# ---- MODE kill
# the reference: an uninterrupted batch
run_batch "$W/list.txt" "$W/ref" $KILLOPTS
[ $rc -eq 3 ] || fail "reference batch: exit code $rc"
# the same batch, SIGKILLed at random moments, resumed each time
start_batch() { # DIR [options]: in the background; pid in $bpid
  "$MPIEXEC" --oversubscribe -n "$RANKS" "$DEEPCD" batch "$W/list.txt" -o "$1" -batch_group_size "$G" -resume $KILLOPTS > "$W/klog" 2>&1 &
  bpid=$!
}
ranks_of() { # the batch's processes: mpiexec's children named deepcd
  pgrep -P "$1" -x deepcd
}
# SIGTERM (Slurm's warning before SIGKILL): stop taking problems, finish the
# solves under way, write the summary, exit 4; -resume then finishes the batch
start_batch "$W/term"
t=0
while kill -0 $bpid 2> /dev/null && [ -z "$(ls "$W/term" 2> /dev/null | grep '^journal')" ] && [ $t -lt 600 ]; do
  sleep 0.02
  t=$((t + 1))
done
kill -TERM $(ranks_of $bpid) 2> /dev/null
wait $bpid
trc=$?
[ $trc -eq 4 ] || {
  cat "$W/klog"
  fail "SIGTERM: exit code $trc, expected 4"
}
grep -q "interrupted by a signal" "$W/klog" || fail "SIGTERM: no summary on screen"
nrun=$(field "$W/term/summary.csv" not-run)
[ "$nrun" -gt 0 ] || fail "SIGTERM: no problem left for -resume"
[ -z "$(ls -A "$W/term" | grep '^\.deepcd-batch')" ] || fail "SIGTERM: the staging directory was left"
run_batch "$W/list.txt" "$W/term" -resume $KILLOPTS
[ $rc -eq 3 ] || fail "resume after SIGTERM: exit code $rc"
check_complete "$W/term"
echo "SIGTERM: exit code 4, summary written, $nrun problems left and solved by -resume"

# the batch's own time (after MPI's start): the window for the kills
work=$(sed -n 's/^  "seconds": \([0-9.]*\).*/\1/p' "$W/ref/summary.json")
kills=0
round=0
while [ $round -lt 3 ]; do
  round=$((round + 1))
  start_batch "$W/out"
  # a random moment while problems are solved: after this run's first one is in a journal
  lines0=$(cat "$W/out"/journal.*.jsonl 2> /dev/null | wc -l)
  t=0
  while kill -0 $bpid 2> /dev/null && [ "$(cat "$W/out"/journal.*.jsonl 2> /dev/null | wc -l)" -le "$lines0" ] && [ $t -lt 600 ]; do
    sleep 0.02
    t=$((t + 1))
  done
  # within the time the problems left need (those without an output, and the 10 that fail)
  left=$((100 - $(ls "$W/out" 2> /dev/null | grep -c '^p.*\.h5$')))
  sleep "$(awk -v s="$$$round" -v w="$work" -v l="$left" 'BEGIN { srand(s); printf "%.3f", 0.8 * w * l / 100 * rand() }')"
  if kill -0 $bpid 2> /dev/null; then
    pids=$(ranks_of $bpid)
    [ -n "$pids" ] && kill -KILL $pids 2> /dev/null
    kill -KILL $bpid 2> /dev/null
    kills=$((kills + 1))
  fi
  wait $bpid 2> /dev/null
  # whatever is under a final name is complete: -resume validates it below
  for f in "$W/out"/p*.h5; do
    [ -e "$f" ] || continue
    [ -e "${f%.h5}.xmf" ] || fail "round $round: $f without its XDMF file"
  done
  echo "round $round: $(ls "$W/out" | grep -c '^p.*\.h5$') outputs after the kill"
done
ls -l --time-style=+%s.%N "$W/out"/p*.h5 2> /dev/null > "$W/before"
# the last resume: everything finished before is kept as it is
run_batch "$W/list.txt" "$W/out" -resume $KILLOPTS
[ $rc -eq 3 ] || {
  cat "$W/log"
  fail "final resume: exit code $rc, expected 3"
}
check_complete "$W/out"
ls -l --time-style=+%s.%N "$W/out"/p*.h5 > "$W/after"
while read -r line; do
  grep -qxF -- "$line" "$W/after" || fail "a finished problem was solved again: $line"
done < "$W/before"
# no problem was finished twice: one "ok" line per problem in all the journals
dup=$(cat "$W/out"/journal.*.jsonl | grep '"status":"ok"' | sed 's/.*"problem":"\([^"]*\)".*/\1/' | sort | uniq -d)
[ -z "$dup" ] || fail "solved twice: $dup"
# (a kill between an output's rename and its journal line leaves a valid output without a line: -resume keeps it)
nok=$(cat "$W/out"/journal.*.jsonl | grep -c '"status":"ok"')
[ "$nok" -le 90 ] && [ "$nok" -ge 80 ] || fail "the journals hold $nok finished problems, expected 80 to 90"
# and once more: all 90 outputs validate, none is solved
run_batch "$W/list.txt" "$W/out" -resume
[ "$(field "$W/out/summary.csv" resumed)" -eq 90 ] || fail "after the kills, $(field "$W/out/summary.csv" resumed) of 90 outputs validate"
# the same answers as the uninterrupted batch
awk -F, 'NR > 1 { print $1, $4, $5 }' "$W/ref/summary.csv" > "$W/its.ref"
awk -F, 'NR > 1 { print $1, $4, $5 }' "$W/out/summary.csv" > "$W/its.out"
cmp -s "$W/its.ref" "$W/its.out" || fail "iterations differ from the uninterrupted batch"
echo "batch kill ($RANKS ranks, groups of $G): $kills SIGKILLs survived (batch work ${work} s), all 90 solved once ($nok journalled), nothing corrupted"
exit 0
