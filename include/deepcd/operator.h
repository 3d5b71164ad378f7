/* The cell-centred finite-volume operator -div(k grad u) of a problem. */
#ifndef DEEPCD_OPERATOR_H
#define DEEPCD_OPERATOR_H

#include <deepcd/problem.h>

/* Fluid regions: connected sets of fluid cells (face neighbours). */
typedef struct {
  PetscInt  nregions;  /* number of connected fluid regions */
  PetscInt  nfloating; /* regions touching no Dirichlet wall */
  Vec       label;     /* global vector on the problem's DA: region index, -1 on solids */
  PetscInt *floating;  /* the nfloating region indices */
  PetscInt *cells;     /* cells per region, nregions */
} DeepCDRegions;

PETSC_EXTERN PetscErrorCode DeepCDRegionsCompute(DeepCDProblem, DeepCDRegions *);
PETSC_EXTERN PetscErrorCode DeepCDRegionsDestroy(DeepCDRegions *);

PETSC_EXTERN PetscErrorCode DeepCDOperatorAssemble(DeepCDProblem, Mat *);
PETSC_EXTERN PetscErrorCode DeepCDOperatorNullSpace(DeepCDProblem, const DeepCDRegions *, MatNullSpace *);
PETSC_EXTERN PetscErrorCode DeepCDOperatorSetUp(DeepCDProblem, Mat *, Vec *);
PETSC_EXTERN PetscErrorCode DeepCDProblemFinishSolution(DeepCDProblem, Mat, Vec);

#endif
