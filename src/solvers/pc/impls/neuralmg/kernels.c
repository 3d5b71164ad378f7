/* PCNEURALMG: the per-level kernels on padded single-precision boxes
   (include/deepcd/private/nmgkernels.h), plain C. Loops run over the owned
   box, the innermost over x with unit stride, so that the compiler
   vectorises (this file is compiled with -O3). */
#include <string.h>
#include <deepcd/private/nmgkernels.h>

void nmg_box_set_geometry(nmg_box *B, const int64_t xs[3], const int64_t xm[3])
{
  for (int d = 0; d < 3; d++) {
    B->xs[d] = xs[d];
    B->xm[d] = xm[d];
  }
  B->sy   = xm[0] + 2;
  B->sz   = B->sy * (xm[1] + 2);
  B->npad = B->sz * (xm[2] + 2);
}

int nmg_box_check(const nmg_box *B)
{
  if (!B) return -1;
  for (int d = 0; d < 3; d++)
    if (B->xm[d] < 1 || B->xs[d] < 0 || B->xs[d] + B->xm[d] > INT32_MAX) return -1;
  if (B->sy != B->xm[0] + 2 || B->sz != B->sy * (B->xm[1] + 2) || B->npad != B->sz * (B->xm[2] + 2)) return -1;
  return 0;
}

int nmg_box_check_pair(const nmg_box *F, const nmg_box *C)
{
  if (nmg_box_check(F) || nmg_box_check(C)) return -1;
  for (int d = 0; d < 3; d++) {
    const int64_t fs = F->xs[d], fe = F->xs[d] + F->xm[d], cs = C->xs[d], ce = C->xs[d] + C->xm[d]; /* ends exclusive */

    if (2 * cs < fs - 1 || 2 * (ce - 1) + 1 > fe) return -1; /* children in [fs - 1, fe] */
    if (fs / 2 < cs - 1 || (fe - 1) / 2 > ce) return -1;     /* parents in [cs - 1, ce] */
  }
  return 0;
}

#define NMG_STENCIL(i) \
  (d[i] * x[i] + cx[i] * x[(i) + 1] + cx[(i) -1] * x[(i) -1] + cy[i] * x[(i) + sy] + cy[(i) -sy] * x[(i) -sy] + cz[i] * x[(i) + sz] + cz[(i) -sz] * x[(i) -sz])

void nmg_kernel_residual(const nmg_box *B, const float *restrict x, const float *restrict b, float *restrict r)
{
  const float *restrict d = B->d, *restrict cx = B->cx, *restrict cy = B->cy, *restrict cz = B->cz;
  const int64_t sy = B->sy, sz = B->sz, nx = B->xm[0];

  for (int64_t k = 1; k <= B->xm[2]; k++)
    for (int64_t j = 1; j <= B->xm[1]; j++) {
      const int64_t o = k * sz + j * sy;
      for (int64_t i = o + 1; i <= o + nx; i++) r[i] = b[i] - NMG_STENCIL(i);
    }
}

void nmg_kernel_cheb_first(const nmg_box *B, float c, const float *restrict b, float *restrict x)
{
  const float *restrict w = B->w;
  const int64_t sy = B->sy, sz = B->sz, nx = B->xm[0];

  for (int64_t k = 1; k <= B->xm[2]; k++)
    for (int64_t j = 1; j <= B->xm[1]; j++) {
      const int64_t o = k * sz + j * sy;
      for (int64_t i = o + 1; i <= o + nx; i++) x[i] = c * w[i] * b[i];
    }
}

/* The four cases (pin, pout given or not) are separate loops, so that no
   array is streamed without need. */
#define NMG_CHEB_LOOP(PIN, POUT)                                   \
  for (int64_t k = 1; k <= B->xm[2]; k++)                          \
    for (int64_t j = 1; j <= B->xm[1]; j++) {                      \
      const int64_t o = k * sz + j * sy;                           \
      for (int64_t i = o + 1; i <= o + nx; i++) {                  \
        const float v = PIN + c2 * w[i] * (b[i] - NMG_STENCIL(i)); \
        POUT;                                                      \
        xo[i] = x[i] + v;                                          \
      }                                                            \
    }

void nmg_kernel_cheb_step(const nmg_box *B, float c1, float c2, const float *restrict x, const float *restrict b, const float *pin, float *pout, float *restrict xo)
{
  const float *restrict d = B->d, *restrict cx = B->cx, *restrict cy = B->cy, *restrict cz = B->cz, *restrict w = B->w;
  const int64_t sy = B->sy, sz = B->sz, nx = B->xm[0];

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

void nmg_kernel_restrict(const nmg_box *F, const float *restrict r, const nmg_box *C, float *restrict b)
{
  const int64_t fsy = F->sy, fsz = F->sz, csy = C->sy, csz = C->sz;

  for (int64_t k = 1; k <= C->xm[2]; k++) {
    const int64_t fk = 2 * (C->xs[2] + k - 1) - F->xs[2] + 1;
    for (int64_t j = 1; j <= C->xm[1]; j++) {
      const int64_t fj          = 2 * (C->xs[1] + j - 1) - F->xs[1] + 1;
      const float *restrict r00 = r + fk * fsz + fj * fsy - F->xs[0] + 1, *restrict r01 = r00 + fsy, *restrict r10 = r00 + fsz, *restrict r11 = r00 + fsz + fsy;
      float *restrict bc = b + k * csz + j * csy;
      for (int64_t i = 1; i <= C->xm[0]; i++) {
        const int64_t g = 2 * (C->xs[0] + i - 1);
        bc[i]           = (r00[g] + r00[g + 1]) + (r01[g] + r01[g + 1]) + (r10[g] + r10[g + 1]) + (r11[g] + r11[g + 1]);
      }
    }
  }
}

void nmg_kernel_prolong_add(const nmg_box *F, float alpha, float *restrict x, const nmg_box *C, const float *restrict xc)
{
  const int64_t fsy = F->sy, fsz = F->sz, csy = C->sy, csz = C->sz, cx0 = C->xs[0];
  const int     x0 = (int) F->xs[0], nx = (int) F->xm[0]; /* int: gcc vectorises the gather xr[g >> 1] of an int g, not of an int64_t one */

  for (int64_t k = 1; k <= F->xm[2]; k++) {
    const int64_t ck = (F->xs[2] + k - 1) / 2 - C->xs[2] + 1;
    for (int64_t j = 1; j <= F->xm[1]; j++) {
      const int64_t cj         = (F->xs[1] + j - 1) / 2 - C->xs[1] + 1;
      const float *restrict xr = xc + ck * csz + cj * csy - cx0 + 1;
      float *restrict xf       = x + k * fsz + j * fsy - x0 + 1; /* indexed by global i */
      for (int g = x0; g < x0 + nx; g++) xf[g] += alpha * xr[g >> 1];
    }
  }
}

void nmg_kernel_zero(const nmg_box *B, float *restrict x)
{
  for (int64_t k = 1; k <= B->xm[2]; k++)
    for (int64_t j = 1; j <= B->xm[1]; j++) memset(x + k * B->sz + j * B->sy + 1, 0, sizeof(float) * (size_t) B->xm[0]);
}
