/* libFuzzer: the training checkpoint reader (deepcd train --resume; docs/formats.md "Training
   checkpoint"): the checkpoint's options, then a resumed run of one more step on the training data
   named by DEEPCD_FUZZ_DATA (a valid file, so that only the checkpoint varies). */
#include "fuzz_common.h"
#include <deepcd/train.h>

static PetscErrorCode fuzz_read(const char path[])
{
  DeepCDTrainOptions o;
  DeepCDTrainHistory h;
  nn_model          *m    = NULL;
  const char        *data = getenv("DEEPCD_FUZZ_DATA");
  PetscInt           step = 0;
  PetscErrorCode     ierr;

  memset(&h, 0, sizeof(h));
  if (!data) abort();
  if (DeepCDTrainOptionsDefault(&o)) abort();
  ierr = DeepCDTrainCheckpointOptions(PETSC_COMM_SELF, path, &o, &step);
  if (ierr) return ierr;
  snprintf(o.data, sizeof(o.data), "%s", data);
  o.checkpoint[0] = 0; /* nothing written */
  o.steps         = step + 1;
  o.stop_at       = 0;
  ierr            = DeepCDTrain(PETSC_COMM_SELF, &o, path, NULL, NULL, &m, &h);
  if (m) nn_model_destroy(&m);
  if (DeepCDTrainHistoryDestroy(&h)) abort();
  return ierr;
}
