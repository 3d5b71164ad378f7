/* PCNEURALMG: the per-level kernels on padded single-precision boxes
   (include/deepcd/private/pcneuralmgimpl.h). Loops run over the owned box,
   the innermost over x with unit stride, so that the compiler vectorises. */
#include <string.h>
#include <deepcd/private/pcneuralmgimpl.h>

#define NMG_STENCIL(i) \
  (d[i] * x[i] + cx[i] * x[(i) + 1] + cx[(i) -1] * x[(i) -1] + cy[i] * x[(i) + sy] + cy[(i) -sy] * x[(i) -sy] + cz[i] * x[(i) + sz] + cz[(i) -sz] * x[(i) -sz])

/* r = b - A x on the owned box (x's halo must be current) */
void NMGKernelResidual(const NMGLevel *L, const float *restrict x, const float *restrict b, float *restrict r)
{
  const float *restrict d = L->d, *restrict cx = L->cx, *restrict cy = L->cy, *restrict cz = L->cz;
  const PetscInt sy = L->sy, sz = L->sz, nx = L->xm[0];

  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++) {
      const PetscInt o = k * sz + j * sy;
      for (PetscInt i = o + 1; i <= o + nx; i++) r[i] = b[i] - NMG_STENCIL(i);
    }
}

/* first Chebyshev step from a zero guess: x = c W b (the direction p equals x) */
void NMGKernelChebFirst(const NMGLevel *L, float c, const float *restrict b, float *restrict x)
{
  const float *restrict w = L->w;
  const PetscInt sy = L->sy, sz = L->sz, nx = L->xm[0];

  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++) {
      const PetscInt o = k * sz + j * sy;
      for (PetscInt i = o + 1; i <= o + nx; i++) x[i] = c * w[i] * b[i];
    }
}

/* one Chebyshev step: p = c1 pin + c2 W (b - A x), xo = x + p, p stored in
   pout; pin NULL: no previous direction; pout NULL: the last step. The four
   cases are separate loops, so that no array is streamed without need. */
#define NMG_CHEB_LOOP(PIN, POUT)                                   \
  for (PetscInt k = 1; k <= L->xm[2]; k++)                         \
    for (PetscInt j = 1; j <= L->xm[1]; j++) {                     \
      const PetscInt o = k * sz + j * sy;                          \
      for (PetscInt i = o + 1; i <= o + nx; i++) {                 \
        const float v = PIN + c2 * w[i] * (b[i] - NMG_STENCIL(i)); \
        POUT;                                                      \
        xo[i] = x[i] + v;                                          \
      }                                                            \
    }

void NMGKernelChebStep(const NMGLevel *L, float c1, float c2, const float *restrict x, const float *restrict b, const float *pin, float *pout, float *restrict xo)
{
  const float *restrict d = L->d, *restrict cx = L->cx, *restrict cy = L->cy, *restrict cz = L->cz, *restrict w = L->w;
  const PetscInt sy = L->sy, sz = L->sz, nx = L->xm[0];

  if (pin && pout) {
    const float *restrict pi = pin;
    float *restrict po       = pout;
    NMG_CHEB_LOOP(c1 * pi[i], po[i] = v)
  } else if (pin) {
    const float *restrict pi = pin;
    NMG_CHEB_LOOP(c1 * pi[i], (void) 0)
  } else if (pout) {
    float *restrict po = pout;
    NMG_CHEB_LOOP(0.0f, po[i] = v)
  } else
    NMG_CHEB_LOOP(0.0f, (void) 0)
}

/* b_c = P^T r: each coarse cell sums its (up to) 8 children. A child beyond
   the owned box lies in the +1 layer of the padded fine box (the halo when
   the children straddle ranks, zero outside the domain). */
void NMGKernelRestrict(const NMGLevel *F, const float *restrict r, const NMGLevel *C, float *restrict b)
{
  const PetscInt fsy = F->sy, fsz = F->sz, csy = C->sy, csz = C->sz;

  for (PetscInt k = 1; k <= C->xm[2]; k++) {
    const PetscInt fk = 2 * (C->xs[2] + k - 1) - F->xs[2] + 1;
    for (PetscInt j = 1; j <= C->xm[1]; j++) {
      const PetscInt fj         = 2 * (C->xs[1] + j - 1) - F->xs[1] + 1;
      const float *restrict r00 = r + fk * fsz + fj * fsy - F->xs[0] + 1, *restrict r01 = r00 + fsy, *restrict r10 = r00 + fsz, *restrict r11 = r00 + fsz + fsy;
      float *restrict bc = b + k * csz + j * csy;
      for (PetscInt i = 1; i <= C->xm[0]; i++) {
        const PetscInt g = 2 * (C->xs[0] + i - 1);
        bc[i]            = (r00[g] + r00[g + 1]) + (r01[g] + r01[g + 1]) + (r10[g] + r10[g + 1]) + (r11[g] + r11[g + 1]);
      }
    }
  }
}

/* x += alpha P x_c: each fine cell adds its parent's value (a parent outside
   the owned coarse box lies in the -1 layer: the coarse halo) */
void NMGKernelProlongAdd(const NMGLevel *F, float alpha, float *restrict x, const NMGLevel *C, const float *restrict xc)
{
  const PetscInt fsy = F->sy, fsz = F->sz, csy = C->sy, csz = C->sz, nx = F->xm[0];
  const PetscInt x0 = F->xs[0], cx0 = C->xs[0];

  for (PetscInt k = 1; k <= F->xm[2]; k++) {
    const PetscInt ck = (F->xs[2] + k - 1) / 2 - C->xs[2] + 1;
    for (PetscInt j = 1; j <= F->xm[1]; j++) {
      const PetscInt cj        = (F->xs[1] + j - 1) / 2 - C->xs[1] + 1;
      const float *restrict xr = xc + ck * csz + cj * csy - cx0 + 1;
      float *restrict xf       = x + k * fsz + j * fsy - x0 + 1; /* indexed by global i */
      for (PetscInt g = x0; g < x0 + nx; g++) xf[g] += alpha * xr[g >> 1];
    }
  }
}

/* zero the owned box */
void NMGKernelZero(const NMGLevel *L, float *restrict x)
{
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++) memset(x + k * L->sz + j * L->sy + 1, 0, sizeof(float) * (size_t) L->xm[0]);
}
