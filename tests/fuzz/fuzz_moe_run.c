/* libFuzzer: the MoE run file and checkpoint reader (DeepCDMoeTrainerLoad, docs/formats.md "MoE run file"). */
#include "fuzz_common.h"
#include <deepcd/moe.h>

static PetscErrorCode fuzz_read(const char path[])
{
  DeepCDMoeTrainer t = NULL;
  PetscErrorCode   ierr;

  ierr = DeepCDMoeTrainerLoad(PETSC_COMM_SELF, path, &t);
  if (!ierr && DeepCDMoeTrainerDestroy(&t)) abort();
  return ierr;
}
