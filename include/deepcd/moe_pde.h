/* PDE problems of the mixture-of-experts hard constraint (docs/moe.md).

   A problem is one file (src/moe/pde/<name>.c) that fills the ops below; it
   never sees the basis, the weights or the stencils. It gives, at a grid
   point,

   - the PDE residual F(q) of the local quantities q = (u, u_t, u_x, u_xx)
     with dF/dq and d2F/dq2 (residual);
   - the initial-condition row: the target u0(x) and the row scale s, the
     row being s*(u - u0) (initial);
   - the boundary-condition row on side 0 (x = xlo) or 1 (x = xhi): c.q = g
     (boundary);
   - optionally the closed-form solution (exact), or a numerical reference
     on a grid (reference);
   - the instance family: parameters from uniform numbers (sample).

   The residual rows, their Jacobian in the weights w and their
   vector-Jacobian products in the basis B are built from these by
   DeepCDMoeConstraint (deepcd/moe_constraint.h), the same way for every
   problem. A problem has named constants (kappa, nu, ...: fixed physics) and
   named parameters (the instance: coefficients of the initial condition,
   ...; they are also inputs of the basis network). */
#ifndef DEEPCD_MOE_PDE_H
#define DEEPCD_MOE_PDE_H

#include <deepcd/moe_grid.h>

#define DEEPCD_MOE_PDE_HEAT     "heat"
#define DEEPCD_MOE_PDE_BURGERS  "burgers"
#define DEEPCD_MOE_PDE_DIFFSORP "diffsorp"
#define DEEPCD_MOE_PDE_NS       "ns"

#define DEEPCD_MOE_PDE_MAX_NAMED 8

typedef struct _n_DeepCDMoePDE *DeepCDMoePDE;

typedef struct {
  /* F at the point; dF[nfields] and d2F[nfields^2] (row-major, symmetric) may be NULL when not wanted */
  PetscErrorCode (*residual)(DeepCDMoePDE, const DeepCDMoePoint *, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[]);
  PetscErrorCode (*initial)(DeepCDMoePDE, const DeepCDMoePoint *, PetscReal *u0, PetscReal *scale);
  PetscErrorCode (*boundary)(DeepCDMoePDE, PetscInt side, const DeepCDMoePoint *, PetscReal c[], PetscReal *g);
  PetscErrorCode (*exact)(DeepCDMoePDE, PetscReal x, PetscReal t, PetscReal *u); /* NULL: no closed form */
  PetscErrorCode (*destroy)(DeepCDMoePDE);                                       /* optional: frees data */
  /* the instance family: parameters from nparam uniforms in [0, 1) (training and held-out instances) */
  PetscErrorCode (*sample)(DeepCDMoePDE, const PetscReal[], PetscReal[]);
  /* a numerical reference on a grid (nx*nt values) for problems without a closed form (optional) */
  PetscErrorCode (*reference)(DeepCDMoePDE, const DeepCDMoeGrid *, PetscReal[]);
  /* the constant factor F carries only to condition the LM rows (optional; NULL: 1), divided out of the outer loss */
  PetscErrorCode (*rowscale)(DeepCDMoePDE, PetscReal *);
  /* the smallest length scale of the solution in x (optional; NULL: half the domain), in which the mlp's inputs are measured */
  PetscErrorCode (*lengthscale)(DeepCDMoePDE, PetscReal *);
  /* the initial condition built into the solution (optional; NULL: initial rows instead): u = uoff + s (B w) at the
     point, s = 0 at t0, so u(t0) = uoff exactly; a hard constraint then has no initial rows */
  PetscErrorCode (*builtin)(DeepCDMoePDE, const DeepCDMoePoint *, PetscReal *uoff, PetscReal *s);
} DeepCDMoePDEOps;

struct _n_DeepCDMoePDE {
  char            type[64];
  DeepCDMoePDEOps ops;
  void           *data;
  PetscBool       linear;           /* F is affine in q: the Jacobian does not depend on w */
  PetscReal       xlo, xhi, t0, t1; /* the problem's domain */
  PetscInt        nconst, nparam;   /* named constants and parameters */
  char            constname[DEEPCD_MOE_PDE_MAX_NAMED][32], paramname[DEEPCD_MOE_PDE_MAX_NAMED][32];
  PetscReal       constant[DEEPCD_MOE_PDE_MAX_NAMED], param[DEEPCD_MOE_PDE_MAX_NAMED];
  PetscInt        nfields;  /* the local quantities F reads: DEEPCD_MOE_NFIELDS (1-D), DEEPCD_MOE_MAX_FIELDS (2-D) */
  PetscBool       periodic; /* 2-D, periodic in x and y on [xlo, xhi) x [ylo, yhi): no boundary rows */
  PetscReal       ylo, yhi;
};

PETSC_EXTERN PetscErrorCode DeepCDMoeInitializePackage(void);
PETSC_EXTERN PetscErrorCode DeepCDMoePDERegister(const char[], PetscErrorCode (*)(DeepCDMoePDE));
PETSC_EXTERN PetscErrorCode DeepCDMoePDECreate(const char[], DeepCDMoePDE *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEDestroy(DeepCDMoePDE *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEAddConstant(DeepCDMoePDE, const char[], PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEAddParameter(DeepCDMoePDE, const char[], PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoePDESetConstant(DeepCDMoePDE, const char[], PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEGetConstant(DeepCDMoePDE, const char[], PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDESetParameters(DeepCDMoePDE, PetscInt, const PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEGetParameters(DeepCDMoePDE, PetscInt *, const PetscReal **);
PETSC_EXTERN PetscErrorCode DeepCDMoePDESetFromOptions(DeepCDMoePDE);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEView(DeepCDMoePDE, PetscViewer);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEExact(DeepCDMoePDE, PetscReal, PetscReal, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEGetRowScale(DeepCDMoePDE, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEGetLengthScale(DeepCDMoePDE, PetscReal *);
PETSC_EXTERN PetscErrorCode DeepCDMoePDESample(DeepCDMoePDE, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEReference(DeepCDMoePDE, const DeepCDMoeGrid *, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEDiscreteSolve(DeepCDMoePDE, const DeepCDMoeGrid *, PetscReal[], PetscInt *);

PETSC_EXTERN PetscErrorCode DeepCDMoePDECreate_Heat(DeepCDMoePDE);
PETSC_EXTERN PetscErrorCode DeepCDMoePDECreate_Burgers(DeepCDMoePDE);
PETSC_EXTERN PetscErrorCode DeepCDMoePDECreate_DiffSorp(DeepCDMoePDE);
PETSC_EXTERN PetscErrorCode DeepCDMoePDECreate_NS(DeepCDMoePDE);
PETSC_EXTERN PetscErrorCode DeepCDMoePDEGridSetUp(DeepCDMoePDE, PetscInt, PetscInt, PetscInt, DeepCDMoeGrid *);

/* 2-D Navier-Stokes in vorticity form on the periodic unit square: the
   pseudo-spectral reference (reference_ns.c) and the Gaussian-random-field
   initial vorticity (grf.c). Fields are nx*ny values, point (i, k) at
   (i/nx, k/ny) numbered k*nx + i. */
PETSC_EXTERN PetscErrorCode DeepCDMoeNSSolve(PetscInt, PetscInt, PetscReal, const PetscReal[], PetscInt, const PetscReal[], PetscReal, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeNSRandomField(PetscReal, PetscReal, PetscReal, PetscInt, PetscInt, PetscReal[]);

#endif
