/* Training a DCDM network (docs/training.md): the scale-invariant DCDM loss
   with the project's operator, mini-batch Adam over a training data file
   (`deepcd train-data`), validation, checkpoints and exact resume. */
#ifndef DEEPCD_TRAIN_H
#define DEEPCD_TRAIN_H

#include <petscmat.h>
#include <deepcd/nn.h>

typedef struct {
  char          data[PETSC_MAX_PATH_LEN];       /* training data file (deepcd-train-data) */
  char          arch[32];                       /* topology of a new model ("from64") */
  char          init[PETSC_MAX_PATH_LEN];       /* start from this model file instead ("" = new) */
  char          backend[16];                    /* "cpu" (oneDNN) or "ref" */
  PetscInt      steps;                          /* optimizer steps in all */
  PetscInt      batch;                          /* right-hand sides per step */
  PetscReal     lr;                             /* peak learning rate */
  char          schedule[16];                   /* "cosine" (to lr * lr_min_factor) or "constant" */
  PetscReal     lr_min_factor;                  /* final lr / peak lr of the cosine schedule */
  PetscInt      warmup;                         /* steps of linear warm-up from 0 */
  PetscReal     weight_decay;                   /* AdamW decoupled weight decay */
  PetscReal     val_fraction;                   /* share of each problem's samples held out */
  PetscReal     noise;                          /* share of each right-hand side's squared norm replaced by white noise */
  PetscInt      val_every;                      /* steps between validation passes (0: only at the end) */
  PetscInt      val_samples;                    /* held-out samples per validation pass (at most) */
  unsigned long seed;                           /* model init and sample order */
  char          checkpoint[PETSC_MAX_PATH_LEN]; /* checkpoint file ("" = none) */
  PetscInt      checkpoint_every;               /* steps between checkpoints (0: only at the end) */
  PetscInt      stop_at;                        /* end this run after this step, with a checkpoint (0 = at `steps`) */
  PetscInt      smooth;                         /* Chebyshev/Jacobi iterations on each direction in the loss (0: none) */
} DeepCDTrainOptions;

/* What a monitor sees after every step. */
typedef struct {
  PetscInt  step, steps;   /* steps done, steps in all */
  PetscInt  start;         /* step this run started at (resume) */
  PetscReal loss;          /* mean loss of this step's batch */
  PetscReal loss_avg;      /* running mean of the batch losses since the last validation */
  PetscReal val_loss;      /* last validation loss (NaN before the first) */
  PetscBool validated;     /* a validation pass ended this step */
  PetscReal lr;            /* learning rate used by this step */
  PetscReal samples_per_s; /* training samples per second in this run */
  PetscBool checkpointed;  /* a checkpoint was written after this step */
} DeepCDTrainStatus;

typedef PetscErrorCode (*DeepCDTrainMonitor)(const DeepCDTrainStatus *, void *);

/* Loss history: train loss (mean since the previous record) and validation
   loss at each validation step. */
typedef struct {
  PetscInt   n;
  PetscInt  *step;
  PetscReal *loss, *val_loss;
} DeepCDTrainHistory;

/* Training PCNEURALMG (deepcd train --arch neuralmg): SPSA + Adam on the
   CG convergence rate over problem files (src/solvers/train/neuralmg.c). */
typedef struct {
  PetscInt           nproblems; /* training problems (deepcd gen files) */
  const char *const *problems;
  PetscInt           nval; /* validation problems (may be 0) */
  const char *const *val;
  char               init[PETSC_MAX_PATH_LEN]; /* start from this neuralmg model ("" = the classical parameters) */
  PetscInt           steps;                    /* SPSA steps */
  PetscReal          lr;                       /* peak Adam step (cosine decay to a tenth) */
  PetscReal          perturb;                  /* SPSA perturbation size */
  PetscInt           its;                      /* CG iterations per loss evaluation */
  PetscInt           val_every;                /* steps between validations (0: at the end) */
  unsigned long      seed;                     /* network init, perturbations, random right-hand sides */
  PetscInt           coarse_size;              /* the cycle's -pc_neuralmg_coarse_size in training: small, so that small
                                                  problems have as many levels as large ones */
} DeepCDTrainNeuralMGOptions;

PETSC_EXTERN PetscErrorCode DeepCDTrainOptionsDefault(DeepCDTrainOptions *);
PETSC_EXTERN PetscErrorCode DeepCDTrain(MPI_Comm, const DeepCDTrainOptions *, const char resume[], DeepCDTrainMonitor, void *, nn_model **, DeepCDTrainHistory *);
PETSC_EXTERN PetscErrorCode DeepCDTrainHistoryDestroy(DeepCDTrainHistory *);
PETSC_EXTERN PetscErrorCode DeepCDTrainNeuralMGOptionsDefault(DeepCDTrainNeuralMGOptions *);
PETSC_EXTERN PetscErrorCode DeepCDTrainNeuralMG(MPI_Comm, const DeepCDTrainNeuralMGOptions *, const char[], DeepCDTrainMonitor, void *, DeepCDTrainHistory *);
PETSC_EXTERN PetscErrorCode DeepCDTrainCheckpointOptions(MPI_Comm, const char path[], DeepCDTrainOptions *, PetscInt *step);

/* The DCDM loss of one sample and its gradient (for tests and other loops):
   L = ||b - (q.b / q.Aq) A q||^2 in float64, dq = dL/dq (NULL: not wanted).
   b, q and dq are natural-order arrays of A's size (A sequential). A
   degenerate direction (q.Aq <= 0 or not finite) gives L = ||b||^2 and
   dq = 0; *degenerate says so. */
PETSC_EXTERN PetscErrorCode DeepCDTrainLoss(Mat A, const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate);
/* The same loss taken on the direction smoothed as the solver does with
   -ksp_deepcd_smooth n -ksp_deepcd_smooth_ksp_type chebyshev -pc_type
   jacobi, and dq = dL/dq back through the smoothing (n = 0: DeepCDTrainLoss). */
PETSC_EXTERN PetscErrorCode DeepCDTrainLossSmoothed(Mat A, PetscInt n, const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate);

#endif
