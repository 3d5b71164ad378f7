/* The solve of one loaded problem as `deepcd solve` does it, shared with
   `deepcd batch` (which runs it on each group's communicator). */
#include <stdio.h>
#include <deepcd.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

/* The convergence test's settings: PETSc takes -ksp_rtol 2 (no iteration,
   x = 0 written), negative and NaN tolerances without complaint. */
static PetscErrorCode check_tolerance_values(MPI_Comm comm, PetscReal rtol, PetscReal atol, PetscReal dtol, PetscInt maxit)
{
  char g[32];

  PetscFunctionBegin;
  PetscCheck(rtol > 0 && rtol < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ksp_rtol %s: the relative tolerance must be above 0 and below 1", DeepCDFormatG(g, (double) rtol));
  PetscCheck(!PetscIsInfOrNanReal(atol) && atol >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ksp_atol %s: the absolute tolerance must be finite and non-negative", DeepCDFormatG(g, (double) atol));
  PetscCheck(!PetscIsInfOrNanReal(dtol) && dtol > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ksp_divtol %s: the divergence tolerance must be finite and positive", DeepCDFormatG(g, (double) dtol));
  PetscCheck(maxit >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ksp_max_it %" PetscInt_FMT ": the iteration limit must be non-negative", maxit);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLICheckToleranceOptions(void)
{
  PetscReal rtol = 1e-5, atol = 1e-50, dtol = 1e4;
  PetscInt  maxit = 10000;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-ksp_rtol", &rtol, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-ksp_atol", &atol, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-ksp_divtol", &dtol, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-ksp_max_it", &maxit, NULL));
  PetscCall(check_tolerance_values(PETSC_COMM_WORLD, rtol, atol, dtol, maxit));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After KSPSetFromOptions(), before the solve: whatever set them. */
static PetscErrorCode check_tolerances(KSP ksp)
{
  PetscReal rtol, atol, dtol;
  PetscInt  maxit;

  PetscFunctionBegin;
  PetscCall(KSPGetTolerances(ksp, &rtol, &atol, &dtol, &maxit));
  PetscCall(check_tolerance_values(PetscObjectComm((PetscObject) ksp), rtol, atol, dtol, maxit));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLISolveDefaults(KSP ksp)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPSetType(ksp, KSPDEEPCD));
  PetscCall(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLISolveHelp(void)
{
  KSP ksp;

  PetscFunctionBegin;
  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(DeepCDCLISolveDefaults(ksp));
  PetscCall(KSPSetFromOptions(ksp));
  PetscCall(KSPDestroy(&ksp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLISolveRun(DeepCDProblem p, PetscErrorCode (*configure)(KSP, void *), void *ctx, DeepCDCLISolve *s, DeepCDSolveInfo *info)
{
  PetscFunctionBegin;
  PetscCall(DeepCDOperatorSetUp(p, &s->A, &s->b));
  PetscCall(VecDuplicate(s->b, &s->x));
  PetscCall(PetscObjectSetName((PetscObject) s->x, "x"));
  if (p->x0)
    PetscCall(VecCopy(p->x0, s->x));
  else
    PetscCall(VecSet(s->x, 0.0));

  PetscCall(KSPCreate(PetscObjectComm((PetscObject) p->da), &s->ksp));
  PetscCall(KSPSetOperators(s->ksp, s->A, s->A));
  PetscCall(KSPSetDM(s->ksp, p->da)); /* geometric multigrid (-pc_type mg) can coarsen the grid */
  PetscCall(DeepCDKSPSetDMActive(s->ksp, PETSC_FALSE));
  PetscCall(DeepCDCLISolveDefaults(s->ksp));
  PetscCall(KSPSetInitialGuessNonzero(s->ksp, p->x0 ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(KSPSetFromOptions(s->ksp));
  PetscCall(check_tolerances(s->ksp));
  if (configure) PetscCall(configure(s->ksp, ctx));
  PetscCall(DeepCDSolveTimed(p, s->ksp, s->b, s->x, info));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLISolveDestroy(DeepCDCLISolve *s)
{
  PetscFunctionBegin;
  PetscCall(KSPDestroy(&s->ksp));
  PetscCall(VecDestroy(&s->x));
  PetscCall(VecDestroy(&s->b));
  PetscCall(MatDestroy(&s->A));
  PetscFunctionReturn(PETSC_SUCCESS);
}
