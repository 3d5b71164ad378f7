/* The basis network of the mixture-of-experts hard constraint: a dense
   multilayer perceptron in float64 (docs/moe.md).

   Layer l (l = 1..L) maps width[l-1] inputs to width[l] outputs,
   z = W_l a + b_l, with W_l stored row-major (width[l] x width[l-1]) and
   followed by b_l in one flat parameter array theta, layer after layer.
   Hidden layers use the hidden activation, the last layer the output
   activation. A batch of P inputs is a row-major P x width[0] array; the
   outputs are P x width[L]. Products go through PETSc's BLAS (dgemm). */
#ifndef DEEPCD_MOE_MLP_H
#define DEEPCD_MOE_MLP_H

#include <petscsys.h>

typedef enum {
  DEEPCD_MOE_ACT_NONE = 0,
  DEEPCD_MOE_ACT_TANH = 1,
  DEEPCD_MOE_ACT_GELU = 2 /* exact: z * Phi(z), Phi the normal CDF */
} DeepCDMoeActivation;
PETSC_EXTERN const char *const DeepCDMoeActivations[];

typedef struct _n_DeepCDMoeMLP *DeepCDMoeMLP;

PETSC_EXTERN PetscErrorCode DeepCDMoeMLPCreate(PetscInt, const PetscInt[], DeepCDMoeActivation, DeepCDMoeActivation, DeepCDMoeMLP *);
PETSC_EXTERN PetscErrorCode DeepCDMoeMLPDestroy(DeepCDMoeMLP *);
PETSC_EXTERN PetscErrorCode DeepCDMoeMLPGetSizes(DeepCDMoeMLP, PetscInt *, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeMLPInitialize(DeepCDMoeMLP, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeMLPForward(DeepCDMoeMLP, PetscInt, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeMLPBackward(DeepCDMoeMLP, const PetscReal[], const PetscReal[], PetscReal[], PetscReal[]);

#endif
