/* The mixture of experts: a uniform kx x kt split of the space-time grid
   (kx x ky x kt on a 2-D grid, DeepCDMoeExpertsCreate2D()),
   one hard constraint (deepcd/moe_constraint.h) per subdomain, experts
   distributed over the ranks of a communicator (docs/moe.md).

   Expert k = kt_index*kx + kx_index owns the points [xs, xe) x [ts, te).
   Its PDE rows sit at m points drawn without replacement (seed and k fix the
   draw, whatever the number of ranks) from its points with 0 < i < nx-1 and
   j > 0; stencils at its edges read the neighbouring basis values. Its
   condition rows are the global initial and boundary rows (as in the
   reference) or only those inside the subdomain. The solution on the
   subdomain is u = B w_k; the w_k are independent. Ranks own contiguous
   blocks of experts (K >= ranks); every rank holds the whole grid's arrays
   but reads and writes only the rows of its own experts. */
#ifndef DEEPCD_MOE_EXPERTS_H
#define DEEPCD_MOE_EXPERTS_H

#include <deepcd/moe_constraint.h>
#include <deepcd/moe_backbone.h>

typedef enum {
  DEEPCD_MOE_CONDITIONS_GLOBAL = 0, /* every expert gets all initial and boundary rows */
  DEEPCD_MOE_CONDITIONS_LOCAL  = 1  /* only those inside its subdomain */
} DeepCDMoeConditions;
PETSC_EXTERN const char *const DeepCDMoeConditionsTypes[];

/* Coupling between neighbouring experts (src/moe/experts/coupling.c) */
typedef enum {
  DEEPCD_MOE_COUPLING_NONE      = 0, /* independent w_k (the reference) */
  DEEPCD_MOE_COUPLING_INTERFACE = 1  /* interface rows weight*(B w_a - B w_b) on both sides of each interface, one joint solve */
} DeepCDMoeCoupling;
PETSC_EXTERN const char *const DeepCDMoeCouplingTypes[];

/* Per-expert record of a solve (DeepCDMoeExpertsGetReport()) */
typedef struct {
  PetscReal its;       /* LM steps (joint steps when coupled) */
  PetscReal capped;    /* 1 if the solve stopped at the step cap */
  PetscReal f;         /* 1/2 ||r_k||^2 of the expert's own rows (ridge included, interface rows not) */
  PetscReal log10cond; /* log10 cond(J_k^T J_k + ridge^2 I) at w_k */
} DeepCDMoeExpertReport;

typedef struct _n_DeepCDMoeExperts *DeepCDMoeExperts;

PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsCreate(MPI_Comm, DeepCDMoePDE, const DeepCDMoeGrid *, PetscInt, PetscInt, PetscInt, DeepCDMoeExperts *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsCreate2D(MPI_Comm, DeepCDMoePDE, const DeepCDMoeGrid *, PetscInt, PetscInt, PetscInt, PetscInt, DeepCDMoeExperts *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetSubdomainY(DeepCDMoeExperts, PetscInt, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsDestroy(DeepCDMoeExperts *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetSampling(DeepCDMoeExperts, PetscInt, PetscInt);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetConditions(DeepCDMoeExperts, DeepCDMoeConditions);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetRidge(DeepCDMoeExperts, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetHessian(DeepCDMoeExperts, DeepCDMoeHessianType);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetLMOptions(DeepCDMoeExperts, const DeepCDMoeLMOptions *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetCoupling(DeepCDMoeExperts, DeepCDMoeCoupling, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetFromOptions(DeepCDMoeExperts);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSetUp(DeepCDMoeExperts);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsUpdateConditions(DeepCDMoeExperts);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetOwnership(DeepCDMoeExperts, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetSubdomain(DeepCDMoeExperts, PetscInt, PetscInt *, PetscInt *, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetPoints(DeepCDMoeExperts, PetscInt *, const PetscInt **);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetConstraint(DeepCDMoeExperts, PetscInt, DeepCDMoeConstraint *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsSolve(DeepCDMoeExperts, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetWeights(DeepCDMoeExperts, PetscInt, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetLMInfo(DeepCDMoeExperts, PetscInt, DeepCDMoeLMInfo *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsBackward(DeepCDMoeExperts, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGatherSolution(DeepCDMoeExperts, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsAllreduce(DeepCDMoeExperts, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetInterfaceResidual(DeepCDMoeExperts, const PetscReal[], PetscReal *, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsGetReport(DeepCDMoeExperts, DeepCDMoeExpertReport[]);

/* The basis network on this rank's points (src/moe/basis.c). */
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsBasisForward(DeepCDMoeExperts, DeepCDMoeBackbone, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsBasisBackward(DeepCDMoeExperts, DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeExpertsBasisBackwardLocal(DeepCDMoeExperts, DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscReal[]);

#endif
