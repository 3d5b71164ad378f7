#!/usr/bin/env bash
# Every writer on a full disk (a 64 KiB tmpfs): one line "OUT: not enough free space to write the KIND",
# exit 1, nothing left on the disk. Exit 77 (skipped) where mounting a tmpfs is not allowed.
# usage: tests/full-disk.sh DEEPCD [WORKDIR]
set -u
deepcd=$1
. "$(dirname "${BASH_SOURCE[0]}")/script-setup.sh"
mkdir full
mount -t tmpfs -o size=64k tmpfs full 2> /dev/null || { echo "full-disk: cannot mount a tmpfs here: skipped"; exit 77; }
trap 'umount "$work/full"' EXIT
set -e
"$deepcd" gen --scene spheres --n 8 -o p.h5 > /dev/null
"$deepcd" train-data p.h5 -o d.h5 -nev 4 -samples 6 -progress 0 > /dev/null
"$deepcd" moe train --pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --steps 1 --batch 1 --train 2 --test 1 --plot none -o r.h5 > /dev/null
set +e
fail=0
check() {
  local name=$1 kind=$2 out=$3
  shift 3
  "$@" > /dev/null 2> err.txt
  local rc=$?
  if [ $rc -ne 1 ] || [ "$(wc -l < err.txt)" -ne 1 ] || ! grep -q "$out: not enough free space to write the $kind" err.txt || [ -n "$(ls -A full)" ]; then
    echo "FAIL $name: exit $rc, stderr: $(cat err.txt), left: $(ls -A full)"
    fail=1
  else
    echo "ok   $name: $(cat err.txt)"
  fi
}
T=(--steps 1 --batch 2 --backend ref --plot none)
check gen problem full/p.h5 "$deepcd" gen --scene spheres --n 8 -o full/p.h5
check solve solution full/s.h5 "$deepcd" solve p.h5 -o full/s.h5
check model model full/m.h5 "$deepcd" model init --arch from64 -o full/m.h5
check train model full/t.h5 "$deepcd" train d.h5 -o full/t.h5 "${T[@]}"
check train_checkpoint checkpoint full/ck.h5 "$deepcd" train d.h5 -o t.h5 "${T[@]}" --checkpoint full/ck.h5
check train_data "training data" full/d.h5 "$deepcd" train-data p.h5 -o full/d.h5 -nev 4 -samples 6 -progress 0
check moe_train "moe run file" full/r.h5 "$deepcd" moe train --pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --steps 1 --batch 1 --train 2 --test 1 --plot none -o full/r.h5
check moe_eval "moe run file" full/e.h5 "$deepcd" moe eval r.h5 -o full/e.h5
check mesh_obj mesh full/s.obj "$deepcd" mesh p.h5 -o full/s.obj
check mesh_xdmf mesh full/s.xmf "$deepcd" mesh p.h5 -o full/s.xmf
exit $fail
