/* Timing of nn forward passes (see nn_timing.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <time.h>
#ifdef NN_TIMING_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#include <deepcd/private/nnimpl.h>
#include "nn_timing.h"

double nn_timing_now(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

#ifdef NN_TIMING_HAVE_CUDA
nn_err nn_timing_cuda_sync(void)
{
  cudaError_t e = cudaDeviceSynchronize();

  if (e != cudaSuccess) return nn_error_set(NN_ERR_BACKEND, "cudaDeviceSynchronize failed: %s", cudaGetErrorString(e));
  return NN_SUCCESS;
}
#endif

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static nn_err one_pass(nn_net *net, const float *in, float *out, int device_only)
{
  return device_only ? nn_net_run_layers(net) : nn_net_forward(net, in, NULL, out);
}

nn_err nn_timing_forward(nn_net *net, const float *in, float *out, int device_only, int warmup, int reps, nn_timing_sync_fn sync, double *best, double *median)
{
  double *t;
  nn_err  err = NN_SUCCESS;

  NN_CHECK(net && in && out && best && median, NN_ERR_ARG, "nn_timing_forward: NULL argument");
  NN_CHECK(warmup >= 0 && reps >= 1 && reps <= NN_TIMING_MAX_REPS, NN_ERR_ARG, "nn_timing_forward: %d warm-ups, %d repetitions: want >= 0 and 1..%d", warmup, reps, NN_TIMING_MAX_REPS);
  t = malloc((size_t) reps * sizeof(double));
  NN_CHECK(t, NN_ERR_MEM, "nn_timing_forward: out of memory");
  for (int r = 0; r < warmup && !err; r++) err = one_pass(net, in, out, device_only);
  if (!err && sync) err = sync();
  for (int r = 0; r < reps && !err; r++) {
    double t0 = nn_timing_now();

    err = one_pass(net, in, out, device_only);
    if (!err && sync) err = sync();
    t[r] = nn_timing_now() - t0;
  }
  if (!err) {
    qsort(t, (size_t) reps, sizeof(double), cmp_double);
    *best   = t[0];
    *median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  }
  free(t);
  return err;
}
