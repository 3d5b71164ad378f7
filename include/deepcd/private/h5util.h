/* deepcd's one HDF5 layer, PETSc part (src/sys/hdf5/h5util.c): thin wrappers
   over the plain core (deepcd/private/h5.h) whose failures are PETSc errors
   with the core's one-line message naming the file and the item. */
#ifndef DEEPCD_HDF5_UTIL_H
#define DEEPCD_HDF5_UTIL_H

#include <stdint.h>
#include <hdf5.h>
#include <petscsys.h>
#include <deepcd/private/h5.h>

typedef deepcd_h5_info DeepCDH5Info;

/* Raises the core's error `code` (0: nothing) with its message: PETSC_ERR_FILE_OPEN, _READ, _UNEXPECTED,
   _WRITE or PETSC_ERR_MEM. Use as PetscCall(DeepCDH5Raise(comm, deepcd_h5_xxx(..., &e), &e)). */
PETSC_INTERN PetscErrorCode DeepCDH5Raise(MPI_Comm, int, const deepcd_h5_error *);

/* Runs body(ctx) with HDF5's own error printing off, the caller's setting restored after. */
PETSC_INTERN PetscErrorCode DeepCDH5Quietly(PetscErrorCode (*)(void *), void *);

PETSC_INTERN PetscErrorCode DeepCDH5Open(MPI_Comm, const char[], hid_t *);
/* Opens `file` read-only (DeepCDH5Open) and runs body(fid, ctx) with HDF5's own error printing off; the file
   is closed and the caller's setting restored whatever happens. */
PETSC_INTERN PetscErrorCode DeepCDH5WithFile(MPI_Comm, const char[], PetscErrorCode (*)(hid_t, void *), void *);
PETSC_INTERN PetscErrorCode DeepCDH5Close(hid_t);
/* deepcd_h5_check_header: one format (n = 1) or either of two; *which may be NULL */
PETSC_INTERN PetscErrorCode DeepCDH5CheckHeader(MPI_Comm, const char[], hid_t, int, const char *const[], const int[], const char[], int *);
PETSC_INTERN PetscErrorCode DeepCDH5AttrExists(MPI_Comm, const char[], hid_t, const char[], PetscBool *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrString(MPI_Comm, const char[], hid_t, const char[], char[], size_t);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrInt(MPI_Comm, const char[], hid_t, const char[], PetscInt *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrReal(MPI_Comm, const char[], hid_t, const char[], PetscReal *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadAttrU64(MPI_Comm, const char[], hid_t, const char[], uint64_t *);
PETSC_INTERN PetscErrorCode DeepCDH5DatasetInfo(MPI_Comm, const char[], hid_t, const char[], DeepCDH5Info *);
PETSC_INTERN PetscErrorCode DeepCDH5ReadBox(const char[], hid_t, const char[], hid_t, const PetscInt[3], const PetscInt[3], void *, PetscBool *);
/* deepcd_h5_read_checked */
PETSC_INTERN PetscErrorCode DeepCDH5ReadChecked(MPI_Comm, const char[], hid_t, const deepcd_h5_read_spec *, void *);
/* A whole 1-D dataset of n values of class `tclass`, converted to memtype; `label` names it. */
PETSC_INTERN PetscErrorCode DeepCDH5ReadVector(MPI_Comm, const char[], hid_t, const char[], const char[], H5T_class_t, hid_t, hsize_t, void *);

/* Raises "PATH: cannot write KIND 'NAME'" (PETSC_ERR_FILE_WRITE) when err, a core writer's result, is nonzero. */
PETSC_INTERN PetscErrorCode DeepCDH5Wrote(int, const char[], const char[], const char[]);

/* Writes an HDF5 file on one process (deepcd_h5_write_atomic): `write` fills a new file created under a
   temporary name, which is renamed to `path` only when everything worked. Refused first, in one line, when
   the file system has less than `bytes` free (DeepCDH5CheckRoom; `what` names the content). */
PETSC_INTERN PetscErrorCode DeepCDH5WriteAtomic(const char[], const char[], double, PetscErrorCode (*)(hid_t, const char[], const void *), const void *);
/* Collective: rank 0's deepcd_h5_tmp_name() (which also removes the stale temporaries of path) on every rank. */
PETSC_INTERN PetscErrorCode DeepCDH5TmpName(MPI_Comm, const char[], char[], size_t);
/* Refuses an output for which the file system has less than `bytes` free (one line, collective). */
PETSC_INTERN PetscErrorCode DeepCDH5CheckRoom(MPI_Comm, const char[], double, const char[]);
#endif
