/* Loading a problem file (format v1, docs/formats.md) onto a distributed DMDA.
   Metadata is validated identically on every rank; each rank then reads only
   its own box of every dataset. */
#include <petsc/private/petscimpl.h>
#include <deepcd/problem.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

/* Checks rank, shape and type class of an optional dataset. */
static PetscErrorCode check_dataset(MPI_Comm comm, const char file[], hid_t fid, const char name[], const char label[], PetscInt nx, PetscInt ny, PetscInt nz, PetscBool uint8, PetscBool *exists)
{
  DeepCDH5Info info;

  PetscFunctionBegin;
  PetscCall(DeepCDH5DatasetInfo(comm, file, fid, name, &info));
  *exists = info.exists;
  if (!info.exists) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(info.rank == 3, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %d dimensions, expected 3 %s = (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", file, name, info.rank, label, nz, ny, nx);
  PetscCheck(info.dims[0] == (hsize_t) nz && info.dims[1] == (hsize_t) ny && info.dims[2] == (hsize_t) nx, comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: dataset '%s': shape (%llu, %llu, %llu), expected %s = (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", file, name, (unsigned long long) info.dims[0], (unsigned long long) info.dims[1], (unsigned long long) info.dims[2], label, nz, ny, nx);
  if (uint8) {
    PetscCheck(info.tclass == H5T_INTEGER && info.tsize == 1 && info.tsign == H5T_SGN_NONE, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': type is not uint8", file, name);
  } else {
    PetscCheck(info.tclass == H5T_FLOAT && (info.tsize == 4 || info.tsize == 8), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': type is not float64 or float32", file, name);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads this rank's box of a dataset; collective failure handling. */
static PetscErrorCode read_box(MPI_Comm comm, const char file[], hid_t fid, const char name[], hid_t memtype, const PetscInt start[3], const PetscInt count[3], void *buf)
{
  PetscBool ok, allok;

  PetscFunctionBegin;
  PetscCall(DeepCDH5ReadBox(file, fid, name, memtype, start, count, buf, &ok));
  PetscCall(MPIU_Allreduce(&ok, &allok, 1, DEEPCD_MPI_BOOL, MPI_LAND, comm));
  PetscCheck(allok, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': read failed (corrupt or truncated data)", file, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Raises a collective error naming the first (in natural order) cell where bad[] is set. */
static PetscErrorCode check_cells(DeepCDProblem p, const char name[], const PetscBool bad[], const char what[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject) p->da);
  PetscInt xs, ys, zs, xm, ym, zm, first = PETSC_MAX_INT, gfirst;

  PetscFunctionBegin;
  PetscCall(DMDAGetCorners(p->da, &xs, &ys, &zs, &xm, &ym, &zm));
  for (PetscInt k = 0, c = 0; k < zm; k++)
    for (PetscInt j = 0; j < ym; j++)
      for (PetscInt i = 0; i < xm; i++, c++)
        if (bad[c]) first = PetscMin(first, ((zs + k) * p->ny + ys + j) * p->nx + xs + i);
  PetscCall(MPIU_Allreduce(&first, &gfirst, 1, MPIU_INT, MPI_MIN, comm));
  PetscCheck(gfirst == PETSC_MAX_INT, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': %s at cell (x, y, z) = (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", p->filename, name, what, gfirst % p->nx, (gfirst / p->nx) % p->ny, gfirst / (p->nx * p->ny));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads a float dataset into v and flags NaN/Inf (and non-positive values when positive) in bad[n]. */
static PetscErrorCode load_real_values(DeepCDProblem p, hid_t fid, const char name[], PetscBool positive, Vec v, const PetscInt start[3], const PetscInt count[3], PetscInt n, PetscBool bad[])
{
  MPI_Comm       comm = PetscObjectComm((PetscObject) p->da);
  PetscScalar   *a;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(VecGetArray(v, &a));
  ierr = read_box(comm, p->filename, fid, name, H5T_NATIVE_DOUBLE, start, count, a);
  if (!ierr)
    for (PetscInt c = 0; c < n; c++) bad[c] = PetscIsInfOrNanReal(a[c]) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(VecRestoreArray(v, &a));
  PetscCall(ierr);
  PetscCall(check_cells(p, name, bad, "NaN or Inf"));
  if (positive) {
    PetscCall(VecGetArray(v, &a));
    for (PetscInt c = 0; c < n; c++) bad[c] = a[c] > 0 ? PETSC_FALSE : PETSC_TRUE;
    PetscCall(VecRestoreArray(v, &a));
    PetscCall(check_cells(p, name, bad, "value <= 0"));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads a float dataset into a new global vector, rejecting NaN/Inf (and non-positive values when positive). */
static PetscErrorCode load_real(DeepCDProblem p, hid_t fid, const char name[], PetscBool positive, Vec *v)
{
  PetscInt       start[3], count[3], n;
  PetscBool     *bad;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(DMCreateGlobalVector(p->da, v));
  PetscCall(PetscObjectSetName((PetscObject) *v, name));
  PetscCall(DMDAGetCorners(p->da, &start[0], &start[1], &start[2], &count[0], &count[1], &count[2]));
  n = count[0] * count[1] * count[2];
  PetscCall(PetscMalloc1(n, &bad));
  ierr = load_real_values(p, fid, name, positive, *v, start, count, n, bad);
  PetscCall(PetscFree(bad)); /* on every path */
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The solid flags s[] of the owned cells from `solid` and/or `sdf` (sdf: work space of the owned corners). */
static PetscErrorCode load_solid_flags(DeepCDProblem p, hid_t fid, const PetscInt start[3], const PetscInt count[3], unsigned char s[], PetscBool bad[], PetscReal sdf[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject) p->da);
  PetscInt n    = count[0] * count[1] * count[2];

  PetscFunctionBegin;
  if (p->has_solid) {
    PetscCall(read_box(comm, p->filename, fid, "solid", H5T_NATIVE_UCHAR, start, count, s));
    for (PetscInt c = 0; c < n; c++) bad[c] = s[c] > 1 ? PETSC_TRUE : PETSC_FALSE;
    PetscCall(check_cells(p, "solid", bad, "value other than 0 or 1"));
  }
  if (p->has_sdf) { /* checked even beside `solid`: every NaN/Inf is an error */
    PetscInt  ccount[3] = { count[0] + 1, count[1] + 1, count[2] + 1 };
    PetscBool badsdf    = PETSC_FALSE, gbad;

    PetscCall(read_box(comm, p->filename, fid, "sdf", H5T_NATIVE_DOUBLE, start, ccount, sdf));
    for (PetscInt c = 0; c < ccount[0] * ccount[1] * ccount[2]; c++)
      if (PetscIsInfOrNanReal(sdf[c])) badsdf = PETSC_TRUE;
    PetscCall(MPIU_Allreduce(&badsdf, &gbad, 1, DEEPCD_MPI_BOOL, MPI_LOR, comm));
    PetscCheck(!gbad, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'sdf': contains NaN or Inf", p->filename);
    if (!p->has_solid) PetscCall(DeepCDSolidFromSDF(count[0], count[1], count[2], sdf, s));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode load_solid(DeepCDProblem p, hid_t fid)
{
  PetscInt       start[3], count[3], n;
  unsigned char *s;
  PetscBool     *bad;
  PetscReal     *sdf;
  PetscScalar   *a;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(DMCreateGlobalVector(p->da, &p->solid));
  PetscCall(PetscObjectSetName((PetscObject) p->solid, "solid"));
  PetscCall(DMDAGetCorners(p->da, &start[0], &start[1], &start[2], &count[0], &count[1], &count[2]));
  n = count[0] * count[1] * count[2];
  PetscCall(PetscCalloc3(n, &s, n, &bad, p->has_sdf ? (count[0] + 1) * (count[1] + 1) * (count[2] + 1) : 0, &sdf));
  ierr = load_solid_flags(p, fid, start, count, s, bad, sdf);
  if (!ierr) {
    PetscCall(VecGetArray(p->solid, &a));
    for (PetscInt c = 0; c < n; c++) a[c] = s[c] ? 1.0 : 0.0;
    PetscCall(VecRestoreArray(p->solid, &a));
  }
  PetscCall(PetscFree3(s, bad, sdf)); /* on every path */
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Common end of loading and creating: zero rhs and x0 on solid cells, and the
   solid mask composed with the grid. */
static PetscErrorCode problem_finish(DeepCDProblem p)
{
  MPI_Comm comm = PetscObjectComm((PetscObject) p->da);

  PetscFunctionBegin;
  /* Solid cells carry identity rows: zero right-hand side and solution there. */
  {
    Vec fluid;

    PetscCall(VecDuplicate(p->solid, &fluid));
    PetscCall(VecSet(fluid, 1.0));
    PetscCall(VecAXPY(fluid, -1.0, p->solid));
    PetscCall(VecPointwiseMult(p->rhs, p->rhs, fluid));
    if (p->x0) PetscCall(VecPointwiseMult(p->x0, p->x0, fluid));
    PetscCall(VecDestroy(&fluid));
  }
  {
    /* the solid mask travels with the grid, for the CNN generator's output
       masking; a plain vector, so that the DM and it hold no reference cycle */
    Vec      mask;
    PetscInt n;

    PetscCall(VecGetLocalSize(p->solid, &n));
    PetscCall(VecCreateMPI(comm, n, PETSC_DETERMINE, &mask));
    PetscCall(VecCopy(p->solid, mask));
    PetscCall(PetscObjectCompose((PetscObject) p->da, "deepcd_solid", (PetscObject) mask));
    PetscCall(VecDestroy(&mask));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The body of DeepCDProblemLoad(), with HDF5's own error printing off. */
/* fills p from the file; *fid is the open file, closed by the caller whatever happens */
static PetscErrorCode problem_load(MPI_Comm comm, const char file[], DeepCDProblem p, hid_t *fid_out)
{
  hid_t     fid;
  PetscBool exists, has_rhs, has_x0;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(p->filename, file, sizeof(p->filename)));
  PetscCall(DeepCDH5Open(comm, file, fid_out));
  fid = *fid_out;

  PetscCall(DeepCDH5CheckHeader(comm, file, fid, 1, (const char *const[]){ DEEPCD_PROBLEM_FORMAT }, (const int[]){ DEEPCD_PROBLEM_VERSION }, "problem file", NULL));
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "nx", &p->nx));
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "ny", &p->ny));
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "nz", &p->nz));
  PetscCheck(p->nx >= 1 && p->ny >= 1 && p->nz >= 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attributes 'nx', 'ny', 'nz' = %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ": each must be >= 1", file, p->nx, p->ny, p->nz);
  PetscCall(DeepCDH5ReadAttrReal(comm, file, fid, "h", &p->h));
  if (!(p->h > 0 && !PetscIsInfOrNanReal(p->h))) {
    char hs[32];

    snprintf(hs, sizeof(hs), "%g", (double) p->h); /* plain C formatting: PETSc's %g prints "-1." */
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'h' = %s must be a positive finite number", file, hs);
  }
  PetscCall(DeepCDH5AttrExists(comm, file, fid, "boundary", &exists));
  {
    char walls[64] = "DDDDDD"; /* wide enough to report a too-long string as such */

    if (exists) PetscCall(DeepCDH5ReadAttrString(comm, file, fid, "boundary", walls, sizeof(walls)));
    PetscCall(DeepCDCheckBoundary(file, walls));
    PetscCall(PetscStrncpy(p->boundary, walls, sizeof(p->boundary)));
  }

  PetscCall(check_dataset(comm, file, fid, "rhs", "(nz, ny, nx)", p->nx, p->ny, p->nz, PETSC_FALSE, &has_rhs));
  PetscCheck(has_rhs, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'rhs' is missing", file);
  PetscCall(check_dataset(comm, file, fid, "solid", "(nz, ny, nx)", p->nx, p->ny, p->nz, PETSC_TRUE, &p->has_solid));
  PetscCall(check_dataset(comm, file, fid, "coefficient", "(nz, ny, nx)", p->nx, p->ny, p->nz, PETSC_FALSE, &p->has_coefficient));
  PetscCall(check_dataset(comm, file, fid, "x0", "(nz, ny, nx)", p->nx, p->ny, p->nz, PETSC_FALSE, &has_x0));
  PetscCall(check_dataset(comm, file, fid, "sdf", "(nz+1, ny+1, nx+1)", p->nx + 1, p->ny + 1, p->nz + 1, PETSC_FALSE, &p->has_sdf));

  PetscCall(DeepCDGridCreate(comm, p->nx, p->ny, p->nz, DMDA_STENCIL_STAR, 1, &p->da));
  PetscCall(load_real(p, fid, "rhs", PETSC_FALSE, &p->rhs));
  PetscCall(load_solid(p, fid));
  if (p->has_coefficient)
    PetscCall(load_real(p, fid, "coefficient", PETSC_TRUE, &p->coefficient));
  else {
    PetscCall(DMCreateGlobalVector(p->da, &p->coefficient));
    PetscCall(PetscObjectSetName((PetscObject) p->coefficient, "coefficient"));
    PetscCall(VecSet(p->coefficient, 1.0));
  }
  if (has_x0) PetscCall(load_real(p, fid, "x0", PETSC_FALSE, &p->x0));
  *fid_out = H5I_INVALID_HID;
  PetscCall(DeepCDH5Close(fid));
  PetscCall(problem_finish(p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemLoad - Reads a problem file (format v1) onto a new 3-D DMDA.

  Collective

  Input Parameters:
+ comm - the communicator the grid is distributed over
- file - path of the HDF5 problem file

  Output Parameter:
. problem - the problem; free it with DeepCDProblemDestroy()

  Notes:
  Every violation of the format (missing or mistyped attribute, missing
  `rhs`, wrong shape or type of a dataset, NaN/Inf, non-positive coefficient,
  solid value other than 0/1, unknown boundary letter) raises an error whose
  message is one line naming the file, the item and the problem. The
  right-hand side and initial guess are set to zero on solid cells.

  Level: beginner

.seealso: `DeepCDProblemDestroy()`, `DeepCDOperatorSetUp()`
@*/
PetscErrorCode DeepCDProblemLoad(MPI_Comm comm, const char file[], DeepCDProblem *problem)
{
  deepcd_h5_quiet q;
  PetscErrorCode  ierr;
  DeepCDProblem   p;
  hid_t           fid = H5I_INVALID_HID;

  PetscFunctionBegin;
  PetscAssertPointer(file, 2);
  PetscAssertPointer(problem, 3);
  *problem = NULL;
  PetscCall(PetscNew(&p));
  /* our one-line messages replace HDF5's stack dumps; the caller's setting is restored */
  deepcd_h5_quiet_push(&q);
  ierr = problem_load(comm, file, p, &fid);
  if (fid >= 0) (void) H5Fclose(fid); /* every error path closes the file */
  deepcd_h5_quiet_pop(&q);
  if (ierr) {
    const PetscInt  nx = p->nx, ny = p->ny, nz = p->nz;
    const PetscBool bare = DeepCDErrorIsBare(ierr);
    PetscMPIInt     size;

    PetscCall(DeepCDProblemDestroy(&p));
    PetscCallMPI(MPI_Comm_size(comm, &size));
    /* PETSc's own message for a failed allocation is only the name of the function */
    PetscCheck(ierr != PETSC_ERR_MEM && !bare, comm, PETSC_ERR_MEM, "%s: the grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " (%.3g cells) does not fit in the memory of %d process%s (out of memory); run on more ranks (mpiexec -n R) or use a smaller grid", file, nx, ny, nz, (double) nx * ny * nz, (int) size, size > 1 ? "es" : "");
    PetscCall(ierr);
  }
  *problem = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemDestroy - Frees a problem made by DeepCDProblemLoad().

  Collective

  Input Parameter:
. problem - the problem (set to NULL)

  Level: beginner
@*/
PetscErrorCode DeepCDProblemDestroy(DeepCDProblem *problem)
{
  DeepCDProblem p;

  PetscFunctionBegin;
  if (!problem || !*problem) PetscFunctionReturn(PETSC_SUCCESS);
  p = *problem;
  PetscCall(VecDestroy(&p->rhs));
  PetscCall(VecDestroy(&p->solid));
  PetscCall(VecDestroy(&p->coefficient));
  PetscCall(VecDestroy(&p->x0));
  PetscCall(DMDestroy(&p->da));
  PetscCall(PetscFree(p));
  *problem = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemCreateFromData - Distributes an in-memory problem (as `deepcd gen`
  makes it, whole on every process) onto a new 3-D DMDA.

  Collective

  Input Parameters:
+ comm - the communicator the grid is distributed over
. d    - the problem; every process passes the same data. `rhs` may be NULL
         (zero); `solid` or else `sdf` gives the solid cells (neither: all fluid);
         `coefficient` may be NULL (k = 1)
- name - a name for messages (stored as the problem's file name)

  Output Parameter:
. problem - the problem; free it with DeepCDProblemDestroy()

  Notes:
  Used where a problem is rebuilt from another file (a training data group).
  The arrays are checked as the file reader checks them: a coefficient must be
  positive and finite.

  Level: intermediate

.seealso: `DeepCDProblemLoad()`, `DeepCDProblemDataCreate()`
@*/
PetscErrorCode DeepCDProblemCreateFromData(MPI_Comm comm, const DeepCDProblemData *d, const char name[], DeepCDProblem *problem)
{
  DeepCDProblem  p;
  PetscInt       xs, ys, zs, xm, ym, zm;
  PetscScalar   *r, *s, *k;
  unsigned char *sol = NULL;

  PetscFunctionBegin;
  PetscAssertPointer(d, 2);
  PetscAssertPointer(problem, 4);
  *problem = NULL;
  PetscCheck(d->nx >= 1 && d->ny >= 1 && d->nz >= 1 && d->h > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " with h = %g is not a valid problem grid", name, d->nx, d->ny, d->nz, (double) d->h);
  PetscCall(DeepCDCheckBoundary(name, d->boundary));
  if (d->coefficient)
    for (PetscInt c = 0; c < d->nx * d->ny * d->nz; c++) PetscCheck(d->coefficient[c] > 0 && !PetscIsInfOrNanReal(d->coefficient[c]), comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: coefficient at cell %" PetscInt_FMT " is not a positive finite number", name, c);
  PetscCall(PetscNew(&p));
  PetscCall(PetscStrncpy(p->filename, name, sizeof(p->filename)));
  p->nx = d->nx;
  p->ny = d->ny;
  p->nz = d->nz;
  p->h  = d->h;
  PetscCall(PetscStrncpy(p->boundary, d->boundary, sizeof(p->boundary)));
  p->has_sdf         = d->sdf ? PETSC_TRUE : PETSC_FALSE;
  p->has_solid       = d->solid ? PETSC_TRUE : PETSC_FALSE;
  p->has_coefficient = d->coefficient ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(DeepCDGridCreate(comm, p->nx, p->ny, p->nz, DMDA_STENCIL_STAR, 1, &p->da));
  PetscCall(DMCreateGlobalVector(p->da, &p->rhs));
  PetscCall(PetscObjectSetName((PetscObject) p->rhs, "rhs"));
  PetscCall(VecDuplicate(p->rhs, &p->solid));
  PetscCall(PetscObjectSetName((PetscObject) p->solid, "solid"));
  PetscCall(VecDuplicate(p->rhs, &p->coefficient));
  PetscCall(PetscObjectSetName((PetscObject) p->coefficient, "coefficient"));
  if (!d->solid && d->sdf) {
    PetscCall(PetscMalloc1(d->nx * d->ny * d->nz, &sol));
    PetscCall(DeepCDSolidFromSDF(d->nx, d->ny, d->nz, d->sdf, sol));
  }
  PetscCall(DMDAGetCorners(p->da, &xs, &ys, &zs, &xm, &ym, &zm));
  PetscCall(VecGetArray(p->rhs, &r));
  PetscCall(VecGetArray(p->solid, &s));
  PetscCall(VecGetArray(p->coefficient, &k));
  for (PetscInt z = zs, c = 0; z < zs + zm; z++)
    for (PetscInt y = ys; y < ys + ym; y++)
      for (PetscInt x = xs; x < xs + xm; x++, c++) {
        PetscInt g = (z * d->ny + y) * d->nx + x;

        r[c] = d->rhs ? d->rhs[g] : 0.0;
        s[c] = (d->solid ? d->solid[g] : (sol ? sol[g] : 0)) ? 1.0 : 0.0;
        k[c] = d->coefficient ? d->coefficient[g] : 1.0;
      }
  PetscCall(VecRestoreArray(p->rhs, &r));
  PetscCall(VecRestoreArray(p->solid, &s));
  PetscCall(VecRestoreArray(p->coefficient, &k));
  PetscCall(PetscFree(sol));
  PetscCall(problem_finish(p));
  *problem = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}
