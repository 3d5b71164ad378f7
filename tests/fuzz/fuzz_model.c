/* libFuzzer: the CNN model file reader (DeepCDModelRead, docs/formats.md section 5). */
#include "fuzz_common.h"
#include <deepcd/model_io.h>

static PetscErrorCode fuzz_read(const char path[])
{
  nn_model      *m = NULL;
  PetscErrorCode ierr;

  ierr = DeepCDModelRead(PETSC_COMM_SELF, path, &m);
  if (!ierr) nn_model_destroy(&m);
  return ierr;
}
