/* KSPDEEPCD: the Deep Conjugate Direction method as a PETSc Krylov solver. */
#ifndef DEEPCD_KSP_H
#define DEEPCD_KSP_H

#include <petscksp.h>

#define KSPDEEPCD "deepcd"

PETSC_EXTERN PetscLogEvent KSPDEEPCD_Generator, KSPDEEPCD_Orthogonalize, KSPDEEPCD_Smooth;

PETSC_EXTERN PetscErrorCode DeepCDInitializePackage(void);
PETSC_EXTERN PetscErrorCode DeepCDFinalizePackage(void);
PETSC_EXTERN PetscErrorCode KSPCreate_DeepCD(KSP);

PETSC_EXTERN PetscErrorCode KSPDeepCDSetDirections(KSP, PetscInt);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetDirections(KSP, PetscInt *);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetTrueResidual(KSP, PetscInt);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetTrueResidual(KSP, PetscInt *);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetNormalize(KSP, PetscBool);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetNormalize(KSP, PetscBool *);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetSmooth(KSP, PetscInt);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetSmooth(KSP, PetscInt *);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetSmoother(KSP, KSP *);
PETSC_EXTERN PetscErrorCode KSPDeepCDSmootherConfigure(KSP, PetscInt);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetGenerator(KSP, const char[]);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetGenerator(KSP, const char *[]);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetModel(KSP, const char[]);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetModel(KSP, const char *[]);
PETSC_EXTERN PetscErrorCode KSPDeepCDSetStagnation(KSP, PetscInt, PetscReal);
PETSC_EXTERN PetscErrorCode KSPDeepCDGetStagnation(KSP, PetscInt *, PetscReal *);

#endif
