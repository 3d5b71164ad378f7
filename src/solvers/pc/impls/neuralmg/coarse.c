/* PCNEURALMG: the exact solve on the coarsest grid. Its operator is gathered
   to every rank and factored there as a banded LDL^T in double precision
   (natural ordering, x fastest, bandwidth nx*ny). A pivot that vanishes
   (a floating region of the coarsest grid: its constants are in the null
   space, or an empty aggregate) is dropped: D^+ in place of D^{-1} and zero
   multipliers below it, a symmetric positive semidefinite generalised inverse. */
#include <deepcd/private/pcneuralmgimpl.h>
#include <deepcd/private/petsccompat.h>

#define NMG_PIVOT_TOL 1e-10

PetscErrorCode PCNeuralMGCoarseDestroy(NMGCoarse *c)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(c->L, c->dinv, c->y));
  PetscCall(PetscFree2(c->gath, c->perm));
  PetscCall(PetscFree2(c->counts, c->displs));
  PetscCall(PetscMemzero(c, sizeof(*c)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PCNeuralMGCoarseSetUp(PC pc, const PetscReal *D, const PetscReal *CX, const PetscReal *CY, const PetscReal *CZ)
{
  PC_NeuralMG    *nmg  = (PC_NeuralMG *) pc->data;
  NMGCoarse      *c    = &nmg->coarse;
  const NMGLevel *L    = &nmg->lev[nmg->nlevels - 1];
  MPI_Comm        comm = PetscObjectComm((PetscObject) pc);
  PetscMPIInt     size;
  PetscInt        n, bw, nown = L->xm[0] * L->xm[1] * L->xm[2], q = 0;
  PetscReal      *mine, *all, *A;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  n  = L->M[0] * L->M[1] * L->M[2];
  bw = L->M[2] > 1 ? L->M[0] * L->M[1] : (L->M[1] > 1 ? L->M[0] : 1);
  /* the banded factorisation costs n bw^2 / 2 multiply-adds and n bw values */
  PetscCheck((PetscLogDouble) n * bw <= 1e8 && 0.5 * n * (PetscLogDouble) bw * bw <= 1e10, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "PCNEURALMG: the coarsest grid %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT " is too large for its banded direct solve (bandwidth %" PetscInt_FMT "): allow more levels (-pc_neuralmg_levels), a smaller -pc_neuralmg_coarse_size, or fewer ranks (coarsening stops where a rank would own no coarse cell)",
             L->M[0], L->M[1], L->M[2], bw);
  c->n  = n;
  c->bw = bw;
  PetscCall(PetscCalloc3(n * bw, &c->L, n, &c->dinv, n, &c->y));
  PetscCall(PetscMalloc2(n, &c->gath, n, &c->perm));
  PetscCall(PetscMalloc2(size, &c->counts, size, &c->displs));
  /* every rank's box, in rank order: natural index of each gathered value */
  for (PetscMPIInt r = 0; r < size; r++) {
    const PetscInt p[3] = { r % nmg->np[0], (r / nmg->np[0]) % nmg->np[1], r / (nmg->np[0] * nmg->np[1]) };
    c->displs[r]        = (PetscMPIInt) q;
    for (PetscInt k = L->start[2][p[2]]; k < L->start[2][p[2] + 1]; k++)
      for (PetscInt j = L->start[1][p[1]]; j < L->start[1][p[1] + 1]; j++)
        for (PetscInt i = L->start[0][p[0]]; i < L->start[0][p[0] + 1]; i++) c->perm[q++] = (k * L->M[1] + j) * L->M[0] + i;
    c->counts[r] = (PetscMPIInt) (q - c->displs[r]);
  }
  PetscCheck(q == n, PETSC_COMM_SELF, PETSC_ERR_PLIB, "PCNEURALMG: coarse boxes cover %" PetscInt_FMT " of %" PetscInt_FMT " cells", q, n);
  /* gather (d, cx, cy, cz) of every cell */
  PetscCall(PetscMalloc3(4 * nown, &mine, 4 * n, &all, n, &A));
  q = 0;
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++)
      for (PetscInt i = 1; i <= L->xm[0]; i++, q++) {
        const PetscInt m = k * L->sz + j * L->sy + i;
        mine[4 * q + 0]  = D[m];
        mine[4 * q + 1]  = CX[m];
        mine[4 * q + 2]  = CY[m];
        mine[4 * q + 3]  = CZ[m];
      }
  if (size == 1)
    PetscCall(PetscArraycpy(all, mine, 4 * n));
  else {
    PetscMPIInt *cnt4, *dsp4;
    PetscCall(PetscMalloc2(size, &cnt4, size, &dsp4));
    for (PetscMPIInt r = 0; r < size; r++) {
      cnt4[r] = 4 * c->counts[r];
      dsp4[r] = 4 * c->displs[r];
    }
    PetscCallMPI(MPI_Allgatherv(mine, 4 * (PetscMPIInt) nown, MPIU_REAL, all, cnt4, dsp4, MPIU_REAL, comm));
    PetscCall(PetscFree2(cnt4, dsp4));
  }
  /* band of the lower triangle: L[i*bw + (j - i + bw)] = A(i, j), i - bw <= j < i */
  for (PetscInt g = 0; g < n; g++) {
    const PetscInt i = c->perm[g], sxy = L->M[0] * L->M[1];
    A[i] = all[4 * g];
    if (all[4 * g + 1] != 0) c->L[(i + 1) * bw + (i - (i + 1) + bw)] = all[4 * g + 1];
    if (all[4 * g + 2] != 0) c->L[(i + L->M[0]) * bw + (i - (i + L->M[0]) + bw)] = all[4 * g + 2];
    if (all[4 * g + 3] != 0) c->L[(i + sxy) * bw + (i - (i + sxy) + bw)] = all[4 * g + 3];
  }
  /* LDL^T, row by row; y holds D */
  c->ndropped = 0;
  for (PetscInt i = 0; i < n; i++) {
    const PetscInt j0 = PetscMax(0, i - bw);
    PetscReal     *Li = c->L + i * bw - (i - bw); /* Li[j] = L(i, j) */
    PetscReal      di = A[i];

    for (PetscInt j = j0; j < i; j++) {
      const PetscReal *Lj = c->L + j * bw - (j - bw);
      PetscReal        s  = Li[j];
      for (PetscInt k = PetscMax(j0, j - bw); k < j; k++) s -= Li[k] * c->y[k] * Lj[k];
      Li[j] = c->y[j] != 0 ? s / c->y[j] : 0;
    }
    for (PetscInt k = j0; k < i; k++) di -= Li[k] * Li[k] * c->y[k];
    if (!(A[i] > 0) || di <= NMG_PIVOT_TOL * A[i]) {
      c->y[i] = 0;
      c->ndropped++;
    } else
      c->y[i] = di;
  }
  for (PetscInt i = 0; i < n; i++) c->dinv[i] = c->y[i] != 0 ? 1.0 / c->y[i] : 0;
  PetscCall(PetscFree3(mine, all, A));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* x = A_c^+ b on the coarsest level (b, x: its padded arrays) */
PetscErrorCode PCNeuralMGCoarseSolve(PC pc)
{
  PC_NeuralMG *nmg  = (PC_NeuralMG *) pc->data;
  NMGCoarse   *c    = &nmg->coarse;
  NMGLevel    *L    = &nmg->lev[nmg->nlevels - 1];
  MPI_Comm     comm = PetscObjectComm((PetscObject) pc);
  PetscMPIInt  size, rank;
  PetscInt     q = 0, n = c->n, bw = c->bw;
  PetscReal   *y = c->y;
  float       *mine;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  mine = c->gath + c->displs[rank];
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++)
      for (PetscInt i = 1; i <= L->xm[0]; i++) mine[q++] = L->b[k * L->sz + j * L->sy + i];
  if (size > 1) PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, c->gath, c->counts, c->displs, MPI_FLOAT, comm));
  for (PetscInt g = 0; g < n; g++) y[c->perm[g]] = c->gath[g];
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *Li = c->L + i * bw - (i - bw);
    PetscReal        s  = y[i];
    for (PetscInt k = PetscMax(0, i - bw); k < i; k++) s -= Li[k] * y[k];
    y[i] = s;
  }
  for (PetscInt i = 0; i < n; i++) y[i] *= c->dinv[i];
  for (PetscInt i = n - 1; i >= 0; i--) {
    const PetscReal *Li = c->L + i * bw - (i - bw);
    const PetscReal  yi = y[i];
    for (PetscInt k = PetscMax(0, i - bw); k < i; k++) y[k] -= Li[k] * yi;
  }
  q = c->displs[rank];
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++)
      for (PetscInt i = 1; i <= L->xm[0]; i++) L->x[k * L->sz + j * L->sy + i] = (float) y[c->perm[q++]];
  PetscFunctionReturn(PETSC_SUCCESS);
}
