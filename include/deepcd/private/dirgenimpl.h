/* The direction generator's implementation struct (see deepcd/dirgen.h). */
#ifndef DEEPCD_DIRGENIMPL_H
#define DEEPCD_DIRGENIMPL_H

#include <petsc/private/petscimpl.h>
#include <deepcd/dirgen.h>
#include <deepcd/private/petsccompat.h>

typedef struct _DeepCDDirGenOps *DeepCDDirGenOps;
struct _DeepCDDirGenOps {
  PetscErrorCode (*setfromoptions)(DeepCDDirGen, DeepCDOptionItems);
  PetscErrorCode (*setup)(DeepCDDirGen);
  PetscErrorCode (*apply)(DeepCDDirGen, Vec, Vec); /* mandatory */
  PetscErrorCode (*view)(DeepCDDirGen, PetscViewer);
  PetscErrorCode (*reset)(DeepCDDirGen);
  PetscErrorCode (*destroy)(DeepCDDirGen);
};

struct _p_DeepCDDirGen {
  PETSCHEADER(struct _DeepCDDirGenOps);
  KSP       ksp; /* the owning KSP (not referenced: it owns the generator) */
  void     *data;
  PetscBool setupcalled;
  PetscBool linear; /* PETSC_TRUE when z depends linearly on r */
  PetscInt  smooth; /* smoothing steps it was trained for, known after setup (cnn: the model's training record); 0: none */
};

PETSC_INTERN PetscErrorCode DeepCDDirGenFinalizePackage(void);

#endif
