/* The per-expert report of a trained model: its experts' solves averaged
   over the held-out instances (deepcd moe eval --report). */
#include <deepcd/private/moetrainimpl.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeTrainerGetExperts - The experts of a hard model (their solves of the last prediction or step); NULL for the soft model.

  Not Collective

  Level: advanced
@*/
PetscErrorCode DeepCDMoeTrainerGetExperts(DeepCDMoeTrainer t, DeepCDMoeExperts *ex)
{
  PetscFunctionBegin;
  *ex = t->ex;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeTrainerReport - Each expert's solve record (DeepCDMoeExpertsGetReport()) averaged over the held-out instances.

  Collective

  Input Parameter:
. t - a trainer of the hard model

  Output Parameter:
. rep - K = kx kt records: mean LM steps, the fraction of solves stopped by the step cap, mean 1/2 ||r_k||^2 and mean log10 cond(J_k^T J_k + ridge^2 I)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeTrainerReport(DeepCDMoeTrainer t, DeepCDMoeExpertReport rep[])
{
  const PetscInt         K = t->o.kx * t->o.kt, n = t->o.ntest;
  DeepCDMoeExpertReport *one;

  PetscFunctionBegin;
  PetscCheck(t->ex, t->comm, PETSC_ERR_ARG_WRONG, "moe report: the soft model has no experts");
  PetscCall(PetscMalloc1(K, &one));
  PetscCall(PetscArrayzero(rep, K));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(DeepCDMoeTrainerPredict(t, t->test + i * t->np, t->u));
    PetscCall(DeepCDMoeExpertsGetReport(t->ex, one));
    for (PetscInt k = 0; k < K; k++) {
      rep[k].its += one[k].its / n;
      rep[k].capped += one[k].capped / n;
      rep[k].f += one[k].f / n;
      rep[k].log10cond += one[k].log10cond / n;
    }
  }
  PetscCall(PetscFree(one));
  PetscFunctionReturn(PETSC_SUCCESS);
}
