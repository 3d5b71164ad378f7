/* One expert's stacked residual r(w; B): PDE rows, initial and boundary rows
   and ridge rows; its Jacobian in w, the normal equations (Gauss-Newton or
   exact Hessian) and the vector-Jacobian product of the stationarity
   condition in B (see deepcd/moe_constraint.h). */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeHessianTypes[] = { "exact", "gn", "DeepCDMoeHessianType", "DEEPCD_MOE_HESSIAN_", NULL };

/*@C
  DeepCDMoeConstraintCreate - Creates the hard constraint of one expert.

  Not Collective

  Input Parameters:
+ pde  - the problem (referenced: keep it alive while the constraint lives)
. grid - the space-time grid (copied)
- N    - number of basis functions

  Output Parameter:
. c - the constraint, with no rows yet and ridge 1e-4

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintCreate(DeepCDMoePDE pde, const DeepCDMoeGrid *grid, PetscInt N, DeepCDMoeConstraint *c)
{
  DeepCDMoeConstraint con;

  PetscFunctionBegin;
  PetscAssertPointer(c, 4);
  PetscCheck(N >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe constraint: %" PetscInt_FMT " basis functions: need at least 1", N);
  PetscCall(PetscNew(&con));
  con->pde   = pde;
  con->grid  = *grid;
  con->N     = N;
  con->ridge = 1e-4;
  con->nf    = pde->nfields;
  PetscCall(PetscMalloc1(N * N, &con->M));
  *c = con;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode free_rows(DeepCDMoeConstraint c)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(c->pt, c->lin));
  PetscCall(PetscFree5(c->Phi, c->q, c->dF, c->F, c->d2F));
  PetscCall(PetscFree3(c->J, c->Psi, c->s));
  PetscCall(PetscFree(c->V));
  PetscCall(PetscFree3(c->uoff, c->bs, c->q0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintDestroy - Destroys a constraint.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintDestroy(DeepCDMoeConstraint *c)
{
  PetscFunctionBegin;
  if (!*c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(free_rows(*c));
  PetscCall(PetscFree((*c)->M));
  PetscCall(PetscFree(*c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintSetPoints - Sets the rows: PDE rows at some points and condition rows at others.

  Not Collective

  Input Parameters:
+ c       - the constraint
. npde    - number of PDE rows
. pdepts  - their grid points j*nx + i
. ncond   - number of condition rows
- condpts - their grid points: t index 0 gives an initial-condition row, else x index 0 or nx-1 a boundary row (periodic problems: initial rows only)

  Notes:
  The problem's initial() and boundary() are called here, so set the
  problem's constants and parameters first (and call this again after
  changing them). Forgets the basis.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintSetPoints(DeepCDMoeConstraint c, PetscInt npde, const PetscInt pdepts[], PetscInt ncond, const PetscInt condpts[])
{
  const PetscInt m = npde + ncond, N = c->N, nf = c->nf;

  PetscFunctionBegin;
  PetscCheck(npde >= 0 && ncond >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe constraint: negative number of rows");
  PetscCall(free_rows(c));
  c->m        = m;
  c->mpde     = npde;
  c->hasbasis = PETSC_FALSE;
  PetscCall(PetscMalloc2(m, &c->pt, (nf + 1) * m, &c->lin));
  PetscCall(PetscMalloc5(nf * m * N, &c->Phi, nf * m, &c->q, nf * m, &c->dF, m, &c->F, nf * nf * npde, &c->d2F));
  PetscCall(PetscMalloc3(m * N, &c->J, npde * N, &c->Psi, nf * m, &c->s));
  if (nf > DEEPCD_MOE_VX) PetscCall(PetscMalloc1(2 * DeepCDMoeGridSize(&c->grid) * N, &c->V));
  if (c->pde->ops.builtin) PetscCall(PetscMalloc3(DeepCDMoeGridSize(&c->grid), &c->uoff, DeepCDMoeGridSize(&c->grid), &c->bs, nf * m, &c->q0));
  for (PetscInt k = 0; k < npde; k++) PetscCall(DeepCDMoeGridPoint(&c->grid, pdepts[k], &c->pt[k]));
  for (PetscInt k = npde; k < m; k++) {
    DeepCDMoePoint *pt = &c->pt[k];

    PetscCall(DeepCDMoeGridPoint(&c->grid, condpts[k - npde], pt));
    PetscCheck(pt->j == 0 || (!c->grid.periodic && (pt->i == 0 || pt->i == c->grid.nx - 1)), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe constraint: condition point (%" PetscInt_FMT ", %" PetscInt_FMT ") is neither at t index 0 nor on an x boundary", pt->i, pt->j);
  }
  PetscCall(DeepCDMoeConstraintUpdateConditions(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintUpdateConditions - Re-evaluates the initial and boundary rows from the problem's current constants and parameters (a new problem instance on the same points).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintUpdateConditions(DeepCDMoeConstraint c)
{
  PetscFunctionBegin;
  const PetscInt nf = c->nf, P = DeepCDMoeGridSize(&c->grid);

  if (c->pde->ops.builtin) { /* the offset on the grid, and its fields at the rows */
    PetscReal *v = NULL;

    for (PetscInt p = 0; p < P; p++) {
      DeepCDMoePoint pt;

      PetscCall(DeepCDMoeGridPoint(&c->grid, p, &pt));
      PetscCall((*c->pde->ops.builtin)(c->pde, &pt, &c->uoff[p], &c->bs[p]));
    }
    if (nf > DEEPCD_MOE_VX) {
      PetscCall(PetscMalloc1(2 * P, &v));
      PetscCall(DeepCDMoeGridVelocity(&c->grid, 1, c->uoff, v, v + P));
    }
    for (PetscInt a = 0; a < nf; a++)
      for (PetscInt k = 0; k < c->m; k++) {
        const PetscInt p = DeepCDMoePointNumber(&c->grid, &c->pt[k]);
        PetscInt       n, idx[DEEPCD_MOE_MAX_STENCIL];
        PetscReal      coef[DEEPCD_MOE_MAX_STENCIL], d = 0.0;

        if (a == DEEPCD_MOE_VX || a == DEEPCD_MOE_VY)
          d = v[(a - DEEPCD_MOE_VX) * P + p];
        else {
          PetscCall(DeepCDMoeGridStencilAt(&c->grid, (DeepCDMoeField) a, p, &n, idx, coef));
          for (PetscInt s = 0; s < n; s++) d += coef[s] * c->uoff[idx[s]];
        }
        c->q0[a * c->m + k] = d;
      }
    PetscCall(PetscFree(v));
  }
  for (PetscInt k = c->mpde; k < c->m; k++) {
    const DeepCDMoePoint *pt  = &c->pt[k];
    PetscReal            *lin = c->lin + (nf + 1) * k;

    if (pt->j == 0) {
      PetscReal u0, scale;

      PetscCall((*c->pde->ops.initial)(c->pde, pt, &u0, &scale));
      for (PetscInt a = 0; a < nf; a++) lin[a] = 0.0;
      lin[DEEPCD_MOE_U] = scale;
      lin[nf]           = scale * u0;
    } else
      PetscCall((*c->pde->ops.boundary)(c->pde, pt->i == 0 ? 0 : 1, pt, lin, &lin[nf]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintSetRidge - Sets the weight of the N ridge rows ridge * w (default 1e-4, as in the reference).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintSetRidge(DeepCDMoeConstraint c, PetscReal ridge)
{
  PetscFunctionBegin;
  PetscCheck(ridge >= 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe constraint: ridge %g: must be >= 0", (double) ridge);
  c->ridge = ridge;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintGetSizes - The numbers of rows and unknowns.

  Not Collective

  Output Parameters:
+ mpde - PDE rows (may be NULL)
. m    - all rows: PDE, condition and the N ridge rows (may be NULL)
- N    - unknowns (may be NULL)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintGetSizes(DeepCDMoeConstraint c, PetscInt *mpde, PetscInt *m, PetscInt *N)
{
  PetscFunctionBegin;
  if (mpde) *mpde = c->mpde;
  if (m) *m = c->m + c->N;
  if (N) *N = c->N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintSetBasis - Computes the features (D_a B)(p_k) of every row from a basis on the grid.

  Not Collective

  Input Parameters:
+ c - the constraint, with its points set
- B - the basis, row-major nx*ny*nt x N; only the stencil points of the rows are read (all of it when the problem reads the velocity)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintSetBasis(DeepCDMoeConstraint c, const PetscReal B[])
{
  const PetscInt N = c->N, m = c->m, P = DeepCDMoeGridSize(&c->grid);

  PetscFunctionBegin;
  if (c->V && m) PetscCall(DeepCDMoeGridVelocity(&c->grid, N, B, c->V, c->V + P * N));
  for (PetscInt a = 0; a < c->nf; a++) {
    for (PetscInt k = 0; k < m; k++) {
      PetscInt   n, idx[DEEPCD_MOE_MAX_STENCIL];
      PetscReal  coef[DEEPCD_MOE_MAX_STENCIL];
      PetscReal *phi = c->Phi + (a * m + k) * N;

      if (a == DEEPCD_MOE_VX || a == DEEPCD_MOE_VY) { /* the scale is constant on a time level: V(s B) = s V(B) */
        const PetscInt   p  = DeepCDMoePointNumber(&c->grid, &c->pt[k]);
        const PetscReal *vb = c->V + ((a - DEEPCD_MOE_VX) * P + p) * N, sc = c->bs ? c->bs[p] : 1.0;

        for (PetscInt l = 0; l < N; l++) phi[l] = sc * vb[l];
        continue;
      }
      PetscCall(DeepCDMoeGridStencilAt(&c->grid, (DeepCDMoeField) a, DeepCDMoePointNumber(&c->grid, &c->pt[k]), &n, idx, coef));
      if (c->bs)
        for (PetscInt s = 0; s < n; s++) coef[s] *= c->bs[idx[s]];
      for (PetscInt l = 0; l < N; l++) phi[l] = 0.0;
      for (PetscInt s = 0; s < n; s++) {
        const PetscReal *b = B + idx[s] * N;
        for (PetscInt l = 0; l < N; l++) phi[l] += coef[s] * b[l];
      }
    }
  }
  c->hasbasis = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* q = Phi w per field; F, dF (and d2F for PDE rows when wantd2) per row; J when wantJ. */
PetscErrorCode DeepCDMoeConstraintEvaluate(DeepCDMoeConstraint c, const PetscReal w[], PetscBool wantJ, PetscBool wantd2)
{
  const PetscInt  N = c->N, m = c->m, nf = c->nf;
  const PetscReal one = 1.0, zero = 0.0;
  const PetscInt  inc = 1;
  PetscBLASInt    bN, bm;

  PetscFunctionBegin;
  PetscCheck(c->hasbasis, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe constraint: call DeepCDMoeConstraintSetBasis() first");
  if (!m) {
    c->hasd2 = PETSC_FALSE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscBLASIntCast(m, &bm));
  /* row-major Phi_a (m x N) is column-major N x m: q_a = Phi_a w is its transpose times w */
  for (PetscInt a = 0; a < nf; a++) PetscCallBLAS("BLASgemv", BLASgemv_("T", &bN, &bm, &one, c->Phi + a * m * N, &bN, w, &inc, &zero, c->q + a * m, &inc));
  if (c->q0)
    for (PetscInt l = 0; l < nf * m; l++) c->q[l] += c->q0[l];
  wantd2   = (PetscBool) (wantd2 && !c->pde->linear);
  c->hasd2 = PETSC_FALSE;
  for (PetscInt k = 0; k < c->mpde; k++) {
    PetscReal qk[DEEPCD_MOE_MAX_FIELDS], dFk[DEEPCD_MOE_MAX_FIELDS];

    for (PetscInt a = 0; a < nf; a++) qk[a] = c->q[a * m + k];
    PetscCall((*c->pde->ops.residual)(c->pde, &c->pt[k], qk, &c->F[k], dFk, wantd2 ? c->d2F + nf * nf * k : NULL));
    for (PetscInt a = 0; a < nf; a++) c->dF[a * m + k] = dFk[a];
    if (wantd2)
      for (PetscInt l = 0; l < nf * nf; l++) c->hasd2 = (PetscBool) (c->hasd2 || c->d2F[nf * nf * k + l] != 0.0);
  }
  for (PetscInt k = c->mpde; k < m; k++) {
    const PetscReal *lin = c->lin + (nf + 1) * k;

    c->F[k] = -lin[nf];
    for (PetscInt a = 0; a < nf; a++) {
      c->F[k] += lin[a] * c->q[a * m + k];
      c->dF[a * m + k] = lin[a];
    }
  }
  if (wantJ) {
    for (PetscInt k = 0; k < m; k++) {
      PetscReal *Jk = c->J + k * N;

      for (PetscInt l = 0; l < N; l++) Jk[l] = 0.0;
      for (PetscInt a = 0; a < nf; a++) {
        const PetscReal  d   = c->dF[a * m + k];
        const PetscReal *phi = c->Phi + (a * m + k) * N;

        if (d != 0.0)
          for (PetscInt l = 0; l < N; l++) Jk[l] += d * phi[l];
      }
    }
  }
  PetscCall(PetscLogFlops(2.0 * nf * m * N * (wantJ ? 2 : 1)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintResidual - The stacked residual r(w).

  Not Collective

  Input Parameters:
+ c - the constraint, with its basis set
- w - the weights (N)

  Output Parameter:
. r - the residual: PDE rows, condition rows, then the N ridge rows (m + N entries, see DeepCDMoeConstraintGetSizes())

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintResidual(DeepCDMoeConstraint c, const PetscReal w[], PetscReal r[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintEvaluate(c, w, PETSC_FALSE, PETSC_FALSE));
  PetscCall(PetscArraycpy(r, c->F, c->m));
  for (PetscInt l = 0; l < c->N; l++) r[c->m + l] = c->ridge * w[l];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintJacobian - The Jacobian dr/dw.

  Not Collective

  Input Parameters:
+ c - the constraint, with its basis set
- w - the weights (N)

  Output Parameter:
. J - row-major (m + N) x N, the ridge rows last

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintJacobian(DeepCDMoeConstraint c, const PetscReal w[], PetscReal J[])
{
  const PetscInt N = c->N;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintEvaluate(c, w, PETSC_TRUE, PETSC_FALSE));
  PetscCall(PetscArraycpy(J, c->J, c->m * N));
  PetscCall(PetscArrayzero(J + c->m * N, N * N));
  for (PetscInt l = 0; l < N; l++) J[(c->m + l) * N + l] = c->ridge;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintNormal - The objective f = 1/2 ||r||^2, its gradient J^T r and its Hessian in w.

  Not Collective

  Input Parameters:
+ c    - the constraint, with its basis set
. w    - the weights (N)
- type - DEEPCD_MOE_HESSIAN_GN (J^T J + ridge^2 I) or DEEPCD_MOE_HESSIAN_EXACT (adds sum_k r_k d2r_k/dw2)

  Output Parameters:
+ f - the objective (may be NULL)
. g - the gradient (N; may be NULL)
- H - the Hessian, N x N, symmetric (may be NULL: then no O(m N^2) work is done)

  Notes:
  J^T J is one BLAS syrk; the second-order term is one gemm per nonzero pair
  (a, b) of d2F/dq_a dq_b over the PDE rows (one for Burgers, two for
  diffusion-sorption, none for heat).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintNormal(DeepCDMoeConstraint c, const PetscReal w[], DeepCDMoeHessianType type, PetscReal *f, PetscReal g[], PetscReal H[])
{
  const PetscInt  N = c->N, m = c->m, mp = c->mpde, nf = c->nf;
  const PetscReal one = 1.0, zero = 0.0, r2 = c->ridge * c->ridge;
  const PetscInt  inc = 1;
  PetscBLASInt    bN, bm, bmp;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintEvaluate(c, w, PETSC_TRUE, (PetscBool) (H && type == DEEPCD_MOE_HESSIAN_EXACT)));
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscBLASIntCast(m, &bm));
  PetscCall(PetscBLASIntCast(mp, &bmp));
  if (f) {
    PetscReal s = 0.0;
    for (PetscInt k = 0; k < m; k++) s += c->F[k] * c->F[k];
    for (PetscInt l = 0; l < N; l++) s += r2 * w[l] * w[l];
    *f = 0.5 * s;
  }
  if (g) {
    if (m)
      PetscCallBLAS("BLASgemv", BLASgemv_("N", &bN, &bm, &one, c->J, &bN, c->F, &inc, &zero, g, &inc));
    else
      PetscCall(PetscArrayzero(g, N));
    for (PetscInt l = 0; l < N; l++) g[l] += r2 * w[l];
  }
  if (H) {
    /* column-major J^T is N x m: H = J^T J (upper triangle), then mirrored */
    if (m)
      PetscCallBLAS("BLASsyrk", BLASsyrk_("U", "N", &bN, &bm, &one, c->J, &bN, &zero, H, &bN));
    else
      PetscCall(PetscArrayzero(H, N * N));
    for (PetscInt j = 0; j < N; j++)
      for (PetscInt i = 0; i < j; i++) H[j + i * N] = H[i + j * N];
    for (PetscInt l = 0; l < N; l++) H[l + l * N] += r2;
    PetscCall(PetscLogFlops(1.0 * m * N * (N + 1)));
    if (type == DEEPCD_MOE_HESSIAN_EXACT && c->hasd2 && mp) {
      for (PetscInt a = 0; a < nf; a++) {
        for (PetscInt b = a; b < nf; b++) {
          PetscBool        nz   = PETSC_FALSE;
          const PetscReal *Phia = c->Phi + a * m * N, *Phib = c->Phi + b * m * N;

          for (PetscInt k = 0; k < mp; k++) nz = (PetscBool) (nz || c->d2F[nf * nf * k + nf * a + b] != 0.0);
          if (!nz) continue;
          /* Psi_k = r_k d2F_ab,k Phi_b,k;  M = Phi_a^T Psi */
          for (PetscInt k = 0; k < mp; k++) {
            const PetscReal sk = c->F[k] * c->d2F[nf * nf * k + nf * a + b];
            for (PetscInt l = 0; l < N; l++) c->Psi[k * N + l] = sk * Phib[k * N + l];
          }
          PetscCallBLAS("BLASgemm", BLASgemm_("N", "T", &bN, &bN, &bmp, &one, Phia, &bN, c->Psi, &bN, &zero, c->M, &bN));
          for (PetscInt j = 0; j < N; j++)
            for (PetscInt i = 0; i < N; i++) H[i + j * N] += a == b ? c->M[i + j * N] : c->M[i + j * N] + c->M[j + i * N];
          PetscCall(PetscLogFlops(2.0 * mp * N * N));
        }
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeConstraintBasisVJP - The vector-Jacobian product in the basis of the stationarity condition G(w, B) = J^T r + ridge^2 w.

  Not Collective

  Input Parameters:
+ c - the constraint, with its basis set
. w - the weights at which G is taken (N)
- v - the vector (N)

  Output Parameter:
. Bbar - d(v . G)/dB is ADDED to it (row-major nx*ny*nt x N, the whole grid; only stencil points of the rows change, or every point when the problem reads the velocity)

  Notes:
  With q_k = Phi_k w and s_k = Phi_k v per field, row k contributes to the
  feature Phi_{a,k} the vector alpha_a w + beta_a v, where
  alpha_a = dF_a (J_k v) + r_k sum_b d2F_ab s_b and beta_a = r_k dF_a; the
  stencils' transposes carry it to B. For a linear problem this is
  r v^T + (A v) w^T pushed through the stencils.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintBasisVJP(DeepCDMoeConstraint c, const PetscReal w[], const PetscReal v[], PetscReal Bbar[])
{
  const PetscInt  N = c->N, m = c->m, nf = c->nf, P = DeepCDMoeGridSize(&c->grid);
  const PetscReal one = 1.0, zero = 0.0;
  const PetscInt  inc = 1;
  PetscBLASInt    bN, bm;

  PetscFunctionBegin;
  if (!m) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDMoeConstraintEvaluate(c, w, PETSC_FALSE, PETSC_TRUE));
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscBLASIntCast(m, &bm));
  for (PetscInt a = 0; a < nf; a++) PetscCallBLAS("BLASgemv", BLASgemv_("T", &bN, &bm, &one, c->Phi + a * m * N, &bN, v, &inc, &zero, c->s + a * m, &inc));
  if (c->V) PetscCall(PetscArrayzero(c->V, 2 * P * N)); /* now the adjoints of the velocity fields */
  for (PetscInt k = 0; k < m; k++) {
    PetscReal Jv = 0.0, alpha[DEEPCD_MOE_MAX_FIELDS], beta[DEEPCD_MOE_MAX_FIELDS];

    for (PetscInt a = 0; a < nf; a++) Jv += c->dF[a * m + k] * c->s[a * m + k];
    for (PetscInt a = 0; a < nf; a++) {
      alpha[a] = c->dF[a * m + k] * Jv;
      beta[a]  = c->F[k] * c->dF[a * m + k];
      if (k < c->mpde && c->hasd2)
        for (PetscInt b = 0; b < nf; b++) alpha[a] += c->F[k] * c->d2F[nf * nf * k + nf * a + b] * c->s[b * m + k];
    }
    for (PetscInt a = 0; a < nf; a++) {
      PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
      PetscReal coef[DEEPCD_MOE_MAX_STENCIL];

      if (alpha[a] == 0.0 && beta[a] == 0.0) continue;
      if (a == DEEPCD_MOE_VX || a == DEEPCD_MOE_VY) {
        const PetscInt  p  = DeepCDMoePointNumber(&c->grid, &c->pt[k]);
        PetscReal      *vb = c->V + ((a - DEEPCD_MOE_VX) * P + p) * N;
        const PetscReal sc = c->bs ? c->bs[p] : 1.0;

        for (PetscInt l = 0; l < N; l++) vb[l] += sc * (alpha[a] * w[l] + beta[a] * v[l]);
        continue;
      }
      PetscCall(DeepCDMoeGridStencilAt(&c->grid, (DeepCDMoeField) a, DeepCDMoePointNumber(&c->grid, &c->pt[k]), &n, idx, coef));
      if (c->bs)
        for (PetscInt s = 0; s < n; s++) coef[s] *= c->bs[idx[s]];
      for (PetscInt s = 0; s < n; s++) {
        const PetscReal ca = coef[s] * alpha[a], cb = coef[s] * beta[a];
        PetscReal      *bb = Bbar + idx[s] * N;
        for (PetscInt l = 0; l < N; l++) bb[l] += ca * w[l] + cb * v[l];
      }
    }
  }
  if (c->V) PetscCall(DeepCDMoeGridVelocityTranspose(&c->grid, N, c->V, c->V + P * N, Bbar));
  PetscFunctionReturn(PETSC_SUCCESS);
}
