/* The problem file format v1 (docs/formats.md): in-memory data and I/O. */
#ifndef DEEPCD_PROBLEM_H
#define DEEPCD_PROBLEM_H

#include <petscdmda.h>

#define DEEPCD_PROBLEM_FORMAT  "deepcd-problem"
#define DEEPCD_PROBLEM_VERSION 1

/* Walls in the order of the `boundary` attribute. */
typedef enum { DEEPCD_WALL_XMIN,
               DEEPCD_WALL_XMAX,
               DEEPCD_WALL_YMIN,
               DEEPCD_WALL_YMAX,
               DEEPCD_WALL_ZMIN,
               DEEPCD_WALL_ZMAX } DeepCDWall;

/* A whole problem in natural (x fastest) ordering on one process, as written
   by `deepcd gen`. Optional arrays are NULL when absent. Sizes: cell arrays
   nx*ny*nz, sdf (nx+1)*(ny+1)*(nz+1). */
typedef struct {
  PetscInt       nx, ny, nz;
  PetscReal      h;
  char           boundary[7];
  PetscReal     *rhs;
  unsigned char *solid;
  PetscReal     *coefficient;
  PetscReal     *x0;
  PetscReal     *sdf;
} DeepCDProblemData;

PETSC_EXTERN PetscErrorCode DeepCDProblemDataCreate(PetscInt, PetscInt, PetscInt, PetscReal, const char[], DeepCDProblemData **);
PETSC_EXTERN PetscErrorCode DeepCDProblemDataDestroy(DeepCDProblemData **);
PETSC_EXTERN PetscErrorCode DeepCDProblemDataWrite(const DeepCDProblemData *, const char[]);

/* A problem loaded onto a 3-D DMDA distributed over a communicator. */
typedef struct _n_DeepCDProblem *DeepCDProblem;
struct _n_DeepCDProblem {
  char      filename[PETSC_MAX_PATH_LEN];
  PetscInt  nx, ny, nz;
  PetscReal h;
  char      boundary[7];
  DM        da;          /* cell-centred grid, 1 dof, star stencil width 1 */
  Vec       rhs;         /* global vectors on da */
  Vec       solid;       /* 1.0 on solid cells, 0.0 on fluid cells */
  Vec       coefficient; /* k; all ones when the file has none */
  Vec       x0;          /* NULL when the file has none */
  PetscBool has_sdf, has_solid, has_coefficient;
};

PETSC_EXTERN PetscErrorCode DeepCDProblemLoad(MPI_Comm, const char[], DeepCDProblem *);
PETSC_EXTERN PetscErrorCode DeepCDProblemDestroy(DeepCDProblem *);
PETSC_EXTERN PetscErrorCode DeepCDProblemCreateFromData(MPI_Comm, const DeepCDProblemData *, const char[], DeepCDProblem *);
PETSC_EXTERN PetscErrorCode DeepCDSolidFromSDF(PetscInt, PetscInt, PetscInt, const PetscReal[], unsigned char[]);
PETSC_EXTERN PetscErrorCode DeepCDCheckBoundary(const char[], const char[]);

/* Grids whose ownership ranges start at even offsets (for 2x pooling). */
PETSC_EXTERN PetscErrorCode DeepCDGridCreate(MPI_Comm, PetscInt, PetscInt, PetscInt, DMDAStencilType, PetscInt, DM *);

#endif
