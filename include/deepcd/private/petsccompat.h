/* PETSc version compatibility. The code is written for current PETSc
   (PETSC_SUCCESS, PetscAssertPointer, and PetscOptionItems, a pointer type
   from 3.23 on) and builds against Debian's PETSc 3.18 through these shims.
   scripts/check-current-petsc.sh builds it against the newest PETSc. */
#ifndef DEEPCD_PETSCCOMPAT_H
#define DEEPCD_PETSCCOMPAT_H

#include <petscsys.h>

#if PETSC_VERSION_LT(3, 19, 0)
#define PETSC_SUCCESS ((PetscErrorCode) 0)
#endif
#if PETSC_VERSION_LT(3, 20, 0)
#define PetscAssertPointer(p, arg) PetscValidPointer(p, arg)
#endif
/* the argument of a setfromoptions method */
#if PETSC_VERSION_LT(3, 23, 0)
typedef PetscOptionItems *DeepCDOptionItems;
#else
typedef PetscOptionItems DeepCDOptionItems;
#endif
/* the argument of a context destroy function: the context's address */
#if PETSC_VERSION_LT(3, 25, 0)
typedef void **DeepCDCtxRt;
#else
typedef PetscCtxRt       DeepCDCtxRt;
#endif
/* KSPSetDMActive() gained a KSPDMActive argument; all of them here */
#if PETSC_VERSION_LT(3, 26, 0)
#define DeepCDKSPSetDMActive(ksp, flg) KSPSetDMActive(ksp, flg)
#else
#define DeepCDKSPSetDMActive(ksp, flg) KSPSetDMActive(ksp, KSP_DMACTIVE_ALL, flg)
#endif
/* PetscBool is C's bool from 3.24 on */
#if PETSC_VERSION_LT(3, 24, 0)
#define DEEPCD_MPI_BOOL MPIU_BOOL
#else
#define DEEPCD_MPI_BOOL MPI_C_BOOL
#endif
#if PETSC_VERSION_LT(3, 22, 0)
#define PetscOptionsCreateViewer PetscOptionsGetViewer
#endif
/* the specific message of PetscErrorMessage() became const */
#if PETSC_VERSION_LT(3, 19, 0)
typedef char *DeepCDErrorText;
#else
typedef const char      *DeepCDErrorText;
#endif

/* Does the last error carry no message of its own, only the name of the PETSc function that failed
   (VecCreate_Seq, DMSetUp_DA_3D: PETSc 3.18's allocation failures)? */
static inline PetscBool DeepCDErrorIsBare(PetscErrorCode ierr)
{
  const char     *text     = NULL;
  DeepCDErrorText specific = NULL;

  (void) PetscErrorMessage(ierr, &text, &specific);
  if (!specific || !specific[0]) return PETSC_TRUE;
  for (const char *c = specific; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return PETSC_FALSE;
  return PETSC_TRUE;
}

/* %g of plain C: PETSc's printf family writes "2." and "nan." (buf: at least 32 bytes) */
#include <stdio.h>
static inline const char *DeepCDFormatG(char buf[32], double v)
{
  snprintf(buf, 32, "%g", v);
  return buf;
}

#endif
