/* Training of the mixture-of-experts hard constraint and its baselines
   (docs/moe.md): one loop for three models,

   - soft:  the network outputs u itself (one output); the PDE residual is a
            penalty in the loss (the PI-SC baseline);
   - hard:  the network outputs N basis functions, u = B w_k with w_k solved
            per expert (K = kx kt; K = 1 is the global hard constraint, K > 1
            the mixture of experts).

   The loss is the same for all three, on the whole assembled grid; by
   default (loss type norm) the reference's unsquared norms:

     L = mean over the batch of
         w_pde ||F(u)||_interior + w_ic ||u - u0||_{t = t0} / ||u0||
       + w_bc (||c . q - g||_{left wall} + ||c . q - g||_{right wall})

   or (type mse) w_pde mean F^2 + w_ic mean (s (u - u0))^2
   + w_bc mean (c . q - g)^2, with the problem's pointwise residual F,
   initial row scale s and boundary rows (deepcd/moe_pde.h). By default
   (loss_unscaled) F is divided by the problem's row scale, a factor that
   only conditions the LM rows (diffusion-sorption: tscale), so that the
   PDE term is in the equation's units, as in the reference. Training instances (problem parameters) are drawn
   from the problem's family with the seed; held-out instances from a
   separate stream. Adam with a step-decay schedule; non-finite gradient
   entries are zeroed and the gradient is clipped to a global norm (the
   reference's hygiene). Every rank holds the same network parameters. On
   several ranks the instances of a batch (and of the held-out set) are
   spread over the ranks, one per rank at a time, each taken whole (all
   experts); instances left over and single predictions are split over the
   experts' ranks (deepcd/moe_experts.h; docs/moe.md, "Ranks"). */
#ifndef DEEPCD_MOE_TRAIN_H
#define DEEPCD_MOE_TRAIN_H

#include <deepcd/moe_experts.h>

typedef enum {
  DEEPCD_MOE_MODEL_SOFT = 0,
  DEEPCD_MOE_MODEL_HARD = 1
} DeepCDMoeModelType;
PETSC_EXTERN const char *const DeepCDMoeModelTypes[];

/* The outer loss: the reference's unsquared norms, or mean squares */
typedef enum {
  DEEPCD_MOE_LOSS_NORM = 0,
  DEEPCD_MOE_LOSS_MSE  = 1
} DeepCDMoeLossType;
PETSC_EXTERN const char *const DeepCDMoeLossTypes[];

typedef struct {
  DeepCDMoeModelType    model;
  PetscInt              kx, kt;            /* experts (hard) */
  PetscInt              N;                 /* basis functions (hard) */
  DeepCDMoeBackboneType backbone;          /* the basis network: mlp or fno */
  PetscInt              depth, width;      /* mlp: hidden layers (tanh) and their width; fno: Fourier layers and channels */
  PetscInt              modes, fc, pad;    /* fno: Fourier modes per axis, projection width, padding */
  PetscBool             scale_inputs;      /* mlp: inputs in the problem's units (DeepCDMoeBackboneSetInputScaling()) */
  PetscInt              nx, nt;            /* the space-time grid */
  PetscInt              points;            /* PDE rows per expert (<= 0: all) */
  PetscInt              steps, batch;      /* Adam steps; instances per step */
  PetscInt              ntrain, ntest;     /* training and held-out instances */
  PetscReal             lr, lr_gamma;      /* learning rate, multiplied by lr_gamma every lr_every steps ... */
  PetscInt              lr_every;          /* ... down to lr_min */
  PetscReal             lr_min;            /* */
  PetscReal             beta1, beta2;      /* Adam */
  PetscReal             adam_eps;          /* */
  PetscReal             clip;              /* global gradient norm cap (<= 0: none) */
  DeepCDMoeLossType     loss;              /* norm or mse */
  PetscBool             loss_unscaled;     /* the PDE term without the problem's row scale (DeepCDMoePDEGetRowScale()) */
  PetscReal             w_pde, w_ic, w_bc; /* loss weights */
  PetscInt              seed;              /* network, instances, batches, point draws */
  PetscInt              eval_every;        /* held-out error every so many steps (0: only at the end) */
  PetscReal             ridge;             /* hard: ridge rows */
  DeepCDMoeHessianType  hessian;           /* hard: of the backward pass */
  DeepCDMoeConditions   conditions;        /* hard: global or local condition rows */
  DeepCDMoeCoupling     coupling;          /* hard: none or interface rows between neighbouring experts */
  PetscReal             coupling_weight;   /* hard: weight of the interface rows */
  DeepCDMoeLMOptions    lm;                /* hard: the per-expert solve */
  PetscInt              ny, ky;            /* 2-D problems (ns): grid points and experts in y; 1 for 1-D problems */
} DeepCDMoeTrainOptions;

typedef struct _n_DeepCDMoeTrainer *DeepCDMoeTrainer;

/* Called after every step (err is NAN when the held-out error was not evaluated at that step). */
typedef PetscErrorCode (*DeepCDMoeTrainMonitor)(DeepCDMoeTrainer, PetscInt step, PetscReal loss, PetscReal err, void *ctx);

PETSC_EXTERN PetscErrorCode DeepCDMoeTrainOptionsDefault(const char[], DeepCDMoeTrainOptions *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainOptionsSetBackbone(DeepCDMoeTrainOptions *, DeepCDMoeBackboneType);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerCreate(MPI_Comm, const char[], const DeepCDMoeTrainOptions *, DeepCDMoeTrainer *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerDestroy(DeepCDMoeTrainer *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetPDE(DeepCDMoeTrainer, DeepCDMoePDE *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetOptions(DeepCDMoeTrainer, const DeepCDMoeTrainOptions **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetGrid(DeepCDMoeTrainer, const DeepCDMoeGrid **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetExperts(DeepCDMoeTrainer, DeepCDMoeExperts *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerSetMonitor(DeepCDMoeTrainer, DeepCDMoeTrainMonitor, void *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerSetCheckpoint(DeepCDMoeTrainer, const char[], PetscInt);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetParameters(DeepCDMoeTrainer, PetscInt *, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetStep(DeepCDMoeTrainer, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetHistory(DeepCDMoeTrainer, PetscInt *, const PetscReal **, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetInstances(DeepCDMoeTrainer, PetscBool, PetscInt *, PetscInt *, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerStep(DeepCDMoeTrainer, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerTrain(DeepCDMoeTrainer);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerPredict(DeepCDMoeTrainer, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetReferences(DeepCDMoeTrainer, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerEvaluate(DeepCDMoeTrainer, PetscReal[], PetscReal[], PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetTimings(DeepCDMoeTrainer, PetscReal *, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerGetCPUTimings(DeepCDMoeTrainer, PetscReal *, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerReport(DeepCDMoeTrainer, DeepCDMoeExpertReport[]);

/* The outer loss of one instance on the whole grid (src/moe/loss.c). */
PETSC_EXTERN PetscErrorCode DeepCDMoeLoss(DeepCDMoePDE, const DeepCDMoeGrid *, DeepCDMoeLossType, PetscReal, PetscReal, PetscReal, const PetscReal[], PetscReal *, PetscReal[]);

/* Checkpoints and run files (HDF5, docs/formats.md; src/moe/train_io.c). */
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerSave(DeepCDMoeTrainer, const char[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerLoad(MPI_Comm, const char[], DeepCDMoeTrainer *);
PETSC_EXTERN PetscErrorCode DeepCDMoeTrainerResume(DeepCDMoeTrainer, const char[]);

#endif
