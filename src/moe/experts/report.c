/* Per-expert record of the last solve: Levenberg-Marquardt steps, whether
   the cap was hit, the expert's own 1/2 ||r||^2 and the conditioning of its
   normal matrix (see DeepCDMoeExpertsGetReport()). */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

/* log10 of the 2-norm condition number of a symmetric positive semi-definite N x N matrix (overwritten); +inf when singular */
static PetscErrorCode log10_cond(PetscInt N, PetscReal H[], PetscReal *lc)
{
  PetscBLASInt bN, lwork, lierr;
  PetscReal   *ev, *work, lo, hi;

  PetscFunctionBegin;
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscBLASIntCast(3 * N, &lwork));
  PetscCall(PetscMalloc2(N, &ev, 3 * N, &work));
  PetscCallBLAS("LAPACKsyev", LAPACKsyev_("N", "U", &bN, H, &bN, ev, work, &lwork, &lierr));
  PetscCheck(lierr == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK syev: info %d", (int) lierr);
  lo  = ev[0];
  hi  = ev[N - 1];
  *lc = lo > 0.0 ? PetscLog10Real(hi / lo) : PETSC_INFINITY;
  PetscCall(PetscFree2(ev, work));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetReport - The record of the last solve of every expert, on every rank.

  Collective

  Input Parameter:
. e - the experts, after DeepCDMoeExpertsSolve()

  Output Parameter:
. rep - K records: LM steps (the joint steps with interface coupling), 1 if the step cap stopped the solve, 1/2 ||r_k||^2 of the
        expert's own rows (ridge rows included, interface rows not) and log10 cond(J_k^T J_k + ridge^2 I) at w_k

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetReport(DeepCDMoeExperts e, DeepCDMoeExpertReport rep[])
{
  const PetscInt N = e->N;
  PetscReal     *H;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCall(PetscArrayzero(rep, e->K));
  PetscCall(PetscMalloc1(N * N, &H));
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    PetscCheck(e->solved[k], PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSolve() first");
    rep[k].its    = (PetscReal) e->info[k].its;
    rep[k].capped = e->info[k].reason == DEEPCD_MOE_LM_DIVERGED_MAXIT ? 1.0 : 0.0;
    rep[k].f      = e->info[k].f;
    PetscCall(DeepCDMoeConstraintNormal(e->con[k], e->w + k * N, DEEPCD_MOE_HESSIAN_GN, NULL, NULL, H));
    PetscCall(log10_cond(N, H, &rep[k].log10cond));
  }
  PetscCall(PetscFree(H));
  PetscCall(DeepCDMoeExpertsAllreduce(e, 4 * e->K, (PetscReal *) rep));
  PetscFunctionReturn(PETSC_SUCCESS);
}
