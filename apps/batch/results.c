/* The per-problem results of a batch. */
#include "batch.h"

const char *const DeepCDBatchStatusNames[] = { "not-run", "ok", "resumed", "failed", "interrupted" };

void DeepCDBatchCount(PetscInt n, const DeepCDBatchResult r[], PetscInt count[5])
{
  for (int s = 0; s < 5; s++) count[s] = 0;
  for (PetscInt i = 0; i < n; i++)
    if (r[i].status >= 0 && r[i].status < 5) count[r[i].status]++;
}

PetscErrorCode DeepCDBatchResultsMerge(MPI_Comm comm, PetscInt n, DeepCDBatchResult results[])
{
  const size_t   bytes = sizeof(DeepCDBatchResult) * (size_t) n, chunk = (size_t) 1 << 30;
  PetscMPIInt    rank;
  unsigned char *buf = (unsigned char *) results;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* each entry is zero on all ranks but the one that filled it: OR merges */
  for (size_t off = 0; off < bytes; off += chunk) {
    const int len = (int) (bytes - off < chunk ? bytes - off : chunk);

    PetscCallMPI(MPI_Reduce(rank ? buf + off : MPI_IN_PLACE, rank ? NULL : buf + off, len, MPI_BYTE, MPI_BOR, 0, comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
