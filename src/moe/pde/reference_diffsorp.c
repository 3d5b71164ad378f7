/* The diffusion-sorption reference solution: PDEBench's cell-centred finite
   volumes (method of lines) integrated with PETSc TS and sampled onto the
   grid of the hard constraint.

   Cells k = 0..n-1 of width h = 1/n on (0, 1), centres (k + 1/2) h:
     du_k/dt = D / R(u_k) (u_{k-1} - 2 u_k + u_{k+1}) / h^2
   with ghost values that put the boundary conditions on the faces, so the
   scheme is second order: u(0) = 1 gives u_{-1} = 2 - u_0; on the right
   PDEBench's condition u = -D u_x (its code's ghost D (u_{n-2} - u_{n-1}) / h)
   gives the face value u_f = a u_{n-1}, a = (2D/h) / (1 + 2D/h), and
   u_n = 2 u_f - u_{n-1}. PDEBench itself uses the ghost values 1 and
   D (u_{n-2} - u_{n-1}) / h directly, which is first order at the walls.
   Note the reference hard-constraint rows use u = D u_x instead; both give
   u(1, t) ~ 0 once the boundary layer is wider than D. */
#include <deepcd/private/moeimpl.h>
#include <petscts.h>
#include <deepcd/private/petsccompat.h>

typedef struct {
  DeepCDMoePDE pde;
  PetscInt     n;
  PetscReal    h, D;
} FVCtx;

/* the right face value is a u_{n-1}; the ghost values are u_{-1} = 2 - u_0 and u_n = (2a - 1) u_{n-1} */
static PetscReal right_face(const FVCtx *c)
{
  return (2.0 * c->D / c->h) / (1.0 + 2.0 * c->D / c->h);
}

static void ghosts(const FVCtx *c, const PetscScalar *u, PetscReal *left, PetscReal *right)
{
  *left  = 2.0 - u[0];
  *right = (2.0 * right_face(c) - 1.0) * u[c->n - 1];
}

static PetscErrorCode ifunction(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  const FVCtx       *c = (const FVCtx *) ctx;
  const PetscScalar *u, *ud;
  PetscScalar       *f;
  PetscReal          left, right;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(U, &u));
  PetscCall(VecGetArrayRead(Udot, &ud));
  PetscCall(VecGetArray(F, &f));
  ghosts(c, u, &left, &right);
  for (PetscInt k = 0; k < c->n; k++) {
    const PetscReal um = k ? u[k - 1] : left, up = k < c->n - 1 ? u[k + 1] : right;
    PetscReal       R, R1, R2;

    DeepCDMoeDiffSorpRetardation(c->pde, u[k], &R, &R1, &R2);
    f[k] = ud[k] - c->D / R * (um - 2.0 * u[k] + up) / (c->h * c->h);
  }
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(Udot, &ud));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ijacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat P, void *ctx)
{
  const FVCtx       *c  = (const FVCtx *) ctx;
  const PetscReal    h2 = c->h * c->h, dl = -1.0, dr = 2.0 * right_face(c) - 1.0; /* d u_{-1} / d u_0, d u_n / d u_{n-1} */
  const PetscScalar *u;
  PetscReal          left, right;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(U, &u));
  ghosts(c, u, &left, &right);
  for (PetscInt k = 0; k < c->n; k++) {
    const PetscReal um = k ? u[k - 1] : left, up = k < c->n - 1 ? u[k + 1] : right, lap = (um - 2.0 * u[k] + up) / h2;
    PetscReal       R, R1, R2, g, dg, v[3], diag = -2.0;
    PetscInt        col[3], nc = 0;

    DeepCDMoeDiffSorpRetardation(c->pde, u[k], &R, &R1, &R2);
    g  = c->D / R;
    dg = -c->D * R1 / (R * R);
    if (k == 0) diag += dl;
    if (k == c->n - 1) diag += dr;
    if (k) col[nc] = k - 1, v[nc++] = -g / h2;
    col[nc] = k, v[nc++] = shift - dg * lap - g / h2 * diag;
    if (k < c->n - 1) col[nc] = k + 1, v[nc++] = -g / h2;
    PetscCall(MatSetValues(P, 1, &k, nc, col, v, INSERT_VALUES));
  }
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscCall(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  if (A != P) {
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* linear interpolation at x of the cell values and the face values u(0) = 1 and u(1) = a u_{n-1} */
static PetscReal sample_at(const FVCtx *c, const PetscScalar *u, PetscReal x)
{
  const PetscReal s = x / c->h - 0.5; /* cell-centre coordinate */
  PetscInt        k;

  if (s <= 0.0) return 1.0 + (u[0] - 1.0) * (x / (0.5 * c->h));
  if (s >= c->n - 1) return u[c->n - 1] + (right_face(c) - 1.0) * u[c->n - 1] * ((x - (1.0 - 0.5 * c->h)) / (0.5 * c->h));
  k = (PetscInt) s;
  return u[k] + (u[k + 1] - u[k]) * (s - k);
}

/*
  DeepCDMoeDiffSorpReference - the reference solution on a grid. Options:
  -moe_ref_cells (1024, PDEBench), -moe_ref_rtol (1e-8, also the absolute
  tolerance), and TS options with the prefix -moe_ref_ (default BDF, adaptive).
  At t = t0 it is the initial condition u = c.
*/
PetscErrorCode DeepCDMoeDiffSorpReference(DeepCDMoePDE pde, const DeepCDMoeGrid *g, PetscReal u[])
{
  FVCtx              c;
  PetscInt           n    = 1024;
  PetscReal          rtol = 1e-8, D;
  TS                 ts;
  Vec                U;
  Mat                J;
  const PetscScalar *a;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-moe_ref_cells", &n, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-moe_ref_rtol", &rtol, NULL));
  PetscCheck(n >= 4, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe diffsorp reference: -moe_ref_cells %" PetscInt_FMT ": need at least 4", n);
  PetscCheck(g->xlo == 0.0 && g->xhi == 1.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe diffsorp reference: the grid must span x in [0, 1]");
  PetscCall(DeepCDMoePDEGetConstant(pde, "D", &D));
  c.pde = pde, c.n = n, c.h = 1.0 / n, c.D = D;
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, n, &U));
  PetscCall(VecSet(U, pde->param[0]));
  PetscCall(MatCreateSeqAIJ(PETSC_COMM_SELF, n, n, 3, NULL, &J));
  PetscCall(TSCreate(PETSC_COMM_SELF, &ts));
  PetscCall(TSSetOptionsPrefix(ts, "moe_ref_"));
  PetscCall(TSSetType(ts, TSBDF));
  PetscCall(TSSetIFunction(ts, NULL, ifunction, &c));
  PetscCall(TSSetIJacobian(ts, J, J, ijacobian, &c));
  PetscCall(TSSetTime(ts, g->t0));
  PetscCall(TSSetTimeStep(ts, 1e-6 * (g->t1 - g->t0)));
  PetscCall(TSSetMaxSteps(ts, PETSC_MAX_INT));
  PetscCall(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  PetscCall(TSSetTolerances(ts, rtol, NULL, rtol, NULL));
  PetscCall(TSSetFromOptions(ts));
  for (PetscInt i = 0; i < g->nx; i++) u[i] = pde->param[0];
  for (PetscInt j = 1; j < g->nt; j++) {
    TSConvergedReason reason;

    PetscCall(TSSetMaxTime(ts, g->t0 + j * g->ht));
    PetscCall(TSSolve(ts, U));
    PetscCall(TSGetConvergedReason(ts, &reason));
    PetscCheck(reason >= 0, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "moe diffsorp reference: TS diverged (%s) before t = %g", TSConvergedReasons[reason], (double) (g->t0 + j * g->ht));
    PetscCall(VecGetArrayRead(U, &a));
    for (PetscInt i = 0; i < g->nx; i++) u[j * g->nx + i] = sample_at(&c, a, g->xlo + i * g->hx);
    PetscCall(VecRestoreArrayRead(U, &a));
  }
  PetscCall(TSDestroy(&ts));
  PetscCall(MatDestroy(&J));
  PetscCall(VecDestroy(&U));
  PetscFunctionReturn(PETSC_SUCCESS);
}
