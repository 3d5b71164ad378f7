/* The solution file format v1 (docs/formats.md). */
#ifndef DEEPCD_SOLUTION_H
#define DEEPCD_SOLUTION_H

#include <petscksp.h>
#include <deepcd/problem.h>

#define DEEPCD_SOLUTION_FORMAT  "deepcd-solution"
#define DEEPCD_SOLUTION_VERSION 1

typedef struct {
  PetscInt           iterations;
  KSPConvergedReason reason;
  PetscReal          residual_norm;
  const PetscReal   *history; /* iterations + 1 entries, may be NULL */
  PetscInt           nhistory;
  const PetscReal   *history_seconds; /* nhistory entries: seconds since KSPSolve() began when each was recorded; may be NULL */
  const char        *ksp_type, *pc_type;
  PetscReal          setup_seconds, solve_seconds;
} DeepCDSolveInfo;

PETSC_EXTERN PetscErrorCode DeepCDSolveTimed(DeepCDProblem, KSP, Vec, Vec, DeepCDSolveInfo *);
PETSC_EXTERN PetscErrorCode DeepCDSolutionWrite(DeepCDProblem, Vec, const DeepCDSolveInfo *, const char[]);

#endif
