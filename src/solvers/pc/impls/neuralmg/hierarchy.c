/* PCNEURALMG: the hierarchy. The fine operator is read from the rows of the
   AIJ matrix on its 3-D DMDA; each coarser level aggregates 2x2x2 cells
   (piecewise-constant P, R = P^T) and gets the Galerkin operator P^T A P,
   which is again a 7-point stencil. Every level keeps the tensor-product
   ownership of the fine DMDA: a rank owns the coarse cells whose first child
   it owns, so a coarse cell's children lie in its owned box or in the +1
   layer of the fine halo (only when a fine range starts at an odd cell). */
#define _DEFAULT_SOURCE /* posix_memalign */
#include <stdlib.h>
#include <string.h>
#include <petsc/private/matimpl.h>
#include <deepcd/private/pcneuralmgimpl.h>
#include <deepcd/private/petsccompat.h>

/* Allocations of the level arrays, 64-byte aligned; zeroed unless every
   entry is written before it is read. (Transparent huge pages were tried:
   they sped up the stencils at 128^3 but their allocation cost as much.) */
static PetscErrorCode NMGCalloc(size_t n, size_t size, PetscBool zero, void *ptr)
{
  size_t bytes = n * size > 0 ? n * size : 1;
  void  *q     = NULL;

  PetscFunctionBegin;
  PetscCheck(!posix_memalign(&q, 64, bytes), PETSC_COMM_SELF, PETSC_ERR_MEM, "PCNEURALMG: out of memory allocating %zu bytes", bytes);
  if (zero) memset(q, 0, bytes);
  *(void **) ptr = q;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void NMGFree(void *ptr)
{
  free(*(void **) ptr);
  *(void **) ptr = NULL;
}

/* the rank that owns global cell g, and its owned box */
static void NMGOwner(const NMGLevel *L, const PetscInt np[3], const PetscInt g[3], PetscInt p[3])
{
  for (int d = 0; d < 3; d++) {
    PetscInt q = 0;
    while (L->start[d][q + 1] <= g[d]) q++;
    p[d] = q;
  }
  (void) np;
}

/* box halo of one level: leaves are the cells of the padded box outside the
   owned box and inside the domain; roots the owners' padded arrays */
static PetscErrorCode NMGLevelCreateHalo(PC pc, NMGLevel *L, const PetscInt np[3])
{
  MPI_Comm     comm = PetscObjectComm((PetscObject) pc);
  PetscMPIInt  size;
  PetscInt     nleaves = 0, *ilocal;
  PetscSFNode *iremote;

  PetscFunctionBegin;
  L->halo = NULL;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size == 1) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(L->npad, &ilocal));
  PetscCall(PetscMalloc1(L->npad, &iremote));
  for (PetscInt k = 0; k < L->xm[2] + 2; k++)
    for (PetscInt j = 0; j < L->xm[1] + 2; j++)
      for (PetscInt i = 0; i < L->xm[0] + 2; i++) {
        const PetscInt c[3] = { i, j, k }, g[3] = { L->xs[0] + i - 1, L->xs[1] + j - 1, L->xs[2] + k - 1 };
        PetscBool      owned = PETSC_TRUE, inside = PETSC_TRUE;
        PetscInt       p[3], len[3];

        for (int d = 0; d < 3; d++) {
          if (c[d] == 0 || c[d] == L->xm[d] + 1) owned = PETSC_FALSE;
          if (g[d] < 0 || g[d] >= L->M[d]) inside = PETSC_FALSE;
        }
        if (owned || !inside) continue;
        NMGOwner(L, np, g, p);
        for (int d = 0; d < 3; d++) len[d] = L->start[d][p[d] + 1] - L->start[d][p[d]];
        ilocal[nleaves]        = k * L->sz + j * L->sy + i;
        iremote[nleaves].rank  = (p[2] * np[1] + p[1]) * np[0] + p[0];
        iremote[nleaves].index = ((g[2] - L->start[2][p[2]] + 1) * (len[1] + 2) + (g[1] - L->start[1][p[1]] + 1)) * (len[0] + 2) + (g[0] - L->start[0][p[0]] + 1);
        nleaves++;
      }
  PetscCall(PetscSFCreate(comm, &L->halo));
  PetscCall(PetscSFSetGraph(L->halo, L->npad, nleaves, ilocal, PETSC_OWN_POINTER, iremote, PETSC_OWN_POINTER));
  PetscCall(PetscSFSetUp(L->halo));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* fills the halo layer of a padded array (float or PetscReal: type) from the neighbouring ranks */
PetscErrorCode PCNeuralMGHalo(NMGLevel *L, MPI_Datatype type, void *a)
{
  PetscFunctionBegin;
  if (!L->halo) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscSFBcastBegin(L->halo, type, a, a, MPI_REPLACE));
  PetscCall(PetscSFBcastEnd(L->halo, type, a, a, MPI_REPLACE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NMGCallocOperator(const NMGLevel *L, PetscReal **D, PetscReal **CX, PetscReal **CY, PetscReal **CZ)
{
  PetscFunctionBegin;
  PetscCall(NMGCalloc(L->npad, sizeof(PetscReal), PETSC_TRUE, D));
  PetscCall(NMGCalloc(L->npad, sizeof(PetscReal), PETSC_TRUE, CX));
  PetscCall(NMGCalloc(L->npad, sizeof(PetscReal), PETSC_TRUE, CY));
  PetscCall(NMGCalloc(L->npad, sizeof(PetscReal), PETSC_TRUE, CZ));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void NMGFreeOperator(PetscReal **D, PetscReal **CX, PetscReal **CY, PetscReal **CZ)
{
  NMGFree(D);
  NMGFree(CX);
  NMGFree(CY);
  NMGFree(CZ);
}

static PetscErrorCode NMGLevelAllocate(NMGLevel *L)
{
  PetscFunctionBegin;
  L->sy   = L->xm[0] + 2;
  L->sz   = L->sy * (L->xm[1] + 2);
  L->npad = L->sz * (L->xm[2] + 2);
  {
    float **a[9] = { &L->d, &L->cx, &L->cy, &L->cz, &L->w, &L->b, &L->p, &L->x, &L->t };
    /* the operator and the weights are written in full by NMGLevelFinish() */
    for (int q = 0; q < 9; q++) PetscCall(NMGCalloc(L->npad, sizeof(float), (PetscBool) (q >= 5), a[q]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* float copies of the level's operator, the smoother weights (the model's)
   and the Gershgorin bound of W A (halos of the double arrays current) */
static PetscErrorCode NMGLevelFinish(PC pc, PetscInt level, NMGLevel *L, const PetscReal *D, const PetscReal *CX, const PetscReal *CY, const PetscReal *CZ, const float *mask)
{
  PC_NeuralMG *nmg  = (PC_NeuralMG *) pc->data;
  PetscReal    lmax = 0;

  PetscFunctionBegin;
  for (PetscInt n = 0; n < L->npad; n++) {
    L->d[n]  = (float) D[n];
    L->w[n]  = 0;
    L->cx[n] = (float) CX[n];
    L->cy[n] = (float) CY[n];
    L->cz[n] = (float) CZ[n];
  }
  PetscCall(NMGModelWeights(&nmg->model, level, L, D, CX, CY, CZ, mask));
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++)
      for (PetscInt i = 1; i <= L->xm[0]; i++) {
        const PetscInt  n  = k * L->sz + j * L->sy + i;
        const PetscReal rs = PetscAbsReal(D[n]) + PetscAbsReal(CX[n]) + PetscAbsReal(CX[n - 1]) + PetscAbsReal(CY[n]) + PetscAbsReal(CY[n - L->sy]) + PetscAbsReal(CZ[n]) + PetscAbsReal(CZ[n - L->sz]);

        lmax = PetscMax(lmax, L->w[n] * rs);
      }
  PetscCall(MPIU_Allreduce(&lmax, &L->lmax, 1, MPIU_REAL, MPIU_MAX, PetscObjectComm((PetscObject) pc)));
  if (L->lmax <= 0) L->lmax = 1; /* nothing to smooth */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The DMDA of the operator: the PC's (KSPSetDM()) or the matrix's (DMCreateMatrix()) */
static PetscErrorCode NMGGetDMDA(PC pc, DM *da)
{
  MPI_Comm        comm = PetscObjectComm((PetscObject) pc);
  DM              dm   = pc->dm;
  PetscBool       isda;
  PetscInt        dim, dof, s;
  DMBoundaryType  bt[3];
  DMDAStencilType st;

  PetscFunctionBegin;
  if (!dm) PetscCall(MatGetDM(pc->pmat, &dm));
  PetscCheck(dm, comm, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs the operator's 3-D DMDA: neither the PC (KSPSetDM()/PCSetDM()) nor the matrix (DMCreateMatrix()) has a DM");
  PetscCall(PetscObjectTypeCompare((PetscObject) dm, DMDA, &isda));
  PetscCheck(isda, comm, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs a 3-D DMDA, the operator's DM is of type %s", ((PetscObject) dm)->type_name);
  PetscCall(DMDAGetInfo(dm, &dim, NULL, NULL, NULL, NULL, NULL, NULL, &dof, &s, &bt[0], &bt[1], &bt[2], &st));
  PetscCheck(dim == 3, comm, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs a 3-D DMDA, the operator's DMDA is %" PetscInt_FMT "-D", dim);
  PetscCheck(dof == 1, comm, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs a DMDA with 1 degree of freedom per cell, the operator's has %" PetscInt_FMT, dof);
  PetscCheck(s >= 1, comm, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs a DMDA of stencil width at least 1, the operator's has 0");
  for (int d = 0; d < 3; d++) PetscCheck(bt[d] != DM_BOUNDARY_PERIODIC && bt[d] != DM_BOUNDARY_TWIST, comm, PETSC_ERR_SUP, "PCNEURALMG does not support periodic DMDA boundaries (direction %d)", d);
  *da = dm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One entry (global column col, value v) of a row: the diagonal, or a
   coupling with one of the 6 face neighbours (global indices nb[]); the first
   nonzero anywhere else is recorded in bad[] (explicit zeros of a box-stencil
   pattern are fine). */
static inline void NMGAddEntry(PetscInt row, PetscInt col, const PetscInt nb[6], PetscReal v, PetscInt n, PetscReal *D, PetscReal *up[3], PetscReal *lo[3], PetscInt bad[2])
{
  int q;

  if (col == row) {
    D[n] += v;
    return;
  }
  for (q = 0; q < 6; q++)
    if (col == nb[q]) break;
  if (q == 6) {
    if (v != 0 && bad[0] < 0) {
      bad[0] = row;
      bad[1] = col;
    }
    return;
  }
  if (q % 2)
    up[q / 2][n] += v;
  else if (lo[q / 2])
    lo[q / 2][n] += v;
}

/* Reads the 7-point stencil of the owned rows into padded double arrays:
   the diagonal and the couplings with the +x, +y, +z neighbours. Unless the
   matrix is known to be symmetric, a coupling is the mean of the two rows'
   entries, and zero when either row lacks it (Dirichlet rows kept as identity
   rows, as in PETSc's ex45). AIJ matrices are read from their arrays, other
   types through MatGetRow(). */
static PetscErrorCode NMGReadMatrix(PC pc, DM da, NMGLevel *L, PetscReal *D, PetscReal *CX, PetscReal *CY, PetscReal *CZ)
{
  MPI_Comm               comm = PetscObjectComm((PetscObject) pc);
  Mat                    A = pc->pmat, Ad = NULL, Ao = NULL;
  ISLocalToGlobalMapping ltog;
  const PetscInt        *gidx, *colmap = NULL, *ia = NULL, *ja = NULL, *ib = NULL, *jb = NULL;
  const PetscScalar     *va = NULL, *vb = NULL;
  PetscInt               gxs, gys, gzs, gxm, gym, gzm, rstart, rend, row, nr;
  PetscReal             *lo[3] = { NULL, NULL, NULL }, *up[3] = { CX, CY, CZ };
  PetscBool              symknown, sym, isseq, ismpi, done;
  PetscInt               bad[2] = { -1, -1 }; /* the first entry outside the 7-point stencil */

  PetscFunctionBegin;
  PetscCall(MatGetOwnershipRange(A, &rstart, &rend));
  PetscCheck(rend - rstart == L->xm[0] * L->xm[1] * L->xm[2], PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "PCNEURALMG: the matrix has %" PetscInt_FMT " local rows, its DMDA %" PetscInt_FMT " local cells", rend - rstart, L->xm[0] * L->xm[1] * L->xm[2]);
  PetscCall(PetscObjectBaseTypeCompare((PetscObject) A, MATSEQAIJ, &isseq));
  PetscCall(PetscObjectBaseTypeCompare((PetscObject) A, MATMPIAIJ, &ismpi));
  if (isseq)
    Ad = A;
  else if (ismpi)
    PetscCall(MatMPIAIJGetSeqAIJ(A, &Ad, &Ao, &colmap));
  else
    PetscCheck(A->ops->getrow, comm, PETSC_ERR_SUP, "PCNEURALMG reads the operator's rows (MatGetRow()), which matrix type %s does not provide: assemble an AIJ matrix", ((PetscObject) A)->type_name);
  if (Ad) {
    PetscCall(MatGetRowIJ(Ad, 0, PETSC_FALSE, PETSC_FALSE, &nr, &ia, &ja, &done));
    PetscCheck(done, PETSC_COMM_SELF, PETSC_ERR_SUP, "PCNEURALMG: MatGetRowIJ() failed");
    PetscCall(MatSeqAIJGetArrayRead(Ad, &va));
  }
  if (Ao) {
    PetscCall(MatGetRowIJ(Ao, 0, PETSC_FALSE, PETSC_FALSE, &nr, &ib, &jb, &done));
    PetscCheck(done, PETSC_COMM_SELF, PETSC_ERR_SUP, "PCNEURALMG: MatGetRowIJ() failed");
    PetscCall(MatSeqAIJGetArrayRead(Ao, &vb));
  }
  PetscCall(MatIsSymmetricKnown(A, &symknown, &sym));
  if (!(symknown && sym))
    for (int d = 0; d < 3; d++) PetscCall(NMGCalloc(L->npad, sizeof(PetscReal), PETSC_TRUE, &lo[d]));
  PetscCall(DMDAGetGhostCorners(da, &gxs, &gys, &gzs, &gxm, &gym, &gzm));
  PetscCall(DMGetLocalToGlobalMapping(da, &ltog));
  PetscCall(ISLocalToGlobalMappingGetIndices(ltog, &gidx));
  row = rstart;
  for (PetscInt k = 0; k < L->xm[2]; k++)
    for (PetscInt j = 0; j < L->xm[1]; j++)
      for (PetscInt i = 0; i < L->xm[0]; i++, row++) {
        const PetscInt gi = L->xs[0] + i, gj = L->xs[1] + j, gk = L->xs[2] + k;
        const PetscInt lg = ((gk - gzs) * gym + (gj - gys)) * gxm + (gi - gxs);
        const PetscInt n  = (k + 1) * L->sz + (j + 1) * L->sy + i + 1;
        PetscInt       nb[6];

        if (Ad) {
          /* columns of the rank's own rows: neighbours by their offset in the box */
          const PetscInt m = row - rstart, oy = L->xm[0], oz = L->xm[0] * L->xm[1];

          for (PetscInt q = ia[m]; q < ia[m + 1]; q++) {
            const PetscInt  delta = ja[q] - m;
            const PetscReal v     = PetscRealPart(va[q]);

            if (delta == 0)
              D[n] += v;
            else if (delta == 1 && i < L->xm[0] - 1)
              up[0][n] += v;
            else if (delta == oy && j < L->xm[1] - 1)
              up[1][n] += v;
            else if (delta == oz && k < L->xm[2] - 1)
              up[2][n] += v;
            else if (delta == -1 && i > 0) {
              if (lo[0]) lo[0][n] += v;
            } else if (delta == -oy && j > 0) {
              if (lo[1]) lo[1][n] += v;
            } else if (delta == -oz && k > 0) {
              if (lo[2]) lo[2][n] += v;
            } else if (v != 0 && bad[0] < 0) {
              bad[0] = row;
              bad[1] = ja[q] + rstart;
            }
          }
          if (!Ao || ib[m] == ib[m + 1]) continue;
        }
        nb[0] = gi > 0 ? gidx[lg - 1] : -1;
        nb[1] = gi < L->M[0] - 1 ? gidx[lg + 1] : -1;
        nb[2] = gj > 0 ? gidx[lg - gxm] : -1;
        nb[3] = gj < L->M[1] - 1 ? gidx[lg + gxm] : -1;
        nb[4] = gk > 0 ? gidx[lg - gxm * gym] : -1;
        nb[5] = gk < L->M[2] - 1 ? gidx[lg + gxm * gym] : -1;
        if (Ad) {
          const PetscInt m = row - rstart;
          for (PetscInt q = ib[m]; q < ib[m + 1]; q++) NMGAddEntry(row, colmap[jb[q]], nb, PetscRealPart(vb[q]), n, D, up, lo, bad);
        } else {
          PetscInt           ncols;
          const PetscInt    *cols;
          const PetscScalar *vals;

          PetscCall(MatGetRow(A, row, &ncols, &cols, &vals));
          for (PetscInt c = 0; c < ncols; c++) NMGAddEntry(row, cols[c], nb, PetscRealPart(vals[c]), n, D, up, lo, bad);
          PetscCall(MatRestoreRow(A, row, &ncols, &cols, &vals));
        }
      }
  PetscCall(ISLocalToGlobalMappingRestoreIndices(ltog, &gidx));
  if (Ad) {
    PetscCall(MatSeqAIJRestoreArrayRead(Ad, &va));
    PetscCall(MatRestoreRowIJ(Ad, 0, PETSC_FALSE, PETSC_FALSE, &nr, &ia, &ja, &done));
  }
  if (Ao) {
    PetscCall(MatSeqAIJRestoreArrayRead(Ao, &vb));
    PetscCall(MatRestoreRowIJ(Ao, 0, PETSC_FALSE, PETSC_FALSE, &nr, &ib, &jb, &done));
  }
  if (bad[0] >= 0) {
    const PetscInt m = bad[0] - rstart, ci = L->xs[0] + m % L->xm[0], cj = L->xs[1] + (m / L->xm[0]) % L->xm[1], ck = L->xs[2] + m / (L->xm[0] * L->xm[1]);

    for (int d = 0; d < 3; d++) NMGFree(&lo[d]);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "PCNEURALMG needs a 7-point stencil matrix: row %" PetscInt_FMT " (cell %" PetscInt_FMT ",%" PetscInt_FMT ",%" PetscInt_FMT ") has a nonzero in column %" PetscInt_FMT ", which is not a face neighbour", bad[0], ci, cj, ck, bad[1]);
  }
  if (lo[0]) {
    const PetscInt off[3] = { 1, L->sy, L->sz };

    for (int d = 0; d < 3; d++) {
      PetscCall(PCNeuralMGHalo(L, MPIU_REAL, lo[d]));
      for (PetscInt k = 1; k <= L->xm[2]; k++)
        for (PetscInt j = 1; j <= L->xm[1]; j++)
          for (PetscInt i = 1; i <= L->xm[0]; i++) {
            const PetscInt  n = k * L->sz + j * L->sy + i;
            const PetscReal a = up[d][n], b = lo[d][n + off[d]];
            up[d][n] = (a == 0 || b == 0) ? 0 : 0.5 * (a + b);
          }
      NMGFree(&lo[d]);
    }
  }
  PetscCall(PCNeuralMGHalo(L, MPIU_REAL, CX));
  PetscCall(PCNeuralMGHalo(L, MPIU_REAL, CY));
  PetscCall(PCNeuralMGHalo(L, MPIU_REAL, CZ));
  PetscCall(PCNeuralMGHalo(L, MPIU_REAL, D));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Galerkin operator of the next level: C = P^T F P with 2x2x2 aggregates */
static void NMGGalerkin(const NMGLevel *F, const PetscReal *D, const PetscReal *CX, const PetscReal *CY, const PetscReal *CZ, const NMGLevel *C, PetscReal *Dc, PetscReal *CXc, PetscReal *CYc, PetscReal *CZc)
{
  const PetscInt sy = F->sy, sz = F->sz;

  for (PetscInt k = 1; k <= C->xm[2]; k++)
    for (PetscInt j = 1; j <= C->xm[1]; j++)
      for (PetscInt i = 1; i <= C->xm[0]; i++) {
        const PetscInt f = (2 * (C->xs[2] + k - 1) - F->xs[2] + 1) * sz + (2 * (C->xs[1] + j - 1) - F->xs[1] + 1) * sy + 2 * (C->xs[0] + i - 1) - F->xs[0] + 1;
        const PetscInt n = k * C->sz + j * C->sy + i;
        PetscReal      d = 0, a = 0, x = 0, y = 0, z = 0;

        for (int c = 0; c < 2; c++)
          for (int b = 0; b < 2; b++)
            for (int e = 0; e < 2; e++) {
              const PetscInt q = f + c * sz + b * sy + e;
              d += D[q];
              a += PetscAbsReal(D[q]);
            }
        for (int c = 0; c < 2; c++)
          for (int b = 0; b < 2; b++) {
            d += 2 * (CX[f + c * sz + b * sy] + CY[f + c * sz + b] + CZ[f + c * sy + b]);
            x += CX[f + c * sz + b * sy + 1];
            y += CY[f + c * sz + b + sy];
            z += CZ[f + c * sy + b + sz];
          }
        if (d <= 1e-12 * a) d = 0; /* a floating aggregate: zero row */
        Dc[n]  = d;
        CXc[n] = x;
        CYc[n] = y;
        CZc[n] = z;
      }
}

PetscErrorCode PCNeuralMGDestroyHierarchy(PC pc)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  for (PetscInt l = 0; l < nmg->nlevels; l++) {
    NMGLevel *L = &nmg->lev[l];
    {
      float **a[9] = { &L->d, &L->cx, &L->cy, &L->cz, &L->w, &L->b, &L->p, &L->x, &L->t };
      for (int q = 0; q < 9; q++) NMGFree(a[q]);
    }
    PetscCall(PetscFree3(L->start[0], L->start[1], L->start[2]));
    PetscCall(PetscSFDestroy(&L->halo));
  }
  nmg->nlevels = 0;
  PetscCall(PetscFree(nmg->mask));
  PetscCall(PetscFree(nmg->dinv_dec));
  PetscCall(PCNeuralMGCoarseDestroy(&nmg->coarse));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* may level L be coarsened once more? */
static PetscBool NMGCanCoarsen(const PC_NeuralMG *nmg, const NMGLevel *L)
{
  PetscInt  Mc[3];
  PetscBool smaller = PETSC_FALSE;

  for (int d = 0; d < 3; d++) {
    Mc[d] = (L->M[d] + 1) / 2;
    if (Mc[d] < L->M[d]) smaller = PETSC_TRUE;
    for (PetscInt p = 0; p < nmg->np[d]; p++)
      if ((L->start[d][p + 1] + 1) / 2 <= (L->start[d][p] + 1) / 2) return PETSC_FALSE; /* a rank would own nothing */
  }
  if (!smaller) return PETSC_FALSE;
  return (PetscBool) (L->M[0] * L->M[1] * L->M[2] > nmg->coarse_size);
}

PetscErrorCode PCNeuralMGBuildHierarchy(PC pc)
{
  PC_NeuralMG    *nmg  = (PC_NeuralMG *) pc->data;
  MPI_Comm        comm = PetscObjectComm((PetscObject) pc);
  DM              da   = NULL;
  const PetscInt *lx[3];
  PetscMPIInt     rank;
  PetscInt        pc3[3];
  PetscReal      *D[2], *CX[2], *CY[2], *CZ[2];
  NMGLevel       *L;
  PetscInt        ndec = 0;

  PetscFunctionBegin;
  PetscCall(NMGGetDMDA(pc, &da));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  L = &nmg->lev[0];
  PetscCall(PetscMemzero(L, sizeof(*L)));
  PetscCall(DMDAGetInfo(da, NULL, &L->M[0], &L->M[1], &L->M[2], &nmg->np[0], &nmg->np[1], &nmg->np[2], NULL, NULL, NULL, NULL, NULL, NULL));
  PetscCall(DMDAGetCorners(da, &L->xs[0], &L->xs[1], &L->xs[2], &L->xm[0], &L->xm[1], &L->xm[2]));
  PetscCall(DMDAGetOwnershipRanges(da, &lx[0], &lx[1], &lx[2]));
  PetscCall(PetscMalloc3(nmg->np[0] + 1, &L->start[0], nmg->np[1] + 1, &L->start[1], nmg->np[2] + 1, &L->start[2]));
  for (int d = 0; d < 3; d++) {
    L->start[d][0] = 0;
    for (PetscInt p = 0; p < nmg->np[d]; p++) L->start[d][p + 1] = L->start[d][p] + lx[d][p];
  }
  pc3[0] = rank % nmg->np[0];
  pc3[1] = (rank / nmg->np[0]) % nmg->np[1];
  pc3[2] = rank / (nmg->np[0] * nmg->np[1]);
  PetscCall(NMGLevelAllocate(L));
  nmg->nlevels = 1;
  nmg->nlocal  = L->xm[0] * L->xm[1] * L->xm[2];
  PetscCall(NMGLevelCreateHalo(pc, L, nmg->np));
  PetscCall(NMGCallocOperator(L, &D[0], &CX[0], &CY[0], &CZ[0]));
  {
    PetscErrorCode ierr = NMGReadMatrix(pc, da, L, D[0], CX[0], CY[0], CZ[0]);
    if (ierr) NMGFreeOperator(&D[0], &CX[0], &CY[0], &CZ[0]);
    PetscCall(ierr);
  }

  /* decoupled rows (solid cells, Dirichlet rows): z = r / a_ii, outside the cycle */
  {
    PetscInt nd = 0;
    for (PetscInt k = 1; k <= L->xm[2]; k++)
      for (PetscInt j = 1; j <= L->xm[1]; j++)
        for (PetscInt i = 1; i <= L->xm[0]; i++) {
          const PetscInt n = k * L->sz + j * L->sy + i;
          if (!CX[0][n] && !CX[0][n - 1] && !CY[0][n] && !CY[0][n - L->sy] && !CZ[0][n] && !CZ[0][n - L->sz]) nd++;
        }
    PetscCall(MPIU_Allreduce(&nd, &ndec, 1, MPIU_INT, MPI_SUM, comm));
    nmg->ndecoupled = ndec;
  }
  if (ndec) {
    PetscCall(PetscCalloc1(L->npad, &nmg->mask));
    PetscCall(PetscCalloc1(nmg->nlocal, &nmg->dinv_dec));
    for (PetscInt k = 1, m = 0; k <= L->xm[2]; k++)
      for (PetscInt j = 1; j <= L->xm[1]; j++)
        for (PetscInt i = 1; i <= L->xm[0]; i++, m++) {
          const PetscInt n = k * L->sz + j * L->sy + i;
          if (!CX[0][n] && !CX[0][n - 1] && !CY[0][n] && !CY[0][n - L->sy] && !CZ[0][n] && !CZ[0][n - L->sz])
            nmg->dinv_dec[m] = D[0][n] != 0 ? 1.0 / D[0][n] : 0.0;
          else
            nmg->mask[n] = 1;
        }
  }
  PetscCall(NMGLevelFinish(pc, 0, L, D[0], CX[0], CY[0], CZ[0], nmg->mask));
  /* The decoupled cells take no part in the cycle: zero rows in the level's
     operator as in the coarse operators built from it (prolongation writes x
     there; with their diagonal kept, the second correction of a W-cycle would
     restrict -a_ii x from them, a non-Galerkin coarse space that can make the
     cycle indefinite: PETSc's ex45 at 49^3) */
  if (nmg->mask)
    for (PetscInt n = 0; n < L->npad; n++)
      if (nmg->mask[n] == 0) {
        D[0][n] = 0;
        L->d[n] = 0;
      }
  PetscCall(PCNeuralMGHalo(L, MPIU_REAL, D[0]));

  while (NMGCanCoarsen(nmg, L) && (nmg->maxlevels == PETSC_DECIDE || nmg->nlevels < nmg->maxlevels) && nmg->nlevels < NMG_MAX_LEVELS) {
    NMGLevel *C = &nmg->lev[nmg->nlevels];
    PetscInt  s = nmg->nlevels % 2;

    PetscCall(PetscMemzero(C, sizeof(*C)));
    PetscCall(PetscMalloc3(nmg->np[0] + 1, &C->start[0], nmg->np[1] + 1, &C->start[1], nmg->np[2] + 1, &C->start[2]));
    L->straddle = PETSC_FALSE;
    for (int d = 0; d < 3; d++) {
      C->M[d] = (L->M[d] + 1) / 2;
      for (PetscInt p = 0; p <= nmg->np[d]; p++) {
        C->start[d][p] = (L->start[d][p] + 1) / 2;
        if (L->start[d][p] % 2 && p < nmg->np[d]) L->straddle = PETSC_TRUE;
      }
      C->xs[d] = C->start[d][pc3[d]];
      C->xm[d] = C->start[d][pc3[d] + 1] - C->xs[d];
    }
    PetscCall(NMGLevelAllocate(C));
    PetscCall(NMGLevelCreateHalo(pc, C, nmg->np));
    PetscCall(NMGCallocOperator(C, &D[s], &CX[s], &CY[s], &CZ[s]));
    NMGGalerkin(L, D[1 - s], CX[1 - s], CY[1 - s], CZ[1 - s], C, D[s], CX[s], CY[s], CZ[s]);
    NMGFreeOperator(&D[1 - s], &CX[1 - s], &CY[1 - s], &CZ[1 - s]);
    PetscCall(PCNeuralMGHalo(C, MPIU_REAL, D[s]));
    PetscCall(PCNeuralMGHalo(C, MPIU_REAL, CX[s]));
    PetscCall(PCNeuralMGHalo(C, MPIU_REAL, CY[s]));
    PetscCall(PCNeuralMGHalo(C, MPIU_REAL, CZ[s]));
    PetscCall(NMGLevelFinish(pc, nmg->nlevels, C, D[s], CX[s], CY[s], CZ[s], NULL));
    L->alpha  = nmg->alpha_used;
    L->alpha2 = nmg->alpha2_used;
    nmg->nlevels++;
    L = C;
  }
  /* the correction from the exact solve is the A-orthogonal projection: scaled by alpha_exact */
  if (nmg->nlevels > 1) nmg->lev[nmg->nlevels - 2].alpha = nmg->alpha_exact_used;
  {
    PetscInt       s    = (nmg->nlevels - 1) % 2;
    PetscErrorCode ierr = PCNeuralMGCoarseSetUp(pc, D[s], CX[s], CY[s], CZ[s]);

    NMGFreeOperator(&D[s], &CX[s], &CY[s], &CZ[s]);
    PetscCall(ierr);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
