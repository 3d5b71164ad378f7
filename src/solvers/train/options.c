/* The defaults of a training run's options and the loss history: what a
   checkpoint stores besides the model and the optimiser. */
#include <petsc/private/petscimpl.h>
#include <deepcd/train.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDTrainOptionsDefault - Fills training options with the defaults of `deepcd train`.

  Not Collective

  Output Parameter:
. o - the options: arch from64, backend cpu, 1000 steps, batch 8, lr 1e-3 with a cosine
      schedule to 1e-5 and no warm-up, no weight decay, half of each sample's squared norm
      replaced by white noise, 10 % of the samples held out, validation every 50 steps on at
      most 64 samples, seed 1, no checkpoint file

  Level: intermediate

.seealso: `DeepCDTrain()`
@*/
PetscErrorCode DeepCDTrainOptionsDefault(DeepCDTrainOptions *o)
{
  PetscFunctionBegin;
  PetscAssertPointer(o, 1);
  PetscCall(PetscMemzero(o, sizeof(*o)));
  PetscCall(PetscStrncpy(o->arch, "from64", sizeof(o->arch)));
  PetscCall(PetscStrncpy(o->backend, "cpu", sizeof(o->backend)));
  PetscCall(PetscStrncpy(o->schedule, "cosine", sizeof(o->schedule)));
  o->steps         = 1000;
  o->batch         = 8;
  o->lr            = 1e-3;
  o->lr_min_factor = 1e-2;
  o->warmup        = 0;
  o->val_fraction  = 0.1;
  o->noise         = 0.5;
  o->val_every     = 50;
  o->val_samples   = 64;
  o->seed          = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainHistoryDestroy - Frees a loss history.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDTrainHistoryDestroy(DeepCDTrainHistory *h)
{
  PetscFunctionBegin;
  if (!h) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(h->step));
  PetscCall(PetscFree(h->loss));
  PetscCall(PetscFree(h->val_loss));
  h->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
