/* DMDA creation with ownership ranges that start at even offsets, so that a
   2x pooling layer of the CNN never straddles two ranks. */
#include <petsc/private/petscimpl.h>
#include <deepcd/problem.h>
#include <deepcd/private/petsccompat.h>

/* Splits n cells into p ranges of whole cell pairs (the last range also takes
   the odd cell of an odd n). Returns PETSC_FALSE when some range would be empty. */
static PetscBool split_even(PetscInt n, PetscInt p, PetscInt sw, PetscInt l[])
{
  PetscInt pairs = n / 2;

  if (p == 1) {
    if (l) l[0] = n;
    return PETSC_TRUE;
  }
  if (pairs < p || 2 * (pairs / p) < PetscMax(sw, 1)) return PETSC_FALSE;
  if (l) {
    for (PetscInt i = 0; i < p; i++) l[i] = 2 * (pairs / p + (i < pairs % p ? 1 : 0));
    l[p - 1] += n % 2;
  }
  return PETSC_TRUE;
}

/*@C
  DeepCDGridCreate - Creates the cell-centred 3-D DMDA (1 dof) of a problem,
  with every rank's ownership range starting at an even cell index.

  Collective

  Input Parameters:
+ comm    - the communicator
. nx, ny, nz - cells in each direction
. stype   - DMDA_STENCIL_STAR for the operator, DMDA_STENCIL_BOX for the CNN halo
- sw      - stencil width

  Output Parameter:
. da - the DMDA, set up

  Notes:
  The process grid m x n x p is the factorisation of the communicator size that
  admits even ranges and has the smallest subdomain surface (halo volume).

  Level: developer
@*/
PetscErrorCode DeepCDGridCreate(MPI_Comm comm, PetscInt nx, PetscInt ny, PetscInt nz, DMDAStencilType stype, PetscInt sw, DM *da)
{
  PetscMPIInt size;
  PetscInt    best[3]  = { 0, 0, 0 }, *lx, *ly, *lz;
  PetscReal   bestcost = PETSC_MAX_REAL;

  PetscFunctionBegin;
  PetscAssertPointer(da, 7);
  PetscCheck(nx > 0 && ny > 0 && nz > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " has an empty dimension", nx, ny, nz);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (PetscInt m = 1; m <= size; m++) {
    if (size % m) continue;
    for (PetscInt n = 1; n <= size / m; n++) {
      PetscInt  p = size / (m * n);
      PetscReal cost;

      if ((size / m) % n) continue;
      if (!split_even(nx, m, sw, NULL) || !split_even(ny, n, sw, NULL) || !split_even(nz, p, sw, NULL)) continue;
      /* surface of one subdomain, a proxy for halo traffic */
      cost = (PetscReal) (nx / m) * (ny / n) + (PetscReal) (ny / n) * (nz / p) + (PetscReal) (nx / m) * (nz / p);
      if (cost < bestcost) {
        bestcost = cost;
        best[0]  = m;
        best[1]  = n;
        best[2]  = p;
      }
    }
  }
  PetscCheck(best[0], comm, PETSC_ERR_ARG_OUTOFRANGE, "grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " is too small to split over %d ranks in even ranges of at least 2 cells", nx, ny, nz, size);
  PetscCall(PetscMalloc3(best[0], &lx, best[1], &ly, best[2], &lz));
  split_even(nx, best[0], sw, lx);
  split_even(ny, best[1], sw, ly);
  split_even(nz, best[2], sw, lz);
  PetscCall(DMDACreate3d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, stype, nx, ny, nz, best[0], best[1], best[2], 1, sw, lx, ly, lz, da));
  PetscCall(PetscFree3(lx, ly, lz));
  /* cell-centred data: piecewise-constant transfer, coarsening by halving (PCMG) */
  PetscCall(DMDASetInterpolationType(*da, DMDA_Q0));
  PetscCall(DMSetUp(*da));
  PetscFunctionReturn(PETSC_SUCCESS);
}
