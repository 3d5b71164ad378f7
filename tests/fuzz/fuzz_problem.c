/* libFuzzer: the problem file reader (DeepCDProblemLoad, docs/formats.md section 1). */
#include "fuzz_common.h"

static PetscErrorCode fuzz_read(const char path[])
{
  DeepCDProblem  p = NULL;
  PetscErrorCode ierr;

  ierr = DeepCDProblemLoad(PETSC_COMM_SELF, path, &p);
  if (!ierr && DeepCDProblemDestroy(&p)) abort();
  return ierr;
}
