/* The basis network of the mixture-of-experts hard constraint behind one
   small table (docs/moe.md): a backbone maps the whole space-time grid's
   input features to nout outputs per grid point, with a flat parameter
   array theta, and back-propagates output sensitivities to theta.

   Two implementations:
   - mlp: the pointwise multilayer perceptron of deepcd/moe_mlp.h on
     (x, t) mapped to [-1, 1] and the problem's parameters
     (DeepCDMoeGridInputs()); on a 2-D grid on (x, y, t) and the initial
     condition u0 at the point with its gradient and velocity
     (DEEPCD_MOE_MLP_INPUTS_2D); it is evaluated only at the points asked for;
   - fno: a 2-D Fourier neural operator (Li et al., FNO2d as in the
     reference) on the channels (x, t) normalised to [0, 1] and the initial
     condition u0(x) broadcast over time: a pointwise lift to `width`
     channels, zero padding by at least `pad` points at the end of each axis
     (up to a length with prime factors 2, 3, 5, 7 only), `depth`
     Fourier layers z = K h + W h + b (K keeps `modes` Fourier modes per axis
     through FFTW real FFTs, GELU after every layer but the last), the crop
     and a pointwise projection width -> fc (GELU) -> nout. It always
     evaluates the whole grid (the transform is global) and keeps the
     outputs at the points asked for.

   Inputs X are row-major nx*nt x nin in grid order (DeepCDMoeBackboneInputs());
   outputs Y are row-major npts x nout for the points listed (NULL: all, in
   order). Everything is float64. */
#ifndef DEEPCD_MOE_BACKBONE_H
#define DEEPCD_MOE_BACKBONE_H

#include <deepcd/moe_mlp.h>
#include <deepcd/moe_pde.h>

typedef enum {
  DEEPCD_MOE_BACKBONE_MLP = 0,
  DEEPCD_MOE_BACKBONE_FNO = 1
} DeepCDMoeBackboneType;
PETSC_EXTERN const char *const DeepCDMoeBackboneTypes[];

typedef struct {
  PetscInt modes; /* Fourier modes kept per axis (clipped to what the padded grid has) */
  PetscInt width; /* channels of the Fourier layers */
  PetscInt depth; /* Fourier layers (>= 1) */
  PetscInt fc;    /* hidden width of the projection */
  PetscInt pad;   /* zero padding at the end of each axis (>= 0; rounded up to an FFT-friendly length) */
} DeepCDMoeFNOOptions;

typedef struct _n_DeepCDMoeBackbone *DeepCDMoeBackbone;

PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneCreateMLP(DeepCDMoeMLP, DeepCDMoeBackbone *);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneSetInputScaling(DeepCDMoeBackbone, PetscInt, const PetscReal[], const PetscReal[]);
/* inputs of the mlp on a 2-D grid: x, y, t, u0, u0_x/2pi, u0_y/2pi, 2pi v0_x, 2pi v0_y (v0: velocity of u0's stream function) */
#define DEEPCD_MOE_MLP_INPUTS_2D 8
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneCreateFNO(const DeepCDMoeGrid *, const DeepCDMoeFNOOptions *, PetscInt, DeepCDMoeActivation, DeepCDMoeBackbone *);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneDestroy(DeepCDMoeBackbone *);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneGetType(DeepCDMoeBackbone, DeepCDMoeBackboneType *);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneGetSizes(DeepCDMoeBackbone, PetscInt *, PetscInt *, PetscInt *);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneInitialize(DeepCDMoeBackbone, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneInputs(DeepCDMoeBackbone, const DeepCDMoeGrid *, DeepCDMoePDE, PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneForward(DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscInt, const PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode DeepCDMoeBackboneBackward(DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscReal[]);

#endif
