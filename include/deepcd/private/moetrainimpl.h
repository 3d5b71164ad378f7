/* Private state of the trainer (train.c, train_io.c). */
#ifndef DEEPCD_MOE_TRAIN_IMPL_H
#define DEEPCD_MOE_TRAIN_IMPL_H

#include <deepcd/private/moeimpl.h>
#include <deepcd/moe_train.h>

struct _n_DeepCDMoeTrainer {
  MPI_Comm              comm;
  PetscMPIInt           rank, size;
  DeepCDMoeTrainOptions o;
  DeepCDMoePDE          pde;
  DeepCDMoeGrid         grid;
  DeepCDMoeBackbone     net;
  DeepCDMoeExperts      ex;  /* NULL for the soft model */
  DeepCDMoeExperts      exl; /* several ranks, hard model: all experts on this rank (PETSC_COMM_SELF), for the instances it takes whole */
  PetscInt              nth, np;
  PetscReal            *theta, *m, *v, *grad, *gtmp; /* parameters, Adam moments, gradient, one instance's gradient */
  PetscReal            *B, *Bbar, *u, *ubar, *X;     /* work on the whole grid */
  PetscReal            *train, *test;                /* instances: ntrain x np, ntest x np */
  uint64_t              rng;                         /* the batch stream (checkpointed) */
  PetscInt              step, hcap;
  PetscReal            *loss_hist, *err_hist; /* per step (hcap allocated) */
  PetscReal            *ref, *pred, *errs;    /* held-out references, last predictions and errors */
  PetscBool             evaluated;
  DeepCDMoeTrainMonitor monitor;
  void                 *mctx;
  char                 *ckpt;
  PetscInt              ckpt_every;
  PetscReal             time_train, time_infer;
  PetscReal             cpu_train, cpu_infer; /* this process's CPU seconds in the same steps and inferences */
  PetscReal             cpu_max[2];           /* set by DeepCDMoeTrainerSave(): per step and inference, max over ranks */
  PetscInt              nstep_timed, ninfer_timed;
};

PETSC_INTERN PetscErrorCode DeepCDMoeTrainerDrawInstance(DeepCDMoeTrainer, uint64_t *, PetscReal[]);
PETSC_INTERN PetscErrorCode DeepCDMoeTrainerEnsureHistory(DeepCDMoeTrainer, PetscInt);

#endif
