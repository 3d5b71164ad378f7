/* Connected fluid regions of a problem and whether each touches a Dirichlet
   wall (a region that touches none makes A singular).

   The labelling runs on rank 0 over the gathered solid mask (one byte-sized
   pass, O(cells) memory on rank 0); the labels are scattered back. */
#include <deepcd/operator.h>

static PetscErrorCode label_serial(PetscInt nx, PetscInt ny, PetscInt nz, const char boundary[], PetscScalar a[], PetscInt *nregions, PetscInt **cells, PetscBool **dirichlet)
{
  const PetscInt N = nx * ny * nz, n[3] = { nx, ny, nz };
  PetscInt      *label, *queue, cap = 16, nr = 0;
  PetscInt      *cnt;
  PetscBool     *dir;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(N, &label, N, &queue));
  PetscCall(PetscMalloc2(cap, &cnt, cap, &dir));
  for (PetscInt c = 0; c < N; c++) label[c] = PetscRealPart(a[c]) != 0 ? -1 : -2; /* -2: fluid, unlabelled */
  for (PetscInt seed = 0; seed < N; seed++) {
    PetscInt head = 0, tail = 0;

    if (label[seed] != -2) continue;
    if (nr == cap) {
      PetscInt  *ncnt;
      PetscBool *ndir;

      PetscCall(PetscMalloc2(2 * cap, &ncnt, 2 * cap, &ndir));
      PetscCall(PetscArraycpy(ncnt, cnt, cap));
      PetscCall(PetscArraycpy(ndir, dir, cap));
      PetscCall(PetscFree2(cnt, dir));
      cnt = ncnt;
      dir = ndir;
      cap *= 2;
    }
    cnt[nr]       = 0;
    dir[nr]       = PETSC_FALSE;
    label[seed]   = nr;
    queue[tail++] = seed;
    while (head < tail) {
      PetscInt       c = queue[head++], ijk[3] = { c % nx, (c / nx) % ny, c / (nx * ny) };
      const PetscInt stride[3] = { 1, nx, nx * ny };

      cnt[nr]++;
      for (int d = 0; d < 3; d++) {
        for (int side = -1; side <= 1; side += 2) {
          PetscInt q = ijk[d] + side, nb;

          if (q < 0 || q >= n[d]) {
            if (boundary[2 * d + (side > 0)] == 'D') dir[nr] = PETSC_TRUE;
            continue;
          }
          nb = c + side * stride[d];
          if (label[nb] == -2) {
            label[nb]     = nr;
            queue[tail++] = nb;
          }
        }
      }
    }
    nr++;
  }
  for (PetscInt c = 0; c < N; c++) a[c] = (PetscScalar) label[c];
  PetscCall(PetscFree2(label, queue));
  *nregions = nr;
  PetscCall(PetscMalloc2(PetscMax(nr, 1), cells, PetscMax(nr, 1), dirichlet));
  PetscCall(PetscArraycpy(*cells, cnt, nr));
  PetscCall(PetscArraycpy(*dirichlet, dir, nr));
  PetscCall(PetscFree2(cnt, dir));
  PetscFunctionReturn(0);
}

/*@C
  DeepCDRegionsCompute - Labels the connected fluid regions (face neighbours)
  of a problem and finds those that touch no Dirichlet wall.

  Collective

  Input Parameter:
. p - the problem

  Output Parameter:
. r - the regions; free with DeepCDRegionsDestroy()

  Level: developer
@*/
PetscErrorCode DeepCDRegionsCompute(DeepCDProblem p, DeepCDRegions *r)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject) p->da);
  Vec         nat, seq;
  VecScatter  sc;
  PetscMPIInt rank;
  PetscInt    nr = 0, *cells = NULL;
  PetscBool  *dir = NULL;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(DMDACreateNaturalVector(p->da, &nat));
  PetscCall(DMDAGlobalToNaturalBegin(p->da, p->solid, INSERT_VALUES, nat));
  PetscCall(DMDAGlobalToNaturalEnd(p->da, p->solid, INSERT_VALUES, nat));
  PetscCall(VecScatterCreateToZero(nat, &sc, &seq));
  PetscCall(VecScatterBegin(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD));
  if (!rank) {
    PetscScalar *a;

    PetscCall(VecGetArray(seq, &a));
    PetscCall(label_serial(p->nx, p->ny, p->nz, p->boundary, a, &nr, &cells, &dir));
    PetscCall(VecRestoreArray(seq, &a));
  }
  PetscCallMPI(MPI_Bcast(&nr, 1, MPIU_INT, 0, comm));
  if (rank) PetscCall(PetscMalloc2(PetscMax(nr, 1), &cells, PetscMax(nr, 1), &dir));
  PetscCallMPI(MPI_Bcast(cells, (PetscMPIInt) nr, MPIU_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(dir, (PetscMPIInt) nr, MPIU_BOOL, 0, comm));
  PetscCall(VecScatterBegin(sc, seq, nat, INSERT_VALUES, SCATTER_REVERSE));
  PetscCall(VecScatterEnd(sc, seq, nat, INSERT_VALUES, SCATTER_REVERSE));
  PetscCall(DMCreateGlobalVector(p->da, &r->label));
  PetscCall(DMDANaturalToGlobalBegin(p->da, nat, INSERT_VALUES, r->label));
  PetscCall(DMDANaturalToGlobalEnd(p->da, nat, INSERT_VALUES, r->label));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&seq));
  PetscCall(VecDestroy(&nat));

  r->nregions = nr;
  PetscCall(PetscMalloc1(PetscMax(nr, 1), &r->cells));
  PetscCall(PetscMalloc1(PetscMax(nr, 1), &r->floating));
  for (PetscInt i = 0; i < nr; i++) {
    r->cells[i] = cells[i];
    if (!dir[i]) r->floating[r->nfloating++] = i;
  }
  PetscCall(PetscFree2(cells, dir));
  PetscFunctionReturn(0);
}

/*@C
  DeepCDRegionsDestroy - Frees what DeepCDRegionsCompute() made.

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDRegionsDestroy(DeepCDRegions *r)
{
  PetscFunctionBegin;
  PetscCall(VecDestroy(&r->label));
  PetscCall(PetscFree(r->cells));
  PetscCall(PetscFree(r->floating));
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscFunctionReturn(0);
}
