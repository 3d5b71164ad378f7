/* The handout of a batch's problems: a counter in an MPI window on world
   rank 0, advanced by each group's rank 0 with MPI_Fetch_and_op (passive
   target: no process waits for another to hand out work, so there is no
   dispatcher loop to deadlock). The problems are sorted largest first, so
   taking them in counter order hands out the largest first. */
#include "batch.h"

enum { SLOT_NEXT,
       SLOT_STOP,
       SLOT_DONE,
       SLOT_FAILED,
       NSLOTS };

struct _n_DeepCDBatchDispatch {
  MPI_Win  win;
  int     *base;
  PetscInt n;
};

PetscErrorCode DeepCDBatchDispatchCreate(MPI_Comm comm, PetscInt n, DeepCDBatchDispatch *d)
{
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscNew(d));
  (*d)->n = n;
  PetscCallMPI(MPI_Win_allocate(rank ? 0 : NSLOTS * (MPI_Aint) sizeof(int), sizeof(int), MPI_INFO_NULL, comm, &(*d)->base, &(*d)->win));
  if (!rank) {
    PetscCallMPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, (*d)->win));
    for (int s = 0; s < NSLOTS; s++) (*d)->base[s] = 0;
    PetscCallMPI(MPI_Win_unlock(0, (*d)->win));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fetch_op(DeepCDBatchDispatch d, int slot, int add, MPI_Op op, int *old)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, d->win));
  PetscCallMPI(MPI_Fetch_and_op(&add, old, MPI_INT, 0, slot, op, d->win));
  PetscCallMPI(MPI_Win_unlock(0, d->win));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchDispatchNext(DeepCDBatchDispatch d, PetscInt *next)
{
  int stop, i;

  PetscFunctionBegin;
  *next = -1;
  PetscCall(fetch_op(d, SLOT_STOP, 0, MPI_NO_OP, &stop));
  if (stop) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(fetch_op(d, SLOT_NEXT, 1, MPI_SUM, &i));
  if (i < d->n) *next = i;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchDispatchStop(DeepCDBatchDispatch d)
{
  int old;

  PetscFunctionBegin;
  PetscCall(fetch_op(d, SLOT_STOP, 1, MPI_REPLACE, &old));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchDispatchCount(DeepCDBatchDispatch d, PetscBool failed, PetscInt *done)
{
  int old;

  PetscFunctionBegin;
  PetscCall(fetch_op(d, SLOT_DONE, 1, MPI_SUM, &old));
  *done = old + 1;
  if (failed) PetscCall(fetch_op(d, SLOT_FAILED, 1, MPI_SUM, &old));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchDispatchProgress(DeepCDBatchDispatch d, PetscInt *done, PetscInt *failed, PetscBool *stopped)
{
  int v[3];

  PetscFunctionBegin;
  PetscCall(fetch_op(d, SLOT_DONE, 0, MPI_NO_OP, &v[0]));
  PetscCall(fetch_op(d, SLOT_FAILED, 0, MPI_NO_OP, &v[1]));
  PetscCall(fetch_op(d, SLOT_STOP, 0, MPI_NO_OP, &v[2]));
  *done    = v[0];
  *failed  = v[1];
  *stopped = v[2] ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDBatchDispatchDestroy(DeepCDBatchDispatch *d)
{
  PetscFunctionBegin;
  if (!*d) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Win_free(&(*d)->win));
  PetscCall(PetscFree(*d));
  PetscFunctionReturn(PETSC_SUCCESS);
}
