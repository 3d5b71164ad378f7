/* Direction generators for KSPDEEPCD: a PETSc object (DeepCDDirGen), the way
   KSPGuess is one for initial guesses.

   A direction generator maps the current residual to a search direction z.
   A nonlinear generator gets the residual scaled to unit norm (unless
   -ksp_deepcd_normalize 0); a linear one gets the residual itself, since the
   step length absorbs the scale of z. The KSP A-orthogonalises z against its
   kept directions, so a generator may be nonlinear. Types: "pc" (the KSP's
   PC) and "cnn" (a convolutional network). New types are added with
   DeepCDDirGenRegister() without touching the KSP; the implementation's
   struct is in deepcd/private/dirgenimpl.h. */
#ifndef DEEPCD_DIRGEN_H
#define DEEPCD_DIRGEN_H

#include <petscksp.h>

typedef struct _p_DeepCDDirGen *DeepCDDirGen;
typedef const char             *DeepCDDirGenType;
#define DEEPCD_DIRGEN_PC  "pc"
#define DEEPCD_DIRGEN_CNN "cnn"

PETSC_EXTERN PetscClassId      DEEPCD_DIRGEN_CLASSID;
PETSC_EXTERN PetscFunctionList DeepCDDirGenList;

PETSC_EXTERN PetscErrorCode DeepCDDirGenRegister(const char[], PetscErrorCode (*)(DeepCDDirGen));
PETSC_EXTERN PetscErrorCode DeepCDDirGenRegisterAll(void);
PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate(MPI_Comm, DeepCDDirGen *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetType(DeepCDDirGen, DeepCDDirGenType);
PETSC_EXTERN PetscErrorCode DeepCDDirGenGetType(DeepCDDirGen, DeepCDDirGenType *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetKSP(DeepCDDirGen, KSP);
PETSC_EXTERN PetscErrorCode DeepCDDirGenGetKSP(DeepCDDirGen, KSP *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenIsLinear(DeepCDDirGen, PetscBool *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetFromOptions(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetUp(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenApply(DeepCDDirGen, Vec, Vec);
PETSC_EXTERN PetscErrorCode DeepCDDirGenView(DeepCDDirGen, PetscViewer);
PETSC_EXTERN PetscErrorCode DeepCDDirGenReset(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenDestroy(DeepCDDirGen *);

PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate_PC(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate_CNN(DeepCDDirGen);

PETSC_EXTERN PetscLogEvent DEEPCD_Inference, DEEPCD_Halo;

#endif
