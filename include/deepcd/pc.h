/* PCNEURALMG: a matrix-free, symmetric multigrid preconditioner for the
   7-point cell-centred operators on a 3-D DMDA, with per-cell parameters. */
#ifndef DEEPCD_PC_H
#define DEEPCD_PC_H

#include <petscksp.h>

#define PCNEURALMG "neuralmg"

/*E
  PCNeuralMGCycleType - The multigrid cycle of PCNEURALMG

$ PC_NEURALMG_CYCLE_V - one coarse-grid correction per level
$ PC_NEURALMG_CYCLE_W - two coarse-grid corrections per level (not on the level above the direct solve)

  Level: intermediate

.seealso: `PCNEURALMG`, `PCNeuralMGSetCycleType()`
E*/
typedef enum {
  PC_NEURALMG_CYCLE_V = 0,
  PC_NEURALMG_CYCLE_W = 1
} PCNeuralMGCycleType;

PETSC_EXTERN PetscLogEvent  PC_NEURALMG_SetUp, PC_NEURALMG_Apply;
PETSC_EXTERN PetscErrorCode PCCreate_NeuralMG(PC);
PETSC_EXTERN PetscErrorCode PCNeuralMGSetLevels(PC, PetscInt);
PETSC_EXTERN PetscErrorCode PCNeuralMGGetLevels(PC, PetscInt *);
PETSC_EXTERN PetscErrorCode PCNeuralMGSetCycleType(PC, PCNeuralMGCycleType);
PETSC_EXTERN PetscErrorCode PCNeuralMGSetSmoothDegree(PC, PetscInt);
PETSC_EXTERN PetscErrorCode PCNeuralMGSetModel(PC, const char[]);

#endif
