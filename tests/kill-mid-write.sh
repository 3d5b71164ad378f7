#!/usr/bin/env bash
# SIGKILL in the middle of a write (issue 15): each writer is killed the moment its
# temporary PATH.tmp.HOST.PID appears, i.e. while the new file is being written. The
# previous PATH must be left byte for byte as it was (never a partial file under the final
# name), and the next run of the same command must remove the dead writer's temporary
# and write a complete PATH.
# usage: tests/kill-mid-write.sh DEEPCD [WORKDIR]
set -u
deepcd=$1
. "$(dirname "${BASH_SOURCE[0]}")/script-setup.sh"
host=$(hostname)
fail=0
hits=0

# killmid NAME OUT CMD...: runs CMD (which writes OUT, already present) in the background,
# SIGKILLs it as soon as OUT.tmp.HOST.PID exists, and checks OUT, then reruns CMD.
killmid() {
  local name=$1 out=$2
  shift 2
  local before after pid tmp i try
  # a small file is written in a moment: try again when the writer finished before the poll saw it
  for ((try = 1; try <= 10; try++)); do
    before=$(sha256sum "$out" | cut -d' ' -f1)
    "$@" > /dev/null 2>&1 &
    pid=$!
    tmp="$out.tmp.$host.$pid"
    # poll (bash builtins only, so the check is fast) until the temporary exists or the writer is gone
    for ((i = 0; i < 1000000; i++)); do
      [ -e "$tmp" ] && break
      kill -0 "$pid" 2> /dev/null || break
    done
    if [ -e "$tmp" ]; then
      kill -KILL "$pid" 2> /dev/null
      wait "$pid" 2> /dev/null
      break
    fi
    wait "$pid" || { echo "FAIL $name: the writer exited with $? before it was killed"; fail=1; return; }
  done
  if [ ! -e "$tmp" ]; then
    echo "FAIL $name: $out.tmp.$host.PID never appeared in $((try - 1)) runs: the writer does not write through a temporary"
    fail=1
    return
  fi
  hits=$((hits + 1))
  after=$(sha256sum "$out" | cut -d' ' -f1)
  if [ "$before" != "$after" ]; then
    echo "FAIL $name: $out changed although its writer was killed mid-write"
    fail=1
    return
  fi
  # the next run removes the dead writer's temporary and writes a complete file
  if ! "$@" > /dev/null 2>&1; then
    echo "FAIL $name: the rerun exited with $?"
    fail=1
    return
  fi
  if ls "$out".tmp.* > /dev/null 2>&1; then
    echo "FAIL $name: temporaries left after the rerun: $(ls "$out".tmp.*)"
    fail=1
    return
  fi
  # the rerun's file is complete: an HDF5 file starts with its signature, an OBJ ends with a face
  if { [[ $out == *.h5 ]] && [ "$(head -c 8 "$out" | od -An -tx1 | tr -d ' ')" != 894844460d0a1a0a ]; } ||
    { [[ $out == *.obj ]] && [[ $(tail -n 1 "$out") != f\ * ]]; }; then
    echo "FAIL $name: $out is incomplete after the rerun"
    fail=1
    return
  fi
  echo "ok   $name (killed mid-write on try $try; $out kept; temporary removed by the rerun)"
}

# large enough that a write takes a moment
"$deepcd" gen --scene spheres --n 48 --seed 1 -o p.h5 > /dev/null || { echo "FAIL: gen"; exit 1; }
cp p.h5 q.h5
killmid gen q.h5 "$deepcd" gen --scene plates --n 48 --seed 2 -o q.h5
"$deepcd" solve p.h5 -o out.h5 > /dev/null || { echo "FAIL: solve"; exit 1; }
killmid solve out.h5 "$deepcd" solve p.h5 -o out.h5 -ksp_rtol 1e-3
"$deepcd" gen --scene spheres --n 12 --seed 1 -o s.h5 > /dev/null
"$deepcd" train-data s.h5 -o d.h5 -nev 4 -samples 6 -progress 0 > /dev/null || { echo "FAIL: train-data"; exit 1; }
killmid train_data d.h5 "$deepcd" train-data s.h5 -o d.h5 -nev 4 -samples 8 -progress 0
"$deepcd" train d.h5 -o t.h5 --steps 1 --batch 2 --backend ref --plot none > /dev/null || { echo "FAIL: train"; exit 1; }
killmid train t.h5 "$deepcd" train d.h5 -o t.h5 --steps 2 --batch 2 --backend ref --plot none
"$deepcd" mesh p.h5 -o s.obj > /dev/null || { echo "FAIL: mesh"; exit 1; }
killmid mesh s.obj "$deepcd" mesh p.h5 -o s.obj --close
moe=(moe train --pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --batch 1 --train 2 --test 1 --plot none -o r.h5)
"$deepcd" "${moe[@]}" --steps 1 > /dev/null || { echo "FAIL: moe train"; exit 1; }
killmid moe_train r.h5 "$deepcd" "${moe[@]}" --steps 2

if [ $fail -eq 0 ]; then
  echo "kill-mid-write: $hits writers SIGKILLed mid-write, no final file changed, every temporary removed by the next run"
fi
exit $fail
