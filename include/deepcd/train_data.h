/* Training data for the DCDM loss (docs/training.md, docs/formats.md
   "Training data file"): Ritz vectors of a problem's operator and unit
   right-hand sides made of them, low end of the spectrum weighted.

   These functions use SLEPc. They call SlepcInitialize() themselves when
   SLEPc is not yet initialised (PETSc must be); a program that lets them do
   so should call SlepcFinalize() before PetscFinalize() (that finalises
   SLEPc only, since SLEPc did not start PETSc). No SLEPc type appears here. */
#ifndef DEEPCD_TRAIN_DATA_H
#define DEEPCD_TRAIN_DATA_H

#include <deepcd/problem.h>

#define DEEPCD_TRAIN_DATA_FORMAT  "deepcd-train-data"
#define DEEPCD_TRAIN_DATA_VERSION 1

/* The K smallest eigenpairs of A restricted to the fluid cells, with the
   null space of floating fluid regions deflated. */
typedef struct {
  PetscInt   k;          /* number of pairs kept */
  PetscReal *values;     /* k Ritz values, ascending */
  Vec       *vectors;    /* k global vectors on the problem's DMDA, 2-norm 1, zero on solid cells */
  PetscInt   nnull;      /* null-space vectors deflated (one per floating region) */
  PetscInt   nskipped;   /* converged values below the null tolerance that were dropped */
  PetscInt   nfluid;     /* fluid cells */
  PetscInt   iterations; /* EPS restarts (EPSGetIterationNumber) */
  PetscReal  seconds;    /* wall time of the eigen-solve */
  char       eps_type[64], st_type[64];
} DeepCDRitz;

/* Computes the K smallest Ritz pairs of A (from DeepCDOperatorSetUp()).
   Defaults: Krylov-Schur, EPS_SMALLEST_REAL, tolerance 1e-8; the EPS has
   options prefix `prefix` (may be NULL) and EPSSetFromOptions() is called,
   so -eps_* options override. Values below 1e-8 times the largest diagonal
   entry of A are skipped as null-space modes. */
PETSC_EXTERN PetscErrorCode DeepCDRitzCompute(DeepCDProblem, Mat, PetscInt k, const char prefix[], DeepCDRitz *);
PETSC_EXTERN PetscErrorCode DeepCDRitzDestroy(DeepCDRitz *);

/* Default number of low (weight 9) modes for K Ritz vectors: K/2 + ceil(K/20),
   at most K (the reference's m/2 + 500 for m = 10000). */
PETSC_EXTERN PetscInt DeepCDTrainDataDefaultLow(PetscInt k);

/* Sample `sample` of problem `problem`: b = sum_j c_j q_j / ||.||_2 with
   c_j = 9 N(0,1) for j < nlow, N(0,1) otherwise. The c_j depend only on
   (seed, problem, sample), not on the number of processes. */
PETSC_EXTERN PetscErrorCode DeepCDTrainDataRHS(const DeepCDRitz *, PetscInt nlow, unsigned long seed, PetscInt problem, PetscInt sample, Vec b);

typedef struct {
  PetscInt      nev;     /* K: Ritz vectors per problem */
  PetscInt      samples; /* S: right-hand sides per problem */
  PetscInt      low;     /* L: weighted modes; < 0 for DeepCDTrainDataDefaultLow(K) */
  unsigned long seed;
  PetscBool     progress; /* print one line per problem and stage on rank 0 */
} DeepCDTrainDataOptions;

/* Writes a training data file (temporary name, then rename) for n problem files. */
PETSC_EXTERN PetscErrorCode DeepCDTrainDataWrite(MPI_Comm, PetscInt n, const char *const problems[], const DeepCDTrainDataOptions *, const char path[]);

#endif
