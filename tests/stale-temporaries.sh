#!/usr/bin/env bash
# Temporary files left by killed writers (issue 15): every writer writes PATH as
# PATH.tmp.HOST.PID and renames it; a later run writing the same PATH on the same
# host removes PATH.tmp.HOST.PID when process PID is gone, and keeps those of live
# processes, of other hosts and names that are not its pattern.
# usage: tests/stale-temporaries.sh DEEPCD [WORKDIR]
set -u
deepcd=$1
. "$(dirname "${BASH_SOURCE[0]}")/script-setup.sh"
host=$(hostname)
sh -c 'exit 0' &
wait
dead=$! # a process id that no longer exists
fail=0

# leave FILE...: the leftovers of a dead writer, plus ones to keep
leave() {
  for f in "$@"; do
    touch "$f.tmp.$host.$dead" "$f.tmp.$host.$$" "$f.tmp.otherhost.$dead" "$f.tmp.$host.x$dead"
  done
}
# check NAME FILE...: the dead writer's leftovers are gone, the others kept
check() {
  local name=$1 f
  shift
  for f in "$@"; do
    if [ -e "$f.tmp.$host.$dead" ]; then
      echo "FAIL $name: $f.tmp.$host.$dead (dead writer, this host) was not removed"
      fail=1
    fi
    for k in "$f.tmp.$host.$$" "$f.tmp.otherhost.$dead" "$f.tmp.$host.x$dead"; do
      if [ ! -e "$k" ]; then
        echo "FAIL $name: $k was removed (live writer, other host or another pattern)"
        fail=1
      fi
    done
    rm -f "$f".tmp.*
  done
  [ $fail -eq 0 ] && echo "ok   $name"
}
run() { "$@" > /dev/null || { echo "FAIL: $* exited with $?"; fail=1; }; }

leave p.h5
run "$deepcd" gen --scene spheres --n 8 --seed 1 -o p.h5
check gen p.h5
leave out.h5 out.xmf res.txt
run "$deepcd" solve p.h5 -o out.h5 -residuals res.txt
check solve out.h5 out.xmf res.txt
mpiexec --allow-run-as-root --oversubscribe -n 2 "$deepcd" solve p.h5 -o out2.h5 > /dev/null 2>&1 || true
leave out2.h5 out2.xmf
run mpiexec --allow-run-as-root --oversubscribe -n 2 "$deepcd" solve p.h5 -o out2.h5
check solve_2_ranks out2.h5 out2.xmf
leave m.h5
run "$deepcd" model init --arch from64 -o m.h5
check model_init m.h5
leave d.h5
run "$deepcd" train-data p.h5 -o d.h5 -nev 4 -samples 6 -progress 0
check train_data d.h5
leave ck.h5 t.h5 t-loss.png
run "$deepcd" train d.h5 -o t.h5 --steps 2 --batch 2 --backend ref --checkpoint ck.h5
check train t.h5 ck.h5 t-loss.png
leave s.obj mesh.xmf mesh.h5
run "$deepcd" mesh p.h5 -o s.obj
run "$deepcd" mesh p.h5 -o mesh.xmf
check mesh s.obj mesh.xmf mesh.h5
leave r.h5
run "$deepcd" moe train --pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --steps 2 --batch 1 --train 2 --test 1 --plot none -o r.h5
check moe_train r.h5
[ $fail -eq 0 ] && echo "stale-temporaries: all writers remove their dead temporaries"
exit $fail
