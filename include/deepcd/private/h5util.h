/* Checked HDF5 reads for deepcd's file formats (private). Every failure is a
   PETSc error whose one-line message names the file and the item. */
#ifndef DEEPCD_HDF5_UTIL_H
#define DEEPCD_HDF5_UTIL_H

#include <stdint.h>
#include <hdf5.h>
#include <petscsys.h>
#include <deepcd/private/h5plain.h>

typedef struct {
  PetscBool   exists;
  int         rank;
  hsize_t     dims[H5S_MAX_RANK];
  H5T_class_t tclass;
  size_t      tsize;
  H5T_sign_t  tsign;
} DeepCDH5Info;

PETSC_INTERN PetscErrorCode DeepCDH5Open(MPI_Comm, const char[], hid_t *);
PETSC_INTERN PetscErrorCode DeepCDH5Close(hid_t);
PETSC_INTERN PetscErrorCode DeepCDH5AttrExists(MPI_Comm, const char[], hid_t, const char[], PetscBool *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrString(MPI_Comm, const char[], hid_t, const char[], char[], size_t);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrInt(MPI_Comm, const char[], hid_t, const char[], PetscInt *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrReal(MPI_Comm, const char[], hid_t, const char[], PetscReal *);
PETSC_INTERN PetscErrorCode DeepCDH5DatasetInfo(MPI_Comm, const char[], hid_t, const char[], DeepCDH5Info *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadBox(const char[], hid_t, const char[], hid_t, const PetscInt[3], const PetscInt[3], void *, PetscBool *);

PETSC_INTERN PetscErrorCode DeepCDH5WriteAtomic(const char[], PetscErrorCode (*)(hid_t, const char[], const void *), const void *);

PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrU64(MPI_Comm, const char[], hid_t, const char[], uint64_t *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadVector(MPI_Comm, const char[], hid_t, const char[], const char[], H5T_class_t, hid_t, hsize_t, void *);
#endif
