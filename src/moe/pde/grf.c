/* Initial vorticity of the Navier-Stokes problem (docs/moe.md): a
   mean-free Gaussian random field on the periodic unit square with the
   periodic ("exp-sine-squared") kernel of length scale ell, per axis

     k(r) = exp(-2 sin^2(pi r) / ell^2) = sum_m c_m e^{2 pi i m r},
     c_m = e^{-1/ell^2} I_m(1/ell^2)   (I_m: modified Bessel function),

   and the product of the two axes' kernels in 2-D, times sigma^2. The field
   is the sum of its Fourier modes |m_x|, |m_y| <= M (M = 20: c_20 < 1e-21
   for ell = 0.8), each mode's coefficient sqrt(lambda/2) (xi_1 + i xi_2)
   with xi from the splitmix64 stream of the seed, without the (0, 0) mode.
   It is evaluated at each point directly (not by an FFT), so the same seed
   gives the same continuous field on every grid and at every point (the
   problem's initial rows, DeepCDMoeNSFieldAt()). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

#define GRF_M 20
#if DEEPCD_MOE_NS_NCOEF != 2 * (GRF_M + 1) * (2 * GRF_M + 1)
#error "DEEPCD_MOE_NS_NCOEF does not match GRF_M"
#endif

/* c_m = e^{-z} I_m(z), z = 1/ell^2, by the power series of I_m */
static PetscReal kernel_coefficient(PetscInt m, PetscReal z)
{
  PetscReal term = PetscExpReal(-z), sum = 0.0;

  m = PetscAbsInt(m);
  for (PetscInt j = 1; j <= m; j++) term *= 0.5 * z / (PetscReal) j; /* (z/2)^m / m! */
  for (PetscInt j = 0; j < 200; j++) {
    sum += term;
    term *= 0.25 * z * z / ((PetscReal) (j + 1) * (PetscReal) (j + 1 + m));
    if (term < 1e-18 * sum) break;
  }
  return sum;
}

/* The field's Fourier coefficients: DEEPCD_MOE_NS_NCOEF values, the real
   and imaginary parts of a_m for m_x = 0..M, m_y = -M..M (0 off the half
   plane) */
PetscErrorCode DeepCDMoeNSFieldCoefficients(PetscReal ell, PetscReal sigma, PetscReal seed, PetscReal a[])
{
  const PetscInt M = GRF_M, W = 2 * M + 1;
  PetscReal      c[2 * GRF_M + 1];
  uint64_t       s;

  PetscFunctionBegin;
  PetscCheck(ell > 0.0 && sigma > 0.0 && !PetscIsInfOrNanReal(ell) && !PetscIsInfOrNanReal(sigma), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: length scale %g and standard deviation %g must be finite and positive", (double) ell, (double) sigma);
  PetscCheck(seed >= 0.0 && seed < 9007199254740992.0 && seed == PetscFloorReal(seed), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: seed %g must be an integer in [0, 2^53)", (double) seed);
  for (PetscInt m = -M; m <= M; m++) c[m + M] = kernel_coefficient(m, 1.0 / (ell * ell));
  PetscCall(PetscArrayzero(a, DEEPCD_MOE_NS_NCOEF));
  s = (uint64_t) seed ^ 0x5DEECE66DULL;
  for (PetscInt mx = 0; mx <= M; mx++)
    for (PetscInt my = -M; my <= M; my++) {
      const PetscInt  q   = (mx * W + my + M) * 2;
      const PetscReal amp = sigma * PetscSqrtReal(0.5 * c[mx + M] * c[my + M]);

      if (mx == 0 && my <= 0) continue;
      a[q]     = amp * DeepCDNormal01(&s);
      a[q + 1] = amp * DeepCDNormal01(&s);
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the field at (x, y): sum over the half plane of 2 Re(a_m e^{2 pi i m.x}) */
PetscReal DeepCDMoeNSFieldAt(const PetscReal a[], PetscReal x, PetscReal y)
{
  const PetscInt M = GRF_M, W = 2 * M + 1;
  PetscReal      ex[2 * (GRF_M + 1)], ey[2 * (2 * GRF_M + 1)], v = 0.0;

  for (PetscInt m = 0; m <= M; m++) ex[2 * m] = PetscCosReal(2.0 * PETSC_PI * m * x), ex[2 * m + 1] = PetscSinReal(2.0 * PETSC_PI * m * x);
  for (PetscInt m = -M; m <= M; m++) ey[2 * (m + M)] = PetscCosReal(2.0 * PETSC_PI * m * y), ey[2 * (m + M) + 1] = PetscSinReal(2.0 * PETSC_PI * m * y);
  for (PetscInt mx = 0; mx <= M; mx++)
    for (PetscInt my = 0; my < W; my++) {
      const PetscReal *am = a + (mx * W + my) * 2;
      const PetscReal  cr = ex[2 * mx] * ey[2 * my] - ex[2 * mx + 1] * ey[2 * my + 1];
      const PetscReal  ci = ex[2 * mx] * ey[2 * my + 1] + ex[2 * mx + 1] * ey[2 * my];

      v += 2.0 * (am[0] * cr - am[1] * ci);
    }
  return v;
}

/*@C
  DeepCDMoeNSRandomField - A mean-free Gaussian random field with a periodic kernel on the periodic unit square, at grid points: the initial vorticity of the Navier-Stokes problem.

  Not Collective

  Input Parameters:
+ ell    - the kernel's length scale (> 0; the reference: 0.8)
. sigma  - its standard deviation (> 0)
. seed   - the field's seed (an integer >= 0 in a real: the problem's instance parameter)
- nx, ny - grid points per side; point (i, k) is at (i/nx, k/ny), numbered k*nx + i

  Output Parameter:
. w0 - nx*ny values

  Notes:
  The field has no (0, 0) mode. Its grid mean is 0 to rounding when
  nx, ny > 2M = 40; on coarser grids the modes that alias to (0, 0) leave a
  mean below 1e-8 sigma (nx, ny >= 16).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeNSRandomField(PetscReal ell, PetscReal sigma, PetscReal seed, PetscInt nx, PetscInt ny, PetscReal w0[])
{
  PetscReal *a;

  PetscFunctionBegin;
  PetscCheck(nx >= 1 && ny >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: grid %" PetscInt_FMT "x%" PetscInt_FMT, nx, ny);
  PetscCall(PetscMalloc1(DEEPCD_MOE_NS_NCOEF, &a));
  {
    PetscErrorCode ierr = DeepCDMoeNSFieldCoefficients(ell, sigma, seed, a);

    if (ierr) PetscCall(PetscFree(a)); /* a refused argument leaks nothing */
    PetscCall(ierr);
  }
  for (PetscInt k = 0; k < ny; k++)
    for (PetscInt i = 0; i < nx; i++) w0[k * nx + i] = DeepCDMoeNSFieldAt(a, (PetscReal) i / (PetscReal) nx, (PetscReal) k / (PetscReal) ny);
  PetscCall(PetscFree(a));
  PetscFunctionReturn(PETSC_SUCCESS);
}
