/* Direction generators for KSPDEEPCD.

   A direction generator maps the current residual to a search direction z.
   A nonlinear generator gets the residual scaled to unit norm (unless
   -ksp_deepcd_normalize 0); a linear one (linear = PETSC_TRUE) gets the
   residual itself, since the step length absorbs the scale of z. The KSP A-orthogonalises z
   against its kept directions, so a generator may be nonlinear. Two kinds:
   "pc" (the KSP's PC, always available) and "cnn" (a convolutional network,
   registered by the nn layer when it is built). New kinds are added with
   DeepCDDirGenRegister() without touching the KSP. */
#ifndef DEEPCD_DIRGEN_H
#define DEEPCD_DIRGEN_H

#include <petscksp.h>

#define DEEPCD_DIRGEN_PC  "pc"
#define DEEPCD_DIRGEN_CNN "cnn"

typedef struct _n_DeepCDDirGen *DeepCDDirGen;

typedef struct {
  PetscErrorCode (*setfromoptions)(DeepCDDirGen, PetscOptionItems *);
  PetscErrorCode (*setup)(DeepCDDirGen);
  PetscErrorCode (*apply)(DeepCDDirGen, Vec, Vec);
  PetscErrorCode (*view)(DeepCDDirGen, PetscViewer);
  PetscErrorCode (*reset)(DeepCDDirGen);
  PetscErrorCode (*destroy)(DeepCDDirGen);
} DeepCDDirGenOps;

struct _n_DeepCDDirGen {
  char            type[64];
  KSP             ksp; /* the owning KSP (not referenced) */
  DeepCDDirGenOps ops;
  void           *data;
  PetscBool       setupcalled;
  PetscBool       linear; /* PETSC_TRUE when z depends linearly on r */
  PetscInt        smooth; /* smoothing steps it was trained for, known after setup (cnn: the model's training record); 0: none */
};

PETSC_EXTERN PetscErrorCode DeepCDDirGenRegister(const char[], PetscErrorCode (*)(DeepCDDirGen));
PETSC_EXTERN PetscErrorCode DeepCDDirGenRegistered(const char[], PetscBool *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate(KSP, const char[], DeepCDDirGen *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetFromOptions(DeepCDDirGen, PetscOptionItems *);
PETSC_EXTERN PetscErrorCode DeepCDDirGenSetUp(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenApply(DeepCDDirGen, Vec, Vec);
PETSC_EXTERN PetscErrorCode DeepCDDirGenView(DeepCDDirGen, PetscViewer);
PETSC_EXTERN PetscErrorCode DeepCDDirGenReset(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenDestroy(DeepCDDirGen *);

PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate_PC(DeepCDDirGen);
PETSC_EXTERN PetscErrorCode DeepCDDirGenCreate_CNN(DeepCDDirGen);

PETSC_EXTERN PetscLogEvent DEEPCD_Inference, DEEPCD_Halo;

#endif
