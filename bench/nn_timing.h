/* Timing of nn forward passes, shared by bench/infer_bench.c and
   tests/gpu/test_nn_cuda.c (plain C; the nn library and its internals). */
#ifndef DEEPCD_NN_TIMING_H
#define DEEPCD_NN_TIMING_H

#include <deepcd/nn.h>

/* Monotonic wall clock, seconds. */
double nn_timing_now(void);

/* Waits for a device (cudaDeviceSynchronize); NULL for host backends. */
typedef nn_err (*nn_timing_sync_fn)(void);

#ifdef NN_TIMING_HAVE_CUDA
/* cudaDeviceSynchronize as an nn_timing_sync_fn (builds with CUDA only). */
nn_err nn_timing_cuda_sync(void);
#endif

/* Times `reps` (1..NN_TIMING_MAX_REPS) forward passes after `warmup`
   untimed ones: nn_net_forward(net, in, NULL, out) (host arrays in and
   out), or with device_only the executor's layer loop alone
   (nn_net_run_layers; the input buffer must hold an input: run a forward
   first). `sync` (may be NULL) runs after the warm-ups and, inside the
   timed span, after each timed call. Gives the best and the median
   seconds. */
#define NN_TIMING_MAX_REPS 1000
nn_err nn_timing_forward(nn_net *net, const float *in, float *out, int device_only, int warmup, int reps, nn_timing_sync_fn sync, double *best, double *median);

#endif
