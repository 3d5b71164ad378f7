/* In-memory problems (DeepCDProblemData) and the writer of the problem file
   format v1 (docs/formats.md). */
#define _POSIX_C_SOURCE 200809L /* getpid() */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include <petsc/private/petscimpl.h> /* PetscAssertPointer() */
#include <deepcd/problem.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

#if defined(PETSC_USE_REAL_DOUBLE)
#define DEEPCD_H5_NATIVE_REAL H5T_NATIVE_DOUBLE
#elif defined(PETSC_USE_REAL_SINGLE)
#define DEEPCD_H5_NATIVE_REAL H5T_NATIVE_FLOAT
#else
#error "deepcd problem files need PetscReal to be double or float"
#endif

static const char *const DeepCDWallNames[] = { "x-", "x+", "y-", "y+", "z-", "z+" };

/*@C
  DeepCDCheckBoundary - checks a `boundary` string: exactly 6 letters, each 'D' (Dirichlet) or 'N' (Neumann),
  for the walls x-, x+, y-, y+, z-, z+ in that order.

  Not Collective

  Input Parameters:
+ file     - the file the string comes from, used in the error message (may be NULL)
- boundary - the string to check

  Level: developer

.seealso: `DeepCDProblemDataCreate()`, `DeepCDProblemLoad()`
@*/
PetscErrorCode DeepCDCheckBoundary(const char file[], const char boundary[])
{
  char           where[PETSC_MAX_PATH_LEN + 32];
  PetscErrorCode code = file ? PETSC_ERR_FILE_UNEXPECTED : PETSC_ERR_ARG_WRONG;
  size_t         len;

  PetscFunctionBegin;
  if (file)
    PetscCall(PetscSNPrintf(where, sizeof(where), "%s: attribute 'boundary'", file));
  else
    PetscCall(PetscStrcpy(where, "boundary"));
  PetscCheck(boundary, PETSC_COMM_SELF, code, "%s: missing (need 6 letters from {D,N}, walls x-,x+,y-,y+,z-,z+)", where);
  len = strlen(boundary);
  PetscCheck(len == 6, PETSC_COMM_SELF, code, "%s: '%s' is not 6 letters from {D,N} (walls x-,x+,y-,y+,z-,z+)", where, boundary);
  for (int w = 0; w < 6; w++) {
    PetscCheck(boundary[w] == 'D' || boundary[w] == 'N', PETSC_COMM_SELF, code, "%s: '%s': letter '%c' at position %d (wall %s) is not D or N", where, boundary, boundary[w], w + 1, DeepCDWallNames[w]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemDataCreate - allocates an in-memory problem with a zeroed right-hand side.

  Not Collective

  Input Parameters:
+ nx, ny, nz - the number of cells in each direction (at least 1)
. h          - the cell size (positive)
- boundary   - the walls' conditions, 6 letters from {D,N} (see `DeepCDCheckBoundary()`), or NULL for "DDDDDD"

  Output Parameter:
. data - the new problem; `rhs` is nx*ny*nz zeros, the optional arrays (`solid`, `coefficient`, `x0`, `sdf`) are NULL

  Note:
  Callers that need an optional array allocate it themselves with `PetscCalloc1()` (cell arrays nx*ny*nz,
  sdf (nx+1)*(ny+1)*(nz+1)); `DeepCDProblemDataDestroy()` frees it. Both sizes are checked to fit a `PetscInt`.

  Level: developer

.seealso: `DeepCDProblemDataDestroy()`, `DeepCDProblemDataWrite()`
@*/
PetscErrorCode DeepCDProblemDataCreate(PetscInt nx, PetscInt ny, PetscInt nz, PetscReal h, const char boundary[], DeepCDProblemData **data)
{
  DeepCDProblemData *d;

  PetscFunctionBegin;
  PetscAssertPointer(data, 6);
  *data = NULL;
  PetscCheck(nx >= 1 && ny >= 1 && nz >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ": need at least 1 cell in each direction", nx, ny, nz);
  PetscCheck(h > 0 && !PetscIsInfOrNanReal(h), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "cell size h = %g must be positive and finite", (double) h);
  if (!boundary) boundary = "DDDDDD";
  PetscCall(DeepCDCheckBoundary(NULL, boundary));
  /* The corner array is the larger one: if it fits, so does the cell array. */
  PetscCheck(((PetscInt64) nx + 1) * ((PetscInt64) ny + 1) <= (PetscInt64) PETSC_MAX_INT / ((PetscInt64) nz + 1), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " is too large for PetscInt", nx, ny, nz);
  PetscCall(PetscNew(&d));
  d->nx = nx;
  d->ny = ny;
  d->nz = nz;
  d->h  = h;
  PetscCall(PetscStrncpy(d->boundary, boundary, sizeof(d->boundary)));
  PetscCall(PetscCalloc1(nx * ny * nz, &d->rhs));
  *data = d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemDataDestroy - frees an in-memory problem and all its arrays.

  Not Collective

  Input Parameter:
. data - the problem (may point to NULL); set to NULL on return

  Level: developer

.seealso: `DeepCDProblemDataCreate()`
@*/
PetscErrorCode DeepCDProblemDataDestroy(DeepCDProblemData **data)
{
  PetscFunctionBegin;
  if (!data || !*data) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*data)->rhs));
  PetscCall(PetscFree((*data)->solid));
  PetscCall(PetscFree((*data)->coefficient));
  PetscCall(PetscFree((*data)->x0));
  PetscCall(PetscFree((*data)->sdf));
  PetscCall(PetscFree(*data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDSolidFromSDF - marks the solid cells of a box of cells from the signed distance at its corners.

  Not Collective

  Input Parameters:
+ mx, my, mz - the number of cells of the box in each direction
- sdf        - the signed distance at the (mz+1)*(my+1)*(mx+1) corners, x fastest, negative inside solids

  Output Parameter:
. solid - mz*my*mx flags, x fastest: 1 when the mean of the cell's 8 corner values is negative, else 0

  Note:
  This is the one rule used both by `deepcd gen` and by `DeepCDProblemLoad()` (on each process's sub-box).
  A NaN corner makes its cell fluid.

  Level: developer

.seealso: `DeepCDProblemLoad()`, `DeepCDSceneGenerate()`
@*/
PetscErrorCode DeepCDSolidFromSDF(PetscInt mx, PetscInt my, PetscInt mz, const PetscReal sdf[], unsigned char solid[])
{
  const PetscInt sx = mx + 1, sxy = (mx + 1) * (my + 1);

  PetscFunctionBegin;
  PetscCheck(mx >= 0 && my >= 0 && mz >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "box %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ": negative size", mx, my, mz);
  if (!mx || !my || !mz) PetscFunctionReturn(PETSC_SUCCESS);
  PetscAssertPointer(sdf, 4);
  PetscAssertPointer(solid, 5);
  for (PetscInt k = 0; k < mz; k++) {
    for (PetscInt j = 0; j < my; j++) {
      const PetscReal *c0 = sdf + k * sxy + j * sx; /* corner (0,j,k) */
      unsigned char   *s  = solid + (k * my + j) * mx;

      for (PetscInt i = 0; i < mx; i++) {
        const PetscReal *c   = c0 + i;
        const PetscReal  sum = c[0] + c[1] + c[sx] + c[sx + 1] + c[sxy] + c[sxy + 1] + c[sxy + sx] + c[sxy + sx + 1];

        s[i] = (unsigned char) (sum < 0 ? 1 : 0);
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- HDF5 writing (the layer in src/sys/hdf5) ---- */

static PetscErrorCode WriteContents(hid_t file, const char path[], const void *ctx)
{
  const DeepCDProblemData *d = (const DeepCDProblemData *) ctx;

  const int         version = DEEPCD_PROBLEM_VERSION, n[3] = { (int) d->nx, (int) d->ny, (int) d->nz };
  const double      h        = (double) d->h;
  const char *const names[3] = { "nx", "ny", "nz" };
  const hsize_t     cells[3] = { (hsize_t) d->nz, (hsize_t) d->ny, (hsize_t) d->nx }, corners[3] = { cells[0] + 1, cells[1] + 1, cells[2] + 1 };
  const struct {
    const char    *name;
    const void    *v;
    hid_t          ftype, mtype;
    const hsize_t *dims;
  } data[] = {
    { "rhs", d->rhs, H5T_IEEE_F64LE, DEEPCD_H5_NATIVE_REAL, cells },
    { "solid", d->solid, H5T_STD_U8LE, H5T_NATIVE_UCHAR, cells },
    { "coefficient", d->coefficient, H5T_IEEE_F64LE, DEEPCD_H5_NATIVE_REAL, cells },
    { "x0", d->x0, H5T_IEEE_F64LE, DEEPCD_H5_NATIVE_REAL, cells },
    { "sdf", d->sdf, H5T_IEEE_F64LE, DEEPCD_H5_NATIVE_REAL, corners }
  };

  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(file, "format", DEEPCD_PROBLEM_FORMAT), path, "attribute", "format"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr(file, "version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &version), path, "attribute", "version"));
  for (int a = 0; a < 3; a++) PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr(file, names[a], H5T_STD_I32LE, H5T_NATIVE_INT, 0, &n[a]), path, "attribute", names[a]));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr(file, "h", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &h), path, "attribute", "h"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(file, "boundary", d->boundary), path, "attribute", "boundary"));
  /* the optional arrays are written when present (no modification times: the same problem gives the same bytes) */
  for (size_t k = 0; k < sizeof(data) / sizeof(data[0]); k++)
    if (data[k].v) PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(file, data[k].name, data[k].ftype, data[k].mtype, 3, data[k].dims, data[k].v), path, "dataset", data[k].name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemDataWrite - writes an in-memory problem as a problem file (format v1, docs/formats.md).

  Not Collective: call it on one process only

  Input Parameters:
+ data - the problem; `rhs` is required, the optional arrays are written when non-NULL
- path - the file to write (replaced if it exists)

  Notes:
  The file is written to the temporary name "path.tmp.<host>.<pid>" with the serial HDF5 API and renamed to `path`
  when complete, so a failure never leaves a partial file behind (the temporary file is removed).
  HDF5's own error printing is turned off during the call; failures are reported as one-line PETSc errors
  (`PETSC_ERR_FILE_WRITE`) that name the file and the item.

  Level: developer

.seealso: `DeepCDProblemDataCreate()`, `DeepCDProblemLoad()`, `DeepCDSceneGenerate()`
@*/
PetscErrorCode DeepCDProblemDataWrite(const DeepCDProblemData *data, const char path[])
{
  PetscFunctionBegin;
  PetscAssertPointer(data, 1);
  PetscCheck(path && path[0], PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "problem file name is empty");
  PetscCheck(data->rhs, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: the problem has no right-hand side 'rhs'", path);
  PetscCheck(data->nx >= 1 && data->ny >= 1 && data->nz >= 1 && data->nx < INT32_MAX && data->ny < INT32_MAX && data->nz < INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: bad grid size %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, path, data->nx, data->ny, data->nz);
  PetscCall(DeepCDCheckBoundary(path, data->boundary));
  /* rhs, coefficient, x0 (float64), solid and the sdf's corners, plus 1 MiB */
  PetscCall(DeepCDH5WriteAtomic(path, "problem", 33.0 * (double) data->nx * data->ny * data->nz + 8.0 * (data->nx + 1.0) * (data->ny + 1.0) * (data->nz + 1.0) + 1048576.0, WriteContents, data));
  PetscFunctionReturn(PETSC_SUCCESS);
}
