/* GPU test of the CUDA PCNEURALMG kernels (src/solvers/pc/impls/neuralmg/cuda)
   against the CPU kernels the PC runs (include/deepcd/private/nmgkernels.h).
   Plain C: needs CUDA and the plain kernels only (no PETSc, MPI or HDF5).

   On random levels (operator, weights, x, b, directions random on the whole
   padded box, the layer included, as after a halo exchange):
   - a fine 33x20x17 box from the origin and its coarsening 17x10x9 (odd
     sizes: the last coarse cells have a child in the fine +1 layer);
   - a rank's box inside a larger grid: fine cells 5..24 x 3..16 x 7..17,
     coarse cells 3..12 x 2..8 x 4..8 (restriction reads the fine +1 layer
     in x and y, prolongation the coarse -1 layer in x, y and z);
   - the timing grids n^3 and their n/2 coarsening;
   every kernel (residual, first Chebyshev step, Chebyshev step with and
   without pin and pout, and pin == pout as the PC calls it, restriction,
   prolongation-add, zero) runs on the CPU and on the GPU from the same
   inputs and the same initial output. On the owned cells the relative max
   error max|gpu - cpu| / max|cpu| must be at most 1e-5; the padded layer of
   every output must be left bit-for-bit as it was, on both sides. The CUDA
   functions must refuse (cudaErrorInvalidValue) a NULL array, an
   inconsistent box and a coarse box that is no coarsening of the fine one.

   Then, at 128^3 and 256^3 (up to --max-n), each kernel is timed on the
   CPU (one thread; median of 5 after a warm-up) and on the GPU (median of 5
   samples of 10 launches after 3 warm-ups, cudaEvent), with GB/s from the
   bytes-per-cell model of nmgkernels.h (NMG_BYTES_*, the model of the PC's
   -pc_view cost line).

   Usage: test_nmg_cuda [--no-timing] [--max-n N]
   Output ends with "N passed, M failed"; exit status 0 when all passed, 1
   otherwise, 77 ("SKIP: no CUDA device") without a device. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cuda_runtime_api.h>
#include <deepcd/private/nmgkernels.h>
#include "nmgcuda.h"
#include "gpu_test.h" /* the [ PASS ]/[ FAIL ] lines */

#define TOL 1e-5

static void die(const char *what, cudaError_t e)
{
  printf("[ FAIL ] %s: %s\n%d passed, %d failed\n", what, cudaGetErrorString(e), gpu_test_npass, gpu_test_nfail + 1);
  exit(1);
}

#define CUDA_OK(call)                      \
  do {                                     \
    cudaError_t e_ = (call);               \
    if (e_ != cudaSuccess) die(#call, e_); \
  } while (0)

static uint64_t rng_state;

static float frand(void) /* uniform in [0, 1) */
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float) ((rng_state >> 40) * (1.0 / 16777216.0));
}

static void fill(float *a, int64_t n, float lo, float hi)
{
  for (int64_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * frand();
}

static float *host_alloc(int64_t n)
{
  float *a = malloc((size_t) n * sizeof(float));

  if (!a) {
    printf("[ FAIL ] out of host memory (%lld floats)\n%d passed, %d failed\n", (long long) n, gpu_test_npass, gpu_test_nfail + 1);
    exit(1);
  }
  return a;
}

static float *dev_copy(const float *h, int64_t n)
{
  float *d;

  CUDA_OK(cudaMalloc((void **) &d, (size_t) n * sizeof(float)));
  CUDA_OK(cudaMemcpy(d, h, (size_t) n * sizeof(float), cudaMemcpyHostToDevice));
  return d;
}

/* A level on both sides: the box with host arrays (h) and with device
   arrays (g), and the operator they point to. */
typedef struct {
  nmg_box h, g;
  float  *op[5], *dop[5]; /* d, cx, cy, cz, w */
} level;

/* a diagonally dominant operator with negative couplings, w = 1/d */
static void level_create(level *L, const int64_t xs[3], const int64_t xm[3])
{
  nmg_box_set_geometry(&L->h, xs, xm);
  for (int q = 0; q < 5; q++) L->op[q] = host_alloc(L->h.npad);
  fill(L->op[0], L->h.npad, 6.0f, 7.0f);
  for (int q = 1; q < 4; q++) fill(L->op[q], L->h.npad, -1.0f, 0.0f);
  for (int64_t n = 0; n < L->h.npad; n++) L->op[4][n] = 1.0f / L->op[0][n];
  for (int q = 0; q < 5; q++) L->dop[q] = dev_copy(L->op[q], L->h.npad);
  L->g   = L->h;
  L->h.d = L->op[0], L->h.cx = L->op[1], L->h.cy = L->op[2], L->h.cz = L->op[3], L->h.w = L->op[4];
  L->g.d = L->dop[0], L->g.cx = L->dop[1], L->g.cy = L->dop[2], L->g.cz = L->dop[3], L->g.w = L->dop[4];
}

static void level_destroy(level *L)
{
  for (int q = 0; q < 5; q++) {
    free(L->op[q]);
    cudaFree(L->dop[q]);
  }
}

/* a random array on the whole padded box, on both sides */
typedef struct {
  float  *h, *g;
  int64_t n;
} pair;

static void pair_create(pair *p, int64_t n, float lo, float hi)
{
  p->n = n;
  p->h = host_alloc(n);
  fill(p->h, n, lo, hi);
  p->g = dev_copy(p->h, n);
}

static void pair_destroy(pair *p)
{
  free(p->h);
  cudaFree(p->g);
}

/* Compares the output o after a kernel: owned cells within TOL (relative
   max error), the layer bit-for-bit equal to init on both sides; the owned
   cells on the CPU nonzero somewhere (zero: all exactly 0). */
static void check(const char *what, const char *where, const nmg_box *B, const pair *o, const float *init, int zero)
{
  float  *gh   = host_alloc(o->n);
  double  emax = 0, rmax = 0;
  int64_t layer = 0, nan = 0;

  CUDA_OK(cudaMemcpy(gh, o->g, (size_t) o->n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int64_t k = 0; k < B->xm[2] + 2; k++)
    for (int64_t j = 0; j < B->xm[1] + 2; j++)
      for (int64_t i = 0; i < B->xm[0] + 2; i++) {
        const int64_t n     = k * B->sz + j * B->sy + i;
        const int     owned = i >= 1 && i <= B->xm[0] && j >= 1 && j <= B->xm[1] && k >= 1 && k <= B->xm[2];

        if (owned) {
          if (!isfinite(gh[n]) || !isfinite(o->h[n])) nan++;
          emax = fmax(emax, fabs((double) gh[n] - (double) o->h[n]));
          rmax = fmax(rmax, fabs((double) o->h[n]));
        } else if (memcmp(&gh[n], &init[n], sizeof(float)) || memcmp(&o->h[n], &init[n], sizeof(float)))
          layer++;
      }
  {
    const double rel = rmax > 0 ? emax / rmax : emax;

    gpu_test_result(nan == 0 && layer == 0 && rel <= TOL && (zero ? rmax == 0 : rmax > 0), "%-22s %-34s rel. max error %.2e (max |cpu| %.3g), layer cells changed %lld, non-finite %lld", what, where, rel, rmax, (long long) layer, (long long) nan);
  }
  free(gh);
}

/* resets the output o to init on both sides */
static void reset(pair *o, const float *init)
{
  memcpy(o->h, init, (size_t) o->n * sizeof(float));
  CUDA_OK(cudaMemcpy(o->g, init, (size_t) o->n * sizeof(float), cudaMemcpyHostToDevice));
}

/* every kernel on the fine level F and its coarsening C */
static void compare_all(const char *where, const int64_t fxs[3], const int64_t fxm[3], const int64_t cxs[3], const int64_t cxm[3], uint64_t seed)
{
  level  F, C;
  pair   x, b, pin, pout, out, r, bc, xc, xf;
  float *init, *pinit, *cinit, *finit;

  rng_state = seed;
  level_create(&F, fxs, fxm);
  level_create(&C, cxs, cxm);
  if (nmg_box_check_pair(&F.h, &C.h)) {
    gpu_test_result(0, "%s: the test's coarse box is no coarsening of its fine box", where);
    level_destroy(&F);
    level_destroy(&C);
    return;
  }
  pair_create(&x, F.h.npad, -1.0f, 1.0f);
  pair_create(&b, F.h.npad, -1.0f, 1.0f);
  pair_create(&pin, F.h.npad, -1.0f, 1.0f);
  pair_create(&pout, F.h.npad, -1.0f, 1.0f);
  pair_create(&out, F.h.npad, -1.0f, 1.0f);
  pair_create(&r, F.h.npad, -1.0f, 1.0f);
  pair_create(&bc, C.h.npad, -1.0f, 1.0f);
  pair_create(&xc, C.h.npad, -1.0f, 1.0f);
  pair_create(&xf, F.h.npad, -1.0f, 1.0f);
  init  = host_alloc(F.h.npad);
  pinit = host_alloc(F.h.npad);
  cinit = host_alloc(C.h.npad);
  finit = host_alloc(F.h.npad);
  memcpy(init, out.h, (size_t) F.h.npad * sizeof(float));
  memcpy(pinit, pout.h, (size_t) F.h.npad * sizeof(float));
  memcpy(cinit, bc.h, (size_t) C.h.npad * sizeof(float));
  memcpy(finit, xf.h, (size_t) F.h.npad * sizeof(float));

  nmg_kernel_residual(&F.h, x.h, b.h, out.h);
  CUDA_OK(nmg_cuda_residual(&F.g, x.g, b.g, out.g, 0));
  check("residual", where, &F.h, &out, init, 0);

  reset(&out, init);
  nmg_kernel_cheb_first(&F.h, 0.37f, b.h, out.h);
  CUDA_OK(nmg_cuda_cheb_first(&F.g, 0.37f, b.g, out.g, 0));
  check("cheb_first", where, &F.h, &out, init, 0);

  for (int c = 0; c < 4; c++) {
    const int   hp = c & 1, ho = c >> 1;
    const char *name[4] = { "cheb_step", "cheb_step pin", "cheb_step pout", "cheb_step pin pout" };

    reset(&out, init);
    reset(&pout, pinit);
    nmg_kernel_cheb_step(&F.h, 0.61f, 0.29f, x.h, b.h, hp ? pin.h : NULL, ho ? pout.h : NULL, out.h);
    CUDA_OK(nmg_cuda_cheb_step(&F.g, 0.61f, 0.29f, x.g, b.g, hp ? pin.g : NULL, ho ? pout.g : NULL, out.g, 0));
    check(name[c], where, &F.h, &out, init, 0);
    if (ho) check(name[c], "(pout)", &F.h, &pout, pinit, 0);
  }
  /* pin == pout, the PC's middle steps: the direction updated in place */
  reset(&out, init);
  reset(&pout, pinit);
  nmg_kernel_cheb_step(&F.h, 0.61f, 0.29f, x.h, b.h, pout.h, pout.h, out.h);
  CUDA_OK(nmg_cuda_cheb_step(&F.g, 0.61f, 0.29f, x.g, b.g, pout.g, pout.g, out.g, 0));
  check("cheb_step pin=pout", where, &F.h, &out, init, 0);
  check("cheb_step pin=pout", "(pout)", &F.h, &pout, pinit, 0);

  nmg_kernel_restrict(&F.h, r.h, &C.h, bc.h);
  CUDA_OK(nmg_cuda_restrict(&F.g, r.g, &C.g, bc.g, 0));
  check("restrict", where, &C.h, &bc, cinit, 0);

  nmg_kernel_prolong_add(&F.h, 0.83f, xf.h, &C.h, xc.h);
  CUDA_OK(nmg_cuda_prolong_add(&F.g, 0.83f, xf.g, &C.g, xc.g, 0));
  check("prolong_add", where, &F.h, &xf, finit, 0);

  reset(&out, init);
  nmg_kernel_zero(&F.h, out.h);
  CUDA_OK(nmg_cuda_zero(&F.g, out.g, 0));
  check("zero", where, &F.h, &out, init, 1);
  CUDA_OK(cudaDeviceSynchronize());

  free(init);
  free(pinit);
  free(cinit);
  free(finit);
  pair_destroy(&x);
  pair_destroy(&b);
  pair_destroy(&pin);
  pair_destroy(&pout);
  pair_destroy(&out);
  pair_destroy(&r);
  pair_destroy(&bc);
  pair_destroy(&xc);
  pair_destroy(&xf);
  level_destroy(&F);
  level_destroy(&C);
}

/* the CUDA functions refuse bad arguments without launching */
static void check_arguments(void)
{
  const int64_t fxs[3] = { 0, 0, 0 }, fxm[3] = { 8, 6, 4 }, cxm[3] = { 4, 3, 2 }, bad[3] = { 3, 0, 0 };
  level         F, C, Cbad;
  pair          x;
  nmg_box       B;
  cudaError_t   e[6];

  rng_state = 7;
  level_create(&F, fxs, fxm);
  level_create(&C, fxs, cxm);
  level_create(&Cbad, bad, cxm); /* coarse cells 3..6: children 6..13, beyond the fine layer (8) */
  pair_create(&x, F.h.npad, -1.0f, 1.0f);
  B    = F.g;
  B.sy = B.sy + 1; /* inconsistent strides */
  e[0] = nmg_cuda_residual(&F.g, x.g, NULL, x.g, 0);
  e[1] = nmg_cuda_residual(&B, x.g, x.g, x.g, 0);
  e[2] = nmg_cuda_restrict(&F.g, x.g, &Cbad.g, x.g, 0);
  e[3] = nmg_cuda_prolong_add(&F.g, 1.0f, x.g, &Cbad.g, x.g, 0);
  B    = F.g;
  B.w  = NULL;
  e[4] = nmg_cuda_cheb_first(&B, 1.0f, x.g, x.g, 0);
  e[5] = nmg_cuda_restrict(&F.g, x.g, &C.g, NULL, 0);
  gpu_test_result(nmg_box_check_pair(&F.h, &C.h) == 0 && nmg_box_check_pair(&F.h, &Cbad.h) == -1, "nmg_box_check_pair: a coarsening accepted, a shifted coarse box refused");
  for (int q = 0; q < 6; q++) {
    const char *what[6] = { "NULL b", "inconsistent strides", "restrict, no coarsening", "prolong_add, no coarsening", "NULL w", "NULL b_c" };

    gpu_test_result(e[q] == cudaErrorInvalidValue, "argument check: %-26s -> %s", what[q], cudaGetErrorName(e[q]));
  }
  (void) cudaGetLastError();
  pair_destroy(&x);
  level_destroy(&F);
  level_destroy(&C);
  level_destroy(&Cbad);
}

/* ---- timing ------------------------------------------------------------------- */

static double now(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  const double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

#define NSAMPLE 5
#define NLAUNCH 10

static double median5(double t[NSAMPLE])
{
  qsort(t, NSAMPLE, sizeof(double), cmp_double);
  return t[NSAMPLE / 2];
}

enum { K_RESIDUAL,
       K_CHEB_FIRST,
       K_STEP,
       K_STEP_PIN,
       K_STEP_POUT,
       K_STEP_PIN_POUT,
       K_RESTRICT,
       K_PROLONG,
       K_ZERO,
       K_N };

typedef struct {
  level *F, *C;
  pair  *x, *b, *p, *out, *xc;
} timing_data;

static void run_kernel(int kind, int gpu, timing_data *t)
{
  const level *F = t->F, *C = t->C;

  if (!gpu) switch (kind) {
    case K_RESIDUAL: nmg_kernel_residual(&F->h, t->x->h, t->b->h, t->out->h); break;
    case K_CHEB_FIRST: nmg_kernel_cheb_first(&F->h, 0.5f, t->b->h, t->out->h); break;
    case K_STEP: nmg_kernel_cheb_step(&F->h, 0.5f, 0.5f, t->x->h, t->b->h, NULL, NULL, t->out->h); break;
    case K_STEP_PIN: nmg_kernel_cheb_step(&F->h, 0.5f, 0.5f, t->x->h, t->b->h, t->p->h, NULL, t->out->h); break;
    case K_STEP_POUT: nmg_kernel_cheb_step(&F->h, 0.5f, 0.5f, t->x->h, t->b->h, NULL, t->p->h, t->out->h); break;
    case K_STEP_PIN_POUT: nmg_kernel_cheb_step(&F->h, 0.5f, 0.5f, t->x->h, t->b->h, t->p->h, t->p->h, t->out->h); break;
    case K_RESTRICT: nmg_kernel_restrict(&F->h, t->x->h, &C->h, t->xc->h); break;
    case K_PROLONG: nmg_kernel_prolong_add(&F->h, 0.5f, t->out->h, &C->h, t->xc->h); break;
    case K_ZERO: nmg_kernel_zero(&F->h, t->out->h); break;
    }
  else
    switch (kind) {
    case K_RESIDUAL: CUDA_OK(nmg_cuda_residual(&F->g, t->x->g, t->b->g, t->out->g, 0)); break;
    case K_CHEB_FIRST: CUDA_OK(nmg_cuda_cheb_first(&F->g, 0.5f, t->b->g, t->out->g, 0)); break;
    case K_STEP: CUDA_OK(nmg_cuda_cheb_step(&F->g, 0.5f, 0.5f, t->x->g, t->b->g, NULL, NULL, t->out->g, 0)); break;
    case K_STEP_PIN: CUDA_OK(nmg_cuda_cheb_step(&F->g, 0.5f, 0.5f, t->x->g, t->b->g, t->p->g, NULL, t->out->g, 0)); break;
    case K_STEP_POUT: CUDA_OK(nmg_cuda_cheb_step(&F->g, 0.5f, 0.5f, t->x->g, t->b->g, NULL, t->p->g, t->out->g, 0)); break;
    case K_STEP_PIN_POUT: CUDA_OK(nmg_cuda_cheb_step(&F->g, 0.5f, 0.5f, t->x->g, t->b->g, t->p->g, t->p->g, t->out->g, 0)); break;
    case K_RESTRICT: CUDA_OK(nmg_cuda_restrict(&F->g, t->x->g, &C->g, t->xc->g, 0)); break;
    case K_PROLONG: CUDA_OK(nmg_cuda_prolong_add(&F->g, 0.5f, t->out->g, &C->g, t->xc->g, 0)); break;
    case K_ZERO: CUDA_OK(nmg_cuda_zero(&F->g, t->out->g, 0)); break;
    }
}

static void time_grid(int64_t n)
{
  const int64_t zero[3] = { 0, 0, 0 }, fxm[3] = { n, n, n }, cxm[3] = { n / 2, n / 2, n / 2 };
  const char   *name[K_N]  = { "residual", "cheb_first", "cheb_step", "cheb_step pin", "cheb_step pout", "cheb_step pin pout", "restrict", "prolong_add", "zero" };
  const double  bytes[K_N] = { NMG_BYTES_RESIDUAL, NMG_BYTES_CHEB_FIRST, NMG_BYTES_CHEB_STEP(0, 0), NMG_BYTES_CHEB_STEP(1, 0), NMG_BYTES_CHEB_STEP(0, 1), NMG_BYTES_CHEB_STEP(1, 1), NMG_BYTES_RESTRICT, NMG_BYTES_PROLONG_ADD, NMG_BYTES_ZERO };
  const double  cells      = (double) n * n * n;
  level         F, C;
  pair          x, b, p, out, xc;
  timing_data   t = { &F, &C, &x, &b, &p, &out, &xc };
  cudaEvent_t   e0, e1;

  rng_state = 11;
  level_create(&F, zero, fxm);
  level_create(&C, zero, cxm);
  pair_create(&x, F.h.npad, -1.0f, 1.0f);
  pair_create(&b, F.h.npad, -1.0f, 1.0f);
  pair_create(&p, F.h.npad, -1.0f, 1.0f);
  pair_create(&out, F.h.npad, -1.0f, 1.0f);
  pair_create(&xc, C.h.npad, -1.0f, 1.0f);
  CUDA_OK(cudaEventCreate(&e0));
  CUDA_OK(cudaEventCreate(&e1));
  printf("\n%lld^3 (coarse %lld^3), bytes per fine cell from nmgkernels.h; CPU one thread, median of %d after a warm-up; GPU median of %d samples of %d launches after 3 warm-ups\n", (long long) n, (long long) cxm[0], NSAMPLE, NSAMPLE, NLAUNCH);
  printf("%-20s %6s %10s %9s %10s %9s %8s\n", "kernel", "B/cell", "CPU ms", "CPU GB/s", "GPU ms", "GPU GB/s", "speed-up");
  for (int kind = 0; kind < K_N; kind++) {
    double tc[NSAMPLE], tg[NSAMPLE], mc, mg;

    run_kernel(kind, 0, &t);
    for (int s = 0; s < NSAMPLE; s++) {
      const double t0 = now();

      run_kernel(kind, 0, &t);
      tc[s] = now() - t0;
    }
    for (int w = 0; w < 3; w++) run_kernel(kind, 1, &t);
    for (int s = 0; s < NSAMPLE; s++) {
      float ms;

      CUDA_OK(cudaEventRecord(e0, 0));
      for (int l = 0; l < NLAUNCH; l++) run_kernel(kind, 1, &t);
      CUDA_OK(cudaEventRecord(e1, 0));
      CUDA_OK(cudaEventSynchronize(e1));
      CUDA_OK(cudaEventElapsedTime(&ms, e0, e1));
      tg[s] = 1e-3 * ms / NLAUNCH;
    }
    mc = median5(tc);
    mg = median5(tg);
    printf("%-20s %6.1f %10.3f %9.1f %10.4f %9.1f %8.1f\n", name[kind], bytes[kind], 1e3 * mc, bytes[kind] * cells / mc * 1e-9, 1e3 * mg, bytes[kind] * cells / mg * 1e-9, mc / mg);
  }
  fflush(stdout);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  pair_destroy(&x);
  pair_destroy(&b);
  pair_destroy(&p);
  pair_destroy(&out);
  pair_destroy(&xc);
  level_destroy(&F);
  level_destroy(&C);
}

int main(int argc, char **argv)
{
  int                   timing = 1, maxn = 256, ndev = 0, dev = 0;
  struct cudaDeviceProp prop;
  cudaError_t           e;

  if (gpu_test_options(argc, argv, &timing, &maxn)) return 2;
  e = cudaGetDeviceCount(&ndev);
  if (e != cudaSuccess || ndev < 1) {
    printf("cudaGetDeviceCount: %s, %d devices\nSKIP: no CUDA device\n", cudaGetErrorString(e), ndev);
    return 77;
  }
  if (cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&prop, dev) == cudaSuccess) printf("device %d: %s, compute capability %d.%d, %.1f GiB\n", dev, prop.name, prop.major, prop.minor, (double) prop.totalGlobalMem / (1 << 30));

  {
    const int64_t a_fxs[3] = { 0, 0, 0 }, a_fxm[3] = { 33, 20, 17 }, a_cxm[3] = { 17, 10, 9 };
    const int64_t b_fxs[3] = { 5, 3, 7 }, b_fxm[3] = { 20, 14, 11 }, b_cxs[3] = { 3, 2, 4 }, b_cxm[3] = { 10, 7, 5 };

    compare_all("33x20x17 / 17x10x9", a_fxs, a_fxm, a_fxs, a_cxm, 1);
    compare_all("rank box 20x14x11+(5,3,7)", b_fxs, b_fxm, b_cxs, b_cxm, 2);
  }
  check_arguments();
  for (int64_t n = 128; n <= maxn && n <= 256; n *= 2) {
    const int64_t zero[3] = { 0, 0, 0 }, fxm[3] = { n, n, n }, cxm[3] = { n / 2, n / 2, n / 2 };
    char          where[64];

    snprintf(where, sizeof(where), "%lld^3 / %lld^3", (long long) n, (long long) (n / 2));
    compare_all(where, zero, fxm, zero, cxm, 3);
  }
  if (timing)
    for (int64_t n = 128; n <= maxn && n <= 256; n *= 2) time_grid(n);
  printf("\n%d passed, %d failed\n", gpu_test_npass, gpu_test_nfail);
  return gpu_test_nfail ? 1 : 0;
}
