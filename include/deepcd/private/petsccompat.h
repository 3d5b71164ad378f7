/* PETSc version compatibility. The code is written for current PETSc
   (PETSC_SUCCESS, PetscAssertPointer, and PetscOptionItems, a pointer type
   from 3.23 on) and builds against Debian's PETSc 3.18 through these shims.
   scripts/check-current-petsc.sh builds it against the newest PETSc. */
#ifndef DEEPCD_PETSCCOMPAT_H
#define DEEPCD_PETSCCOMPAT_H

#include <petscsys.h>

#if PETSC_VERSION_LT(3, 19, 0)
  #define PETSC_SUCCESS ((PetscErrorCode)0)
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

#endif
