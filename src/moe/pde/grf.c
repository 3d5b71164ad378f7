/* Initial vorticity of the Navier-Stokes problem (docs/moe.md): a
   mean-free Gaussian random field on the periodic unit square with the
   periodic ("exp-sine-squared") kernel of length scale ell, per axis

     k(r) = exp(-2 sin^2(pi r) / ell^2) = sum_m c_m e^{2 pi i m r},
     c_m = e^{-1/ell^2} I_m(1/ell^2)   (I_m: modified Bessel function),

   and the product of the two axes' kernels in 2-D, times sigma^2. The field
   is the sum of its Fourier modes |m_x|, |m_y| <= M (M = 20: c_20 < 1e-21
   for ell = 0.8), each mode's coefficient sqrt(lambda/2) (xi_1 + i xi_2)
   with xi from the splitmix64 stream of the seed, without the (0, 0) mode.
   It is evaluated at the grid points directly (not by an FFT), so the same
   seed gives the same continuous field on every grid, and its grid mean is
   then removed (the modes that alias to 0 on a coarse grid). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

#define GRF_M 20

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

/*@C
  DeepCDMoeNSRandomField - A mean-free Gaussian random field with a periodic kernel on the periodic unit square, at grid points: the initial vorticity of the Navier-Stokes problem.

  Not Collective

  Input Parameters:
+ ell    - the kernel's length scale (> 0; the reference: 0.8)
. sigma  - its standard deviation (> 0)
. seed   - the field's seed (an integer >= 0 in a real: the problem's instance parameter)
- nx, ny - grid points per side; point (i, k) is at (i/nx, k/ny), numbered k*nx + i

  Output Parameter:
. w0 - nx*ny values, with grid mean 0

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeNSRandomField(PetscReal ell, PetscReal sigma, PetscReal seed, PetscInt nx, PetscInt ny, PetscReal w0[])
{
  const PetscInt M = GRF_M, W = 2 * M + 1;
  PetscReal      c[2 * GRF_M + 1], *are, *aim, *ex, *ey, mean = 0.0;
  uint64_t       s;

  PetscFunctionBegin;
  PetscCheck(ell > 0.0 && sigma > 0.0 && !PetscIsInfOrNanReal(ell) && !PetscIsInfOrNanReal(sigma), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: length scale %g and standard deviation %g must be finite and positive", (double) ell, (double) sigma);
  PetscCheck(seed >= 0.0 && seed < 9007199254740992.0 && seed == PetscFloorReal(seed), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: seed %g must be an integer in [0, 2^53)", (double) seed);
  PetscCheck(nx >= 1 && ny >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe NS random field: grid %" PetscInt_FMT "x%" PetscInt_FMT, nx, ny);
  for (PetscInt m = -M; m <= M; m++) c[m + M] = kernel_coefficient(m, 1.0 / (ell * ell));
  /* coefficients of the half plane m_x > 0, or m_x = 0 and m_y > 0: w = sum 2 Re(a_m e^{2 pi i m.x}) */
  PetscCall(PetscCalloc2(W * W, &are, W * W, &aim));
  s = (uint64_t) seed ^ 0x5DEECE66DULL;
  for (PetscInt mx = 0; mx <= M; mx++)
    for (PetscInt my = -M; my <= M; my++) {
      const PetscInt q = (mx + M) * W + my + M;
      PetscReal      amp;

      if (mx == 0 && my <= 0) continue;
      amp    = sigma * PetscSqrtReal(0.5 * c[mx + M] * c[my + M]);
      are[q] = amp * DeepCDNormal01(&s);
      aim[q] = amp * DeepCDNormal01(&s);
    }
  PetscCall(PetscMalloc2(2 * W, &ex, 2 * W, &ey));
  for (PetscInt k = 0; k < ny; k++) {
    const PetscReal y = (PetscReal) k / (PetscReal) ny;

    for (PetscInt my = -M; my <= M; my++) ey[2 * (my + M)] = PetscCosReal(2.0 * PETSC_PI * my * y), ey[2 * (my + M) + 1] = PetscSinReal(2.0 * PETSC_PI * my * y);
    for (PetscInt i = 0; i < nx; i++) {
      const PetscReal x = (PetscReal) i / (PetscReal) nx;
      PetscReal       v = 0.0;

      for (PetscInt mx = 0; mx <= M; mx++) ex[2 * mx] = PetscCosReal(2.0 * PETSC_PI * mx * x), ex[2 * mx + 1] = PetscSinReal(2.0 * PETSC_PI * mx * x);
      for (PetscInt mx = 0; mx <= M; mx++)
        for (PetscInt my = -M; my <= M; my++) {
          const PetscInt  q  = (mx + M) * W + my + M;
          const PetscReal cr = ex[2 * mx] * ey[2 * (my + M)] - ex[2 * mx + 1] * ey[2 * (my + M) + 1];
          const PetscReal ci = ex[2 * mx] * ey[2 * (my + M) + 1] + ex[2 * mx + 1] * ey[2 * (my + M)];

          v += 2.0 * (are[q] * cr - aim[q] * ci);
        }
      w0[k * nx + i] = v;
      mean += v;
    }
  }
  mean /= (PetscReal) (nx * ny);
  for (PetscInt p = 0; p < nx * ny; p++) w0[p] -= mean;
  PetscCall(PetscFree2(are, aim));
  PetscCall(PetscFree2(ex, ey));
  PetscFunctionReturn(PETSC_SUCCESS);
}
