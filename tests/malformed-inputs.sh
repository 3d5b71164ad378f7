#!/usr/bin/env bash
# Malformed inputs for every command of deepcd (issue 15, part 4): each case must be
# refused cleanly. A case passes when
#   - the exit status is 1 (not 0, not a signal, not an MPI abort);
#   - stderr is exactly one line, "deepcd CMD: error: MESSAGE", and MESSAGE matches
#     the case's pattern, which names the file (or the option) and the problem;
#   - no file was created, changed or removed under in/ and out/ (md5sum of every
#     file before and after): no output, no temporary file left, inputs intact. Every
#     other case starts with a pre-existing output file (a sentinel), which must stay
#     as it was; the others must not create it.
# A few cases of part 2 that must succeed with a warning are checked at the end.
#
# usage: tests/malformed-inputs.sh DEEPCD H5MUTATE [WORKDIR]
#   DEEPCD: the deepcd command; H5MUTATE: tests/h5mutate.c built; WORKDIR: scratch
#   directory (default: a new one under /tmp, removed at the end).
# Exit status 0 when every case passes; otherwise the failures are listed.
set -u
deepcd=$1
mut=$2
if [ -n "${3:-}" ]; then
  work=$3
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 DEEPCD_PROGRESS=plain
export OMPI_MCA_ess_singleton_isolated=1 # no orted per process: faster start
cd "$work" || exit 1
mkdir -p seed in out
ncase=0
npass=0
nfail=0
failed=""

# ---- valid seeds, small ----------------------------------------------------------------------
set -e
"$deepcd" gen --scene spheres --n 8 --seed 3 -o seed/p.h5 > /dev/null
"$deepcd" gen --scene plates --n 8 --seed 1 -o seed/plates.h5 > /dev/null # coefficient and solid
"$deepcd" solve seed/p.h5 -o seed/s.h5 -ksp_type cg > /dev/null
"$deepcd" model init --arch from64 --seed 1 -o seed/m.h5 > /dev/null
"$deepcd" train-data seed/p.h5 -o seed/d.h5 -nev 4 -samples 6 -progress 0 > /dev/null
"$deepcd" train seed/d.h5 -o seed/tm.h5 --steps 2 --batch 2 --backend ref --plot none --checkpoint seed/ck.h5 > /dev/null
"$deepcd" train --arch neuralmg seed/p.h5 -o seed/nm.h5 --steps 2 --plot none > /dev/null
"$deepcd" moe train --pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --steps 2 --batch 1 \
  --train 2 --test 1 --eval-every 1 --plot none -o seed/r.h5 > /dev/null
set +e

# in/NAME: a copy of seed/SEED, optionally damaged by h5mutate OP ARGS...
mk() {
  local name=$1 seed=$2
  shift 2
  cp "seed/$seed" "in/$name"
  if [ $# -gt 0 ] && ! "$mut" "in/$name" "$@"; then
    echo "malformed-inputs: cannot make in/$name ($*)" >&2
    exit 1
  fi
}
# in/NAME: SIZE bytes of seed/SEED (a truncated copy)
trunc() { head -c "$3" "seed/$2" > "in/$1"; }
# in/NAME: seed/SEED with COUNT bytes at OFFSET overwritten (a corrupt copy)
corrupt() {
  cp "seed/$2" "in/$1"
  head -c "$4" /dev/zero | tr '\0' '\377' | dd of="in/$1" bs=1 seek="$3" conv=notrunc status=none
}
obj() { printf "$2" > "in/$1"; }

# report NAME WHY OKLINE COMMAND...: a failure (WHY not empty) is counted and shown with the command and stderr
report() {
  local name=$1 why=$2 okline=$3
  shift 3
  if [ -z "$why" ]; then
    echo "$okline"
    return
  fi
  nfail=$((nfail + 1))
  failed="$failed $name"
  echo "FAIL $name: $why"
  echo "     command: $*"
  sed 's/^/     stderr: /' stderr.txt | head -5
}

snapshot() { (find in out -type f -print0 | sort -z | xargs -0 -r md5sum) > "$1"; }

# case NAME PATTERN OUT -- COMMAND...: OUT is the output file the command would write (or -)
case_() {
  local name=$1 pat=$2 outf=$3
  shift 4
  ncase=$((ncase + 1))
  rm -rf out
  mkdir out
  if [ "$outf" != - ] && [ $((ncase % 2)) -eq 0 ]; then echo "sentinel of $name" > "$outf"; fi
  snapshot before.md5
  "$@" > stdout.txt 2> stderr.txt
  local rc=$? why=""
  snapshot after.md5
  local nl
  nl=$(wc -l < stderr.txt)
  if [ $rc -ne 1 ]; then
    why="exit status $rc"
  elif [ "$nl" -ne 1 ]; then
    why="$nl lines on stderr"
  elif ! grep -Eq "^deepcd [a-z-]+: error: " stderr.txt; then
    why="not a 'deepcd CMD: error:' line"
  elif ! grep -Eq -- "$pat" stderr.txt; then
    why="message does not match /$pat/"
  elif ! cmp -s before.md5 after.md5; then
    why="files created, changed or removed: $(diff before.md5 after.md5 | grep '^[<>]' | tr '\n' ' ')"
  fi
  report "$name" "$why" "ok   $name: $(cat stderr.txt)" "$@"
}

# ---- gen -------------------------------------------------------------------------------------
O=out/g.h5
case_ gen_n0 "--n.*0" $O -- "$deepcd" gen --scene spheres --n 0 -o $O
case_ gen_scene "scene.*bogus" $O -- "$deepcd" gen --scene bogus --n 4 -o $O
case_ gen_n_wrap "--n.*4294967298" $O -- "$deepcd" gen --scene spheres --n 4294967298 -o $O
case_ gen_seed_neg "--seed.*-1" $O -- "$deepcd" gen --scene spheres --n 4 --seed -1 -o $O
case_ gen_outdir "/nonexistent/g.h5" - -- "$deepcd" gen --scene spheres --n 4 -o /nonexistent/g.h5
case_ gen_obj_missing "in/none.obj: .*(open|read)" $O -- "$deepcd" gen --sdf-from-mesh in/none.obj --n 4 -o $O
obj huge.obj 'v 0 0 0\nv 1e308 0 0\nv 0 1e308 0\nv 0 0 1e308\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n'
case_ gen_obj_1e308 "in/huge.obj: .*(finite|large|overflow|Inf)" $O -- "$deepcd" gen --sdf-from-mesh in/huge.obj --n 4 -o $O
obj empty.obj ''
case_ gen_obj_empty "in/empty.obj: .*(no triangle|no face|empty)" $O -- "$deepcd" gen --sdf-from-mesh in/empty.obj --n 4 -o $O
obj verts.obj 'v 0 0 0\nv 1 0 0\nv 0 1 0\n'
case_ gen_obj_nofaces "in/verts.obj: .*(no triangle|no face|empty)" $O -- "$deepcd" gen --sdf-from-mesh in/verts.obj --n 4 -o $O
obj badidx.obj 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n'
case_ gen_obj_index "in/badidx.obj:4: face index 9" $O -- "$deepcd" gen --sdf-from-mesh in/badidx.obj --n 4 -o $O
obj nan.obj 'v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n'
case_ gen_obj_nan "in/nan.obj:2: .*nan" $O -- "$deepcd" gen --sdf-from-mesh in/nan.obj --n 4 -o $O
obj short.obj 'v 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'
case_ gen_obj_short_vertex "in/short.obj:1: vertex needs 3 coordinates" $O -- "$deepcd" gen --sdf-from-mesh in/short.obj --n 4 -o $O
head -c 3000 /dev/urandom > in/binary.obj
case_ gen_obj_binary "in/binary.obj: " $O -- "$deepcd" gen --sdf-from-mesh in/binary.obj --n 4 -o $O
obj tri.obj 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'
case_ gen_out_is_obj "tri.obj.*(input|destroy)" - -- "$deepcd" gen --sdf-from-mesh in/tri.obj --n 4 -o in/tri.obj

# ---- solve -----------------------------------------------------------------------------------
O=out/s.h5
mk p.h5 p.h5
case_ solve_missing "in/none.h5: .*(read|open)" $O -- "$deepcd" solve in/none.h5 -o $O
: > in/zero.h5
case_ solve_empty_file "in/zero.h5: .*HDF5" $O -- "$deepcd" solve in/zero.h5 -o $O
trunc p_trunc.h5 p.h5 3000
case_ solve_truncated "in/p_trunc.h5: " $O -- "$deepcd" solve in/p_trunc.h5 -o $O
corrupt p_corrupt.h5 p.h5 2048 512
case_ solve_corrupt "in/p_corrupt.h5: " $O -- "$deepcd" solve in/p_corrupt.h5 -o $O
echo "not hdf5" > in/text.h5
case_ solve_text "in/text.h5: not an HDF5 file" $O -- "$deepcd" solve in/text.h5 -o $O
mk p_noformat.h5 p.h5 attr-del / format
case_ solve_no_format "in/p_noformat.h5: attribute 'format' is missing" $O -- "$deepcd" solve in/p_noformat.h5 -o $O
mk p_model.h5 p.h5 attr-str / format deepcd-model
case_ solve_wrong_format "in/p_model.h5: attribute 'format' is 'deepcd-model'" $O -- "$deepcd" solve in/p_model.h5 -o $O
mk p_fmtint.h5 p.h5 attr-int / format 7
case_ solve_format_int "in/p_fmtint.h5: attribute 'format' is not a string" $O -- "$deepcd" solve in/p_fmtint.h5 -o $O
mk p_v2.h5 p.h5 attr-int / version 2
case_ solve_version "in/p_v2.h5: attribute 'version' is 2" $O -- "$deepcd" solve in/p_v2.h5 -o $O
mk p_nx0.h5 p.h5 attr-int / nx 0
case_ solve_nx0 "in/p_nx0.h5: attributes 'nx', 'ny', 'nz' = 0, 8, 8" $O -- "$deepcd" solve in/p_nx0.h5 -o $O
mk p_nxwrap.h5 p.h5 attr-int / nx 4294967304
case_ solve_nx_wrap "in/p_nxwrap.h5: attribute 'nx' = 4294967304" $O -- "$deepcd" solve in/p_nxwrap.h5 -o $O
mk p_nx9.h5 p.h5 attr-int / nx 9
case_ solve_nx_mismatch "in/p_nx9.h5: dataset '[a-z]+': shape" $O -- "$deepcd" solve in/p_nx9.h5 -o $O
mk p_hnan.h5 p.h5 attr-real / h nan
case_ solve_h_nan "in/p_hnan.h5: attribute 'h' = nan" $O -- "$deepcd" solve in/p_hnan.h5 -o $O
mk p_hneg.h5 p.h5 attr-real / h -1
case_ solve_h_neg "in/p_hneg.h5: attribute 'h' = -1" $O -- "$deepcd" solve in/p_hneg.h5 -o $O
mk p_bnd.h5 p.h5 attr-str / boundary DDXDDD
case_ solve_boundary "in/p_bnd.h5: attribute 'boundary': 'DDXDDD'" $O -- "$deepcd" solve in/p_bnd.h5 -o $O
mk p_norhs.h5 p.h5 delete rhs
case_ solve_rhs_missing "in/p_norhs.h5: dataset 'rhs' is missing" $O -- "$deepcd" solve in/p_norhs.h5 -o $O
mk p_rhsi32.h5 p.h5 retype rhs i32
case_ solve_rhs_int "in/p_rhsi32.h5: dataset 'rhs': type" $O -- "$deepcd" solve in/p_rhsi32.h5 -o $O
mk p_rhsstr.h5 p.h5 retype rhs str
case_ solve_rhs_string "in/p_rhsstr.h5: dataset 'rhs': type" $O -- "$deepcd" solve in/p_rhsstr.h5 -o $O
mk p_rhsshape.h5 p.h5 reshape rhs 8,8
case_ solve_rhs_shape "in/p_rhsshape.h5: dataset 'rhs': .*(shape|dimensions)" $O -- "$deepcd" solve in/p_rhsshape.h5 -o $O
mk p_rhsnan.h5 p.h5 set rhs 77 nan
case_ solve_rhs_nan "in/p_rhsnan.h5: dataset 'rhs': NaN" $O -- "$deepcd" solve in/p_rhsnan.h5 -o $O
mk p_rhsinf.h5 p.h5 set rhs 5 inf
case_ solve_rhs_inf "in/p_rhsinf.h5: dataset 'rhs': (NaN or )?Inf" $O -- "$deepcd" solve in/p_rhsinf.h5 -o $O
mk p_sdfnan.h5 p.h5 set sdf 10 nan
case_ solve_sdf_nan "in/p_sdfnan.h5: dataset 'sdf': .*NaN" $O -- "$deepcd" solve in/p_sdfnan.h5 -o $O
mk p_sdfshape.h5 p.h5 reshape sdf 8,8,8
case_ solve_sdf_shape "in/p_sdfshape.h5: dataset 'sdf': shape" $O -- "$deepcd" solve in/p_sdfshape.h5 -o $O
mk p_coef0.h5 plates.h5 set coefficient 3 0
case_ solve_coef_zero "in/p_coef0.h5: dataset 'coefficient': value <= 0" $O -- "$deepcd" solve in/p_coef0.h5 -o $O
mk p_coefnan.h5 plates.h5 set coefficient 9 nan
case_ solve_coef_nan "in/p_coefnan.h5: dataset 'coefficient': NaN" $O -- "$deepcd" solve in/p_coefnan.h5 -o $O
mk p_solid2.h5 plates.h5 set solid 4 2
case_ solve_solid_2 "in/p_solid2.h5: dataset 'solid': value other than 0 or 1" $O -- "$deepcd" solve in/p_solid2.h5 -o $O
mk p_solidf.h5 plates.h5 retype solid f64
case_ solve_solid_f64 "in/p_solidf.h5: dataset 'solid': type is not uint8" $O -- "$deepcd" solve in/p_solidf.h5 -o $O
case_ solve_out_is_input "-o in/p.h5: it is the problem file" - -- "$deepcd" solve in/p.h5 -o in/p.h5
cp seed/p.h5 in/case.xmf
case_ solve_sidecar_is_input "its XDMF file .*case.xmf is the problem file" - -- "$deepcd" solve in/case.xmf -o in/case.h5
case_ solve_rtol_2 "-ksp_rtol 2: " $O -- "$deepcd" solve in/p.h5 -o $O -ksp_rtol 2
case_ solve_rtol_nan "-ksp_rtol nan: " $O -- "$deepcd" solve in/p.h5 -o $O -ksp_rtol nan
case_ solve_max_it_wrap "-ksp_max_it: 4294967298 is out of range" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_max_it 4294967298
case_ solve_outdir "/nonexistent/s.h5: the directory" - -- "$deepcd" solve in/p.h5 -o /nonexistent/s.h5
case_ solve_model_missing "in/none.h5: .*(read|open)" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_deepcd_model in/none.h5
mk m_wnan.h5 m.h5 set weights/conv000 3 nan
case_ solve_model_nan "in/m_wnan.h5: dataset 'weights/conv000': .*NaN" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_deepcd_model in/m_wnan.h5
case_ solve_model_is_problem "in/p.h5: attribute 'format' is 'deepcd-problem'" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_deepcd_model in/p.h5

# a grid too large for memory (1000^3 cells; the datasets are unwritten, so the file is small), under a 3 GB address-space limit
mk big.h5 p.h5 delete sdf
"$mut" in/big.h5 delete solid && "$mut" in/big.h5 reshape rhs 1000,1000,1000
for a in nx ny nz; do "$mut" in/big.h5 attr-int / $a 1000; done
limited() { (ulimit -v 3000000 && exec "$@"); }
if [ -z "${DEEPCD_NO_ULIMIT:-}" ]; then
  case_ solve_grid_too_large "in/big.h5: the grid 1000x1000x1000 .* does not fit in the memory of 1 process" $O -- limited "$deepcd" solve in/big.h5 -o $O
  case_ traindata_grid_too_large "in/big.h5: the grid 1000x1000x1000 .* does not fit in the memory" out/d.h5 -- limited "$deepcd" train-data in/big.h5 -o out/d.h5 -nev 2 -samples 1
  case_ mesh_grid_too_large "in/big.h5: dataset 'rhs' on the grid 1000x1000x1000 does not fit in memory" out/x.obj -- limited "$deepcd" mesh in/big.h5 --dataset rhs --iso 1 -o out/x.obj
fi

# an output that is an existing directory
mkdir -p in/adir.h5 in/adir.obj
case_ solve_out_is_directory "-o in/adir.h5: is a directory" - -- "$deepcd" solve in/p.h5 -o in/adir.h5
case_ traindata_out_is_directory "-o in/adir.h5: is a directory" - -- "$deepcd" train-data in/p.h5 -o in/adir.h5 -nev 2 -samples 2
case_ mesh_out_is_directory "-o in/adir.obj: is a directory" - -- "$deepcd" mesh in/p.h5 -o in/adir.obj
case_ gen_out_is_directory "in/adir.h5: cannot rename the temporary file .* \\(Is a directory\\)" - -- "$deepcd" gen --scene spheres --n 4 -o in/adir.h5

# ---- model -----------------------------------------------------------------------------------
case_ model_info_missing "in/none.h5: .*(read|open)" - -- "$deepcd" model info in/none.h5
trunc m_trunc.h5 m.h5 20000
case_ model_info_truncated "in/m_trunc.h5: " - -- "$deepcd" model info in/m_trunc.h5
case_ model_info_nan "in/m_wnan.h5: dataset 'weights/conv000': .*NaN" - -- "$deepcd" model info in/m_wnan.h5
mk m_wshape.h5 m.h5 reshape weights/conv000 16,1,3,3,2
case_ model_info_shape "in/m_wshape.h5: dataset 'weights/conv000': shape" - -- "$deepcd" model info in/m_wshape.h5
mk m_wf64.h5 m.h5 retype weights/bias000 f64
case_ model_info_type "in/m_wf64.h5: dataset 'weights/bias000': type" - -- "$deepcd" model info in/m_wf64.h5
mk m_nparams.h5 m.h5 attr-int / nparams 5
case_ model_info_nparams "in/m_nparams.h5: attribute 'nparams' = 5" - -- "$deepcd" model info in/m_nparams.h5
mk m_input.h5 m.h5 attr-int / input 99
case_ model_info_input "in/m_input.h5: attribute 'input' = 99" - -- "$deepcd" model info in/m_input.h5
mk m_layers.h5 m.h5 set layers 0 77
case_ model_info_op "in/m_layers.h5: dataset 'layers'" - -- "$deepcd" model info in/m_layers.h5
mk m_notensors.h5 m.h5 delete tensors
case_ model_info_no_tensors "in/m_notensors.h5: dataset 'tensors' is missing" - -- "$deepcd" model info in/m_notensors.h5
case_ model_info_problem "in/p.h5: attribute 'format' is 'deepcd-problem'" - -- "$deepcd" model info in/p.h5
case_ model_init_arch "arch.*from32" out/m.h5 -- "$deepcd" model init --arch from32 -o out/m.h5

# ---- train-data ------------------------------------------------------------------------------
O=out/d.h5
case_ traindata_missing "in/none.h5: " $O -- "$deepcd" train-data in/none.h5 -o $O
case_ traindata_truncated "in/p_trunc.h5: " $O -- "$deepcd" train-data in/p_trunc.h5 -o $O
case_ traindata_rhs_nan "in/p_rhsnan.h5: dataset 'rhs': NaN" $O -- "$deepcd" train-data in/p_rhsnan.h5 -o $O
case_ traindata_out_is_input "-o in/p.h5: it is the problem file" - -- "$deepcd" train-data in/p.h5 -o in/p.h5
case_ traindata_nev0 "-nev must be at least 1" $O -- "$deepcd" train-data in/p.h5 -o $O -nev 0
case_ traindata_nev_wrap "-nev: 4294967300 is out of range" $O -- "$deepcd" train-data in/p.h5 -o $O -nev 4294967300
case_ traindata_samples_wrap "-samples: 4294967298 is out of range" $O -- "$deepcd" train-data in/p.h5 -o $O -samples 4294967298
case_ traindata_nev_large "in/p.h5: asked for 9999 Ritz vectors" $O -- "$deepcd" train-data in/p.h5 -o $O -nev 9999

# ---- train -----------------------------------------------------------------------------------
O=out/t.h5
T=(--steps 2 --batch 2 --backend ref --plot none)
mk d.h5 d.h5
mk m.h5 m.h5
case_ train_missing "in/none.h5: " $O -- "$deepcd" train in/none.h5 -o $O "${T[@]}"
trunc d_trunc.h5 d.h5 5000
case_ train_truncated "in/d_trunc.h5: " $O -- "$deepcd" train in/d_trunc.h5 -o $O "${T[@]}"
mk d_nan.h5 d.h5 set problem000/rhs 100 nan
case_ train_rhs_nan "in/d_nan.h5: dataset 'problem000/rhs': sample [0-9]+ contains NaN or Inf" $O -- "$deepcd" train in/d_nan.h5 -o $O "${T[@]}"
mk d_nosolid.h5 d.h5 delete problem000/solid
case_ train_no_solid "in/d_nosolid.h5: .*'problem000/solid' is missing" $O -- "$deepcd" train in/d_nosolid.h5 -o $O "${T[@]}"
mk d_problems.h5 d.h5 attr-int / problems 3
case_ train_problems "in/d_problems.h5: .*problem001" $O -- "$deepcd" train in/d_problems.h5 -o $O "${T[@]}"
mk d_rhsshape.h5 d.h5 reshape problem000/rhs 6,8,8,9
case_ train_rhs_shape "in/d_rhsshape.h5: dataset 'problem000/rhs'.* shape" $O -- "$deepcd" train in/d_rhsshape.h5 -o $O "${T[@]}"
case_ train_out_is_input "-o in/d.h5: it is the training data file" - -- "$deepcd" train in/d.h5 -o in/d.h5 "${T[@]}"
case_ train_batch_huge "in/d.h5: batch 100000000 is more than the" $O -- "$deepcd" train in/d.h5 -o $O --steps 2 --batch 100000000 --backend ref --plot none
case_ train_plot_is_input "--plot in/d.h5: it is the training data file" - -- "$deepcd" train in/d.h5 -o $O --steps 2 --batch 2 --backend ref --plot in/d.h5
case_ train_checkpoint_is_input "--checkpoint in/d.h5: it is the training data file" - -- "$deepcd" train in/d.h5 -o $O "${T[@]}" --checkpoint in/d.h5
case_ train_out_is_init "-o in/m.h5: it is the model file of --init" - -- "$deepcd" train in/d.h5 --init in/m.h5 -o in/m.h5 "${T[@]}"
case_ train_lr_nan "--lr: 'nan'" $O -- "$deepcd" train in/d.h5 -o $O --lr nan "${T[@]}"
case_ train_model_as_data "in/m.h5: attribute 'format' is 'deepcd-model'" $O -- "$deepcd" train in/m.h5 -o $O "${T[@]}"
case_ train_resume_model "in/m.h5: group 'checkpoint' is missing" $O -- "$deepcd" train in/d.h5 --resume in/m.h5 -o $O
mk ck_vnan.h5 ck.h5 set checkpoint/adam_v 7 nan
case_ train_resume_adam_nan "in/ck_vnan.h5: datasets .*'adam_v': entry 7 is not finite" $O -- "$deepcd" train in/d.h5 --resume in/ck_vnan.h5 -o $O --steps 3
mk ck_step.h5 ck.h5 attr-int checkpoint step -5
case_ train_resume_step "in/ck_step.h5: attribute 'checkpoint/step'" $O -- "$deepcd" train in/d.h5 --resume in/ck_step.h5 -o $O --steps 3
case_ train_init_nan "in/m_wnan.h5: dataset 'weights/conv000': .*NaN" $O -- "$deepcd" train in/d.h5 --init in/m_wnan.h5 -o $O "${T[@]}"

# ---- train --arch neuralmg and -pc_neuralmg_model ---------------------------------------------
O=out/nm.h5
N=(--steps 2 --plot none)
mk nm.h5 nm.h5
case_ nmg_train_missing "in/none.h5: cannot read the problem file" $O -- "$deepcd" train --arch neuralmg in/none.h5 -o $O "${N[@]}"
case_ nmg_train_out_is_input "-o in/p.h5: it is the problem file" - -- "$deepcd" train --arch neuralmg in/p.h5 -o in/p.h5 "${N[@]}"
case_ nmg_train_model_as_problem "in/nm.h5: attribute 'format' is 'deepcd-neuralmg-model', expected 'deepcd-problem'" $O -- "$deepcd" train --arch neuralmg in/nm.h5 -o $O "${N[@]}"
case_ nmg_train_init_problem "in/p.h5: attribute 'format' is 'deepcd-problem', expected 'deepcd-neuralmg-model'" $O -- "$deepcd" train --arch neuralmg in/p.h5 --init in/p.h5 -o $O "${N[@]}"
case_ nmg_train_its "--its 0: must be between 1 and 1000" $O -- "$deepcd" train --arch neuralmg in/p.h5 -o $O --its 0 "${N[@]}"
case_ nmg_train_val_empty "--val: empty list" $O -- "$deepcd" train --arch neuralmg in/p.h5 -o $O --val , "${N[@]}"
O=out/s.h5
mk nm_cheb.h5 nm.h5 attr-real / cheb_lower 0.9
case_ nmg_model_scalar "in/nm_cheb.h5: attribute 'cheb_lower' = 0.9 must lie in \\[0.03, 0.5\\]" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_type cg -pc_type neuralmg -pc_neuralmg_model in/nm_cheb.h5
mk nm_wnan.h5 nm.h5 set w1 5 nan
case_ nmg_model_nan "in/nm_wnan.h5: dataset 'w1': NaN" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_type cg -pc_type neuralmg -pc_neuralmg_model in/nm_wnan.h5
mk nm_hidden.h5 nm.h5 attr-int / hidden 16
case_ nmg_model_shape "in/nm_hidden.h5: attributes 'features' = 6 and 'hidden' = 16" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_type cg -pc_type neuralmg -pc_neuralmg_model in/nm_hidden.h5
case_ nmg_model_missing "in/none.h5: cannot read the file" $O -- "$deepcd" solve in/p.h5 -o $O -ksp_type cg -pc_type neuralmg -pc_neuralmg_model in/none.h5

# ---- mesh ------------------------------------------------------------------------------------
O=out/x.obj
case_ mesh_missing "in/none.h5: .*(read|open)" $O -- "$deepcd" mesh in/none.h5 -o $O
case_ mesh_truncated "in/p_trunc.h5: " $O -- "$deepcd" mesh in/p_trunc.h5 -o $O
case_ mesh_sdf_nan "in/p_sdfnan.h5: dataset 'sdf': .*NaN" $O -- "$deepcd" mesh in/p_sdfnan.h5 -o $O
mk p_nosdf.h5 p.h5 delete sdf
case_ mesh_no_sdf "in/p_nosdf.h5: dataset 'sdf' is missing" $O -- "$deepcd" mesh in/p_nosdf.h5 -o $O
case_ mesh_iso_nan "--iso: 'nan'" $O -- "$deepcd" mesh in/p.h5 --iso nan -o $O
case_ mesh_extension "-o out/x.stl: unknown extension" - -- "$deepcd" mesh in/p.h5 -o out/x.stl
case_ mesh_out_is_input "in/p.h5 is the input file" - -- "$deepcd" mesh in/p.h5 -o in/p.xmf
mk s.h5 s.h5
case_ mesh_cell_no_iso "in/s.h5: dataset 'x' holds cell values" $O -- "$deepcd" mesh in/s.h5 -o $O
mk s_xnan.h5 s.h5 set x 11 nan
case_ mesh_x_nan "in/s_xnan.h5: dataset 'x': NaN" $O -- "$deepcd" mesh in/s_xnan.h5 --iso 0.01 -o $O
case_ mesh_weights_problem "in/p.h5: attribute 'format' is 'deepcd-problem', expected 'deepcd-mesh-weights'" $O -- "$deepcd" mesh in/p.h5 --weights in/p.h5 -o $O
case_ mesh_no_surface "in/p.h5: no surface at iso -50 in dataset 'sdf' \\(its values" $O -- "$deepcd" mesh in/p.h5 --iso -50 -o $O
case_ mesh_only_open_boundary "in/p.h5: no surface at iso 50 .*give --close" $O -- "$deepcd" mesh in/p.h5 --iso 50 -o $O

# ---- moe -------------------------------------------------------------------------------------
O=out/r.h5
M=(--pde heat --experts 1,1 --basis 4 --width 4 --depth 1 --grid 8,8 --points 20 --steps 2 --batch 1 --train 2 --test 1)
mk r.h5 r.h5
case_ moe_eval_missing "in/none.h5: .*(read|open)" - -- "$deepcd" moe eval in/none.h5
trunc r_trunc.h5 r.h5 4000
case_ moe_eval_truncated "in/r_trunc.h5: " - -- "$deepcd" moe eval in/r_trunc.h5
mk r_theta.h5 r.h5 set theta 2 nan
case_ moe_eval_theta_nan "in/r_theta.h5: dataset 'theta': .*NaN" - -- "$deepcd" moe eval in/r_theta.h5
mk r_const.h5 r.h5 set pde_constants 0 nan
case_ moe_eval_constants_nan "in/r_const.h5: dataset 'pde_constants': .*NaN" - -- "$deepcd" moe eval in/r_const.h5
mk r_adamv.h5 r.h5 set adam_v 1 nan
case_ moe_eval_adam_v_nan "in/r_adamv.h5: dataset 'adam_v': .*NaN" - -- "$deepcd" moe eval in/r_adamv.h5
mk r_nx.h5 r.h5 attr-int / nx 9
case_ moe_eval_nx "in/r_nx.h5: dataset 'x': shape \\(8\\), expected \\(nx\\) = \\(9\\)" - -- "$deepcd" moe eval in/r_nx.h5
mk r_notheta.h5 r.h5 delete theta
case_ moe_eval_no_theta "in/r_notheta.h5: dataset 'theta' is missing" - -- "$deepcd" moe eval in/r_notheta.h5
mk r_pde.h5 r.h5 attr-str / pde wave
case_ moe_eval_pde "in/r_pde.h5: .*'wave'" - -- "$deepcd" moe eval in/r_pde.h5
case_ moe_eval_problem "in/p.h5: .*deepcd-problem" - -- "$deepcd" moe eval in/p.h5
case_ moe_eval_plot_is_input "--plot in/r.h5: it is the run file" - -- "$deepcd" moe eval in/r.h5 --plot in/r.h5
mk r_lr.h5 r.h5 attr-real / lr nan
case_ moe_eval_lr_nan "in/r_lr.h5: attribute 'lr' = nan" - -- "$deepcd" moe eval in/r_lr.h5
mk r_kx.h5 r.h5 attr-int / kx 0
case_ moe_eval_kx0 "in/r_kx.h5: .*experts 0,1" - -- "$deepcd" moe eval in/r_kx.h5
mk r_vneg.h5 r.h5 set adam_v 0 -1
case_ moe_eval_adam_v_neg "in/r_vneg.h5: dataset 'adam_v': entry 0 = -1" - -- "$deepcd" moe eval in/r_vneg.h5
mk r_kappa0.h5 r.h5 set pde_constants 0 0
case_ moe_eval_constant_zero "in/r_kappa0.h5: dataset 'pde_constants': .* = 0, the constant must be positive" - -- "$deepcd" moe eval in/r_kappa0.h5
case_ moe_train_clip "--clip: '-1'" $O -- "$deepcd" moe train "${M[@]}" --plot none --clip -1 -o $O
case_ moe_train_kappa "-moe_heat_kappa nan" $O -- "$deepcd" moe train "${M[@]}" --plot none -moe_heat_kappa nan -o $O
case_ moe_resume_theta_nan "in/r_theta.h5: dataset 'theta': .*NaN" $O -- "$deepcd" moe train "${M[@]}" --steps 3 --resume in/r_theta.h5 --plot none -o $O
case_ moe_resume_plot_is_input "--plot in/r.h5: it is the checkpoint of --resume" - -- "$deepcd" moe train "${M[@]}" --steps 3 --resume in/r.h5 -o $O --plot in/r.h5
case_ moe_resume_adam_nan "in/r_adamv.h5: dataset 'adam_v': .*NaN" $O -- "$deepcd" moe train "${M[@]}" --steps 3 --resume in/r_adamv.h5 --plot none -o $O

# ---- dubious but valid inputs: exit 0, the warnings (if any) on stderr ------------------------
# pass NAME PATTERN -- COMMAND...: PATTERN must match stderr ("" : stderr must be empty)
pass() {
  local name=$1 pat=$2 why=""
  shift 3
  npass=$((npass + 1))
  rm -rf out
  mkdir out
  "$@" > stdout.txt 2> stderr.txt
  local rc=$?
  if [ $rc -ne 0 ]; then
    why="exit status $rc"
  elif [ -z "$pat" ] && [ -s stderr.txt ]; then
    why="unexpected stderr"
  elif [ -n "$pat" ] && ! grep -Eq -- "$pat" stderr.txt; then
    why="stderr does not match /$pat/"
  fi
  report "$name" "$why" "ok   $name (succeeds)" "$@"
}
pass gen_obj_open_warns "in/tri.obj: the mesh is not closed" -- "$deepcd" gen --sdf-from-mesh in/tri.obj --n 4 -o out/g.h5
pass gen_obj_no_solid_warns "in/tri.obj: no cell of the grid is inside the mesh" -- "$deepcd" gen --sdf-from-mesh in/tri.obj --n 4 -o out/g.h5
obj degen.obj 'v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 4\n'
pass gen_obj_degenerate_warns "in/degen.obj: 1 of 2 triangles are degenerate" -- "$deepcd" gen --sdf-from-mesh in/degen.obj --n 4 -o out/g.h5
# -ksp_max_it 2000000000 allocated a history of that length (killed by the kernel): the history keeps 10^6 entries
[ -z "${DEEPCD_NO_ULIMIT:-}" ] && pass solve_max_it_huge "" -- limited "$deepcd" solve in/p.h5 -o out/s.h5 -ksp_max_it 2000000000
# fixed-length strings of exactly their length (no NUL): read whole
mk p_exact.h5 p.h5 attr-str-exact / format deepcd-problem
"$mut" in/p_exact.h5 attr-str-exact / boundary DDDDDD
pass solve_exact_strings "" -- "$deepcd" solve in/p_exact.h5 -o out/s.h5 -ksp_type cg
mk r_exact.h5 r.h5 attr-str-exact / pde heat
"$mut" in/r_exact.h5 attr-str-exact / model hard
"$mut" in/r_exact.h5 attr-str-exact / format deepcd-moe-run
pass moe_eval_exact_strings "" -- "$deepcd" moe eval in/r_exact.h5
mk m_exact.h5 m.h5 attr-str-exact / format deepcd-model
pass model_info_exact_strings "" -- "$deepcd" model info in/m_exact.h5

echo "malformed-inputs: $ncase malformed inputs and $npass valid but dubious ones; $nfail failed${failed:+:$failed}"
[ $nfail -eq 0 ]
