/* Internals of the model file writer shared with the training checkpoints. */
#ifndef DEEPCD_MODEL_IO_IMPL_H
#define DEEPCD_MODEL_IO_IMPL_H

#include <hdf5.h>
#include <deepcd/model_io.h>

/* Writes the model (ctx: const nn_model *, valid) into the open file; `path`
   names it in messages. A checkpoint is a model file with one more group. */
PETSC_INTERN PetscErrorCode DeepCDModelWriteContents(hid_t file, const char path[], const void *ctx);
/* The checks DeepCDModelWrite() makes before writing. */
PETSC_INTERN PetscErrorCode DeepCDModelCheckWritable(const nn_model *, const char path[]);

/* A file read once per process and shared (src/solvers/model/model_cache.c):
   any object, by its reader; the models of the cnn generator. */
typedef PetscErrorCode (*DeepCDFileCacheRead)(MPI_Comm, const char[], void **);
typedef void (*DeepCDFileCacheFree)(void **);
PETSC_INTERN PetscErrorCode DeepCDFileCacheGet(MPI_Comm, const char[], DeepCDFileCacheRead, DeepCDFileCacheFree, const void **);
PETSC_INTERN PetscErrorCode DeepCDModelCacheGet(MPI_Comm, const char[], const nn_model **);
PETSC_INTERN PetscErrorCode DeepCDModelCacheClear(void);

#endif
