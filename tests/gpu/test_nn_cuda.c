/* GPU test of the nn backend "cuda" against the "ref" oracle (plain C, no
   GoogleTest; needs a CUDA device, so it is built but not run by ctest).

   For every layer type (in small graphs: the network input and output have
   one channel) and for whole from64 networks (He initialisation, nonzero
   biases) on 16^3, 12x8x16 and odd 7x9x5 grids, nn_net_forward on "cuda" is
   compared with "ref" at each precision the device supports: relative max
   error max|cuda - ref| / max|ref| below 1e-5 (fp32), 5e-3 (tf32), 2e-2
   (fp16, bf16). Then a from64 forward is timed at 64^3, 128^3 and 256^3 per
   precision (median of 5 after 2 warm-ups): the whole nn_net_forward (host
   arrays in and out) and the device part alone (the layer loop on device
   buffers, no transfers), with the achieved TFLOP/s.

   Training (fp32): on the same graphs and grids (not the halo case), with
   some output cells masked, the cuda backward against the ref backward:
   the training forward, dparams and din within relative 2-norm 1e-5 (per
   kernel and bias vector), that a second backward accumulates, and the same
   after a gradient step and nn_net_params_changed.

   The device-pointer path (check_forward_device, at the end):
   nn_net_forward_device on cudaMalloc'd double vectors against
   nn_net_forward on the same net, odd and even grids, fp32 and a half
   precision, with a mask and without.

   Usage: test_nn_cuda [--no-timing] [--max-n N]
   Output ends with "N passed, M failed"; exit status 0 when all passed, 1
   otherwise, 77 ("SKIP: no CUDA device") without a device. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime_api.h>
#include <deepcd/nn.h>
#include <deepcd/private/nnimpl.h> /* nn_error_set */
#include "nn_timing.h"             /* bench/: the forward timings, shared with bench/infer_bench */
#include "gpu_test.h"              /* the [ PASS ]/[ FAIL ] lines */

static const double tolerance[4] = { 1e-5, 5e-3, 2e-2, 2e-2 }; /* fp32, tf32, bf16, fp16 */

/* ---- data ---------------------------------------------------------------------- */

static uint64_t rng_state;

static float frand(void) /* uniform in [-1, 1) */
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float) ((rng_state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void fill(float *x, size_t n, uint64_t seed)
{
  rng_state = seed;
  for (size_t i = 0; i < n; i++) x[i] = frand();
}

/* He kernels and biases uniform in [-0.1, 0.1]. */
static nn_err init_params(nn_model *m, uint64_t seed)
{
  NN_CALL(nn_model_init_he(m, seed));
  rng_state = seed ^ 0x9e3779b97f4a7c15ULL;
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV)
      for (int o = 0; o < m->layers[l].cout; o++) m->params[m->layers[l].bias + (size_t) o] = 0.1f * frand();
  return NN_SUCCESS;
}

/* ---- the small graphs (one layer type each) ------------------------------------- */

/* x -> conv3 1->16 linear -> head 1x1 16->1 */
static nn_err g_lift(nn_model *m)
{
  int x, f, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_conv(m, f, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* ... -> conv3 16->16 relu -> head */
static nn_err g_relu(nn_model *m)
{
  int x, f, g, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_conv(m, f, -1, 16, 3, NN_ACT_RELU, &g));
  NN_CALL(nn_model_add_conv(m, g, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* ... -> relu(conv3 16->16) + f -> head */
static nn_err g_residual(nn_model *m)
{
  int x, f, g, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_conv(m, f, f, 16, 3, NN_ACT_RELU, &g));
  NN_CALL(nn_model_add_conv(m, g, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* x -> relu(conv1 1->16) -> conv1 16->1 + x */
static nn_err g_conv1x1(nn_model *m)
{
  int x, h, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 1, NN_ACT_RELU, &h));
  NN_CALL(nn_model_add_conv(m, h, x, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* f, g = relu(conv3 f) -> add(f, g) -> head */
static nn_err g_add(nn_model *m)
{
  int x, f, g, a, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_conv(m, f, -1, 16, 3, NN_ACT_RELU, &g));
  NN_CALL(nn_model_add_add(m, f, g, &a));
  NN_CALL(nn_model_add_conv(m, a, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* f -> avgpool2 -> upsample2 (no skip) -> head */
static nn_err g_avgpool(nn_model *m)
{
  int x, f, p, u, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_avgpool2(m, f, &p));
  NN_CALL(nn_model_add_upsample2(m, p, -1, &u));
  NN_CALL(nn_model_add_conv(m, u, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

/* f -> avgpool2 -> relu(conv3) -> upsample2 + f -> head */
static nn_err g_upsample_skip(nn_model *m)
{
  int x, f, p, q, u, y;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_avgpool2(m, f, &p));
  NN_CALL(nn_model_add_conv(m, p, -1, 16, 3, NN_ACT_RELU, &q));
  NN_CALL(nn_model_add_upsample2(m, q, f, &u));
  NN_CALL(nn_model_add_conv(m, u, -1, 1, 1, NN_ACT_NONE, &y));
  m->input  = x;
  m->output = y;
  return NN_SUCCESS;
}

typedef struct {
  const char *name;
  nn_err (*graph)(nn_model *m); /* NULL: from64 */
  int dims[3];
  int halo; /* run with a (zero) halo callback: the padded buffers go through the host */
} test_case;

static const test_case cases[] = {
  { "conv3 1->16 linear", g_lift, { 10, 12, 14 }, 0 },
  { "conv3 16->16 relu", g_relu, { 10, 12, 14 }, 0 },
  { "conv3 16->16 relu + residual", g_residual, { 10, 12, 14 }, 0 },
  { "conv1 1->16 relu, conv1 16->1 + residual", g_conv1x1, { 10, 12, 14 }, 0 },
  { "add", g_add, { 10, 12, 14 }, 0 },
  { "avgpool2 + upsample2", g_avgpool, { 10, 12, 14 }, 0 },
  { "upsample2 with skip", g_upsample_skip, { 10, 12, 14 }, 0 },
  { "from64 16^3", NULL, { 16, 16, 16 }, 0 },
  { "from64 12x8x16", NULL, { 12, 8, 16 }, 0 },
  { "from64 7x9x5 (odd)", NULL, { 7, 9, 5 }, 0 },
  { "from64 16^3 with a halo callback", NULL, { 16, 16, 16 }, 1 },
};

static nn_err keep_halo(void *ctx, int level, int channels, float *buf)
{
  (*(int *) ctx)++;
  return NN_SUCCESS; /* the border is zero already */
}

static nn_err make_model(const test_case *tc, nn_model **m, uint64_t seed)
{
  nn_err err;

  if (tc->graph) {
    NN_CALL(nn_model_create(m));
    if ((err = tc->graph(*m))) {
      nn_model_destroy(m);
      return err;
    }
  } else
    NN_CALL(nn_model_create_arch("from64", m));
  if ((err = init_params(*m, seed))) nn_model_destroy(m);
  return err;
}

static nn_err run_net(const nn_model *m, const char *backend, nn_precision p, const int dims[3], int halo, const float *in, float *out, int *halocalls)
{
  nn_net *net = NULL;
  nn_err  err;

  NN_CALL(nn_net_create(m, backend, p, dims, &net));
  if (halo)
    err = nn_net_set_halo(net, keep_halo, halocalls);
  else
    err = NN_SUCCESS;
  if (!err) err = nn_net_forward(net, in, NULL, out);
  if (!err) err = nn_net_forward(net, in, NULL, out); /* again: buffers are reused */
  nn_net_destroy(&net);
  return err;
}

static void compare_case(const test_case *tc, const int supported[4])
{
  const size_t n   = (size_t) tc->dims[0] * tc->dims[1] * tc->dims[2];
  float       *in  = malloc(n * sizeof(float));
  float       *ref = malloc(n * sizeof(float));
  float       *out = malloc(n * sizeof(float));
  nn_model    *m   = NULL;
  nn_err       err;

  if (!in || !ref || !out) {
    gpu_test_result(0, "%s: out of memory", tc->name);
    goto done;
  }
  fill(in, n, 12345);
  if ((err = make_model(tc, &m, 42))) {
    gpu_test_result(0, "%s: model: %s", tc->name, nn_error_message());
    goto done;
  }
  if ((err = run_net(m, "ref", NN_FP32, tc->dims, 0, in, ref, NULL))) {
    gpu_test_result(0, "%s: ref: %s", tc->name, nn_error_message());
    goto done;
  }
  for (int p = 0; p < 4; p++) {
    double maxref = 0, maxdiff = 0;
    int    halocalls = 0, finite = 1;

    if (!supported[p]) continue;
    memset(out, 0, n * sizeof(float));
    if ((err = run_net(m, "cuda", (nn_precision) p, tc->dims, tc->halo, in, out, &halocalls))) {
      gpu_test_result(0, "%-44s %-4s %dx%dx%d: %s", tc->name, nn_precision_names[p], tc->dims[0], tc->dims[1], tc->dims[2], nn_error_message());
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      double d = fabs((double) out[i] - ref[i]);

      if (!isfinite(out[i])) finite = 0;
      if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
      if (d > maxdiff) maxdiff = d;
    }
    {
      double rel = maxref > 0 ? maxdiff / maxref : maxdiff;
      int    ok  = finite && maxref > 0 && rel < tolerance[p] && (!tc->halo || halocalls > 0);

      gpu_test_result(ok, "%-44s %-4s %dx%dx%d: relative max error %.3g (tolerance %.0e, max |ref| %.3g)%s%s", tc->name, nn_precision_names[p], tc->dims[0], tc->dims[1], tc->dims[2], rel, tolerance[p], maxref, finite ? "" : ", NON-FINITE values", tc->halo && !halocalls ? ", halo callback never called" : "");
    }
  }
done:
  nn_model_destroy(&m);
  free(in);
  free(ref);
  free(out);
}

/* ---- training: the backward pass ------------------------------------------------- */

static double rel_norm(const float *a, const float *b, size_t n)
{
  double d = 0, r = 0;

  for (size_t i = 0; i < n; i++) {
    d += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
    r += (double) b[i] * b[i];
  }
  return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* The worst relative error over the kernels and the biases of every layer. */
static double params_rel(const nn_model *m, const float *a, const float *b)
{
  double worst = 0;

  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L  = &m->layers[l];
    const size_t    nw = (size_t) L->cout * L->cin * L->k * L->k * L->k;
    double          ew, eb;

    if (L->op != NN_OP_CONV) continue;
    ew = rel_norm(a + L->weight, b + L->weight, nw);
    eb = rel_norm(a + L->bias, b + L->bias, (size_t) L->cout);
    if (ew > worst) worst = ew;
    if (eb > worst) worst = eb;
  }
  return worst;
}

/* One forward + backward: out, din (NULL: not asked), dparams (zeroed first). */
static nn_err train_pass(nn_net *net, const float *in, const unsigned char *mask, const float *dout, float *out, float *din, float *dp, size_t np)
{
  memset(dp, 0, np * sizeof(float));
  NN_CALL(nn_net_forward(net, in, mask, out));
  return nn_net_backward(net, dout, din, dp);
}

/* cuda against ref in training mode (fp32): the training forward, the
   gradients of the parameters and of the input, that a second backward adds
   to dparams, and the same after a parameter change (nn_net_params_changed:
   the weights on the device are refreshed). Tolerance: relative 2-norm 1e-5,
   per kernel and per bias vector, as for cpu against ref (tests/test_nn_grad.cpp). */
static void compare_grad_case(const test_case *tc)
{
  const double   tol = 1e-5;
  const size_t   n   = (size_t) tc->dims[0] * tc->dims[1] * tc->dims[2];
  nn_model      *m   = NULL;
  nn_net        *rn = NULL, *cn = NULL;
  float         *in = NULL, *dout = NULL, *ro = NULL, *co = NULL, *rdin = NULL, *cdin = NULL, *rdp = NULL, *cdp = NULL, *cdp2 = NULL;
  unsigned char *mask     = NULL;
  size_t         np       = 0;
  int            have_din = 1;
  nn_err         err;

  if ((err = make_model(tc, &m, 42))) {
    gpu_test_result(0, "grad %s: model: %s", tc->name, nn_error_message());
    return;
  }
  np   = m->nparams;
  in   = malloc(n * sizeof(float));
  dout = malloc(n * sizeof(float));
  ro   = malloc(n * sizeof(float));
  co   = malloc(n * sizeof(float));
  rdin = malloc(n * sizeof(float));
  cdin = malloc(n * sizeof(float));
  mask = malloc(n);
  rdp  = malloc(np * sizeof(float));
  cdp  = malloc(np * sizeof(float));
  cdp2 = malloc(np * sizeof(float));
  if (!in || !dout || !ro || !co || !rdin || !cdin || !mask || !rdp || !cdp || !cdp2) {
    gpu_test_result(0, "grad %s: out of memory", tc->name);
    goto done;
  }
  fill(in, n, 12345);
  fill(dout, n, 777);
  for (size_t i = 0; i < n; i++) mask[i] = i % 7 == 3; /* some solid cells */
  if ((err = nn_net_create_train(m, "ref", NN_FP32, tc->dims, &rn)) || (err = train_pass(rn, in, mask, dout, ro, rdin, rdp, np))) {
    gpu_test_result(0, "grad %s: ref: %s", tc->name, nn_error_message());
    goto done;
  }
  if ((err = nn_net_create_train(m, "cuda", NN_FP32, tc->dims, &cn))) {
    gpu_test_result(0, "grad %-39s %dx%dx%d: cuda training net: %s", tc->name, tc->dims[0], tc->dims[1], tc->dims[2], nn_error_message());
    goto done;
  }
  err = train_pass(cn, in, mask, dout, co, cdin, cdp, np);
  if (err == NN_ERR_UNSUPPORTED && strstr(nn_error_message(), "gradient of the model input is unavailable")) {
    printf("[ NOTE ] grad %s: %s; comparing without din\n", tc->name, nn_error_message());
    have_din = 0;
    err      = train_pass(cn, in, mask, dout, co, NULL, cdp, np);
  }
  if (err) {
    gpu_test_result(0, "grad %-39s %dx%dx%d: cuda: %s", tc->name, tc->dims[0], tc->dims[1], tc->dims[2], nn_error_message());
    goto done;
  }
  {
    const double eo = rel_norm(co, ro, n), ed = have_din ? rel_norm(cdin, rdin, n) : 0, ep = params_rel(m, cdp, rdp);

    gpu_test_result(eo < tol && ed < tol && ep < tol, "grad %-39s %dx%dx%d: out %.2g, din %s%.2g, dparams %.2g (tolerance %.0e)", tc->name, tc->dims[0], tc->dims[1], tc->dims[2], eo, have_din ? "" : "(not available) ", ed, ep, tol);
  }
  /* a second backward adds to dparams */
  memcpy(cdp2, cdp, np * sizeof(float));
  if ((err = nn_net_backward(cn, dout, NULL, cdp2))) {
    gpu_test_result(0, "grad %s: second backward: %s", tc->name, nn_error_message());
    goto done;
  }
  for (size_t i = 0; i < np; i++) cdp[i] *= 2.0f;
  gpu_test_result(params_rel(m, cdp2, cdp) < tol, "grad %-39s %dx%dx%d: a second backward accumulates (%.2g)", tc->name, tc->dims[0], tc->dims[1], tc->dims[2], params_rel(m, cdp2, cdp));
  /* a gradient-descent step, then both nets again */
  for (size_t i = 0; i < np; i++) m->params[i] -= 0.01f * rdp[i];
  if ((err = nn_net_params_changed(rn)) || (err = train_pass(rn, in, mask, dout, ro, rdin, rdp, np))) {
    gpu_test_result(0, "grad %s: ref after the step: %s", tc->name, nn_error_message());
    goto done;
  }
  if ((err = nn_net_params_changed(cn)) || (err = train_pass(cn, in, mask, dout, co, have_din ? cdin : NULL, cdp, np))) {
    gpu_test_result(0, "grad %s: cuda after the step: %s", tc->name, nn_error_message());
    goto done;
  }
  {
    const double eo = rel_norm(co, ro, n), ed = have_din ? rel_norm(cdin, rdin, n) : 0, ep = params_rel(m, cdp, rdp);

    gpu_test_result(eo < tol && ed < tol && ep < tol, "grad %-39s %dx%dx%d: after params_changed: out %.2g, din %.2g, dparams %.2g", tc->name, tc->dims[0], tc->dims[1], tc->dims[2], eo, ed, ep);
  }
done:
  nn_net_destroy(&rn);
  nn_net_destroy(&cn);
  nn_model_destroy(&m);
  free(in);
  free(dout);
  free(ro);
  free(co);
  free(rdin);
  free(cdin);
  free(mask);
  free(rdp);
  free(cdp);
  free(cdp2);
}

/* ---- timing --------------------------------------------------------------------- */

static void time_forward(nn_precision p, int N)
{
  const int    dims[3] = { N, N, N };
  const size_t n       = (size_t) N * N * N;
  float       *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
  nn_model    *m   = NULL;
  nn_net      *net = NULL;
  double       best, t_all, t_dev, t0, setup, flops;
  nn_err       err = NN_SUCCESS;

  if (!in || !out) {
    gpu_test_result(0, "timing %s %d^3: out of memory", nn_precision_names[p], N);
    goto done;
  }
  fill(in, n, 7);
  if ((err = nn_model_create_arch("from64", &m)) || (err = init_params(m, 1))) goto fail;
  t0 = nn_timing_now();
  if ((err = nn_net_create(m, "cuda", p, dims, &net))) goto fail;
  setup = nn_timing_now() - t0;
  if ((err = nn_timing_forward(net, in, out, 0, 2, 5, nn_timing_cuda_sync, &best, &t_all)) || (err = nn_timing_forward(net, in, out, 1, 2, 5, nn_timing_cuda_sync, &best, &t_dev))) goto fail;
  flops = nn_model_flops_per_voxel(m) * (double) n;
  printf("| %-4s | %4d^3 | %8.2f | %10.3f | %10.3f | %8.2f | %8.2f |\n", nn_precision_names[p], N, setup, 1e3 * t_all, 1e3 * t_dev, flops / t_all * 1e-12, flops / t_dev * 1e-12);
  fflush(stdout);
  gpu_test_npass++;
  goto done;
fail:
  printf("| %-4s | %4d^3 | failed: %s\n", nn_precision_names[p], N, nn_error_message());
  gpu_test_nfail++;
done:
  nn_net_destroy(&net);
  nn_model_destroy(&m);
  free(in);
  free(out);
}

static void check_forward_device(const int supported[4]); /* the device-pointer path, at the end */

int main(int argc, char **argv)
{
  int                   supported[4] = { 0 }, timing = 1, maxn = 256, dev = 0;
  struct cudaDeviceProp prop;

  if (gpu_test_options(argc, argv, &timing, &maxn)) return 2;
  if (nn_backend_check("cuda", NN_FP32)) {
    if (strstr(nn_error_message(), "no CUDA device")) {
      printf("%s\nSKIP: no CUDA device\n", nn_error_message());
      return 77;
    }
    printf("[ FAIL ] backend 'cuda' unusable: %s\n0 passed, 1 failed\n", nn_error_message());
    return 1;
  }
  if (cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&prop, dev) == cudaSuccess) printf("device %d: %s, compute capability %d.%d, %.1f GiB\n", dev, prop.name, prop.major, prop.minor, (double) prop.totalGlobalMem / (1 << 30));
  for (int p = 0; p < 4; p++) {
    supported[p] = nn_backend_check("cuda", (nn_precision) p) == NN_SUCCESS;
    printf("precision %-4s: %s\n", nn_precision_names[p], supported[p] ? "supported" : nn_error_message());
  }
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) compare_case(&cases[c], supported);
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
    if (!cases[c].halo) compare_grad_case(&cases[c]); /* the backward runs on a single box only */
  check_forward_device(supported);
  if (timing) {
    printf("\nfrom64 forward, median of 5 after 2 warm-ups (all: nn_net_forward with host arrays; device: the layer loop alone)\n");
    printf("| prec | grid   | setup s  | all ms     | device ms  | TFLOP/s  | TFLOP/s  |\n");
    printf("|      |        |          |            |            | (all)    | (device) |\n");
    for (int p = 0; p < 4; p++)
      if (supported[p])
        for (int N = 64; N <= maxn; N *= 2) time_forward((nn_precision) p, N);
  }
  printf("%d passed, %d failed\n", gpu_test_npass, gpu_test_nfail);
  return gpu_test_nfail ? 1 : 0;
}

/* ---- the device-pointer path ---------------------------------------------------- */

/* One from64 net on `dims` at precision p: nn_net_forward_device (double
   vectors in cudaMalloc'd memory, the mask of nn_net_set_mask) against
   nn_net_forward on the same net (the same cuDNN algorithms) with the host
   arrays (float) (scale * in) and the same mask, converted to double; then
   with the mask cleared. Relative max difference at most tol; masked cells
   exactly 0; no cell left unwritten (the output starts as NaN). */
static void forward_device_case(const nn_model *m, const int dims[3], nn_precision p, double tol)
{
  const size_t   n     = (size_t) dims[0] * dims[1] * dims[2];
  const double   scale = sqrt((double) n);
  double        *in = malloc(n * sizeof(double)), *out = malloc(n * sizeof(double));
  float         *inf = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
  unsigned char *mask = malloc(n);
  double        *din = NULL, *dout = NULL;
  nn_net        *net = NULL;
  cudaError_t    ce  = cudaSuccess;

  if (!in || !out || !inf || !ref || !mask) {
    gpu_test_result(0, "forward_device %s %dx%dx%d: out of memory", nn_precision_names[p], dims[0], dims[1], dims[2]);
    goto done;
  }
  rng_state = 777;
  for (size_t i = 0; i < n; i++) {
    in[i]   = ((double) frand() + 1e-9 * frand()) / scale; /* unit norm, as the KSP hands it over; not float-exact */
    inf[i]  = (float) (scale * in[i]);                     /* what the host path feeds nn_net_forward */
    mask[i] = i % 7 == 3;
  }
  if ((ce = cudaMalloc((void **) &din, n * sizeof(double))) != cudaSuccess || (ce = cudaMalloc((void **) &dout, n * sizeof(double))) != cudaSuccess || (ce = cudaMemcpy(din, in, n * sizeof(double), cudaMemcpyHostToDevice)) != cudaSuccess) {
    gpu_test_result(0, "forward_device %s %dx%dx%d: %s", nn_precision_names[p], dims[0], dims[1], dims[2], cudaGetErrorString(ce));
    goto done;
  }
  if (nn_net_create(m, "cuda", p, dims, &net)) {
    gpu_test_result(0, "forward_device %s %dx%dx%d: %s", nn_precision_names[p], dims[0], dims[1], dims[2], nn_error_message());
    goto done;
  }
  gpu_test_result(nn_net_device_memory(net) == 1, "nn_net_device_memory on cuda %s is 1", nn_precision_names[p]);
  for (int masked = 1; masked >= 0; masked--) {
    const unsigned char *mk     = masked ? mask : NULL;
    double               maxref = 0, maxdiff = 0;
    int                  finite = 1, maskok = 1;

    if (nn_net_forward(net, inf, mk, ref) || nn_net_set_mask(net, mk) || (ce = cudaMemset(dout, 0xff, n * sizeof(double))) != cudaSuccess || nn_net_forward_device(net, din, scale, dout) || nn_net_forward_device(net, din, scale, dout) /* again: buffers are reused */
        || (ce = cudaMemcpy(out, dout, n * sizeof(double), cudaMemcpyDeviceToHost)) != cudaSuccess) {
      gpu_test_result(0, "forward_device %s %dx%dx%d: %s", nn_precision_names[p], dims[0], dims[1], dims[2], ce != cudaSuccess ? cudaGetErrorString(ce) : nn_error_message());
      goto done;
    }
    for (size_t i = 0; i < n; i++) {
      double d = fabs(out[i] - (double) ref[i]);

      if (!isfinite(out[i])) finite = 0;
      if (mk && mk[i] && out[i] != 0.0) maskok = 0;
      if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
      if (d > maxdiff) maxdiff = d;
    }
    {
      double rel = maxref > 0 ? maxdiff / maxref : maxdiff;

      gpu_test_result(finite && maskok && maxref > 0 && rel <= tol, "%-44s %-4s %dx%dx%d: relative max difference %.3g (tolerance %.0e)%s%s", masked ? "forward_device = forward, mask set" : "forward_device = forward, mask cleared", nn_precision_names[p], dims[0], dims[1], dims[2], rel, tol, finite ? "" : ", NON-FINITE or unwritten cells", maskok ? "" : ", masked cells not 0");
    }
  }
done:
  nn_net_destroy(&net);
  if (din) cudaFree(din);
  if (dout) cudaFree(dout);
  free(in);
  free(out);
  free(inf);
  free(ref);
  free(mask);
}

/* nn_net_forward_device = nn_net_forward on an odd and an even grid, in fp32
   (expected bit-identical: the same net, the same roundings) and in a half
   precision (also expected identical; the tolerance only allows for a cuDNN
   algorithm that is not bitwise deterministic). */
static void check_forward_device(const int supported[4])
{
  static const int   grids[2][3] = { { 7, 9, 5 }, { 16, 12, 8 } };
  const nn_precision half        = supported[NN_BF16] ? NN_BF16 : NN_FP16;
  nn_model          *m           = NULL;

  if (nn_model_create_arch("from64", &m) || init_params(m, 42)) {
    gpu_test_result(0, "forward_device: model: %s", nn_error_message());
    nn_model_destroy(&m);
    return;
  }
  for (int g = 0; g < 2; g++) {
    forward_device_case(m, grids[g], NN_FP32, 1e-6);
    if (supported[half]) forward_device_case(m, grids[g], half, 1e-3);
  }
  nn_model_destroy(&m);
}
