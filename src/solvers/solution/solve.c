/* One timed solve of a problem with a configured KSP, and its record. */
#include <deepcd/solution.h>
#include <deepcd/operator.h>
#include <deepcd/private/petsccompat.h>

/* entries of the residual history kept at most (the first ones) */
#define DEEPCD_HISTORY_MAX 1000000

/* Wall time of every residual the KSP records, for residual-vs-time plots. */
typedef struct {
  PetscLogDouble start;
  PetscInt       n;
  PetscReal     *seconds;
} SolveClock;

static PetscErrorCode solve_clock_monitor(KSP ksp, PetscInt its, PetscReal rnorm, void *ctx)
{
  SolveClock    *c = (SolveClock *) ctx;
  PetscLogDouble now;

  PetscFunctionBegin;
  PetscCall(PetscTime(&now));
  if (its >= 0 && its < c->n) c->seconds[its] = now - c->start;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode solve_clock_destroy(DeepCDCtxRt ctx)
{
  SolveClock *c = *(SolveClock **) ctx;

  PetscFunctionBegin;
  PetscCall(PetscFree(c->seconds));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

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
  Records the residual history (KSPSetResidualHistory() with room for
  every iteration up to the KSP's maximum, at most the first DEEPCD_HISTORY_MAX = 10^6 entries) and, through a KSP monitor, the
  wall time at which each entry was recorded (info->history_seconds, owned by
  the KSP like the history).

  Level: beginner

.seealso: `DeepCDSolutionWrite()`, `DeepCDProblemFinishSolution()`
@*/
PetscErrorCode DeepCDSolveTimed(DeepCDProblem p, KSP ksp, Vec b, Vec x, DeepCDSolveInfo *info)
{
  PetscLogDouble t0, t1, t2;
  SolveClock    *clock;
  Mat            A;
  PC             pc;
  PCType         pctype;

  PetscFunctionBegin;
  {
    PetscInt maxit;

    PetscCall(KSPGetTolerances(ksp, NULL, NULL, NULL, &maxit));
    /* the first DEEPCD_HISTORY_MAX entries at most: -ksp_max_it 2000000000 would allocate 32 GB */
    maxit = PetscMin(maxit, DEEPCD_HISTORY_MAX - 1);
    PetscCall(KSPSetResidualHistory(ksp, NULL, maxit + 1, PETSC_TRUE));
    PetscCall(PetscNew(&clock));
    clock->n = maxit + 1;
    PetscCall(PetscCalloc1(clock->n, &clock->seconds));
    PetscCall(KSPMonitorSet(ksp, solve_clock_monitor, clock, solve_clock_destroy));
  }
  PetscCall(PetscTime(&t0));
  PetscCall(KSPSetUp(ksp));
  PetscCall(PetscTime(&t1));
  clock->start = t1;
  PetscCall(KSPSolve(ksp, b, x));
  PetscCall(PetscTime(&t2));
  PetscCall(KSPGetOperators(ksp, &A, NULL));
  PetscCall(DeepCDProblemFinishSolution(p, A, x));

  PetscCall(KSPGetIterationNumber(ksp, &info->iterations));
  PetscCall(KSPGetConvergedReason(ksp, &info->reason));
  PetscCall(KSPGetResidualNorm(ksp, &info->residual_norm));
  PetscCall(KSPGetResidualHistory(ksp, &info->history, &info->nhistory));
  info->history_seconds = info->nhistory <= clock->n ? clock->seconds : NULL;
  PetscCall(KSPGetType(ksp, &info->ksp_type));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCGetType(pc, &pctype));
  info->pc_type       = pctype ? pctype : "none";
  info->setup_seconds = t1 - t0;
  info->solve_seconds = t2 - t1;
  PetscFunctionReturn(PETSC_SUCCESS);
}
