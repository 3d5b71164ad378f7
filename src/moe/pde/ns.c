/* 2-D incompressible Navier-Stokes in vorticity form on the periodic unit
   square, (0, 1)^2 x (0, 2]:

     w_t + v . grad w - nu lap w = 0,   v = (psi_y, -psi_x),   lap psi = -w,

   no forcing. The local quantities are q = (w, w_t, w_x, w_xx, w_y, lap w,
   v_x, v_y); the velocity is linear in w and comes from the stream function
   by FFT (DeepCDMoeGridVelocity()), so F = w_t + v_x w_x + v_y w_y - nu lap w
   is pointwise in q and bilinear. The initial vorticity is a Gaussian
   random field with the periodic kernel (grf.c), fixed by the instance
   parameter seed; initial rows w - w0 at t = 0, no boundary rows. The
   reference is the pseudo-spectral solver of reference_ns.c. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

enum { NU,
       ELL,
       SIGMA };
enum { SEED };

typedef struct {
  PetscBool  valid;
  PetscReal  key[4]; /* ell, sigma, seed of the cached coefficients */
  PetscReal  a[DEEPCD_MOE_NS_NCOEF];
  PetscInt   stamp;        /* bumped when the coefficients change */
  PetscInt   cn;           /* cache of w0 at points (i, k): cn x cn slots */
  PetscReal *cw, *cx, *cy; /* value and the point it was computed at */
  PetscInt  *cstamp;       /* valid when equal to stamp */
} NSData;

static PetscErrorCode residual(DeepCDMoePDE pde, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[])
{
  const PetscReal nu = pde->constant[NU];

  PetscFunctionBegin;
  *F = q[DEEPCD_MOE_UT] + q[DEEPCD_MOE_VX] * q[DEEPCD_MOE_UX] + q[DEEPCD_MOE_VY] * q[DEEPCD_MOE_UY] - nu * q[DEEPCD_MOE_LAP];
  if (dF) {
    PetscCall(PetscArrayzero(dF, DEEPCD_MOE_MAX_FIELDS));
    dF[DEEPCD_MOE_UT]  = 1.0;
    dF[DEEPCD_MOE_UX]  = q[DEEPCD_MOE_VX];
    dF[DEEPCD_MOE_UY]  = q[DEEPCD_MOE_VY];
    dF[DEEPCD_MOE_LAP] = -nu;
    dF[DEEPCD_MOE_VX]  = q[DEEPCD_MOE_UX];
    dF[DEEPCD_MOE_VY]  = q[DEEPCD_MOE_UY];
  }
  if (d2F) {
    const PetscInt n = DEEPCD_MOE_MAX_FIELDS;

    PetscCall(PetscArrayzero(d2F, n * n));
    d2F[DEEPCD_MOE_UX * n + DEEPCD_MOE_VX] = d2F[DEEPCD_MOE_VX * n + DEEPCD_MOE_UX] = 1.0;
    d2F[DEEPCD_MOE_UY * n + DEEPCD_MOE_VY] = d2F[DEEPCD_MOE_VY * n + DEEPCD_MOE_UY] = 1.0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coefficients(DeepCDMoePDE pde, const PetscReal **a)
{
  NSData *d = (NSData *) pde->data;

  PetscFunctionBegin;
  if (!d->valid || d->key[0] != pde->constant[ELL] || d->key[1] != pde->constant[SIGMA] || d->key[2] != pde->param[SEED]) {
    PetscCall(DeepCDMoeNSFieldCoefficients(pde->constant[ELL], pde->constant[SIGMA], pde->param[SEED], d->a));
    d->key[0] = pde->constant[ELL], d->key[1] = pde->constant[SIGMA], d->key[2] = pde->param[SEED];
    d->valid = PETSC_TRUE;
    d->stamp++;
  }
  *a = d->a;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* w0 at the point, remembered per grid index (i, k) for the current coefficients (the field costs ~4k flops a point) */
static PetscErrorCode w0_at(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *w0)
{
  NSData          *d = (NSData *) pde->data;
  const PetscReal *a;
  PetscInt         q;

  PetscFunctionBegin;
  PetscCall(coefficients(pde, &a));
  if (pt->i >= d->cn || pt->k >= d->cn) {
    const PetscInt n = PetscMax(pt->i, pt->k) + 1;

    PetscCall(PetscFree4(d->cw, d->cx, d->cy, d->cstamp));
    PetscCall(PetscCalloc4(n * n, &d->cw, n * n, &d->cx, n * n, &d->cy, n * n, &d->cstamp));
    d->cn = n;
  }
  q = pt->k * d->cn + pt->i;
  if (d->cstamp[q] != d->stamp || d->cx[q] != pt->x || d->cy[q] != pt->y) {
    d->cw[q]     = DeepCDMoeNSFieldAt(a, pt->x, pt->y);
    d->cx[q]     = pt->x;
    d->cy[q]     = pt->y;
    d->cstamp[q] = d->stamp;
  }
  *w0 = d->cw[q];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode initial(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *u0, PetscReal *scale)
{
  PetscFunctionBegin;
  PetscCall(w0_at(pde, pt, u0));
  *scale = 1.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the initial condition built in, as in the reference: w = w0 + (t - t0)/(t1 - t0) (B w) */
static PetscErrorCode builtin(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *uoff, PetscReal *s)
{
  PetscFunctionBegin;
  PetscCall(w0_at(pde, pt, uoff));
  *s = (pt->t - pde->t0) / (pde->t1 - pde->t0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode boundary(DeepCDMoePDE pde, PetscInt side, const DeepCDMoePoint *pt, PetscReal c[], PetscReal *g)
{
  PetscFunctionBegin;
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe PDE 'ns' is periodic: it has no boundary rows");
}

/* the family: seed ~ U{0, ..., 2^31 - 1} */
static PetscErrorCode sample(DeepCDMoePDE pde, const PetscReal r[], PetscReal param[])
{
  PetscFunctionBegin;
  param[SEED] = PetscFloorReal(r[0] * 2147483648.0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The pseudo-spectral solution on refine*nx x refine*ny points (-moe_ref_ns_refine, default 2), sampled at the grid's points. */
static PetscErrorCode reference(DeepCDMoePDE pde, const DeepCDMoeGrid *g, PetscReal u[])
{
  PetscInt         r = 2, nx, ny, nt = g->nt;
  PetscReal       *w0, *w, *tout;
  const PetscReal *a;

  PetscFunctionBegin;
  PetscCheck(g->periodic && g->ny > 1 && g->xlo == pde->xlo && g->xhi == pde->xhi && g->ylo == pde->ylo && g->yhi == pde->yhi && g->t0 == 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe PDE 'ns': the reference needs the problem's periodic 2-D grid starting at t = 0");
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-moe_ref_ns_refine", &r, NULL));
  PetscCheck(r >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_ref_ns_refine %" PetscInt_FMT ": must be >= 1", r);
  nx = r * g->nx, ny = r * g->ny;
  PetscCall(coefficients(pde, &a));
  PetscCall(PetscMalloc3(nx * ny, &w0, nt * nx * ny, &w, nt, &tout));
  for (PetscInt k = 0; k < ny; k++)
    for (PetscInt i = 0; i < nx; i++) w0[k * nx + i] = DeepCDMoeNSFieldAt(a, (PetscReal) i / (PetscReal) nx, (PetscReal) k / (PetscReal) ny);
  for (PetscInt j = 0; j < nt; j++) tout[j] = g->t0 + (PetscReal) j * g->ht;
  PetscCall(DeepCDMoeNSSolve(nx, ny, pde->constant[NU], w0, nt, tout, 0.0, w));
  for (PetscInt j = 0; j < nt; j++)
    for (PetscInt k = 0; k < g->ny; k++)
      for (PetscInt i = 0; i < g->nx; i++) u[(j * g->ny + k) * g->nx + i] = w[(j * ny + r * k) * nx + r * i];
  PetscCall(PetscFree3(w0, w, tout));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode destroy(DeepCDMoePDE pde)
{
  NSData *d = (NSData *) pde->data;

  PetscFunctionBegin;
  PetscCall(PetscFree4(d->cw, d->cx, d->cy, d->cstamp));
  PetscCall(PetscFree(pde->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDECreate_NS - 2-D incompressible Navier-Stokes in vorticity form on the periodic unit square, t in (0, 2] (constants nu = 1e-3, ell = 0.8 and sigma = 1, the random initial vorticity's length scale and standard deviation; parameter seed = 1, which fixes the initial vorticity).

  Level: developer
@*/
PetscErrorCode DeepCDMoePDECreate_NS(DeepCDMoePDE pde)
{
  NSData *d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&d));
  pde->data          = d;
  pde->ops.residual  = residual;
  pde->ops.initial   = initial;
  pde->ops.boundary  = boundary;
  pde->ops.sample    = sample;
  pde->ops.reference = reference;
  pde->ops.destroy   = destroy;
  pde->ops.builtin   = builtin;
  pde->linear        = PETSC_FALSE;
  pde->nfields       = DEEPCD_MOE_MAX_FIELDS;
  pde->periodic      = PETSC_TRUE;
  pde->xlo = 0.0, pde->xhi = 1.0, pde->ylo = 0.0, pde->yhi = 1.0, pde->t0 = 0.0, pde->t1 = 2.0;
  PetscCall(DeepCDMoePDEAddConstant(pde, "nu", 1e-3));
  PetscCall(DeepCDMoePDEAddConstant(pde, "ell", 0.8));
  PetscCall(DeepCDMoePDEAddConstant(pde, "sigma", 1.0));
  PetscCall(DeepCDMoePDEAddParameter(pde, "seed", 1.0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
