/* libFuzzer: the training data reader of deepcd train (its up-front validation, then one step of
   training on the file with the ref backend; docs/formats.md "Training data file"). */
#include "fuzz_common.h"
#include <deepcd/train.h>

static PetscErrorCode fuzz_read(const char path[])
{
  DeepCDTrainOptions o;
  DeepCDTrainHistory h;
  nn_model          *m = NULL;
  PetscErrorCode     ierr;

  memset(&h, 0, sizeof(h));
  if (DeepCDTrainOptionsDefault(&o)) abort();
  snprintf(o.data, sizeof(o.data), "%s", path);
  snprintf(o.backend, sizeof(o.backend), "ref");
  o.steps       = 1;
  o.batch       = 1;
  o.val_every   = 0;
  o.val_samples = 1;
  ierr          = DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &m, &h);
  if (m) nn_model_destroy(&m);
  if (DeepCDTrainHistoryDestroy(&h)) abort();
  return ierr;
}
