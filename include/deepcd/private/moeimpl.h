/* Private declarations of libdeepcd_moe. */
#ifndef DEEPCD_MOE_IMPL_H
#define DEEPCD_MOE_IMPL_H

#include <stdint.h>
#include <petsc/private/petscimpl.h>
#include <petscviewer.h>
#include <deepcd/moe.h>
#include <deepcd/moe_backbone.h>

/* splitmix64 (the project's one stream, src/solvers/rng.h): seeded and
   platform-independent (weights, point draws). */
#include <deepcd/private/rng.h>

/* Uniform in [0, 1). */
static inline double DeepCDMoeRngUniform(uint64_t *s)
{
  return (double) (DeepCDSplitMix64(s) >> 11) * 0x1.0p-53;
}

/* The activations of the networks (mlp.c, fno.c) */
static inline PetscReal DeepCDMoeAct(DeepCDMoeActivation a, PetscReal z)
{
  switch (a) {
  case DEEPCD_MOE_ACT_TANH: return PetscTanhReal(z);
  case DEEPCD_MOE_ACT_GELU: return 0.5 * z * (1.0 + erf(z * 0.70710678118654752440));
  default: return z;
  }
}

/* d act / dz, from the pre-activation z and the activation y = act(z) */
static inline PetscReal DeepCDMoeDAct(DeepCDMoeActivation a, PetscReal z, PetscReal y)
{
  switch (a) {
  case DEEPCD_MOE_ACT_TANH: return 1.0 - y * y;
  case DEEPCD_MOE_ACT_GELU: return 0.5 * (1.0 + erf(z * 0.70710678118654752440)) + z * PetscExpReal(-0.5 * z * z) * 0.39894228040143267794;
  default: return 1.0;
  }
}

/* The backbone table (deepcd/moe_backbone.h): one implementation per file
   (mlp.c, fno.c), dispatched by backbone.c. */
typedef struct {
  /* X: nx*nt x nin features of the whole grid for the problem's current instance */
  PetscErrorCode (*inputs)(DeepCDMoeBackbone, const DeepCDMoeGrid *, DeepCDMoePDE, PetscReal[]);
  PetscErrorCode (*initialize)(DeepCDMoeBackbone, PetscInt, PetscReal[]);
  /* Y at npts points (pts NULL: all); keeps the tape for backward */
  PetscErrorCode (*forward)(DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscInt, const PetscInt[], PetscReal[]);
  /* adds dL/dtheta for dL/dY of the last forward's points */
  PetscErrorCode (*backward)(DeepCDMoeBackbone, const PetscReal[], const PetscReal[], PetscReal[]);
  PetscErrorCode (*destroy)(DeepCDMoeBackbone);
} DeepCDMoeBackboneOps;

struct _n_DeepCDMoeBackbone {
  DeepCDMoeBackboneType type;
  PetscInt              nin, nout, nparams;
  DeepCDMoeBackboneOps  ops;
  void                 *data;
};

/* Kinds of residual rows. */
typedef enum {
  DEEPCD_MOE_ROW_PDE = 0,
  DEEPCD_MOE_ROW_IC  = 1,
  DEEPCD_MOE_ROW_BC0 = 2,
  DEEPCD_MOE_ROW_BC1 = 3
} DeepCDMoeRowKind;

struct _n_DeepCDMoeConstraint {
  DeepCDMoePDE    pde; /* referenced, not owned */
  DeepCDMoeGrid   grid;
  PetscInt        N;
  PetscInt        m, mpde; /* rows without the ridge; the first mpde are PDE rows */
  DeepCDMoePoint *pt;      /* the point of each row */
  PetscInt        nf;      /* fields: the problem's nfields */
  PetscReal      *lin;     /* condition rows: r = c . q - g, c[nf] and g (nf + 1 per row; PDE rows unused) */
  PetscReal      *V;       /* velocity fields (nf > DEEPCD_MOE_VX): the basis's v_x, v_y on the whole grid, then their adjoints (2 x P x N) */
  PetscReal       ridge;
  PetscBool       hasbasis;
  PetscReal      *Phi;       /* features: field a at row k is Phi + (a*m + k)*N */
  PetscReal      *q, *dF;    /* field-major: q[a*m + k] */
  PetscReal      *F, *d2F;   /* F[k]; d2F[k*nf*nf + a*nf + b] for PDE rows */
  PetscReal      *J, *Psi;   /* m x N; mpde x N */
  PetscReal      *M, *s;     /* N x N; nf*m (VJP work) */
  PetscBool       hasd2;     /* d2F was evaluated and is not identically zero */
  PetscReal      *uoff, *bs; /* problems with the initial condition built in (ops.builtin): u = uoff + bs (B w) on the whole grid (P each) */
  PetscReal      *q0;        /* ... and the fields of uoff at the rows (nf x m, field-major like q) */
};

struct _n_DeepCDMoeExperts {
  MPI_Comm             comm;
  PetscMPIInt          rank, size;
  DeepCDMoePDE         pde;
  DeepCDMoeGrid        grid;
  PetscInt             N, kx, kt, K;
  PetscInt             ky; /* subdomains in y (2-D grids; 1 otherwise) */
  PetscInt             m, seed;
  DeepCDMoeConditions  cond;
  PetscReal            ridge;
  DeepCDMoeHessianType htype;
  DeepCDMoeLMOptions   lm;
  PetscBool            setupcalled;
  PetscInt             kstart, kend; /* owned experts */
  PetscInt            *xs, *xe, *ts, *te;
  PetscInt            *ys, *ye;
  DeepCDMoeConstraint *con;        /* K; NULL when not owned */
  PetscReal           *w;          /* K x N */
  DeepCDMoeLMInfo     *info;       /* K */
  PetscBool           *solved;     /* K */
  PetscInt             npts, *pts; /* grid points whose basis rows this rank reads */
  /* coupling (coupling.c): interface i joins experts ifk[2i] (left or earlier, whose rank computes its rows) and ifk[2i+1];
     its rows weight*B_p (w_a - w_b) sit at the points ifpt[ifoff[i] .. ifoff[i+1]) (both sides of the interface) */
  DeepCDMoeCoupling coupling;
  PetscReal         cweight;
  PetscInt          nif, *ifk, *ifoff, *ifpt;
  PetscReal        *G; /* nif x N x N: weight^2 sum_p B_p^T B_p per interface, the same on every rank after a coupled solve */
};

/* experts.c: u = B w_k on expert k's subdomain; the direct term of the backward pass (wbar = sum_p ubar_p B_p, Bbar_p += ubar_p w_k) */
PETSC_INTERN PetscErrorCode DeepCDMoeExpertsAssemble(DeepCDMoeExperts, PetscInt, const PetscReal[], PetscReal[]);
PETSC_INTERN PetscErrorCode DeepCDMoeExpertsDirectBackward(DeepCDMoeExperts, PetscInt, const PetscReal[], const PetscReal[], PetscReal[], PetscReal[]);
/* coupling.c: the interfaces (SetUp) and the coupled solve and backward pass */
PETSC_INTERN PetscErrorCode DeepCDMoeExpertsSetUpInterfaces(DeepCDMoeExperts, PetscBool[]);
PETSC_INTERN PetscErrorCode DeepCDMoeExpertsCoupledSolve(DeepCDMoeExperts, const PetscReal[], PetscReal[]);
PETSC_INTERN PetscErrorCode DeepCDMoeExpertsCoupledBackward(DeepCDMoeExperts, const PetscReal[], const PetscReal[], PetscReal[]);

/* Levenberg-Marquardt on a least-squares problem given by callbacks (lm.c): one expert, or the coupled experts (coupling.c) */
typedef struct {
  PetscInt  n;      /* unknowns */
  PetscBool fixedH; /* H does not depend on w (linear rows) */
  void     *ctx;
  PetscErrorCode (*start)(void *, const PetscReal[]);                                                               /* the residual at w0 becomes the current one */
  PetscErrorCode (*normal)(void *, const PetscReal[], DeepCDMoeHessianType, PetscReal *, PetscReal[], PetscReal[]); /* f, g, H (n x n) at w; any may be NULL */
  PetscErrorCode (*trial)(void *, const PetscReal[], PetscReal *);                                                  /* f(current) - f(wn), row by row */
  PetscErrorCode (*accept)(void *);                                                                                 /* the last trial point becomes the current one */
} DeepCDMoeLMProblem;
PETSC_INTERN PetscErrorCode DeepCDMoeLMIterate(const DeepCDMoeLMProblem *, const DeepCDMoeLMOptions *, PetscReal[], DeepCDMoeLMInfo *);

/* diffusion-sorption: R, R' and R'' at u (pde_diffsorp.c) and the PDEBench
   finite-volume reference integrated with PETSc TS (reference_diffsorp.c) */
PETSC_INTERN void           DeepCDMoeDiffSorpRetardation(DeepCDMoePDE, PetscReal, PetscReal *, PetscReal *, PetscReal *);
PETSC_INTERN PetscErrorCode DeepCDMoeDiffSorpReference(DeepCDMoePDE, const DeepCDMoeGrid *, PetscReal[]);

/* the whole-grid system, one row per point (loss.c): initial rows at j = 0, boundary rows on the walls, PDE rows inside */
PETSC_INTERN PetscErrorCode DeepCDMoeGridRow(DeepCDMoePDE, const DeepCDMoeGrid *, PetscBool, const DeepCDMoePoint *, const PetscReal[], PetscReal *, PetscReal[], PetscReal *, PetscInt *);
/* Navier-Stokes: the random initial vorticity's Fourier coefficients and its
   value at a point (grf.c); the pseudo-spectral reference on a grid
   (reference_ns.c) */
#define DEEPCD_MOE_NS_NCOEF (2 * 21 * 41)
PETSC_INTERN PetscErrorCode DeepCDMoeNSFieldCoefficients(PetscReal, PetscReal, PetscReal, PetscReal[]);
PETSC_INTERN PetscReal      DeepCDMoeNSFieldAt(const PetscReal[], PetscReal, PetscReal);

/* the number of a point: (j*ny + k)*nx + i */
static inline PetscInt DeepCDMoePointNumber(const DeepCDMoeGrid *g, const DeepCDMoePoint *pt)
{
  return (pt->j * g->ny + pt->k) * g->nx + pt->i;
}

PETSC_INTERN PetscErrorCode DeepCDMoeFFTWMalloc(void *, size_t); /* velocity.c */

/* The velocity u = (psi_y, -psi_x) of the stream function of -Laplace psi = w, per Fourier coefficient (a, b) of a
   real nx x ny transform (a < nx/2 + 1, b < ny) on an Lx x Ly periodic box: u^ = i (sx, sy) w^, with sx = k_y / |k|^2,
   sy = -k_x / |k|^2, 0 at k = 0 and for the component along a Nyquist wavenumber (velocity.c, reference_ns.c). */
static inline void DeepCDMoeVelocitySymbol(PetscInt nx, PetscInt ny, PetscReal Lx, PetscReal Ly, PetscInt a, PetscInt b, PetscReal *sx, PetscReal *sy)
{
  const PetscInt  my = b <= ny / 2 ? b : b - ny;
  const PetscReal kx = 2.0 * PETSC_PI * (PetscReal) a / Lx, ky = 2.0 * PETSC_PI * (PetscReal) my / Ly, k2 = kx * kx + ky * ky;
  const PetscBool nyqx = (PetscBool) (nx % 2 == 0 && a == nx / 2), nyqy = (PetscBool) (ny % 2 == 0 && b == ny / 2);

  *sx = (k2 > 0.0 && !nyqy) ? ky / k2 : 0.0;
  *sy = (k2 > 0.0 && !nyqx) ? -kx / k2 : 0.0;
}

PETSC_INTERN PetscErrorCode DeepCDMoeConstraintEvaluate(DeepCDMoeConstraint, const PetscReal[], PetscBool, PetscBool);

#endif
