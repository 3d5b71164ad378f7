/* CUDA versions of the PCNEURALMG kernels (nmgcuda.h). Threads run along x
   (a warp reads consecutive cells of a row: coalesced), blocks of 32 x 8
   cells in x and y. The stencil kernels march in z over chunks of
   NMG_ZCHUNK planes, keeping x_{k-1}, x_k, x_{k+1} and cz_{k-1} in registers,
   so that each array is read about once from memory (the x and y neighbours
   come from the caches); the other kernels take one thread per cell. The
   arithmetic follows the CPU kernels term by term (nvcc contracts to FMAs,
   so results differ from them by roundings). */
#include "nmgcuda.h"

#define NMG_BX     32
#define NMG_BY     8
#define NMG_ZCHUNK 16

/* the stencil kernels' cases */
enum { NMG_RESIDUAL,
       NMG_STEP,
       NMG_STEP_PIN,
       NMG_STEP_POUT,
       NMG_STEP_PIN_POUT };

/* pin and pout are not __restrict__: they may be the same array (the
   direction updated in place, read before it is written, by one thread) */
template <int MODE>
__global__ void __launch_bounds__(NMG_BX *NMG_BY) nmg_stencil(const nmg_box B, float c1, float c2, const float *__restrict__ x, const float *__restrict__ b, const float *pin, float *pout, float *__restrict__ out)
{
  const float *__restrict__ d = B.d, *__restrict__ cx = B.cx, *__restrict__ cy = B.cy, *__restrict__ cz = B.cz, *__restrict__ w = B.w;
  const int64_t sy = B.sy, sz = B.sz;
  const int64_t i = (int64_t) blockIdx.x * NMG_BX + threadIdx.x + 1, j = (int64_t) blockIdx.y * NMG_BY + threadIdx.y + 1;
  const int64_t k0 = (int64_t) blockIdx.z * NMG_ZCHUNK + 1, k1 = min(k0 + NMG_ZCHUNK - 1, B.xm[2]);
  int64_t       n;
  float         xm, xc, czm;

  if (i > B.xm[0] || j > B.xm[1]) return;
  n   = k0 * sz + j * sy + i;
  xm  = x[n - sz];
  xc  = x[n];
  czm = cz[n - sz];
  /* two planes per iteration: loads of both in flight, 32 registers (full
     occupancy) and no spills on sm_90; the default unrolling spilled */
#pragma unroll 2
  for (int64_t k = k0; k <= k1; k++, n += sz) {
    const float xp = x[n + sz], czc = cz[n];
    const float ax = d[n] * xc + cx[n] * x[n + 1] + cx[n - 1] * x[n - 1] + cy[n] * x[n + sy] + cy[n - sy] * x[n - sy] + czc * xp + czm * xm;

    if (MODE == NMG_RESIDUAL)
      out[n] = b[n] - ax;
    else {
      const float v = (MODE == NMG_STEP_PIN || MODE == NMG_STEP_PIN_POUT ? c1 * pin[n] : 0.0f) + c2 * w[n] * (b[n] - ax);

      if (MODE == NMG_STEP_POUT || MODE == NMG_STEP_PIN_POUT) pout[n] = v;
      out[n] = xc + v;
    }
    xm  = xc;
    xc  = xp;
    czm = czc;
  }
}

__global__ void __launch_bounds__(NMG_BX *NMG_BY) nmg_cheb_first(const nmg_box B, float c, const float *__restrict__ b, float *__restrict__ x)
{
  const int64_t i = (int64_t) blockIdx.x * NMG_BX + threadIdx.x + 1, j = (int64_t) blockIdx.y * NMG_BY + threadIdx.y + 1, k = (int64_t) blockIdx.z + 1;

  if (i <= B.xm[0] && j <= B.xm[1]) {
    const int64_t n = k * B.sz + j * B.sy + i;
    x[n]            = c * B.w[n] * b[n];
  }
}

/* one thread per coarse cell */
__global__ void __launch_bounds__(NMG_BX *NMG_BY) nmg_restrict(const nmg_box F, const float *__restrict__ r, const nmg_box C, float *__restrict__ bc)
{
  const int64_t i = (int64_t) blockIdx.x * NMG_BX + threadIdx.x + 1, j = (int64_t) blockIdx.y * NMG_BY + threadIdx.y + 1, k = (int64_t) blockIdx.z + 1;

  if (i <= C.xm[0] && j <= C.xm[1]) {
    const int64_t fk = 2 * (C.xs[2] + k - 1) - F.xs[2] + 1, fj = 2 * (C.xs[1] + j - 1) - F.xs[1] + 1, fi = 2 * (C.xs[0] + i - 1) - F.xs[0] + 1;
    const float  *r00 = r + fk * F.sz + fj * F.sy + fi, *r01 = r00 + F.sy, *r10 = r00 + F.sz, *r11 = r00 + F.sz + F.sy;

    bc[k * C.sz + j * C.sy + i] = (r00[0] + r00[1]) + (r01[0] + r01[1]) + (r10[0] + r10[1]) + (r11[0] + r11[1]);
  }
}

/* one thread per fine cell */
__global__ void __launch_bounds__(NMG_BX *NMG_BY) nmg_prolong_add(const nmg_box F, float alpha, float *__restrict__ x, const nmg_box C, const float *__restrict__ xc)
{
  const int64_t i = (int64_t) blockIdx.x * NMG_BX + threadIdx.x + 1, j = (int64_t) blockIdx.y * NMG_BY + threadIdx.y + 1, k = (int64_t) blockIdx.z + 1;

  if (i <= F.xm[0] && j <= F.xm[1]) {
    const int64_t ck = (F.xs[2] + k - 1) / 2 - C.xs[2] + 1, cj = (F.xs[1] + j - 1) / 2 - C.xs[1] + 1, ci = (F.xs[0] + i - 1) / 2 - C.xs[0] + 1;

    x[k * F.sz + j * F.sy + i] += alpha * xc[ck * C.sz + cj * C.sy + ci];
  }
}

__global__ void __launch_bounds__(NMG_BX *NMG_BY) nmg_zero(const nmg_box B, float *__restrict__ x)
{
  const int64_t i = (int64_t) blockIdx.x * NMG_BX + threadIdx.x + 1, j = (int64_t) blockIdx.y * NMG_BY + threadIdx.y + 1, k = (int64_t) blockIdx.z + 1;

  if (i <= B.xm[0] && j <= B.xm[1]) x[k * B.sz + j * B.sy + i] = 0.0f;
}

/* a block per 32 x 8 cells of a plane; zchunk planes per block in z
   (gridDim.z is at most 65535) */
static int nmg_grid(const nmg_box *B, int64_t zchunk, dim3 *grid)
{
  const int64_t gz = (B->xm[2] + zchunk - 1) / zchunk;

  if (gz > 65535 || (B->xm[1] + NMG_BY - 1) / NMG_BY > 65535 || (B->xm[0] + NMG_BX - 1) / NMG_BX > 2147483647) return -1;
  *grid = dim3((unsigned) ((B->xm[0] + NMG_BX - 1) / NMG_BX), (unsigned) ((B->xm[1] + NMG_BY - 1) / NMG_BY), (unsigned) gz);
  return 0;
}

static int nmg_has_operator(const nmg_box *B)
{
  return B->d && B->cx && B->cy && B->cz;
}

extern "C" cudaError_t nmg_cuda_residual(const nmg_box *B, const float *x, const float *b, float *r, cudaStream_t stream)
{
  dim3 grid;

  if (nmg_box_check(B) || !nmg_has_operator(B) || !x || !b || !r || nmg_grid(B, NMG_ZCHUNK, &grid)) return cudaErrorInvalidValue;
  nmg_stencil<NMG_RESIDUAL><<<grid, dim3(NMG_BX, NMG_BY), 0, stream>>>(*B, 0.0f, 0.0f, x, b, NULL, NULL, r);
  return cudaGetLastError();
}

extern "C" cudaError_t nmg_cuda_cheb_first(const nmg_box *B, float c, const float *b, float *x, cudaStream_t stream)
{
  dim3 grid;

  if (nmg_box_check(B) || !B->w || !b || !x || nmg_grid(B, 1, &grid)) return cudaErrorInvalidValue;
  nmg_cheb_first<<<grid, dim3(NMG_BX, NMG_BY), 0, stream>>>(*B, c, b, x);
  return cudaGetLastError();
}

extern "C" cudaError_t nmg_cuda_cheb_step(const nmg_box *B, float c1, float c2, const float *x, const float *b, const float *pin, float *pout, float *xo, cudaStream_t stream)
{
  const dim3 block(NMG_BX, NMG_BY);
  dim3       grid;

  if (nmg_box_check(B) || !nmg_has_operator(B) || !B->w || !x || !b || !xo || nmg_grid(B, NMG_ZCHUNK, &grid)) return cudaErrorInvalidValue;
  if (pin && pout)
    nmg_stencil<NMG_STEP_PIN_POUT><<<grid, block, 0, stream>>>(*B, c1, c2, x, b, pin, pout, xo);
  else if (pin)
    nmg_stencil<NMG_STEP_PIN><<<grid, block, 0, stream>>>(*B, c1, c2, x, b, pin, NULL, xo);
  else if (pout)
    nmg_stencil<NMG_STEP_POUT><<<grid, block, 0, stream>>>(*B, c1, c2, x, b, NULL, pout, xo);
  else
    nmg_stencil<NMG_STEP><<<grid, block, 0, stream>>>(*B, c1, c2, x, b, NULL, NULL, xo);
  return cudaGetLastError();
}

extern "C" cudaError_t nmg_cuda_restrict(const nmg_box *F, const float *r, const nmg_box *C, float *bc, cudaStream_t stream)
{
  dim3 grid;

  if (nmg_box_check_pair(F, C) || !r || !bc || nmg_grid(C, 1, &grid)) return cudaErrorInvalidValue;
  nmg_restrict<<<grid, dim3(NMG_BX, NMG_BY), 0, stream>>>(*F, r, *C, bc);
  return cudaGetLastError();
}

extern "C" cudaError_t nmg_cuda_prolong_add(const nmg_box *F, float alpha, float *x, const nmg_box *C, const float *xc, cudaStream_t stream)
{
  dim3 grid;

  if (nmg_box_check_pair(F, C) || !x || !xc || nmg_grid(F, 1, &grid)) return cudaErrorInvalidValue;
  nmg_prolong_add<<<grid, dim3(NMG_BX, NMG_BY), 0, stream>>>(*F, alpha, x, *C, xc);
  return cudaGetLastError();
}

extern "C" cudaError_t nmg_cuda_zero(const nmg_box *B, float *x, cudaStream_t stream)
{
  dim3 grid;

  if (nmg_box_check(B) || !x || nmg_grid(B, 1, &grid)) return cudaErrorInvalidValue;
  nmg_zero<<<grid, dim3(NMG_BX, NMG_BY), 0, stream>>>(*B, x);
  return cudaGetLastError();
}
