/* Private data of PCNEURALMG (src/solvers/pc/impls/neuralmg). */
#ifndef DEEPCD_PCNEURALMGIMPL_H
#define DEEPCD_PCNEURALMGIMPL_H

#include <petsc/private/pcimpl.h>
#include <petscdmda.h>
#include <petscsf.h>
#include <deepcd/pc.h>
#include <deepcd/private/nmgkernels.h>

#define NMG_MAX_LEVELS 16

/* The learned part (model.c): a per-cell network on features of the level's
   diagonally scaled stencil gives each cell's smoother weight,
   w_i = m_i / a_ii with m_i in (1/2, 3/2); four scalars set the cycle's
   coarse-grid correction scalings and the Chebyshev interval. */
#define NMG_NFEAT        6
#define NMG_NHIDDEN      8
#define NMG_NNET         (NMG_NHIDDEN * NMG_NFEAT + 2 * NMG_NHIDDEN + 1)
#define NMG_NSCALAR      4
#define NMG_NPARAM       (NMG_NNET + NMG_NSCALAR) /* the trainable parameter vector */
#define NMG_SHIPPED_NAME "share/deepcd/models/neuralmg.h5"

typedef struct {
  float     w1[NMG_NHIDDEN][NMG_NFEAT], b1[NMG_NHIDDEN], w2[NMG_NHIDDEN], b2;
  PetscReal alpha, alpha2, alpha_exact, cheb_lower; /* the scalars, within NMGModelScalarRange */
  PetscBool learned;                                /* from a file (or training), not the classical parameters */
  char      source[PETSC_MAX_PATH_LEN];             /* the file, or "none" */
  char      training[256];                          /* the file's training record */
} NMGModel;

/* One level of the hierarchy. Every array is the rank's owned box padded by
   one cell on each side (x fastest): the layer holds the neighbours' values
   after a halo exchange, and zeros outside the domain, so the kernels run
   without branches. The operator is the symmetric 7-point stencil
     (A x)_i = d_i x_i + cx_i x_{i+1} + cx_{i-1} x_{i-1} + (same in y, z),
   cx_i being the coupling of cell i with its +x neighbour. The kernels
   (nmgkernels.h, plain C) see a level through NMGLevelBox(). */
typedef struct {
  PetscInt  M[3];                 /* global cells per direction */
  PetscInt  xs[3], xm[3];         /* owned box: first global cell, cells */
  PetscInt  sy, sz;               /* strides of the padded box: (xm+2), (xm+2)(ym+2) */
  PetscInt  npad;                 /* cells of the padded box */
  PetscInt *start[3];             /* ownership of all ranks: start[d][0..np[d]] */
  PetscBool straddle;             /* some coarse cell of the next level has children on two ranks */
  float    *d, *cx, *cy, *cz, *w; /* operator and smoother weights (w = 1/d classically) */
  float    *x, *b, *p, *t;        /* solution, right-hand side, Chebyshev direction, spare x (and residual) */
  PetscReal lmax;                 /* Gershgorin bound of the spectrum of W A on this level */
  PetscInt  degree;               /* Chebyshev degree of each smoothing */
  PetscReal alpha, alpha2;        /* scalings of the (first, second) coarse-grid correction received from the next level */
  PetscInt  gamma;                /* coarse-grid corrections per visit: 1 (V), 2 (W) */
  PetscSF   halo;                 /* box halo (NULL on one rank) */
} NMGLevel;

/* The kernels' view of a level: its geometry and operator, no PETSc types */
static inline nmg_box NMGLevelBox(const NMGLevel *L)
{
  nmg_box B;

  for (int d = 0; d < 3; d++) {
    B.xs[d] = L->xs[d];
    B.xm[d] = L->xm[d];
  }
  B.sy   = L->sy;
  B.sz   = L->sz;
  B.npad = L->npad;
  B.d    = L->d;
  B.cx   = L->cx;
  B.cy   = L->cy;
  B.cz   = L->cz;
  B.w    = L->w;
  return B;
}

/* Banded LDL^T of the coarsest operator, replicated on every rank. */
typedef struct {
  PetscInt     n, bw; /* unknowns, bandwidth */
  PetscReal   *L;     /* row i: L(i, i-bw .. i-1) at L[i*bw + k - (i-bw)] */
  PetscReal   *dinv;  /* 1/D, 0 for a dropped (null-space) pivot */
  PetscReal   *y;     /* work, natural order */
  float       *gath;  /* gathered right-hand side, rank order */
  PetscInt    *perm;  /* natural index of each gathered value */
  PetscMPIInt *counts, *displs;
  PetscInt     ndropped; /* zero pivots (floating regions of the coarsest grid) */
} NMGCoarse;

typedef struct {
  /* options */
  PetscInt            maxlevels;                                 /* PETSC_DECIDE: until coarse_size */
  PetscInt            coarse_size;                               /* coarsen until the grid has at most this many cells */
  PetscInt            degree;                                    /* Chebyshev degree of each smoothing on the finest level */
  PetscInt            degree_growth;                             /* added per coarser level */
  PetscReal           cheb_lower;                                /* Chebyshev interval [cheb_lower, 1] x lmax */
  PetscReal           alpha;                                     /* coarse-grid correction scaling */
  PetscReal           alpha_exact;                               /* the same for the correction from the exact coarsest solve */
  PetscReal           alpha2;                                    /* the second correction of a W-cycle level */
  PetscReal           alpha_used, alpha2_used, alpha_exact_used; /* resolved defaults */
  PCNeuralMGCycleType cycle;
  char                model_option[PETSC_MAX_PATH_LEN];                               /* -pc_neuralmg_model: a file, "none", or "" (the shipped model) */
  PetscBool           model_set;                                                      /* the model was given by PCNeuralMGSetModelParameters() (training) */
  NMGModel            model;                                                          /* the parameters in use */
  PetscBool           alpha_given, alpha2_given, alpha_exact_given, cheb_lower_given; /* options that override the model */
  PetscBool           model_loaded;                                                   /* nmg->model holds what model_loaded_option names */
  char                model_loaded_option[PETSC_MAX_PATH_LEN];
  PetscReal           cheb_used; /* resolved cheb_lower */
  /* hierarchy */
  PetscInt       nlevels;
  NMGLevel       lev[NMG_MAX_LEVELS];
  NMGCoarse      coarse;
  PetscInt       np[3];          /* process grid */
  PetscInt       ndecoupled;     /* global count of rows with no off-diagonal entries */
  PetscInt       nlocal;         /* owned fine cells */
  float         *mask;           /* level 0: 1 on coupled cells, 0 on decoupled ones (NULL if none) */
  PetscReal     *dinv_dec;       /* level 0: 1/a_ii on decoupled cells, 0 elsewhere (NULL if none) */
  PetscBool      singular;       /* the coarsest operator had zero pivots */
  PetscReal      spectrum_bound; /* bound of the largest eigenvalue of M A (NMGCheckPositive) */
  PetscLogDouble flops_apply;    /* per application, whole grid */
  PetscLogDouble bytes_apply;
} PC_NeuralMG;

/* model.c */
PETSC_INTERN void           NMGModelClassical(NMGModel *);
PETSC_INTERN PetscErrorCode NMGModelLoad(MPI_Comm, const char[], NMGModel *);
PETSC_INTERN PetscErrorCode NMGModelLoadCached(MPI_Comm, const char[], NMGModel *);
PETSC_INTERN PetscErrorCode NMGModelWrite(const NMGModel *, const char[]);
PETSC_INTERN PetscErrorCode NMGModelShippedPath(char[], size_t, PetscBool *);
PETSC_INTERN void           NMGModelToParameters(const NMGModel *, PetscReal[NMG_NPARAM]);
PETSC_INTERN void           NMGModelFromParameters(const PetscReal[NMG_NPARAM], NMGModel *);
PETSC_INTERN PetscErrorCode NMGModelWeights(const NMGModel *, PetscInt, NMGLevel *, const PetscReal *, const PetscReal *, const PetscReal *, const PetscReal *, const float *);
PETSC_INTERN PetscErrorCode PCNeuralMGSetModelParameters(PC, const PetscReal[NMG_NPARAM]);
/* neuralmg.c: the positivity bound of a cycle (PCSetUp refuses a cycle for which *ok is false) */
PETSC_INTERN void NMGPositiveBound(PetscInt, PCNeuralMGCycleType, PetscReal, PetscReal, PetscReal, PetscReal *, PetscInt *, PetscBool *);
/* hierarchy.c */
PETSC_INTERN PetscErrorCode PCNeuralMGBuildHierarchy(PC);
PETSC_INTERN PetscErrorCode PCNeuralMGDestroyHierarchy(PC);
PETSC_INTERN PetscErrorCode PCNeuralMGHalo(NMGLevel *, MPI_Datatype, void *);
/* coarse.c */
PETSC_INTERN PetscErrorCode PCNeuralMGCoarseSetUp(PC, const PetscReal *, const PetscReal *, const PetscReal *, const PetscReal *);
PETSC_INTERN PetscErrorCode PCNeuralMGCoarseSolve(PC);
PETSC_INTERN PetscErrorCode PCNeuralMGCoarseDestroy(NMGCoarse *);
/* cycle */
PETSC_INTERN PetscErrorCode PCNeuralMGCycle(PC, PetscInt, PetscBool);

#endif
