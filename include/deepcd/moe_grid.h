/* The uniform space-time grid of the mixture-of-experts hard constraint
   (docs/moe.md) and its finite-difference stencils.

   Points (i, j), i = 0..nx-1 in x and j = 0..nt-1 in t, are numbered
   p = j*nx + i (x fastest). A field on the grid with `ncols` columns (the N
   basis functions, or one solution u) is a row-major array of nx*nt rows.
   The derivatives u_t, u_x and u_xx are second order everywhere: central
   in the interior, one-sided second order at the ends of each axis.

   A grid with two space dimensions (DeepCDMoeGridSetUpPeriodic2D(), the
   Navier-Stokes problem) has ny points in y and is periodic in x and y:
   points (i, k, j) are numbered p = (j*ny + k)*nx + i, x_i = xlo + i*hx
   with hx = (xhi - xlo)/nx (the end point is the start point), and the
   space derivatives are periodic central differences (second order). It
   adds u_y, the Laplacian, and the velocity (v_x, v_y) = (psi_y, -psi_x)
   of the stream function lap psi = -u, computed by FFT per time level
   (DeepCDMoeGridVelocity(); not a stencil). A 1-D grid has ny = 1 and
   everything as before. */
#ifndef DEEPCD_MOE_GRID_H
#define DEEPCD_MOE_GRID_H

#include <petscsys.h>

/* The local quantities a residual row sees at a point: q = (u, u_t, u_x, u_xx). */
typedef enum {
  DEEPCD_MOE_U   = 0,
  DEEPCD_MOE_UT  = 1,
  DEEPCD_MOE_UX  = 2,
  DEEPCD_MOE_UXX = 3,
  /* 2-D periodic grids only */
  DEEPCD_MOE_UY  = 4,
  DEEPCD_MOE_LAP = 5, /* u_xx + u_yy */
  DEEPCD_MOE_VX  = 6, /* velocity of the stream function of u (not a stencil) */
  DEEPCD_MOE_VY  = 7
} DeepCDMoeField;
#define DEEPCD_MOE_NFIELDS     4 /* the fields of 1-D problems */
#define DEEPCD_MOE_MAX_FIELDS  8
#define DEEPCD_MOE_MAX_STENCIL 5

typedef struct {
  PetscInt  nx, nt;   /* points in x and t (each >= 4) */
  PetscReal xlo, xhi; /* x_i = xlo + i*hx */
  PetscReal t0, t1;   /* t_j = t0 + j*ht */
  PetscReal hx, ht;
  PetscInt  ny; /* points in y: 1 for a 1-D grid */
  PetscReal ylo, yhi, hy;
  PetscBool periodic; /* 2-D grids: periodic in x and y */
} DeepCDMoeGrid;

/* A grid point as the PDE callbacks see it (k = 0, y = ylo on a 1-D grid). */
typedef struct {
  PetscInt  i, j;
  PetscReal x, t;
  PetscInt  k;
  PetscReal y;
} DeepCDMoePoint;

PETSC_EXTERN PetscErrorCode DeepCDMoeGridSetUp(DeepCDMoeGrid *, PetscInt, PetscInt, PetscReal, PetscReal, PetscReal, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridPoint(const DeepCDMoeGrid *, PetscInt, DeepCDMoePoint *);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridStencil(const DeepCDMoeGrid *, DeepCDMoeField, PetscInt, PetscInt, PetscInt *, PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridDerivative(const DeepCDMoeGrid *, DeepCDMoeField, PetscInt, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridSetUpPeriodic2D(DeepCDMoeGrid *, PetscInt, PetscInt, PetscInt, PetscReal, PetscReal, PetscReal, PetscReal, PetscReal, PetscReal);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridStencilAt(const DeepCDMoeGrid *, DeepCDMoeField, PetscInt, PetscInt *, PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridVelocity(const DeepCDMoeGrid *, PetscInt, const PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridVelocityTranspose(const DeepCDMoeGrid *, PetscInt, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscInt       DeepCDMoeGridSize(const DeepCDMoeGrid *);
PETSC_EXTERN PetscErrorCode DeepCDMoeGridInputs(const DeepCDMoeGrid *, PetscInt, const PetscInt[], PetscInt, const PetscReal[], PetscReal[]);

#endif
