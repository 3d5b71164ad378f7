/* Internals of training shared by the loop and its checkpoints. */
#ifndef DEEPCD_TRAIN_IMPL_H
#define DEEPCD_TRAIN_IMPL_H

#include <stdint.h>
#include <deepcd/train.h>

/* Everything a resumed run needs besides the options and the history. */
typedef struct {
  nn_model *model;
  nn_adam  *adam;
  uint64_t  rng;  /* the sample stream's state */
  PetscInt  step; /* steps taken */
} TrainState;

/* Writes (rank 0, temporary name then rename; every rank gets the status). */
PETSC_INTERN PetscErrorCode DeepCDTrainCheckpointWrite(MPI_Comm, const char path[], const DeepCDTrainOptions *, const TrainState *, const DeepCDTrainHistory *);
/* Reads on every rank; st->model and st->adam are created. */
PETSC_INTERN PetscErrorCode DeepCDTrainCheckpointRead(MPI_Comm, const char path[], DeepCDTrainOptions *, TrainState *, DeepCDTrainHistory *);

#endif
