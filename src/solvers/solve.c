/* One timed solve of a problem with a configured KSP, and its record. */
#include <deepcd/solution.h>
#include <deepcd/operator.h>

/*@C
  DeepCDSolveTimed - Sets up and runs a configured KSP on a problem, puts the
  solution in its documented form and records what happened.

  Collective

  Input Parameters:
+ p   - the problem
. ksp - the solver, with operators from DeepCDOperatorSetUp() and its options set
- b   - the right-hand side from DeepCDOperatorSetUp()

  Input/Output Parameter:
. x - the initial guess on input (used when KSPSetInitialGuessNonzero() is set), the solution on output

  Output Parameter:
. info - iterations, reason, residual norm and history (owned by the KSP:
         valid until it is destroyed or solves again), types, setup and solve seconds

  Notes:
  Records the whole residual history (KSPSetResidualHistory() with room for
  every iteration up to the KSP's maximum).

  Level: beginner

.seealso: `DeepCDSolutionWrite()`, `DeepCDProblemFinishSolution()`
@*/
PetscErrorCode DeepCDSolveTimed(DeepCDProblem p, KSP ksp, Vec b, Vec x, DeepCDSolveInfo *info)
{
  PetscLogDouble t0, t1, t2;
  Mat            A;
  PC             pc;
  PCType         pctype;

  PetscFunctionBegin;
  {
    PetscInt maxit;

    PetscCall(KSPGetTolerances(ksp, NULL, NULL, NULL, &maxit));
    PetscCall(KSPSetResidualHistory(ksp, NULL, maxit + 1, PETSC_TRUE));
  }
  PetscCall(PetscTime(&t0));
  PetscCall(KSPSetUp(ksp));
  PetscCall(PetscTime(&t1));
  PetscCall(KSPSolve(ksp, b, x));
  PetscCall(PetscTime(&t2));
  PetscCall(KSPGetOperators(ksp, &A, NULL));
  PetscCall(DeepCDProblemFinishSolution(p, A, x));

  PetscCall(KSPGetIterationNumber(ksp, &info->iterations));
  PetscCall(KSPGetConvergedReason(ksp, &info->reason));
  PetscCall(KSPGetResidualNorm(ksp, &info->residual_norm));
  PetscCall(KSPGetResidualHistory(ksp, &info->history, &info->nhistory));
  PetscCall(KSPGetType(ksp, &info->ksp_type));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCGetType(pc, &pctype));
  info->pc_type       = pctype ? pctype : "none";
  info->setup_seconds = t1 - t0;
  info->solve_seconds = t2 - t1;
  PetscFunctionReturn(0);
}
