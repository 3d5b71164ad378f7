/* Pseudo-spectral reference for 2-D incompressible Navier-Stokes in
   vorticity form on the periodic unit square (docs/moe.md):

     w_t + u . grad w = nu lap w,   lap psi = -w,   u = (psi_y, -psi_x),

   no forcing. The vorticity is held as its normalised real FFT
   w^(k) = rfft2(w) / (nx ny) (FFTW r2c/c2r, made once per solve). The
   advection term is computed in physical space from the spectral velocity
   and gradient, and its transform is dealiased by the 2/3 rule (modes with
   |k_x| > nx/3 or |k_y| > ny/3 set to 0). First-derivative symbols are 0 on
   the Nyquist modes of an even size, so the discrete operators are exactly
   real. Time stepping is Lawson's integrating-factor RK4: the viscous term
   is integrated exactly (exp(-nu |k|^2 h)), the advection term by classical
   RK4, so a flow whose advection term vanishes (a single Fourier mode)
   decays exactly, and the scheme is fourth order in h otherwise. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

#include <fftw3.h>

/* complex values as pairs: fftw_complex may be C99 complex once <complex.h> is in (PETSc) */
typedef double cpx[2];

typedef struct {
  PetscInt   nx, ny, nc, S; /* points, complex columns nx/2+1, complex values ny*nc */
  PetscReal  nu;
  fftw_plan  r2c, c2r;
  cpx       *c;                   /* scratch input of c2r (destroyed by it) */
  double    *ru, *rv, *rwx, *rwy; /* physical-space velocity and gradient */
  PetscReal *kx, *ky, *k2, *mask; /* 2 pi k (0 at Nyquist), |2 pi k|^2, dealiasing: per complex value */
  PetscReal *vx, *vy;             /* the velocity's symbols over i: k_y / |k|^2, -k_x / |k|^2 (0 at k = 0) */
} NSSpectral;

static PetscErrorCode ns_destroy(NSSpectral *s)
{
  PetscFunctionBegin;
  if (s->r2c) fftw_destroy_plan(s->r2c);
  if (s->c2r) fftw_destroy_plan(s->c2r);
  fftw_free(s->c);
  fftw_free(s->ru);
  fftw_free(s->rv);
  fftw_free(s->rwx);
  fftw_free(s->rwy);
  PetscCall(PetscFree4(s->kx, s->ky, s->k2, s->mask));
  PetscCall(PetscFree2(s->vx, s->vy));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ns_setup(PetscInt nx, PetscInt ny, PetscReal nu, NSSpectral *s)
{
  const PetscInt P = nx * ny;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(s, sizeof(*s)));
  s->nx = nx, s->ny = ny, s->nu = nu;
  s->nc = nx / 2 + 1;
  s->S  = ny * s->nc;
  PetscCall(DeepCDMoeFFTWMalloc(&s->c, sizeof(cpx) * (size_t) s->S));
  PetscCall(DeepCDMoeFFTWMalloc(&s->ru, sizeof(double) * (size_t) P));
  PetscCall(DeepCDMoeFFTWMalloc(&s->rv, sizeof(double) * (size_t) P));
  PetscCall(DeepCDMoeFFTWMalloc(&s->rwx, sizeof(double) * (size_t) P));
  PetscCall(DeepCDMoeFFTWMalloc(&s->rwy, sizeof(double) * (size_t) P));
  PetscCall(PetscMalloc4(s->S, &s->kx, s->S, &s->ky, s->S, &s->k2, s->S, &s->mask));
  PetscCall(PetscMalloc2(s->S, &s->vx, s->S, &s->vy));
  for (PetscInt b = 0; b < ny; b++) {
    const PetscInt my = b <= ny / 2 ? b : b - ny;
    for (PetscInt a = 0; a < s->nc; a++) {
      const PetscInt  q = b * s->nc + a, mx = a;
      const PetscBool nyqx = (PetscBool) (nx % 2 == 0 && a == nx / 2), nyqy = (PetscBool) (ny % 2 == 0 && b == ny / 2);

      s->kx[q]   = nyqx ? 0.0 : 2.0 * PETSC_PI * mx;
      s->ky[q]   = nyqy ? 0.0 : 2.0 * PETSC_PI * my;
      s->k2[q]   = 4.0 * PETSC_PI * PETSC_PI * (PetscReal) (mx * mx + my * my);
      s->mask[q] = (3 * PetscAbsInt(mx) <= nx && 3 * PetscAbsInt(my) <= ny) ? 1.0 : 0.0;
      DeepCDMoeVelocitySymbol(nx, ny, 1.0, 1.0, a, b, &s->vx[q], &s->vy[q]);
    }
  }
  {
    const int dims[2] = { (int) ny, (int) nx };
    s->r2c            = fftw_plan_dft_r2c(2, dims, s->ru, (fftw_complex *) s->c, FFTW_ESTIMATE);
    s->c2r            = fftw_plan_dft_c2r(2, dims, (fftw_complex *) s->c, s->ru, FFTW_ESTIMATE);
    PetscCheck(s->r2c && s->c2r, PETSC_COMM_SELF, PETSC_ERR_LIB, "moe NS reference: FFTW could not plan a %" PetscInt_FMT "x%" PetscInt_FMT " transform", nx, ny);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* physical-space values of the spectral field i sym(k) wh(k) */
static void ns_apply(NSSpectral *s, const cpx *wh, const PetscReal *sym, double *out)
{
  for (PetscInt q = 0; q < s->S; q++) { /* (a + ib) i f = -b f + i a f */
    s->c[q][0] = -wh[q][1] * sym[q];
    s->c[q][1] = wh[q][0] * sym[q];
  }
  fftw_execute_dft_c2r(s->c2r, (fftw_complex *) s->c, out);
}

/* the velocity (ru, rv) = (psi_y, -psi_x), psi^ = w^ / |k|^2 */
static void ns_velocity(NSSpectral *s, const cpx *wh)
{
  ns_apply(s, wh, s->vx, s->ru);
  ns_apply(s, wh, s->vy, s->rv);
}

/* nh = -mask * rfft2(u . grad w) / (nx ny), the dealiased advection term */
static void ns_advection(NSSpectral *s, const cpx *wh, cpx *nh)
{
  const PetscInt  P   = s->nx * s->ny;
  const PetscReal inv = 1.0 / (PetscReal) P;

  ns_velocity(s, wh);
  ns_apply(s, wh, s->kx, s->rwx);
  ns_apply(s, wh, s->ky, s->rwy);
  for (PetscInt p = 0; p < P; p++) s->ru[p] = s->ru[p] * s->rwx[p] + s->rv[p] * s->rwy[p];
  fftw_execute_dft_r2c(s->r2c, s->ru, (fftw_complex *) nh);
  for (PetscInt q = 0; q < s->S; q++) {
    nh[q][0] *= -inv * s->mask[q];
    nh[q][1] *= -inv * s->mask[q];
  }
}

/* largest speed |u| of the spectral state */
static PetscReal ns_umax(NSSpectral *s, const cpx *wh)
{
  PetscReal m = 0.0;

  ns_velocity(s, wh);
  for (PetscInt p = 0; p < s->nx * s->ny; p++) m = PetscMax(m, PetscSqrtReal(s->ru[p] * s->ru[p] + s->rv[p] * s->rv[p]));
  return m;
}

/*@C
  DeepCDMoeNSSolve - Integrates 2-D incompressible Navier-Stokes in vorticity form on the periodic unit square by a pseudo-spectral method (2/3-rule dealiasing, integrating-factor RK4).

  Not Collective

  Input Parameters:
+ nx, ny - grid points per side (each >= 4); point (i, k) is at (i/nx, k/ny), numbered k*nx + i
. nu     - the viscosity (> 0)
. w0     - the vorticity at t = 0 (nx*ny values)
. nout   - number of output times
. tout   - the output times, 0 <= tout[0] < tout[1] < ...
- dt     - the largest time step (> 0), or <= 0: chosen per output interval from the speed, h = 0.5 / (|u|_max k_max), k_max = 2 pi max(nx, ny)/3

  Output Parameter:
. w - the vorticity at each output time: nout*nx*ny values, time slowest

  Notes:
  Each interval between output times (and [0, tout[0]]) is split into
  equal steps no longer than dt. The mean of w0 is carried unchanged.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeNSSolve(PetscInt nx, PetscInt ny, PetscReal nu, const PetscReal w0[], PetscInt nout, const PetscReal tout[], PetscReal dt, PetscReal w[])
{
  const PetscInt P = nx * ny;
  NSSpectral     s;
  cpx           *wh, *v, *a, *k1, *k2, *k3, *k4;
  PetscReal     *Eh;
  PetscReal      t = 0.0, tbad = 0.0; /* tbad: the first output time with a non-finite vorticity */
  PetscBool      unstable = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCheck(nx >= 4 && ny >= 4, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS reference: grid %" PetscInt_FMT "x%" PetscInt_FMT ": need at least 4 points per side", nx, ny);
  PetscCheck(nu > 0.0 && !PetscIsInfOrNanReal(nu), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS reference: viscosity %g must be a finite positive number", (double) nu);
  PetscCheck(nout >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS reference: %" PetscInt_FMT " output times: need at least 1", nout);
  PetscCheck(tout[0] >= 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS reference: output time %g before 0", (double) tout[0]);
  for (PetscInt j = 1; j < nout; j++) PetscCheck(tout[j] > tout[j - 1], PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS reference: output times %g, %g not increasing", (double) tout[j - 1], (double) tout[j]);
  PetscCall(ns_setup(nx, ny, nu, &s));
  PetscCall(DeepCDMoeFFTWMalloc(&wh, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&v, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&a, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&k1, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&k2, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&k3, sizeof(cpx) * (size_t) s.S));
  PetscCall(DeepCDMoeFFTWMalloc(&k4, sizeof(cpx) * (size_t) s.S));
  PetscCall(PetscMalloc1(s.S, &Eh));
  PetscCall(PetscArraycpy(s.ru, w0, P));
  fftw_execute_dft_r2c(s.r2c, s.ru, (fftw_complex *) wh);
  for (PetscInt q = 0; q < s.S; q++) wh[q][0] /= (PetscReal) P, wh[q][1] /= (PetscReal) P;
  for (PetscInt j = 0; j < nout && !unstable; j++) {
    const PetscReal span = tout[j] - t;

    if (span > 0.0) {
      PetscReal h = dt;
      PetscInt  nsteps;

      if (h <= 0.0) {
        const PetscReal umax = ns_umax(&s, wh), kmax = 2.0 * PETSC_PI * (PetscReal) PetscMax(nx, ny) / 3.0;
        h = umax > 0.0 ? 0.5 / (umax * kmax) : span;
      }
      nsteps = (PetscInt) PetscCeilReal(span / h * (1.0 - 1e-12));
      nsteps = PetscMax(nsteps, 1);
      h      = span / (PetscReal) nsteps;
      for (PetscInt q = 0; q < s.S; q++) Eh[q] = PetscExpReal(-nu * s.k2[q] * 0.5 * h);
      for (PetscInt n = 0; n < nsteps; n++) {
        /* Lawson RK4 on v = exp(nu |k|^2 t) w^ */
        ns_advection(&s, wh, k1);
        for (PetscInt q = 0; q < s.S; q++)
          for (PetscInt c = 0; c < 2; c++) a[q][c] = Eh[q] * (wh[q][c] + 0.5 * h * k1[q][c]);
        ns_advection(&s, a, k2);
        for (PetscInt q = 0; q < s.S; q++)
          for (PetscInt c = 0; c < 2; c++) a[q][c] = Eh[q] * wh[q][c] + 0.5 * h * k2[q][c];
        ns_advection(&s, a, k3);
        for (PetscInt q = 0; q < s.S; q++)
          for (PetscInt c = 0; c < 2; c++) a[q][c] = Eh[q] * (Eh[q] * wh[q][c] + h * k3[q][c]);
        ns_advection(&s, a, k4);
        for (PetscInt q = 0; q < s.S; q++) {
          const PetscReal E = Eh[q] * Eh[q];
          for (PetscInt c = 0; c < 2; c++) wh[q][c] = E * wh[q][c] + h / 6.0 * (E * k1[q][c] + 2.0 * Eh[q] * (k2[q][c] + k3[q][c]) + k4[q][c]);
        }
      }
      t = tout[j];
    }
    PetscCall(PetscArraycpy(v, wh, s.S)); /* c2r destroys its input; w may be unaligned for FFTW */
    fftw_execute_dft_c2r(s.c2r, (fftw_complex *) v, s.ru);
    for (PetscInt p = 0; p < P && !unstable; p++)
      if (PetscIsInfOrNanReal(s.ru[p])) unstable = PETSC_TRUE, tbad = tout[j];
    if (!unstable) PetscCall(PetscArraycpy(w + j * P, s.ru, P));
  }
  PetscCall(PetscFree(Eh));
  fftw_free(wh);
  fftw_free(v);
  fftw_free(a);
  fftw_free(k1);
  fftw_free(k2);
  fftw_free(k3);
  fftw_free(k4);
  PetscCall(ns_destroy(&s));
  /* after the frees: an unstable step is refused without leaking the work arrays */
  PetscCheck(!unstable, PETSC_COMM_SELF, PETSC_ERR_FP, "moe NS reference: the vorticity is not finite at t = %g (a step of %g is too long for stability)", (double) tbad, (double) dt);
  PetscFunctionReturn(PETSC_SUCCESS);
}
