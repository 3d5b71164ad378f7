/* The model file format v1 (docs/formats.md): a CNN (deepcd/nn.h) in HDF5. */
#ifndef DEEPCD_MODEL_IO_H
#define DEEPCD_MODEL_IO_H

#include <petscviewer.h>
#include <deepcd/nn.h>

#define DEEPCD_MODEL_FORMAT  "deepcd-model"
#define DEEPCD_MODEL_VERSION 1

PETSC_EXTERN PetscErrorCode DeepCDModelWrite(const nn_model *, const char[]);
PETSC_EXTERN PetscErrorCode DeepCDModelRead(MPI_Comm, const char[], nn_model **);
PETSC_EXTERN PetscErrorCode DeepCDModelView(const nn_model *, PetscViewer);
PETSC_EXTERN PetscErrorCode DeepCDModelTrainingSmooth(const nn_model *, PetscInt *);

#endif
