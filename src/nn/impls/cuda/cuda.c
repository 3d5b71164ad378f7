/* The "cuda" backend: cuDNN convolutions, cuBLAS 1x1x1 convolutions and small
   CUDA kernels (kernels_cuda.cu) on device memory of the current CUDA device.

   Layers (chosen in setup, once per CONV layer, for the dims of its level):
   - 3x3x3 with >= 8 input channels: cudnnConvolutionForward on the
     executor's padded channels-last buffer (zero cuDNN padding; NDHWC tensor
     descriptors with explicit strides, NHWC filters (cout, kd, kh, kw, cin),
     transposed on upload), then the epilogue kernel in place on the output:
     + bias, ReLU, then + the residual (ReLU before the residual add, which is
     why cudnnConvolutionBiasActivationForward is not used).
   - 3x3x3 with < 8 input channels (the 1 -> 16 lift): a direct kernel with the
     epilogue fused (tensor-core algorithms want channel multiples of 8).
   - 1x1x1: one cublasGemmEx over all voxels, then the epilogue kernel.
   The cuDNN algorithm is picked once per layer shape in setup
   (cudnnFindConvolutionForwardAlgorithm, or the heuristic
   cudnnGetConvolutionForwardAlgorithm_v7 with DEEPCD_CUDNN_ALGO=heuristic),
   among those needing at most DEEPCD_CUDA_WORKSPACE_MB (default 1024) MiB of
   workspace; one workspace, the largest, serves all layers. Weights and
   biases are uploaded once; forward allocates nothing. Everything runs on
   one stream; upload and download synchronise it.

   Precisions: activations are stored in one element type.
   - fp32: float, strict FP32 arithmetic (CUDNN_FMA_MATH, CUBLAS_COMPUTE_32F).
   - tf32: float storage, TF32 tensor cores (CUDNN_TENSOR_OP_MATH,
     CUBLAS_COMPUTE_32F_FAST_TF32); compute capability >= 8.0.
   - fp16 / bf16: half / bfloat16 storage and weights, fp32 accumulation
     (cuDNN compute type float, CUBLAS_COMPUTE_32F), fp32 biases and
     epilogue; upload and download convert through a 16 MiB fp32 staging
     buffer. fp16 needs compute capability >= 7.0, bf16 >= 8.0.

   check() wants a device, the compute capability above, the cuDNN major
   version built against, and runs one small cuDNN test convolution per
   device and precision (remembered once it passed), so that a precision
   cuDNN cannot do here is refused there rather than in setup.

   DEEPCD_CUDA_VERBOSE=1 prints each layer's choice to stderr. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nncudaimpl.h>

/* A cuDNN shape already searched in this setup. */
typedef struct {
  int                       cin, cout, d[3];
  cudnnConvolutionFwdAlgo_t algo;
  cudnnMathType_t           math;
} cuda_shape;

static const char *algo_name(cudnnConvolutionFwdAlgo_t a)
{
  switch (a) {
  case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
  case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
  case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
  case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
  case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
  default: return "?";
  }
}

static const char *math_name(cudnnMathType_t m)
{
  switch (m) {
  case CUDNN_DEFAULT_MATH: return "DEFAULT_MATH";
  case CUDNN_TENSOR_OP_MATH: return "TENSOR_OP_MATH";
  case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "TENSOR_OP_MATH_ALLOW_CONVERSION";
  case CUDNN_FMA_MATH: return "FMA_MATH";
  default: return "?";
  }
}

/* ---- precisions ---------------------------------------------------------------- */

typedef struct {
  nnk_dtype           dtype;
  cudnnDataType_t     dnn_type;
  cudaDataType_t      blas_type;
  cublasComputeType_t blas_compute;
  cudnnMathType_t     math;
} cuda_types;

static cuda_types precision_types(nn_precision p)
{
  cuda_types t;

  switch (p) {
  case NN_TF32:
    t.dtype        = NNK_F32;
    t.dnn_type     = CUDNN_DATA_FLOAT;
    t.blas_type    = CUDA_R_32F;
    t.blas_compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    t.math         = CUDNN_TENSOR_OP_MATH;
    break;
  case NN_FP16:
    t.dtype        = NNK_F16;
    t.dnn_type     = CUDNN_DATA_HALF;
    t.blas_type    = CUDA_R_16F;
    t.blas_compute = CUBLAS_COMPUTE_32F;
    t.math         = CUDNN_TENSOR_OP_MATH;
    break;
  case NN_BF16:
    t.dtype        = NNK_BF16;
    t.dnn_type     = CUDNN_DATA_BFLOAT16;
    t.blas_type    = CUDA_R_16BF;
    t.blas_compute = CUBLAS_COMPUTE_32F;
    t.math         = CUDNN_TENSOR_OP_MATH;
    break;
  default: /* strict fp32 */
    t.dtype        = NNK_F32;
    t.dnn_type     = CUDNN_DATA_FLOAT;
    t.blas_type    = CUDA_R_32F;
    t.blas_compute = CUBLAS_COMPUTE_32F;
    t.math         = CUDNN_FMA_MATH;
    break;
  }
  return t;
}

/* Whether a cuDNN result may be used at this precision: strict fp32 takes no
   tensor-core math; fp32 storage takes no down-conversion to fp16/bf16. */
int cuda_math_ok(nn_precision precision, cudnnMathType_t m)
{
  if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && (precision == NN_FP32 || precision == NN_TF32)) return 0;
  if (precision == NN_FP32 && m == CUDNN_TENSOR_OP_MATH) return 0;
  return 1;
}

/* ---- precision check ---------------------------------------------------------- */

/* Runs one small 3x3x3 16 -> 16 channels-last convolution through cuDNN at
   this precision: cuDNN loads (its sub-libraries too) and has an algorithm. */
#define PROBE_DNN(expr, what)                                                                                                                                      \
  do {                                                                                                                                                             \
    cudnnStatus_t pd_s_ = (expr);                                                                                                                                  \
    if (pd_s_ != CUDNN_STATUS_SUCCESS) {                                                                                                                           \
      err = nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': %s failed in a %s test convolution: %s", (what), nn_precision_names[p], cudnnGetErrorString(pd_s_)); \
      goto done;                                                                                                                                                   \
    }                                                                                                                                                              \
  } while (0)
#define PROBE_CU(expr, what)                                                                                                                                      \
  do {                                                                                                                                                            \
    cudaError_t pc_e_ = (expr);                                                                                                                                   \
    if (pc_e_ != cudaSuccess) {                                                                                                                                   \
      err = nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': %s failed in a %s test convolution: %s", (what), nn_precision_names[p], cudaGetErrorString(pc_e_)); \
      goto done;                                                                                                                                                  \
    }                                                                                                                                                             \
  } while (0)

static nn_err probe_conv(nn_precision p)
{
  const cuda_types              t  = precision_types(p);
  const size_t                  es = nnk_size(t.dtype);
  const int                     C = 16, N = 8, P = N + 2;
  const int                     xd[5] = { 1, C, P, P, P }, xs[5] = { C * P * P * P, 1, P * P * C, P * C, C };
  const int                     yd[5] = { 1, C, N, N, N }, ys[5] = { C * N * N * N, 1, N * N * C, N * C, C };
  const int                     fd[5] = { C, C, 3, 3, 3 }, zero3[3] = { 0, 0, 0 }, one3[3] = { 1, 1, 1 };
  const float                   one = 1.0f, zero = 0.0f;
  cudnnHandle_t                 h = NULL;
  cudnnTensorDescriptor_t       x = NULL, y = NULL;
  cudnnFilterDescriptor_t       w  = NULL;
  cudnnConvolutionDescriptor_t  cv = NULL;
  cudnnConvolutionFwdAlgoPerf_t perf[2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  void                         *bx = NULL, *by = NULL, *bw = NULL, *bws = NULL;
  size_t                        wss = 0;
  int                           n   = 0, i;
  nn_err                        err = NN_SUCCESS;

  PROBE_DNN(cudnnCreate(&h), "cudnnCreate");
  PROBE_DNN(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor");
  PROBE_DNN(cudnnSetTensorNdDescriptor(x, t.dnn_type, 5, xd, xs), "cudnnSetTensorNdDescriptor");
  PROBE_DNN(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor");
  PROBE_DNN(cudnnSetTensorNdDescriptor(y, t.dnn_type, 5, yd, ys), "cudnnSetTensorNdDescriptor");
  PROBE_DNN(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor");
  PROBE_DNN(cudnnSetFilterNdDescriptor(w, t.dnn_type, CUDNN_TENSOR_NHWC, 5, fd), "cudnnSetFilterNdDescriptor");
  PROBE_DNN(cudnnCreateConvolutionDescriptor(&cv), "cudnnCreateConvolutionDescriptor");
  PROBE_DNN(cudnnSetConvolutionNdDescriptor(cv, 3, zero3, one3, one3, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolutionNdDescriptor");
  PROBE_DNN(cudnnSetConvolutionMathType(cv, t.math), "cudnnSetConvolutionMathType");
  PROBE_DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, cv, y, 2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
  for (i = 0; i < n; i++) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || !cuda_math_ok(p, perf[i].mathType)) continue;
    if (p != NN_FP32 && cudnnSetConvolutionMathType(cv, perf[i].mathType) != CUDNN_STATUS_SUCCESS) continue;
    if (cudnnGetConvolutionForwardWorkspaceSize(h, x, w, cv, y, perf[i].algo, &wss) == CUDNN_STATUS_SUCCESS) break;
  }
  if (i == n) {
    err = nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': cuDNN %zu offers no %s algorithm for a 3x3x3 channels-last convolution on this device", cudnnGetVersion(), nn_precision_names[p]);
    goto done;
  }
  PROBE_CU(cudaMalloc(&bx, (size_t) C * P * P * P * es), "cudaMalloc");
  PROBE_CU(cudaMalloc(&by, (size_t) C * N * N * N * es), "cudaMalloc");
  PROBE_CU(cudaMalloc(&bw, (size_t) C * C * 27 * es), "cudaMalloc");
  if (wss) PROBE_CU(cudaMalloc(&bws, wss), "cudaMalloc");
  PROBE_CU(cudaMemset(bx, 0, (size_t) C * P * P * P * es), "cudaMemset");
  PROBE_CU(cudaMemset(bw, 0, (size_t) C * C * 27 * es), "cudaMemset");
  PROBE_DNN(cudnnConvolutionForward(h, &one, x, bx, w, bw, cv, perf[i].algo, bws, wss, &zero, y, by), "cudnnConvolutionForward");
  PROBE_CU(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
done:
  if (bx) cudaFree(bx);
  if (by) cudaFree(by);
  if (bw) cudaFree(bw);
  if (bws) cudaFree(bws);
  if (cv) cudnnDestroyConvolutionDescriptor(cv);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (x) cudnnDestroyTensorDescriptor(x);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (h) cudnnDestroy(h);
  return err;
}

static nn_err cuda_check(nn_precision precision)
{
  int         n = 0, dev = 0, major = 0, minor = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  size_t      v;
  static char probed[MAX_DEVICES][4];

  if (e != cudaSuccess) {
    (void) cudaGetLastError();
    return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': no CUDA device (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
  }
  NN_CHECK(n > 0, NN_ERR_UNSUPPORTED, "backend 'cuda': no CUDA device (cudaGetDeviceCount found none)");
  CU(cudaGetDevice(&dev), "cudaGetDevice");
  CU(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
  CU(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), "cudaDeviceGetAttribute");
  v = cudnnGetVersion();
  NN_CHECK(v / 10000 == CUDNN_MAJOR, NN_ERR_UNSUPPORTED, "backend 'cuda': cuDNN %zu.%zu at run time, built against cuDNN %d", v / 10000, v / 100 % 100, CUDNN_MAJOR);
  switch (precision) {
  case NN_FP32: break;
  case NN_TF32: NN_CHECK(major >= 8, NN_ERR_UNSUPPORTED, "backend 'cuda': tf32 needs compute capability 8.0 or newer (device %d has %d.%d)", dev, major, minor); break;
  case NN_FP16: NN_CHECK(major >= 7, NN_ERR_UNSUPPORTED, "backend 'cuda': fp16 needs compute capability 7.0 or newer (device %d has %d.%d)", dev, major, minor); break;
  case NN_BF16: NN_CHECK(major >= 8, NN_ERR_UNSUPPORTED, "backend 'cuda': bf16 needs compute capability 8.0 or newer (device %d has %d.%d)", dev, major, minor); break;
  default: return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': unknown precision %d", (int) precision);
  }
  /* a test convolution, once per device and precision (a benign race at worst probes twice) */
  if (dev >= 0 && dev < MAX_DEVICES && probed[dev][precision]) return NN_SUCCESS;
  NN_CALL(probe_conv(precision));
  if (dev >= 0 && dev < MAX_DEVICES) probed[dev][precision] = 1;
  return NN_SUCCESS;
}

/* ---- setup / teardown --------------------------------------------------------- */

static nn_err cuda_teardown(nn_net *net)
{
  cuda_state *st = net->bdata;

  if (!st) return NN_SUCCESS;
  if (st->stream) cudaStreamSynchronize(st->stream);
  for (int l = 0; l < st->nlayers && st->L; l++) {
    cuda_layer *c = &st->L[l];

    if (c->x) cudnnDestroyTensorDescriptor(c->x);
    if (c->y) cudnnDestroyTensorDescriptor(c->y);
    if (c->w) cudnnDestroyFilterDescriptor(c->w);
    if (c->conv) cudnnDestroyConvolutionDescriptor(c->conv);
    if (c->wdev) cudaFree(c->wdev);
    if (c->bdev) cudaFree(c->bdev);
  }
  cuda_train_teardown(st);
  free(st->L);
  free(st->hw);
  if (st->ws) cudaFree(st->ws);
  if (st->blasws) cudaFree(st->blasws);
  if (st->stage) cudaFree(st->stage);
  if (st->cublas) cublasDestroy(st->cublas);
  if (st->cudnn) cudnnDestroy(st->cudnn);
  if (st->stream) cudaStreamDestroy(st->stream);
  free(st);
  net->bdata = NULL;
  return NN_SUCCESS;
}

/* Channels-last (N=1, C, D, H, W) descriptor: c fastest, then x, y, z. */
nn_err cuda_ndhwc_desc(cudnnTensorDescriptor_t *t, cudnnDataType_t type, int C, int D, int H, int W)
{
  const int dims[5]    = { 1, C, D, H, W };
  const int strides[5] = { C * D * H * W, 1, H * W * C, W * C, C };

  DNN(cudnnCreateTensorDescriptor(t), "cudnnCreateTensorDescriptor");
  DNN(cudnnSetTensorNdDescriptor(*t, type, 5, dims, strides), "cudnnSetTensorNdDescriptor");
  return NN_SUCCESS;
}

/* Host fp32 -> device element type: through the staging buffer in chunks. */
nn_err cuda_to_device(cuda_state *st, void *dst, const float *src, size_t n)
{
  if (st->dtype == NNK_F32) {
    CU(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync");
  } else {
    for (size_t off = 0; off < n; off += st->stagen) {
      size_t m = n - off < st->stagen ? n - off : st->stagen;

      CU(cudaMemcpyAsync(st->stage, src + off, m * sizeof(float), cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync");
      CU(nnk_convert(st->dtype, (char *) dst + off * nnk_size(st->dtype), NNK_F32, st->stage, m, st->stream), "nnk_convert");
    }
  }
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  return NN_SUCCESS;
}

nn_err cuda_from_device(cuda_state *st, float *dst, const void *src, size_t n)
{
  if (st->dtype == NNK_F32) {
    CU(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, st->stream), "cudaMemcpyAsync");
  } else {
    for (size_t off = 0; off < n; off += st->stagen) {
      size_t m = n - off < st->stagen ? n - off : st->stagen;

      CU(nnk_convert(NNK_F32, st->stage, st->dtype, (const char *) src + off * nnk_size(st->dtype), m, st->stream), "nnk_convert");
      CU(cudaMemcpyAsync(dst + off, st->stage, m * sizeof(float), cudaMemcpyDeviceToHost, st->stream), "cudaMemcpyAsync");
    }
  }
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  return NN_SUCCESS;
}

/* Picks the algorithm of a cuDNN layer whose descriptors are set. */
static nn_err pick_algo(nn_net *net, cuda_state *st, cuda_layer *c, int use_find, size_t wslimit, cudnnConvolutionFwdAlgo_t *algo, cudnnMathType_t *math)
{
  cudnnConvolutionFwdAlgoPerf_t perf[2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int                           n = 0;

  if (use_find) {
    cudnnStatus_t s = cudnnFindConvolutionForwardAlgorithm(st->cudnn, c->x, c->w, c->conv, c->y, 2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf);

    if (s != CUDNN_STATUS_SUCCESS) { /* e.g. out of memory for its trial buffers: fall back to the heuristic */
      if (st->verbose) fprintf(stderr, "deepcd nn cuda: cudnnFindConvolutionForwardAlgorithm failed (%s), using the heuristic\n", cudnnGetErrorString(s));
      (void) cudaGetLastError();
      n = 0;
    }
  }
  if (!n) DNN(cudnnGetConvolutionForwardAlgorithm_v7(st->cudnn, c->x, c->w, c->conv, c->y, 2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
  for (int i = 0; i < n; i++) { /* results come best first */
    size_t ws = 0;

    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > wslimit || !cuda_math_ok(net->precision, perf[i].mathType)) continue;
    /* strict fp32 keeps FMA math on the descriptor; others take the result's */
    if (net->precision != NN_FP32) DNN(cudnnSetConvolutionMathType(c->conv, perf[i].mathType), "cudnnSetConvolutionMathType");
    if (cudnnGetConvolutionForwardWorkspaceSize(st->cudnn, c->x, c->w, c->conv, c->y, perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS || ws > wslimit) continue;
    *algo = perf[i].algo;
    *math = net->precision == NN_FP32 ? CUDNN_FMA_MATH : perf[i].mathType;
    if (st->verbose) fprintf(stderr, "deepcd nn cuda:   %s %s, workspace %zu B, %s %.3f ms\n", algo_name(*algo), math_name(*math), ws, use_find ? "measured" : "estimated", (double) perf[i].time);
    return NN_SUCCESS;
  }
  return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cuda': cuDNN offers no usable algorithm"); /* setup_layer says which layer */
}

static nn_err setup_layer(nn_net *net, cuda_state *st, int l, cuda_shape *shapes, int *nshapes, int use_find, size_t wslimit)
{
  const nn_layer *L  = &net->model->layers[l];
  const int      *d  = net->ldims[net->model->tensors[L->out].level];
  cuda_layer     *c  = &st->L[l];
  const size_t    es = nnk_size(st->dtype), nw = (size_t) L->cout * L->cin * L->k * L->k * L->k;
  const size_t    nvox = (size_t) d[0] * d[1] * d[2];

  c->relu = L->act == NN_ACT_RELU;
  c->nout = nvox * (size_t) L->cout;
  CU(cudaMalloc((void **) &c->bdev, (size_t) L->cout * sizeof(float)), "cudaMalloc");
  if (L->k == 3 && L->cin < DIRECT_CIN) {
    c->kind = CV_DIRECT;
    CU(cudaMalloc(&c->wdev, nw * sizeof(float)), "cudaMalloc");
    if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: conv 3x3x3 %d->%d on %dx%dx%d: direct kernel\n", l, L->cin, L->cout, d[0], d[1], d[2]);
    return NN_SUCCESS;
  }
  CU(cudaMalloc(&c->wdev, nw * es), "cudaMalloc");
  if (L->k == 1) { /* (cout, cin) is already the GEMM's layout */
    NN_CHECK(nvox <= INT_MAX, NN_ERR_UNSUPPORTED, "backend 'cuda': %zu voxels are too many for one cuBLAS call", nvox);
    c->kind = CV_GEMM;
    c->nvox = (int) nvox;
    if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: conv 1x1x1 %d->%d on %dx%dx%d: cublasGemmEx\n", l, L->cin, L->cout, d[0], d[1], d[2]);
    return NN_SUCCESS;
  }
  /* cuDNN: filters (cout, kd, kh, kw, cin), uploaded by upload_params */
  {
    const int filt[5] = { L->cout, L->cin, 3, 3, 3 }, zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
    int       s;
    size_t    ws = 0;

    NN_CHECK((size_t) (d[0] + 2) * (d[1] + 2) * (d[2] + 2) * L->cin <= INT_MAX && c->nout <= INT_MAX, NN_ERR_UNSUPPORTED, "backend 'cuda': a %dx%dx%d grid of %d channels is too large for cuDNN's int strides", d[0], d[1], d[2], L->cin > L->cout ? L->cin : L->cout);
    c->kind = CV_CUDNN;
    NN_CALL(cuda_ndhwc_desc(&c->x, st->dnn_type, L->cin, d[0] + 2, d[1] + 2, d[2] + 2));
    NN_CALL(cuda_ndhwc_desc(&c->y, st->dnn_type, L->cout, d[0], d[1], d[2]));
    DNN(cudnnCreateFilterDescriptor(&c->w), "cudnnCreateFilterDescriptor");
    DNN(cudnnSetFilterNdDescriptor(c->w, st->dnn_type, CUDNN_TENSOR_NHWC, 5, filt), "cudnnSetFilterNdDescriptor");
    DNN(cudnnCreateConvolutionDescriptor(&c->conv), "cudnnCreateConvolutionDescriptor");
    DNN(cudnnSetConvolutionNdDescriptor(c->conv, 3, zero, one, one, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolutionNdDescriptor");
    DNN(cudnnSetConvolutionMathType(c->conv, st->math), "cudnnSetConvolutionMathType");
    if (st->verbose) fprintf(stderr, "deepcd nn cuda: layer %d: conv 3x3x3 %d->%d on %dx%dx%d: cuDNN\n", l, L->cin, L->cout, d[0], d[1], d[2]);
    for (s = 0; s < *nshapes; s++)
      if (shapes[s].cin == L->cin && shapes[s].cout == L->cout && !memcmp(shapes[s].d, d, sizeof(shapes[s].d))) break;
    if (s < *nshapes) {
      c->algo = shapes[s].algo;
      DNN(cudnnSetConvolutionMathType(c->conv, shapes[s].math), "cudnnSetConvolutionMathType");
      if (st->verbose) fprintf(stderr, "deepcd nn cuda:   %s %s (as before)\n", algo_name(c->algo), math_name(shapes[s].math));
    } else {
      cudnnMathType_t math = st->math;
      nn_err          err  = pick_algo(net, st, c, use_find, wslimit, &c->algo, &math);

      if (err == NN_ERR_UNSUPPORTED) return nn_error_set(err, "backend 'cuda': cuDNN offers no %s algorithm for a 3x3x3 convolution %d->%d on a %dx%dx%d grid within %zu MiB of workspace", nn_precision_names[net->precision], L->cin, L->cout, d[0], d[1], d[2], wslimit >> 20);
      NN_CALL(err);
      if (*nshapes < MAX_SHAPES) {
        shapes[*nshapes].cin  = L->cin;
        shapes[*nshapes].cout = L->cout;
        memcpy(shapes[*nshapes].d, d, sizeof(shapes[*nshapes].d));
        shapes[*nshapes].algo = c->algo;
        shapes[*nshapes].math = math;
        (*nshapes)++;
      }
    }
    DNN(cudnnGetConvolutionForwardWorkspaceSize(st->cudnn, c->x, c->w, c->conv, c->y, c->algo, &ws), "cudnnGetConvolutionForwardWorkspaceSize");
    if (ws > st->wssize) st->wssize = ws;
  }
  return NN_SUCCESS;
}

/* Weights (cout, cin, k, k, k) -> (cout, k, k, k, cin), cuDNN's NHWC filters. */
static void nhwc_weights(const nn_layer *L, const float *w, float *t)
{
  const size_t k3 = (size_t) L->k * L->k * L->k;

  for (size_t o = 0; o < (size_t) L->cout; o++)
    for (size_t q = 0; q < k3; q++)
      for (size_t i = 0; i < (size_t) L->cin; i++) t[(o * k3 + q) * L->cin + i] = w[(o * L->cin + i) * k3 + q];
}

/* Layer l's biases and weights from model->params to the device, in the
   layout of its kind (setup, params_changed). */
static nn_err upload_params(nn_net *net, cuda_state *st, int l)
{
  const nn_layer *L  = &net->model->layers[l];
  const float    *w  = net->model->params + L->weight;
  cuda_layer     *c  = &st->L[l];
  const size_t    nw = (size_t) L->cout * L->cin * L->k * L->k * L->k;

  CU(cudaMemcpyAsync(c->bdev, net->model->params + L->bias, (size_t) L->cout * sizeof(float), cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync");
  switch (c->kind) {
  case CV_DIRECT: CU(cudaMemcpyAsync(c->wdev, w, nw * sizeof(float), cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync"); break;
  case CV_GEMM: NN_CALL(cuda_to_device(st, c->wdev, w, nw)); break; /* (cout, cin) is already the GEMM's layout */
  case CV_CUDNN:
    nhwc_weights(L, w, st->hw);
    NN_CALL(cuda_to_device(st, c->wdev, st->hw, nw));
    break;
  default: return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': layer %d was not set up", l);
  }
  if (c->wbw) { /* training, DIRECT: the NHWC copy for the backward data */
    nhwc_weights(L, w, st->hw);
    CU(cudaMemcpyAsync(c->wbw, st->hw, nw * sizeof(float), cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync");
  }
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize"); /* st->hw is free again */
  return NN_SUCCESS;
}

static nn_err setup_all(nn_net *net, cuda_state *st)
{
  const nn_model *m = net->model;
  const char     *env;
  int             use_find = 1, nshapes = 0;
  size_t          wslimit = (size_t) 1024 << 20;
  cuda_shape      shapes[MAX_SHAPES];

  if ((env = getenv("DEEPCD_CUDNN_ALGO")) && *env) {
    NN_CHECK(!strcmp(env, "find") || !strcmp(env, "heuristic"), NN_ERR_ARG, "backend 'cuda': DEEPCD_CUDNN_ALGO=%s (find or heuristic)", env);
    use_find = !strcmp(env, "find");
  }
  if ((env = getenv("DEEPCD_CUDA_WORKSPACE_MB")) && *env) wslimit = (size_t) strtoull(env, NULL, 10) << 20;
  st->verbose = (env = getenv("DEEPCD_CUDA_VERBOSE")) && *env && strcmp(env, "0");
  {
    const cuda_types t = precision_types(net->precision);

    st->dtype        = t.dtype;
    st->dnn_type     = t.dnn_type;
    st->blas_type    = t.blas_type;
    st->blas_compute = t.blas_compute;
    st->math         = t.math;
  }
  CU(cudaGetDevice(&st->device), "cudaGetDevice");
  CU(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  DNN(cudnnCreate(&st->cudnn), "cudnnCreate");
  DNN(cudnnSetStream(st->cudnn, st->stream), "cudnnSetStream");
  BLAS(cublasCreate(&st->cublas), "cublasCreate");
  BLAS(cublasSetStream(st->cublas, st->stream), "cublasSetStream");
  CU(cudaMalloc(&st->blasws, CUBLAS_WS), "cudaMalloc");
  BLAS(cublasSetWorkspace(st->cublas, st->blasws, CUBLAS_WS), "cublasSetWorkspace");
  if (st->dtype != NNK_F32) {
    st->stagen = STAGE_FLOATS;
    CU(cudaMalloc((void **) &st->stage, st->stagen * sizeof(float)), "cudaMalloc");
  }
  st->nlayers  = m->nlayers;
  st->use_find = use_find;
  st->wslimit  = wslimit;
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L  = &m->layers[l];
    const int      *d  = net->ldims[m->tensors[L->out].level];
    const size_t    nw = (size_t) L->cout * L->cin * L->k * L->k * L->k, nvox = (size_t) d[0] * d[1] * d[2];

    if (L->op != NN_OP_CONV) continue;
    if (nw > st->maxw) st->maxw = nw;
    if (L->cout > st->maxcout) st->maxcout = L->cout;
    if (nvox > st->maxvox) st->maxvox = nvox;
  }
  st->L  = calloc((size_t) m->nlayers, sizeof(*st->L));
  st->hw = malloc((st->maxw ? st->maxw : 1) * sizeof(float));
  NN_CHECK(st->L && st->hw, NN_ERR_MEM, "backend 'cuda': out of memory");
  if (st->verbose) fprintf(stderr, "deepcd nn cuda: %s, %s, cuDNN algorithms by %s\n", m->arch[0] ? m->arch : "model", nn_precision_names[net->precision], use_find ? "measurement" : "heuristic");
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV) NN_CALL(setup_layer(net, st, l, shapes, &nshapes, use_find, wslimit));
  if (net->training) NN_CALL(cuda_train_setup(net, st));
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV) NN_CALL(upload_params(net, st, l));
  if (st->wssize) CU(cudaMalloc(&st->ws, st->wssize), "cudaMalloc");
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  return NN_SUCCESS;
}

static nn_err cuda_setup(nn_net *net)
{
  cuda_state *st = calloc(1, sizeof(*st));
  nn_err      err;

  NN_CHECK(st, NN_ERR_MEM, "backend 'cuda': out of memory");
  net->bdata = st;
  if ((err = setup_all(net, st))) cuda_teardown(net);
  return err;
}

/* ---- memory ------------------------------------------------------------------- */

static nn_err cuda_alloc(nn_net *net, size_t n, void **p)
{
  cuda_state *st = net->bdata;

  *p = NULL;
  if (!n) return NN_SUCCESS;
  CU(cudaMalloc(p, n * nnk_size(st->dtype)), "cudaMalloc");
  return NN_SUCCESS;
}

static nn_err cuda_release(nn_net *net, void *p)
{
  if (p) CU(cudaFree(p), "cudaFree");
  return NN_SUCCESS;
}

static nn_err cuda_upload(nn_net *net, void *dst, const float *src, size_t n)
{
  return cuda_to_device(net->bdata, dst, src, n);
}

static nn_err cuda_download(nn_net *net, float *dst, const void *src, size_t n)
{
  return cuda_from_device(net->bdata, dst, src, n);
}

/* ---- kernels ------------------------------------------------------------------ */

static nn_err cuda_pad(nn_net *net, const void *in, void *padded, const int dims[3], int c)
{
  cuda_state *st = net->bdata;

  CU(nnk_pad(st->dtype, in, padded, dims[0], dims[1], dims[2], c, st->stream), "nnk_pad");
  return NN_SUCCESS;
}

nn_err cuda_conv(nn_net *net, int l, const void *in, const void *in2, void *out, const int dims[3])
{
  cuda_state     *st  = net->bdata;
  const nn_layer *L   = &net->model->layers[l];
  cuda_layer     *c   = &st->L[l];
  const float     one = 1.0f, zero = 0.0f;

  switch (c->kind) {
  case CV_DIRECT:
    CU(nnk_conv3_direct(st->dtype, in, c->wdev, c->bdev, in2, out, dims[0], dims[1], dims[2], L->cin, L->cout, c->relu, st->stream), "nnk_conv3_direct");
    return NN_SUCCESS;
  case CV_CUDNN: DNN(cudnnConvolutionForward(st->cudnn, &one, c->x, in, c->w, c->wdev, c->conv, c->algo, st->ws, st->wssize, &zero, c->y, out), "cudnnConvolutionForward"); break;
  case CV_GEMM:
    /* column-major: out (cout x nvox) = W^T (cout x cin) * in (cin x nvox) */
    BLAS(cublasGemmEx(st->cublas, CUBLAS_OP_T, CUBLAS_OP_N, L->cout, c->nvox, L->cin, &one, c->wdev, st->blas_type, L->cin, in, st->blas_type, L->cin, &zero, out, st->blas_type, L->cout, st->blas_compute, CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    break;
  default: return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': layer %d was not set up", l);
  }
  CU(nnk_epilogue(st->dtype, out, c->bdev, in2, c->nout, L->cout, c->relu, st->stream), "nnk_epilogue");
  return NN_SUCCESS;
}

static nn_err cuda_add(nn_net *net, const void *a, const void *b, void *out, size_t n)
{
  cuda_state *st = net->bdata;

  CU(nnk_add(st->dtype, a, b, out, n, st->stream), "nnk_add");
  return NN_SUCCESS;
}

static nn_err cuda_avgpool2(nn_net *net, const void *in, void *out, const int dims[3], int c)
{
  cuda_state *st = net->bdata;

  CU(nnk_avgpool2(st->dtype, in, out, dims[0], dims[1], dims[2], c, st->stream), "nnk_avgpool2");
  return NN_SUCCESS;
}

static nn_err cuda_upsample2(nn_net *net, const void *in, const void *skip, void *out, const int dims[3], int c)
{
  cuda_state *st = net->bdata;

  CU(nnk_upsample2(st->dtype, in, skip, out, dims[0], dims[1], dims[2], c, st->stream), "nnk_upsample2");
  return NN_SUCCESS;
}

static nn_err cuda_params_changed(nn_net *net)
{
  cuda_state *st = net->bdata;

  NN_CHECK(st, NN_ERR_ARG, "backend 'cuda': params_changed before setup");
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize"); /* no kernel still reads the old weights */
  for (int l = 0; l < net->model->nlayers; l++)
    if (net->model->layers[l].op == NN_OP_CONV) NN_CALL(upload_params(net, st, l));
  return NN_SUCCESS;
}

static nn_err cuda_host_alloc(nn_net *net, size_t n, float **p)
{
  *p = NULL;
  if (!n) return NN_SUCCESS;
  CU(cudaMallocHost((void **) p, n * sizeof(float)), "cudaMallocHost");
  return NN_SUCCESS;
}

static nn_err cuda_host_free(nn_net *net, float *p)
{
  if (p) CU(cudaFreeHost(p), "cudaFreeHost");
  return NN_SUCCESS;
}

/* the device-pointer path: defined at the end of this file */
static nn_err cuda_import_f64(nn_net *net, void *dst, const double *src, double scale, const int dims[3], const int pdims[3]);
static nn_err cuda_export_f64(nn_net *net, double *dst, const void *src, const void *mask, const int dims[3], const int pdims[3]);
static nn_err cuda_upload_bytes(nn_net *net, void **dst, const unsigned char *src, size_t n);

const nn_backend_ops nn_backend_cuda = {
  .name       = "cuda",
  .host_alloc = cuda_host_alloc,
  .host_free  = cuda_host_free,
  .check      = cuda_check,
  .setup      = cuda_setup,
  .teardown   = cuda_teardown,
  .alloc      = cuda_alloc,
  .release    = cuda_release,
  .upload     = cuda_upload,
  .download   = cuda_download,
  .pad        = cuda_pad,
  .conv       = cuda_conv,
  .add        = cuda_add,
  .avgpool2   = cuda_avgpool2,
  .upsample2  = cuda_upsample2,
  /* training: backend_cuda_train.c */
  .conv_train         = cuda_conv_train,
  .conv_backward      = cuda_conv_backward,
  .relu_backward      = cuda_relu_backward,
  .grad_acc           = cuda_grad_acc,
  .avgpool2_backward  = cuda_avgpool2_backward,
  .upsample2_backward = cuda_upsample2_backward,
  .params_changed     = cuda_params_changed,
  /* the device-pointer path */
  .import_f64   = cuda_import_f64,
  .export_f64   = cuda_export_f64,
  .upload_bytes = cuda_upload_bytes,
};

/* ---- the device-pointer path (nn_net_forward_device) ---------------------------- */

static nn_err cuda_import_f64(nn_net *net, void *dst, const double *src, double scale, const int dims[3], const int pdims[3])
{
  cuda_state *st = net->bdata;

  /* src may have been written on another stream (PETSc's): wait for all of
     this device's work, as the host path's upload waits for the host */
  CU(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  CU(nnk_import_f64(st->dtype, dst, src, scale, dims[0], dims[1], dims[2], pdims[0], pdims[1], pdims[2], st->stream), "nnk_import_f64");
  return NN_SUCCESS;
}

static nn_err cuda_export_f64(nn_net *net, double *dst, const void *src, const void *mask, const int dims[3], const int pdims[3])
{
  cuda_state *st = net->bdata;

  CU(nnk_export_f64(st->dtype, dst, src, mask, dims[0], dims[1], dims[2], pdims[0], pdims[1], pdims[2], st->stream), "nnk_export_f64");
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  return NN_SUCCESS;
}

static nn_err cuda_upload_bytes(nn_net *net, void **dst, const unsigned char *src, size_t n)
{
  cuda_state *st = net->bdata;

  if (!*dst) CU(cudaMalloc(dst, n ? n : 1), "cudaMalloc");
  /* on the backend's stream, complete on return (a plain cudaMemcpy from
     pageable memory may still be in flight on the legacy stream) */
  if (n) CU(cudaMemcpyAsync(*dst, src, n, cudaMemcpyHostToDevice, st->stream), "cudaMemcpyAsync");
  CU(cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
  return NN_SUCCESS;
}
