/* Training data (docs/training.md; file format in docs/formats.md, "Training
   data file"): Ritz vectors of each problem's operator on its fluid cells
   (SLEPc), unit right-hand sides of random combinations with the low end of
   the spectrum weighted, written to one HDF5 file by rank 0 (temporary name,
   then rename). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <hdf5.h>
#include <slepceps.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/rng.h>
#include <deepcd/operator.h>
#include <deepcd/train_data.h>
#include <deepcd/private/petsccompat.h>

PetscInt DeepCDTrainDataDefaultLow(PetscInt k)
{
  PetscInt l = k / 2 + (k + 19) / 20;

  return l > k ? k : l;
}

static PetscErrorCode ensure_slepc(void)
{
  PetscBool init = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(SlepcInitialized(&init));
  if (!init) PetscCall(SlepcInitialize(NULL, NULL, NULL, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDRitzCompute - the k smallest eigenpairs of a problem's operator on its
  fluid cells, with the null space of floating regions deflated.

  Collective

  Notes:
  The operator is block diagonal: solid cells carry identity rows and no
  fluid row couples to a solid cell. The eigen-solve therefore runs on the
  fluid block (MatCreateSubMatrix() over the fluid cells), so the identity
  rows' eigenvalue 1 never appears and every vector is exactly zero on solid
  cells. The constant vector of each floating region (MatGetNullSpace() of A)
  is passed to EPSSetDeflationSpace(); converged values below 1e-8 times the
  largest diagonal entry are skipped as well, as in the reference.

  Level: intermediate
@*/
PetscErrorCode DeepCDRitzCompute(DeepCDProblem p, Mat A, PetscInt k, const char prefix[], DeepCDRitz *r)
{
  MPI_Comm           comm = PetscObjectComm((PetscObject) p->da);
  IS                 is;
  Mat                Af;
  EPS                eps;
  ST                 st;
  Vec                diag, xr;
  Vec               *defl = NULL;
  MatNullSpace       nsp  = NULL;
  PetscInt           rstart, rend, nloc = 0, *idx, nconv, ndefl = 0, kept = 0, nfluid;
  const PetscScalar *s;
  PetscReal          dmax, *vals;
  PetscInt          *order;
  PetscLogDouble     t0, t1;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscCheck(k >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "the number of Ritz vectors must be at least 1 (got %" PetscInt_FMT ")", k);
  PetscCall(ensure_slepc());
  PetscCall(PetscTime(&t0));

  /* fluid cells, in the global (PETSc) numbering of the DMDA */
  PetscCall(VecGetOwnershipRange(p->solid, &rstart, &rend));
  PetscCall(PetscMalloc1(rend - rstart, &idx));
  PetscCall(VecGetArrayRead(p->solid, &s));
  for (PetscInt i = 0; i < rend - rstart; i++)
    if (PetscRealPart(s[i]) == 0) idx[nloc++] = rstart + i;
  PetscCall(VecRestoreArrayRead(p->solid, &s));
  PetscCall(ISCreateGeneral(comm, nloc, idx, PETSC_OWN_POINTER, &is));
  PetscCall(ISGetSize(is, &nfluid));
  PetscCall(MatCreateSubMatrix(A, is, is, MAT_INITIAL_MATRIX, &Af));
  PetscCall(MatCreateVecs(Af, &xr, NULL));
  PetscCall(VecDuplicate(xr, &diag));
  PetscCall(MatGetDiagonal(Af, diag));
  PetscCall(VecMax(diag, NULL, &dmax));
  PetscCall(VecDestroy(&diag));

  /* the null space of floating regions, restricted to the fluid cells */
  PetscCall(MatGetNullSpace(A, &nsp));
  if (nsp) {
    PetscBool  has_const;
    PetscInt   nv;
    const Vec *vecs;

    PetscCall(MatNullSpaceGetVecs(nsp, &has_const, &nv, &vecs));
    PetscCall(PetscMalloc1(nv + 1, &defl));
    if (has_const) {
      PetscCall(VecDuplicate(xr, &defl[ndefl]));
      PetscCall(VecSet(defl[ndefl++], 1.0));
    }
    for (PetscInt i = 0; i < nv; i++) {
      Vec sub;

      PetscCall(VecDuplicate(xr, &defl[ndefl]));
      PetscCall(VecGetSubVector(vecs[i], is, &sub));
      PetscCall(VecCopy(sub, defl[ndefl++]));
      PetscCall(VecRestoreSubVector(vecs[i], is, &sub));
    }
  }
  if (k + ndefl > nfluid) { /* refused: free what was made */
    for (PetscInt i = 0; i < ndefl; i++) PetscCall(VecDestroy(&defl[i]));
    PetscCall(PetscFree(defl));
    PetscCall(VecDestroy(&xr));
    PetscCall(MatDestroy(&Af));
    PetscCall(ISDestroy(&is));
  }
  PetscCheck(k + ndefl <= nfluid, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: asked for %" PetscInt_FMT " Ritz vectors but the operator has only %" PetscInt_FMT " fluid cells (%" PetscInt_FMT " null-space modes)", p->filename, k, nfluid, ndefl);

  PetscCall(EPSCreate(comm, &eps));
  PetscCall(EPSSetOperators(eps, Af, NULL));
  PetscCall(EPSSetProblemType(eps, EPS_HEP));
  PetscCall(EPSSetType(eps, EPSKRYLOVSCHUR));
  /* Shift-and-invert at 0 with CG + GAMG inner solves (parallel; measured in
     docs/training.md against plain Krylov-Schur, LOBPCG and Lanczos). More
     pairs than wanted are computed: Krylov methods find the copies of a
     multiple eigenvalue (the box's symmetric modes) late, and the last
     wanted values could otherwise miss some of them. */
  PetscCall(EPSGetST(eps, &st));
  PetscCall(STSetType(st, STSINVERT));
  {
    KSP ksp;
    PC  pc;

    PetscCall(STGetKSP(st, &ksp));
    PetscCall(KSPSetType(ksp, KSPCG));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCGAMG));
    PetscCall(KSPSetTolerances(ksp, 1e-10, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT));
  }
  PetscCall(EPSSetTarget(eps, 0.0));
  PetscCall(EPSSetWhichEigenpairs(eps, EPS_TARGET_MAGNITUDE));
  PetscCall(EPSSetDimensions(eps, PetscMin(k + PetscMax(k / 2, 8), nfluid - ndefl), PETSC_DEFAULT, PETSC_DEFAULT));
  PetscCall(EPSSetTolerances(eps, 1e-8, PETSC_DEFAULT));
  if (ndefl) PetscCall(EPSSetDeflationSpace(eps, ndefl, defl));
  if (prefix) PetscCall(EPSSetOptionsPrefix(eps, prefix));
  PetscCall(EPSSetFromOptions(eps));
  PetscCall(EPSSolve(eps));
  PetscCall(EPSGetConverged(eps, &nconv));
  PetscCall(EPSGetIterationNumber(eps, &r->iterations));

  /* ascending values, null-space modes skipped */
  PetscCall(PetscMalloc2(nconv, &vals, nconv, &order));
  for (PetscInt i = 0; i < nconv; i++) {
    PetscScalar kr;

    PetscCall(EPSGetEigenvalue(eps, i, &kr, NULL));
    vals[i]  = PetscRealPart(kr);
    order[i] = i;
  }
  PetscCall(PetscSortRealWithPermutation(nconv, vals, order));
  PetscCall(PetscMalloc1(k, &r->values));
  PetscCall(PetscCalloc1(k, &r->vectors));
  for (PetscInt n = 0; n < nconv && kept < k; n++) {
    PetscInt  i = order[n];
    PetscReal nrm;

    if (vals[i] < 1e-8 * dmax) {
      r->nskipped++;
      continue;
    }
    PetscCall(EPSGetEigenpair(eps, i, NULL, NULL, xr, NULL));
    PetscCall(DMCreateGlobalVector(p->da, &r->vectors[kept]));
    PetscCall(VecSet(r->vectors[kept], 0.0));
    PetscCall(VecISCopy(r->vectors[kept], is, SCATTER_FORWARD, xr));
    PetscCall(VecNormalize(r->vectors[kept], &nrm));
    r->values[kept++] = vals[i];
  }
  r->k = kept;
  {
    EPSType et;
    STType  stt;

    PetscCall(EPSGetType(eps, &et));
    PetscCall(EPSGetST(eps, &st));
    PetscCall(STGetType(st, &stt));
    PetscCall(PetscStrncpy(r->eps_type, et, sizeof(r->eps_type)));
    PetscCall(PetscStrncpy(r->st_type, stt, sizeof(r->st_type)));
  }
  r->nnull  = ndefl;
  r->nfluid = nfluid;
  PetscCall(PetscFree2(vals, order));
  PetscCall(EPSDestroy(&eps));
  for (PetscInt i = 0; i < ndefl; i++) PetscCall(VecDestroy(&defl[i]));
  PetscCall(PetscFree(defl));
  PetscCall(VecDestroy(&xr));
  PetscCall(MatDestroy(&Af));
  PetscCall(ISDestroy(&is));
  PetscCall(PetscTime(&t1));
  r->seconds = (PetscReal) (t1 - t0);
  if (kept < k) {
    PetscInt got = kept;

    PetscCall(DeepCDRitzDestroy(r));
    SETERRQ(comm, PETSC_ERR_NOT_CONVERGED, "%s: only %" PetscInt_FMT " of %" PetscInt_FMT " Ritz pairs converged (try -eps_max_it, -eps_ncv or -st_type sinvert)", p->filename, got, k);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDRitzDestroy(DeepCDRitz *r)
{
  PetscFunctionBegin;
  if (r->vectors)
    for (PetscInt i = 0; i < r->k; i++) PetscCall(VecDestroy(&r->vectors[i]));
  PetscCall(PetscFree(r->vectors));
  PetscCall(PetscFree(r->values));
  r->k = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainDataRHS - one training right-hand side.

  Collective

  Notes:
  b = sum_j c_j q_j normalised to 2-norm 1, c_j = 9 N(0,1) for j < nlow and
  N(0,1) otherwise. The c_j come from splitmix64 seeded by (seed, problem,
  sample) and Box-Muller, computed redundantly on every rank.

  Level: intermediate
@*/
PetscErrorCode DeepCDTrainDataRHS(const DeepCDRitz *r, PetscInt nlow, unsigned long seed, PetscInt problem, PetscInt sample, Vec b)
{
  PetscScalar *c;
  uint64_t     st;
  PetscReal    nrm;

  PetscFunctionBegin;
  st = (uint64_t) seed * 0xD1B54A32D192ED03ULL;
  st = DeepCDSplitMix64(&st) ^ ((uint64_t) problem * 0x9E3779B97F4A7C15ULL);
  st = DeepCDSplitMix64(&st) ^ ((uint64_t) sample * 0xBF58476D1CE4E5B9ULL);
  (void) DeepCDSplitMix64(&st);
  PetscCall(PetscMalloc1(r->k, &c));
  for (PetscInt j = 0; j < r->k; j++) c[j] = (j < nlow ? 9.0 : 1.0) * DeepCDNormal01(&st);
  PetscCall(VecSet(b, 0.0));
  PetscCall(VecMAXPY(b, r->k, c, r->vectors));
  PetscCall(PetscFree(c));
  PetscCall(VecNormalize(b, &nrm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the HDF5 file, written by rank 0 ---- */

/* Gathers a global DMDA vector in natural order onto rank 0 (seq holds it there). */
typedef struct {
  Vec        nat, seq;
  VecScatter sc;
} Gather;

static PetscErrorCode gather_create(DM da, Gather *g)
{
  PetscFunctionBegin;
  PetscCall(DMDACreateNaturalVector(da, &g->nat));
  PetscCall(VecScatterCreateToZero(g->nat, &g->sc, &g->seq));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode gather(DM da, Gather *g, Vec v)
{
  PetscFunctionBegin;
  PetscCall(DMDAGlobalToNaturalBegin(da, v, INSERT_VALUES, g->nat));
  PetscCall(DMDAGlobalToNaturalEnd(da, v, INSERT_VALUES, g->nat));
  PetscCall(VecScatterBegin(g->sc, g->nat, g->seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(g->sc, g->nat, g->seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode gather_destroy(Gather *g)
{
  PetscFunctionBegin;
  PetscCall(VecScatterDestroy(&g->sc));
  PetscCall(VecDestroy(&g->seq));
  PetscCall(VecDestroy(&g->nat));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Writes problem `ip`'s group. `err` (rank 0) collects HDF5 failures; the
   PETSc calls stay collective whatever happens on rank 0. */
static PetscErrorCode write_problem(MPI_Comm comm, hid_t file, PetscInt ip, PetscInt nprob, const char src[], const DeepCDTrainDataOptions *o, PetscInt nlow, int *err)
{
  PetscMPIInt    rank;
  DeepCDProblem  p = NULL;
  Mat            A;
  Vec            b0, b;
  DeepCDRitz     r;
  Gather         g;
  hid_t          grp = -1, drhs = -1, fsp = -1, msp = -1;
  char           gname[32];
  float         *fbuf = NULL;
  PetscLogDouble t0, t1, tlast;
  PetscBool      tty = PETSC_FALSE;
  PetscMPIInt    size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  /* the in-place counter only on one process: mpiexec gives ranks a pty even when the output goes to a file */
  if (size == 1 && isatty(fileno(stdout))) tty = PETSC_TRUE;
  PetscCall(DeepCDProblemLoad(comm, src, &p));
  PetscCall(DeepCDOperatorSetUp(p, &A, &b0));
  PetscCall(VecDestroy(&b0));
  if (o->progress) PetscCall(PetscPrintf(comm, "deepcd train-data: problem %" PetscInt_FMT "/%" PetscInt_FMT ": %s %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " %s: computing %" PetscInt_FMT " Ritz vectors\n", ip + 1, nprob, src, p->nx, p->ny, p->nz, p->boundary, o->nev));
  {
    PetscErrorCode ierr = DeepCDRitzCompute(p, A, o->nev, NULL, &r);

    if (ierr) { /* the problem's refusal (too many vectors, no convergence): free the problem first */
      PetscCall(MatDestroy(&A));
      PetscCall(DeepCDProblemDestroy(&p));
      PetscCall(ierr);
    }
  }
  if (o->progress)
    PetscCall(PetscPrintf(comm, "deepcd train-data: problem %" PetscInt_FMT "/%" PetscInt_FMT ": %" PetscInt_FMT " Ritz vectors in %.2f s (%s/%s, %" PetscInt_FMT " iterations; %" PetscInt_FMT " fluid cells, %" PetscInt_FMT " null-space modes deflated, %" PetscInt_FMT " skipped), Ritz values %.6g .. %.6g\n", ip + 1, nprob, r.k,
                          (double) r.seconds, r.eps_type, r.st_type, r.iterations, r.nfluid, r.nnull, r.nskipped, (double) r.values[0], (double) r.values[r.k - 1]));

  PetscCall(gather_create(p->da, &g));
  PetscCall(PetscSNPrintf(gname, sizeof(gname), "problem%03d", (int) ip));
  if (!rank && !*err) {
    if ((grp = deepcd_h5_create_group(file, gname)) < 0) *err = 1;
    if (!*err) {
      hsize_t kd = (hsize_t) r.k;

      *err |= deepcd_h5_write_attr_string(grp, "source", src);
      *err |= deepcd_h5_write_attr_int(grp, "nx", p->nx);
      *err |= deepcd_h5_write_attr_int(grp, "ny", p->ny);
      *err |= deepcd_h5_write_attr_int(grp, "nz", p->nz);
      *err |= deepcd_h5_write_attr_real(grp, "h", p->h);
      *err |= deepcd_h5_write_attr_string(grp, "boundary", p->boundary);
      *err |= deepcd_h5_write_attr_int(grp, "nev", r.k);
      *err |= deepcd_h5_write_attr_int(grp, "low", nlow);
      *err |= deepcd_h5_write_attr_int(grp, "samples", o->samples);
      *err |= deepcd_h5_write_attr_int(grp, "fluid_cells", r.nfluid);
      *err |= deepcd_h5_write_attr_int(grp, "null_space_modes", r.nnull);
      *err |= deepcd_h5_write_attr_int(grp, "skipped", r.nskipped);
      *err |= deepcd_h5_write_attr_string(grp, "eps_type", r.eps_type);
      *err |= deepcd_h5_write_attr_string(grp, "st_type", r.st_type);
      *err |= deepcd_h5_write_attr_int(grp, "eps_iterations", r.iterations);
      *err |= deepcd_h5_write_whole(grp, "ritz_values", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &kd, r.values);
    }
  }
  /* solid mask (and the coefficient when the problem has one), natural order */
  {
    hsize_t dims[3] = { (hsize_t) p->nz, (hsize_t) p->ny, (hsize_t) p->nx };
    size_t  ncell   = (size_t) p->nx * p->ny * p->nz;

    PetscCall(gather(p->da, &g, p->solid));
    if (!rank && !*err) {
      const PetscScalar *a;
      unsigned char     *m;

      PetscCall(PetscMalloc1(ncell, &m));
      PetscCall(VecGetArrayRead(g.seq, &a));
      for (size_t c = 0; c < ncell; c++) m[c] = PetscRealPart(a[c]) != 0;
      PetscCall(VecRestoreArrayRead(g.seq, &a));
      *err |= deepcd_h5_write_whole(grp, "solid", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 3, dims, m);
      PetscCall(PetscFree(m));
    }
    if (p->has_coefficient) {
      PetscCall(gather(p->da, &g, p->coefficient));
      if (!rank && !*err) {
        const PetscScalar *a;

        PetscCall(VecGetArrayRead(g.seq, &a));
        *err |= deepcd_h5_write_whole(grp, "coefficient", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dims, a);
        PetscCall(VecRestoreArrayRead(g.seq, &a));
      }
    }
    if (!rank && !*err) {
      hsize_t rd[4] = { (hsize_t) o->samples, dims[0], dims[1], dims[2] };
      hsize_t md[3] = { dims[0], dims[1], dims[2] };

      drhs = deepcd_h5_create_dataset(grp, "rhs", H5T_IEEE_F32LE, 4, rd);
      if (drhs < 0 || (fsp = H5Dget_space(drhs)) < 0 || (msp = H5Screate_simple(3, md, NULL)) < 0) *err = 1;
      PetscCall(PetscMalloc1(ncell, &fbuf));
    }
    /* the right-hand sides */
    PetscCall(PetscTime(&t0));
    tlast = t0;
    PetscCall(DMCreateGlobalVector(p->da, &b));
    for (PetscInt s = 0; s < o->samples; s++) {
      PetscCall(DeepCDTrainDataRHS(&r, nlow, o->seed, ip, s, b));
      PetscCall(gather(p->da, &g, b));
      if (!rank && !*err) {
        const PetscScalar *a;
        hsize_t            start[4] = { (hsize_t) s, 0, 0, 0 }, count[4] = { 1, dims[0], dims[1], dims[2] };

        PetscCall(VecGetArrayRead(g.seq, &a));
        for (size_t c = 0; c < ncell; c++) fbuf[c] = (float) PetscRealPart(a[c]);
        PetscCall(VecRestoreArrayRead(g.seq, &a));
        if (H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 || H5Dwrite(drhs, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, fbuf) < 0) *err = 1;
      }
      if (o->progress && tty) {
        PetscLogDouble now;

        PetscCall(PetscTime(&now));
        if (now - tlast > 0.25 || s + 1 == o->samples) {
          tlast = now;
          PetscCall(PetscPrintf(comm, "\rdeepcd train-data: problem %" PetscInt_FMT "/%" PetscInt_FMT ": right-hand side %" PetscInt_FMT "/%" PetscInt_FMT, ip + 1, nprob, s + 1, o->samples));
        }
      }
    }
    if (o->progress && tty) PetscCall(PetscPrintf(comm, "\r\033[K"));
    PetscCall(PetscTime(&t1));
    PetscCall(VecDestroy(&b));
  }
  if (o->progress) PetscCall(PetscPrintf(comm, "deepcd train-data: problem %" PetscInt_FMT "/%" PetscInt_FMT ": %" PetscInt_FMT " right-hand sides (%" PetscInt_FMT " weighted modes) in %.2f s\n", ip + 1, nprob, o->samples, nlow, (double) (t1 - t0)));
  if (!rank) {
    PetscCall(PetscFree(fbuf));
    if (msp >= 0) H5Sclose(msp);
    if (fsp >= 0) H5Sclose(fsp);
    if (drhs >= 0 && H5Dclose(drhs) < 0) *err = 1;
    if (grp >= 0 && H5Gclose(grp) < 0) *err = 1;
  }
  PetscCall(gather_destroy(&g));
  PetscCall(DeepCDRitzDestroy(&r));
  PetscCall(MatDestroy(&A));
  PetscCall(DeepCDProblemDestroy(&p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_file(MPI_Comm comm, PetscInt n, const char *const problems[], const DeepCDTrainDataOptions *o, PetscInt nlow, const char tmp[], const char path[])
{
  PetscMPIInt rank;
  hid_t       file = -1;
  int         err  = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    if (deepcd_h5_create(path, tmp, &file, NULL)) err = 1;
    if (!err) {
      err |= deepcd_h5_write_attr_string(file, "format", DEEPCD_TRAIN_DATA_FORMAT);
      err |= deepcd_h5_write_attr_int(file, "version", DEEPCD_TRAIN_DATA_VERSION);
      err |= deepcd_h5_write_attr_int(file, "problems", n);
      err |= deepcd_h5_write_attr_int(file, "nev", o->nev);
      err |= deepcd_h5_write_attr_int(file, "samples", o->samples);
      err |= deepcd_h5_write_attr_int(file, "low", nlow);
      err |= deepcd_h5_write_attr_int(file, "seed", (long long) o->seed);
    }
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_OPEN, "%s: cannot create the output (directory missing or not writable?)", path);
  for (PetscInt i = 0; i < n; i++) {
    PetscErrorCode ierr = write_problem(comm, file, i, n, problems[i], o, nlow, &err);

    if (ierr) {
      if (file >= 0) H5Fclose(file);
      PetscCall(ierr);
    }
    PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
    if (err) break;
  }
  if (!rank && file >= 0 && H5Fclose(file) < 0) err = 1;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "%s: writing the training data failed (disk full?)", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainDataWrite - computes the training data of n problem files and
  writes them to one HDF5 file (docs/formats.md, "Training data file").

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDTrainDataWrite(MPI_Comm comm, PetscInt n, const char *const problems[], const DeepCDTrainDataOptions *o, const char path[])
{
  PetscMPIInt     rank;
  int             ok = 1;
  char            tmp[PETSC_MAX_PATH_LEN + 96];
  PetscInt        nlow;
  PetscErrorCode  ierr;
  deepcd_h5_quiet q;
  deepcd_h5_error e;

  PetscFunctionBegin;
  PetscCheck(n >= 1, comm, PETSC_ERR_ARG_WRONG, "no problem files given");
  PetscCheck(o->nev >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-nev must be at least 1 (got %" PetscInt_FMT ")", o->nev);
  PetscCheck(o->samples >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-samples must be at least 1 (got %" PetscInt_FMT ")", o->samples);
  PetscCheck(o->low <= o->nev, comm, PETSC_ERR_ARG_OUTOFRANGE, "-low %" PetscInt_FMT " is larger than -nev %" PetscInt_FMT, o->low, o->nev);
  nlow = o->low < 0 ? DeepCDTrainDataDefaultLow(o->nev) : o->low;
  PetscCall(ensure_slepc());
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(DeepCDH5TmpName(comm, path, tmp, sizeof(tmp)));
  {
    /* float32 samples plus the per-cell arrays of each problem, doubled for metadata and chunking, plus 1 MiB */
    double need = 1048576.0;

    if (!rank) {
      for (PetscInt i = 0; i < n; i++) {
        hid_t     fid;
        long long dims[3] = { 0, 0, 0 };

        deepcd_h5_quiet_push(&q);
        if (!deepcd_h5_open(problems[i], &fid, &e)) {
          if (!deepcd_h5_read_attr_ints(fid, problems[i], "nx", NULL, 1, &dims[0], &e) && !deepcd_h5_read_attr_ints(fid, problems[i], "ny", NULL, 1, &dims[1], &e) && !deepcd_h5_read_attr_ints(fid, problems[i], "nz", NULL, 1, &dims[2], &e))
            need += 2.0 * (double) dims[0] * (double) dims[1] * (double) dims[2] * (4.0 * (double) o->samples + 16.0);
          H5Fclose(fid);
        }
        deepcd_h5_quiet_pop(&q); /* an unreadable problem is reported by the load, in order */
      }
    }
    PetscCallMPI(MPI_Bcast(&need, 1, MPI_DOUBLE, 0, comm));
    PetscCall(DeepCDH5CheckRoom(comm, path, need, "training data"));
  }
  if (!rank) deepcd_h5_quiet_push(&q);
  ierr = write_file(comm, n, problems, o, nlow, tmp, path);
  if (!rank) {
    deepcd_h5_quiet_pop(&q);
    ok = !deepcd_h5_commit(tmp, path, !ierr, NULL); /* no partial output */
  }
  PetscCall(ierr);
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_WRITE, "%s: cannot rename the output into place", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}
