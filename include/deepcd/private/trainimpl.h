/* Internals of training shared by the loop and its checkpoints. */
#ifndef DEEPCD_TRAIN_IMPL_H
#define DEEPCD_TRAIN_IMPL_H

#include <stdint.h>
#include <petscksp.h>
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

/* The DCDM loss L and dL/dq of one sample (loss.c); v: 5 work vectors of A's size. */
PETSC_INTERN PetscErrorCode DeepCDTrainLossEval(Mat A, Vec v[5], const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate);

/* Natural-order float arrays <-> a sequential Vec of the same size. */
PETSC_INTERN PetscErrorCode DeepCDTrainVecFromFloat(Vec, const float[]);
PETSC_INTERN PetscErrorCode DeepCDTrainVecToFloat(Vec, float[]);

/* The smoother in the training loop (train_smooth.c): the direction the
   solver uses with -ksp_deepcd_smooth n (Chebyshev/Jacobi), and the
   gradient back through it. n = 0: forward and backward do nothing. */
typedef struct {
  PetscInt  n;
  KSP       ksp;
  Vec       b, q0, y0, g, u, w, zero, diag;
  PetscReal s, t, alpha; /* q0.b, q0.A q0, s / t of the last forward */
  PetscBool smoothed;    /* the last forward smoothed (not degenerate) */
} TrainSmoother;

PETSC_INTERN PetscErrorCode DeepCDTrainSmootherSetUp(Mat A, PetscInt n, TrainSmoother *);
PETSC_INTERN PetscErrorCode DeepCDTrainSmootherDestroy(TrainSmoother *);
/* q: in the network's output q0, out d = S(q0) */
PETSC_INTERN PetscErrorCode DeepCDTrainSmootherForward(TrainSmoother *, Mat A, const float b[], float q[]);
/* dq: in dL/dd, out dL/dq0 (for the last forward) */
PETSC_INTERN PetscErrorCode DeepCDTrainSmootherBackward(TrainSmoother *, float dq[]);

#endif
