/* One expert's hard constraint: the stacked residual r(w; B) of a PDE
   problem on a set of grid points, its Levenberg-Marquardt solve and the
   backward pass through that solve by implicit differentiation
   (docs/moe.md).

   With N basis functions B (a row-major nx*nt x N array on the grid), the
   solution is u = B w. Row k of r is

   - a PDE row at point p_k:        F(q_k),            q_k = (D_a B w)(p_k), a = u, u_t, u_x, u_xx;
   - an initial-condition row:      s (u(p_k) - u0),   at t index 0;
   - a boundary-condition row:      c . q_k - g,       at x index 0 or nx-1, t index > 0;
   - N ridge rows:                  ridge * w.

   The features phi_{a,k} = (D_a B)(p_k) (N-vectors) are computed once per
   basis, so the Jacobian in w is J_k = sum_a dF/dq_a phi_{a,k}. */
#ifndef DEEPCD_MOE_CONSTRAINT_H
#define DEEPCD_MOE_CONSTRAINT_H

#include <deepcd/moe_pde.h>

typedef enum {
  DEEPCD_MOE_HESSIAN_EXACT = 0, /* J^T J + sum_k r_k d2r_k/dw2 + ridge^2 I */
  DEEPCD_MOE_HESSIAN_GN    = 1  /* Gauss-Newton: J^T J + ridge^2 I */
} DeepCDMoeHessianType;
PETSC_EXTERN const char *const DeepCDMoeHessianTypes[];

typedef struct _n_DeepCDMoeConstraint *DeepCDMoeConstraint;

PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintCreate(DeepCDMoePDE, const DeepCDMoeGrid *, PetscInt, DeepCDMoeConstraint *);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintDestroy(DeepCDMoeConstraint *);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintSetPoints(DeepCDMoeConstraint, PetscInt, const PetscInt[], PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintUpdateConditions(DeepCDMoeConstraint);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintSetRidge(DeepCDMoeConstraint, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintGetSizes(DeepCDMoeConstraint, PetscInt *, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintSetBasis(DeepCDMoeConstraint, const PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintResidual(DeepCDMoeConstraint, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintJacobian(DeepCDMoeConstraint, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintNormal(DeepCDMoeConstraint, const PetscReal[], DeepCDMoeHessianType, PetscReal *, PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintBasisVJP(DeepCDMoeConstraint, const PetscReal[], const PetscReal[], PetscReal[]);

/* Levenberg-Marquardt (src/moe/lm.c). */
typedef struct {
  PetscInt             max_it; /* iteration cap (accepted and rejected steps) */
  PetscReal            gatol;  /* stop when ||J^T r||_inf <= gatol + grtol ||J^T r(w0)||_inf */
  PetscReal            grtol;
  PetscReal            xrtol;   /* stop when ||dw||_inf <= xrtol (||w||_inf + xrtol) */
  PetscReal            tau;     /* initial damping mu0 = tau * max diag(J^T J) */
  PetscReal            w0;      /* initial weights: every entry w0 */
  DeepCDMoeHessianType hessian; /* of the damped step: GN (classical LM, the default) or EXACT (damped Newton) */
} DeepCDMoeLMOptions;

typedef enum {
  DEEPCD_MOE_LM_ITERATING         = 0,
  DEEPCD_MOE_LM_CONVERGED_GTOL    = 1,
  DEEPCD_MOE_LM_CONVERGED_STEP    = 2,
  DEEPCD_MOE_LM_DIVERGED_MAXIT    = -1,
  DEEPCD_MOE_LM_DIVERGED_DAMPING  = -2,
  DEEPCD_MOE_LM_DIVERGED_NANORINF = -3
} DeepCDMoeLMReason;

typedef struct {
  PetscInt          its; /* steps tried */
  PetscInt          accepted;
  PetscReal         f;     /* 1/2 ||r||^2 at the end, ridge rows included */
  PetscReal         gnorm; /* ||J^T r||_inf at the end */
  DeepCDMoeLMReason reason;
} DeepCDMoeLMInfo;

PETSC_EXTERN PetscErrorCode DeepCDMoeLMOptionsDefault(DeepCDMoeLMOptions *);
PETSC_EXTERN PetscErrorCode DeepCDMoeLMOptionsSetFromOptions(const char[], DeepCDMoeLMOptions *);
PETSC_EXTERN PetscErrorCode DeepCDMoeLMSolve(DeepCDMoeConstraint, const DeepCDMoeLMOptions *, PetscReal[], DeepCDMoeLMInfo *);
PETSC_EXTERN const char    *DeepCDMoeLMReasonName(DeepCDMoeLMReason);

/* Implicit differentiation (src/moe/ift.c). */
PETSC_EXTERN PetscErrorCode DeepCDMoeConstraintBackward(DeepCDMoeConstraint, const PetscReal[], DeepCDMoeHessianType, const PetscReal[], PetscReal[]);

#endif
