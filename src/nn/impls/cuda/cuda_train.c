/* The backward pass of the "cuda" backend (training; fp32, strict FP32 math).

   3x3x3 layers: cudnnConvolutionBackwardFilter and
   cudnnConvolutionBackwardData on a second convolution description made
   here: the plain (unpadded) channels-last input with cuDNN's own zero
   padding 1, because the executor hands the backward the plain forward input
   (and the data gradient is wanted on the plain grid). Both use the NHWC
   filter layout of the forward; a layer run by the direct kernel (the 1 -> 16
   lift) keeps an NHWC copy of its weights for the backward data. The
   algorithms are chosen once, like the forward's (measured, or the heuristic
   with DEEPCD_CUDNN_ALGO=heuristic; within DEEPCD_CUDA_WORKSPACE_MB; FMA
   math only), deterministic ones first so that a run repeats its gradients.
   A layer that reads the model input may lack a backward-data algorithm
   (cuDNN is weakest at one channel): training does not need that gradient,
   so only a backward asking for it (din) is refused.

   1x1x1 layers: two cuBLAS GEMMs in FP32 (weights: in x dout^T; data:
   W x dout, accumulated by beta = 1). Bias gradients: a GEMV of dout with a
   vector of ones.

   A layer's weight and bias gradients land in a device scratch, come back to
   pinned host memory and are added to dparams (from the NHWC filter layout
   to (cout, cin, k, k, k)); that is one synchronisation per convolution.
   The ReLU mask, gradient sums, pooling and upsampling gradients are the
   kernels of kernels_cuda.cu. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <deepcd/private/nncudaimpl.h>

/* One result of a cuDNN backward algorithm search, either kind. */
typedef struct {
  int                algo;
  cudnnStatus_t      status;
  size_t             memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t    math;
  float              time;
} bwd_perf;

typedef enum { BWD_FILTER,
               BWD_DATA } bwd_kind;

#define BWD_MAX (2 * ((int) CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT > (int) CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT ? (int) CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT : (int) CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT))

static cudnnStatus_t bwd_workspace(cuda_state *st, const cuda_layer *c, bwd_kind kind, int algo, size_t *ws)
{
  if (kind == BWD_FILTER) return cudnnGetConvolutionBackwardFilterWorkspaceSize(st->cudnn, c->tx, c->ty, c->tconv, c->tw, (cudnnConvolutionBwdFilterAlgo_t) algo, ws);
  return cudnnGetConvolutionBackwardDataWorkspaceSize(st->cudnn, c->tw, c->ty, c->tconv, c->tx, (cudnnConvolutionBwdDataAlgo_t) algo, ws);
}

/* The search (measured or heuristic) of one backward kind, as bwd_perf. */
static nn_err bwd_search(cuda_state *st, const cuda_layer *c, bwd_kind kind, int use_find, bwd_perf *p, int *n)
{
  cudnnConvolutionBwdFilterAlgoPerf_t pf[BWD_MAX];
  cudnnConvolutionBwdDataAlgoPerf_t   pd[BWD_MAX];
  cudnnStatus_t                       s;

  *n = 0;
  if (kind == BWD_FILTER)
    s = use_find ? cudnnFindConvolutionBackwardFilterAlgorithm(st->cudnn, c->tx, c->ty, c->tconv, c->tw, BWD_MAX, n, pf) : cudnnGetConvolutionBackwardFilterAlgorithm_v7(st->cudnn, c->tx, c->ty, c->tconv, c->tw, BWD_MAX, n, pf);
  else
    s = use_find ? cudnnFindConvolutionBackwardDataAlgorithm(st->cudnn, c->tw, c->ty, c->tconv, c->tx, BWD_MAX, n, pd) : cudnnGetConvolutionBackwardDataAlgorithm_v7(st->cudnn, c->tw, c->ty, c->tconv, c->tx, BWD_MAX, n, pd);
  if (s != CUDNN_STATUS_SUCCESS) {
    (void) cudaGetLastError();
    *n = 0;
    return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': the cuDNN backward %s algorithm %s failed: %s", kind == BWD_FILTER ? "filter" : "data", use_find ? "search" : "heuristic", cudnnGetErrorString(s));
  }
  for (int i = 0; i < *n; i++) {
    if (kind == BWD_FILTER) {
      p[i] = (bwd_perf){ (int) pf[i].algo, pf[i].status, pf[i].memory, pf[i].determinism, pf[i].mathType, pf[i].time };
    } else {
      p[i] = (bwd_perf){ (int) pd[i].algo, pd[i].status, pd[i].memory, pd[i].determinism, pd[i].mathType, pd[i].time };
    }
  }
  return NN_SUCCESS;
}

/* Picks a backward algorithm of layer l: deterministic first, then any;
   raises st->wssize to its workspace. NN_ERR_UNSUPPORTED when none fits. */
static nn_err bwd_pick(cuda_state *st, cuda_layer *c, int l, bwd_kind kind, int *algo)
{
  bwd_perf p[BWD_MAX];
  int      n = 0;
  nn_err   err;

  err = bwd_search(st, c, kind, st->use_find, p, &n);
  if ((err || !n) && st->use_find) { /* e.g. out of memory for its trial buffers: fall back to the heuristic */
    if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: %s; using the heuristic\n", l, err ? nn_error_message() : "the search found nothing");
    err = bwd_search(st, c, kind, 0, p, &n);
  }
  NN_CALL(err);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++) {
      size_t ws = 0;

      if (p[i].status != CUDNN_STATUS_SUCCESS || p[i].memory > st->wslimit || !cuda_math_ok(NN_FP32, p[i].math)) continue;
      if (pass == 0 && p[i].determinism != CUDNN_DETERMINISTIC) continue;
      if (bwd_workspace(st, c, kind, p[i].algo, &ws) != CUDNN_STATUS_SUCCESS || ws > st->wslimit) continue;
      *algo = p[i].algo;
      if (ws > st->wssize) st->wssize = ws;
      if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: backward %s algorithm %d (%s), workspace %zu B, %.3f ms\n", l, kind == BWD_FILTER ? "filter" : "data", p[i].algo, p[i].determinism == CUDNN_DETERMINISTIC ? "deterministic" : "NOT deterministic", ws, (double) p[i].time);
      return NN_SUCCESS;
    }
  return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': cuDNN offers no fp32 backward %s algorithm", kind == BWD_FILTER ? "filter" : "data");
}

static nn_err train_setup_layer(nn_net *net, cuda_state *st, int l)
{
  const nn_layer *L       = &net->model->layers[l];
  const int      *d       = net->ldims[net->model->tensors[L->out].level];
  cuda_layer     *c       = &st->L[l];
  const int       filt[5] = { L->cout, L->cin, 3, 3, 3 }, one[3] = { 1, 1, 1 };
  const size_t    nvox = (size_t) d[0] * d[1] * d[2];
  int             algo = 0;
  nn_err          err;

  NN_CHECK(nvox * (size_t) (L->cin > L->cout ? L->cin : L->cout) <= INT_MAX, NN_ERR_UNSUPPORTED, "backend 'cuda': layer %d: a %dx%dx%d grid of %d channels is too large for cuDNN's int strides", l, d[0], d[1], d[2], L->cin > L->cout ? L->cin : L->cout);
  NN_CALL(cuda_ndhwc_desc(&c->tx, CUDNN_DATA_FLOAT, L->cin, d[0], d[1], d[2]));
  NN_CALL(cuda_ndhwc_desc(&c->ty, CUDNN_DATA_FLOAT, L->cout, d[0], d[1], d[2]));
  DNN(cudnnCreateFilterDescriptor(&c->tw), "cudnnCreateFilterDescriptor");
  DNN(cudnnSetFilterNdDescriptor(c->tw, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 5, filt), "cudnnSetFilterNdDescriptor");
  DNN(cudnnCreateConvolutionDescriptor(&c->tconv), "cudnnCreateConvolutionDescriptor");
  DNN(cudnnSetConvolutionNdDescriptor(c->tconv, 3, one, one, one, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolutionNdDescriptor");
  DNN(cudnnSetConvolutionMathType(c->tconv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
  if (c->kind == CV_DIRECT) CU(cudaMalloc((void **) &c->wbw, (size_t) L->cout * L->cin * 27 * sizeof(float)), "cudaMalloc");
  if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: backward of conv 3x3x3 %d->%d on %dx%dx%d: cuDNN\n", l, L->cin, L->cout, d[0], d[1], d[2]);
  err = bwd_pick(st, c, l, BWD_FILTER, &algo);
  if (err == NN_ERR_UNSUPPORTED) return nn_error_set(err, "backend 'cuda': layer %d (conv 3x3x3 %d->%d on %dx%dx%d): cuDNN offers no fp32 backward filter algorithm within %zu MiB of workspace", l, L->cin, L->cout, d[0], d[1], d[2], st->wslimit >> 20);
  NN_CALL(err);
  c->bf_algo = (cudnnConvolutionBwdFilterAlgo_t) algo;
  err        = bwd_pick(st, c, l, BWD_DATA, &algo);
  if (err == NN_ERR_UNSUPPORTED && L->in == net->model->input) {
    c->bd_ok = 0; /* only din would need it */
    if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: no backward data algorithm: the gradient of the model input is unavailable\n", l);
    return NN_SUCCESS;
  }
  if (err == NN_ERR_UNSUPPORTED) return nn_error_set(err, "backend 'cuda': layer %d (conv 3x3x3 %d->%d on %dx%dx%d): cuDNN offers no fp32 backward data algorithm within %zu MiB of workspace", l, L->cin, L->cout, d[0], d[1], d[2], st->wslimit >> 20);
  NN_CALL(err);
  c->bd_algo = (cudnnConvolutionBwdDataAlgo_t) algo;
  c->bd_ok   = 1;
  return NN_SUCCESS;
}

nn_err cuda_train_setup(nn_net *net, cuda_state *st)
{
  const nn_model *m = net->model;

  NN_CHECK(st->dtype == NNK_F32 && net->precision == NN_FP32, NN_ERR_UNSUPPORTED, "backend 'cuda': training runs in fp32 only");
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV && m->layers[l].k == 3) NN_CALL(train_setup_layer(net, st, l));
  NN_CHECK(st->maxvox <= INT_MAX, NN_ERR_UNSUPPORTED, "backend 'cuda': %zu voxels are too many for one cuBLAS call", st->maxvox);
  CU(cudaMalloc((void **) &st->dwdev, (st->maxw + (size_t) st->maxcout) * sizeof(float)), "cudaMalloc");
  CU(cudaMalloc((void **) &st->ones, st->maxvox * sizeof(float)), "cudaMalloc");
  CU(cudaMallocHost((void **) &st->hgrad, (st->maxw + (size_t) st->maxcout) * sizeof(float)), "cudaMallocHost");
  CU(nnk_fill(st->ones, 1.0f, st->maxvox, st->stream), "nnk_fill");
  return NN_SUCCESS;
}

void cuda_train_teardown(cuda_state *st)
{
  for (int l = 0; l < st->nlayers && st->L; l++) {
    cuda_layer *c = &st->L[l];

    if (c->tx) cudnnDestroyTensorDescriptor(c->tx);
    if (c->ty) cudnnDestroyTensorDescriptor(c->ty);
    if (c->tw) cudnnDestroyFilterDescriptor(c->tw);
    if (c->tconv) cudnnDestroyConvolutionDescriptor(c->tconv);
    if (c->wbw) cudaFree(c->wbw);
  }
  if (st->dwdev) cudaFree(st->dwdev);
  if (st->ones) cudaFree(st->ones);
  if (st->hgrad) cudaFreeHost(st->hgrad);
}

nn_err cuda_conv_train(nn_net *net, int l, const void *in, const void *in2, void *out, void *mask, const int dims[3])
{
  cuda_state     *st = net->bdata;
  const nn_layer *L  = &net->model->layers[l];

  /* conv + bias [+ ReLU], then the mask from its output and the residual */
  NN_CALL(cuda_conv(net, l, in, NULL, out, dims));
  CU(nnk_mask_add(out, in2, mask, (size_t) dims[0] * dims[1] * dims[2] * (size_t) L->cout, st->stream), "nnk_mask_add");
  return NN_SUCCESS;
}

nn_err cuda_conv_backward(nn_net *net, int l, const void *in, const void *dout, void *din, int accumulate, float *dw, float *db, const int dims[3])
{
  cuda_state     *st = net->bdata;
  const nn_layer *L  = &net->model->layers[l];
  cuda_layer     *c  = st ? &st->L[l] : NULL;
  const size_t    k3 = (size_t) L->k * L->k * L->k, nw = (size_t) L->cout * L->cin * k3;
  const int       nvox = dims[0] * dims[1] * dims[2]; /* <= maxvox <= INT_MAX (setup) */
  const float     one = 1.0f, zero = 0.0f, *beta = accumulate ? &one : &zero;
  float          *gw, *gb;

  NN_CHECK(c && st->dwdev && (L->k == 1 || c->tconv), NN_ERR_ARG, "backend 'cuda': layer %d has no backward prepared (not a training net?)", l);
  gw = st->dwdev;
  gb = st->dwdev + st->maxw;
  /* bias: db = dout (cout x nvox, column-major) * ones */
  BLAS(cublasSgemv(st->cublas, CUBLAS_OP_N, L->cout, nvox, &one, dout, L->cout, st->ones, 1, &zero, gb, 1), "cublasSgemv");
  if (L->k == 1) {
    /* weights, column-major (cin x cout) = in (cin x nvox) * dout^T: the (cout, cin) layout */
    BLAS(cublasGemmEx(st->cublas, CUBLAS_OP_N, CUBLAS_OP_T, L->cin, L->cout, nvox, &one, in, CUDA_R_32F, L->cin, dout, CUDA_R_32F, L->cout, &zero, gw, CUDA_R_32F, L->cin, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx (weight gradient)");
    /* data: din (cin x nvox) (+)= W (cin x cout) * dout (cout x nvox) */
    if (din) BLAS(cublasGemmEx(st->cublas, CUBLAS_OP_N, CUBLAS_OP_N, L->cin, nvox, L->cout, &one, c->wdev, CUDA_R_32F, L->cin, dout, CUDA_R_32F, L->cout, beta, din, CUDA_R_32F, L->cin, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx (data gradient)");
  } else {
    DNN(cudnnConvolutionBackwardFilter(st->cudnn, &one, c->tx, in, c->ty, dout, c->tconv, c->bf_algo, st->ws, st->wssize, &zero, c->tw, gw), "cudnnConvolutionBackwardFilter");
    if (din) {
      NN_CHECK(c->bd_ok, NN_ERR_UNSUPPORTED, "backend 'cuda': layer %d (conv 3x3x3 %d->%d): cuDNN offers no fp32 backward data algorithm here, so the gradient of the model input is unavailable", l, L->cin, L->cout);
      DNN(cudnnConvolutionBackwardData(st->cudnn, &one, c->tw, c->kind == CV_DIRECT ? c->wbw : c->wdev, c->ty, dout, c->tconv, c->bd_algo, st->ws, st->wssize, beta, c->tx, din), "cudnnConvolutionBackwardData");
    }
  }
  CU(cudaMemcpyAsync(st->hgrad, gw, nw * sizeof(float), cudaMemcpyDeviceToHost, st->stream), "cudaMemcpyAsync");
  CU(cudaMemcpyAsync(st->hgrad + st->maxw, gb, (size_t) L->cout * sizeof(float), cudaMemcpyDeviceToHost, st->stream), "cudaMemcpyAsync");
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  if (L->k == 1)
    for (size_t i = 0; i < nw; i++) dw[i] += st->hgrad[i];
  else /* NHWC (cout, k, k, k, cin) -> (cout, cin, k, k, k) */
    for (size_t o = 0; o < (size_t) L->cout; o++)
      for (size_t i = 0; i < (size_t) L->cin; i++)
        for (size_t q = 0; q < k3; q++) dw[(o * L->cin + i) * k3 + q] += st->hgrad[(o * k3 + q) * L->cin + i];
  for (int o = 0; o < L->cout; o++) db[o] += st->hgrad[st->maxw + (size_t) o];
  return NN_SUCCESS;
}

nn_err cuda_relu_backward(nn_net *net, void *d, const void *mask, size_t n)
{
  cuda_state *st = net->bdata;

  CU(nnk_relu_backward(d, mask, n, st->stream), "nnk_relu_backward");
  return NN_SUCCESS;
}

nn_err cuda_grad_acc(nn_net *net, void *dst, const void *src, size_t n, int accumulate)
{
  cuda_state *st = net->bdata;

  CU(nnk_grad_acc(dst, src, n, accumulate, st->stream), "nnk_grad_acc");
  return NN_SUCCESS;
}

nn_err cuda_avgpool2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  cuda_state *st = net->bdata;

  CU(nnk_avgpool2_backward(dout, din, dims[0], dims[1], dims[2], c, accumulate, st->stream), "nnk_avgpool2_backward");
  return NN_SUCCESS;
}

nn_err cuda_upsample2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  cuda_state *st = net->bdata;

  CU(nnk_upsample2_backward(dout, din, dims[0], dims[1], dims[2], c, accumulate, st->stream), "nnk_upsample2_backward");
  return NN_SUCCESS;
}
