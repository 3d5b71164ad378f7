/* The uniform space-time grid of the mixture-of-experts hard constraint
   (docs/moe.md) and its finite-difference stencils.

   Points (i, j), i = 0..nx-1 in x and j = 0..nt-1 in t, are numbered
   p = j*nx + i (x fastest). A field on the grid with `ncols` columns (the N
   basis functions, or one solution u) is a row-major array of nx*nt rows.
   The derivatives u_t, u_x and u_xx are second order everywhere: central
   in the interior, one-sided second order at the ends of each axis. */
#ifndef DEEPCD_MOE_GRID_H
#define DEEPCD_MOE_GRID_H

#include <petscsys.h>

/* The local quantities a residual row sees at a point: q = (u, u_t, u_x, u_xx). */
typedef enum {
  DEEPCD_MOE_U   = 0,
  DEEPCD_MOE_UT  = 1,
  DEEPCD_MOE_UX  = 2,
  DEEPCD_MOE_UXX = 3
} DeepCDMoeField;
#define DEEPCD_MOE_NFIELDS     4
#define DEEPCD_MOE_MAX_STENCIL 4

typedef struct {
  PetscInt  nx, nt;   /* points in x and t (each >= 4) */
  PetscReal xlo, xhi; /* x_i = xlo + i*hx */
  PetscReal t0, t1;   /* t_j = t0 + j*ht */
  PetscReal hx, ht;
} DeepCDMoeGrid;

/* A grid point as the PDE callbacks see it. */
typedef struct {
  PetscInt  i, j;
  PetscReal x, t;
} DeepCDMoePoint;

PETSC_EXTERN PetscErrorCode DeepCDMoeGridSetUp(DeepCDMoeGrid *, PetscInt, PetscInt, PetscReal, PetscReal, PetscReal, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridPoint(const DeepCDMoeGrid *, PetscInt, DeepCDMoePoint *);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridStencil(const DeepCDMoeGrid *, DeepCDMoeField, PetscInt, PetscInt, PetscInt *, PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridDerivative(const DeepCDMoeGrid *, DeepCDMoeField, PetscInt, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridInputs(const DeepCDMoeGrid *, PetscInt, const PetscInt[], PetscInt, const PetscReal[], PetscReal[]);

#endif
