/* The grid's own finite-difference solution of a problem: the square system
   of one row per grid point (initial rows at j = 0, boundary rows on the
   walls, the PDE residual with the grid's stencils inside), solved by Newton.
   A hard-constrained model whose outer loss reaches 0 is this solution, so
   its distance to the closed form is the floor of the grid's discretisation
   (docs/moe.md). */
#include <deepcd/private/moeimpl.h>
#include <petscsnes.h>
#include <deepcd/private/petsccompat.h>

typedef struct {
  DeepCDMoePDE         pde;
  const DeepCDMoeGrid *g;
  PetscReal           *q; /* DEEPCD_MOE_NFIELDS x P */
} Ctx;

/* the local quantities q of u on the whole grid, then the rows at every point (and dr/dq there when drdq is given) */
static PetscErrorCode rows(Ctx *c, const PetscReal u[], PetscReal r[], PetscReal drdq[])
{
  const PetscInt P = c->g->nx * c->g->nt;

  PetscFunctionBegin;
  PetscCall(PetscArraycpy(c->q, u, P));
  for (PetscInt a = 1; a < DEEPCD_MOE_NFIELDS; a++) PetscCall(DeepCDMoeGridDerivative(c->g, (DeepCDMoeField) a, 1, u, c->q + a * P));
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    PetscReal      qp[DEEPCD_MOE_NFIELDS], d[DEEPCD_MOE_NFIELDS], rp;
    PetscInt       term;

    PetscCall(DeepCDMoeGridPoint(c->g, p, &pt));
    for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) qp[a] = c->q[a * P + p];
    PetscCall(DeepCDMoeGridRow(c->pde, c->g, PETSC_TRUE, &pt, qp, &rp, d, NULL, &term));
    if (r) r[p] = rp;
    if (drdq)
      for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) drdq[p * DEEPCD_MOE_NFIELDS + a] = d[a];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode form_function(SNES snes, Vec U, Vec R, void *ctx)
{
  const PetscScalar *u;
  PetscScalar       *r;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(U, &u));
  PetscCall(VecGetArray(R, &r));
  PetscCall(rows((Ctx *) ctx, u, r, NULL));
  PetscCall(VecRestoreArray(R, &r));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* row p: dr/du[idx] = sum over the quantities a of dr/dq_a times a's stencil coefficient at idx */
static PetscErrorCode form_jacobian(SNES snes, Vec U, Mat J, Mat Jpre, void *ctx)
{
  Ctx               *c = (Ctx *) ctx;
  const PetscInt     P = c->g->nx * c->g->nt;
  const PetscScalar *u;
  PetscReal         *drdq;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(DEEPCD_MOE_NFIELDS * P, &drdq));
  PetscCall(VecGetArrayRead(U, &u));
  PetscCall(rows(c, u, NULL, drdq));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscCall(MatZeroEntries(Jpre));
  for (PetscInt p = 0; p < P; p++) {
    for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) {
      PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
      PetscReal coef[DEEPCD_MOE_MAX_STENCIL];

      if (drdq[p * DEEPCD_MOE_NFIELDS + a] == 0.0) continue;
      PetscCall(DeepCDMoeGridStencil(c->g, (DeepCDMoeField) a, p % c->g->nx, p / c->g->nx, &n, idx, coef));
      for (PetscInt s = 0; s < n; s++) coef[s] *= drdq[p * DEEPCD_MOE_NFIELDS + a];
      PetscCall(MatSetValues(Jpre, 1, &p, n, idx, coef, ADD_VALUES));
    }
  }
  PetscCall(PetscFree(drdq));
  PetscCall(MatAssemblyBegin(Jpre, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(Jpre, MAT_FINAL_ASSEMBLY));
  if (J != Jpre) {
    PetscCall(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEDiscreteSolve - The grid's own finite-difference solution of the problem's instance: every row of the whole-grid
  system (the rows of the outer loss, DeepCDMoeLoss()) equal to 0.

  Not Collective

  Input Parameters:
+ pde - the problem, with the instance's parameters set
. g   - the grid
- u   - the initial guess (nx*nt values; for example the closed form on the grid)

  Output Parameters:
+ u   - the solution
- its - Newton steps taken (may be NULL)

  Options Database Keys:
. -moe_discrete_snes_* - the Newton solver (default: rtol 1e-12, direct LU solves of the sparse Jacobian)

  Notes:
  The system is square: the initial row at j = 0, the boundary row on the walls, the PDE row with the grid's second-order
  stencils (DeepCDMoeGridStencil(), central in t as well as in x) everywhere else. A hard-constrained model whose outer loss is
  0 is this solution; its relative L2 distance to the closed form is the discretisation floor of the grid. A solve that does
  not converge is an error.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEDiscreteSolve(DeepCDMoePDE pde, const DeepCDMoeGrid *g, PetscReal u[], PetscInt *its)
{
  const PetscInt      P = g->nx * g->nt;
  Ctx                 c = { pde, g, NULL };
  SNES                snes;
  KSP                 ksp;
  PC                  pc;
  Mat                 J;
  Vec                 U, R;
  SNESConvergedReason reason;
  PetscInt            n;

  PetscFunctionBegin;
  PetscAssertPointer(pde, 1);
  PetscAssertPointer(g, 2);
  PetscAssertPointer(u, 3);
  PetscCall(PetscMalloc1(DEEPCD_MOE_NFIELDS * P, &c.q));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, P, &U));
  PetscCall(VecDuplicate(U, &R));
  /* at most 1 + 3 + 3 + 4 stencil points per row */
  PetscCall(MatCreateSeqAIJ(PETSC_COMM_SELF, P, P, 11, NULL, &J));
  PetscCall(MatSetOption(J, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
  PetscCall(SNESCreate(PETSC_COMM_SELF, &snes));
  PetscCall(SNESSetOptionsPrefix(snes, "moe_discrete_"));
  PetscCall(SNESSetFunction(snes, R, form_function, &c));
  PetscCall(SNESSetJacobian(snes, J, J, form_jacobian, &c));
  PetscCall(SNESSetTolerances(snes, 1e-12, 1e-12, 1e-14, 50, PETSC_DEFAULT));
  PetscCall(SNESGetKSP(snes, &ksp));
  PetscCall(KSPSetType(ksp, KSPPREONLY));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCLU));
  PetscCall(SNESSetFromOptions(snes));
  PetscCall(VecPlaceArray(U, u));
  PetscCall(SNESSolve(snes, NULL, U));
  PetscCall(VecResetArray(U));
  PetscCall(SNESGetConvergedReason(snes, &reason));
  PetscCall(SNESGetIterationNumber(snes, &n));
  PetscCall(SNESDestroy(&snes));
  PetscCall(MatDestroy(&J));
  PetscCall(VecDestroy(&R));
  PetscCall(VecDestroy(&U));
  PetscCall(PetscFree(c.q));
  PetscCheck(reason > 0, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "moe discrete solve of %s on %" PetscInt_FMT " x %" PetscInt_FMT ": Newton did not converge (%s after %" PetscInt_FMT " steps)", pde->type, g->nx, g->nt, SNESConvergedReasons[reason], n);
  if (its) *its = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}
