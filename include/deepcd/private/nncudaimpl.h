/* Internals of the "cuda" nn backend, shared by src/nn/impls/cuda/cuda.c (inference)
   and src/nn/impls/cuda/cuda_train.c (the backward pass). */
#ifndef DEEPCD_NN_BACKEND_CUDA_IMPL_H
#define DEEPCD_NN_BACKEND_CUDA_IMPL_H

#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include <deepcd/private/nncudakernels.h>
#include <deepcd/private/nnimpl.h>

/* Records the failure of a CUDA runtime / cuDNN / cuBLAS call and returns. */
#define CU(expr, what)                                                                                                                 \
  do {                                                                                                                                 \
    cudaError_t cu_e_ = (expr);                                                                                                        \
    if (cu_e_ != cudaSuccess) return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': %s failed: %s", (what), cudaGetErrorString(cu_e_)); \
  } while (0)
#define DNN(expr, what)                                                                                                                            \
  do {                                                                                                                                             \
    cudnnStatus_t dnn_e_ = (expr);                                                                                                                 \
    if (dnn_e_ != CUDNN_STATUS_SUCCESS) return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': %s failed: %s", (what), cudnnGetErrorString(dnn_e_)); \
  } while (0)
#define BLAS(expr, what)                                                                                                                                \
  do {                                                                                                                                                  \
    cublasStatus_t blas_e_ = (expr);                                                                                                                    \
    if (blas_e_ != CUBLAS_STATUS_SUCCESS) return nn_error_set(NN_ERR_BACKEND, "backend 'cuda': %s failed: %s", (what), cublasGetStatusString(blas_e_)); \
  } while (0)

#define STAGE_FLOATS ((size_t) 4 << 20)  /* 16 MiB fp32 staging for fp16/bf16 transfers */
#define CUBLAS_WS    ((size_t) 32 << 20) /* cuBLAS workspace */
#define DIRECT_CIN   8                   /* 3x3x3 layers with fewer input channels use the direct kernel */
#define MAX_SHAPES   64                  /* distinct cuDNN layer shapes searched per net */
#define MAX_DEVICES  64                  /* devices whose precision probes are remembered */

typedef enum { CV_NONE = 0,
               CV_CUDNN,
               CV_DIRECT,
               CV_GEMM } cuda_kind;

typedef struct {
  cuda_kind                    kind;
  int                          relu;
  size_t                       nout; /* output elements */
  int                          nvox; /* output voxels (GEMM) */
  cudnnTensorDescriptor_t      x, y;
  cudnnFilterDescriptor_t      w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t    algo;
  void                        *wdev; /* weights: T (cout,k,k,k,cin) for cuDNN, T (cout,cin) for GEMM, fp32 (cout,cin,3,3,3) for DIRECT */
  float                       *bdev; /* fp32 biases */
  /* training, 3x3x3 layers (src/nn/impls/cuda/cuda_train.c): the convolution on the
     plain input with cuDNN's zero padding 1, for both backward passes */
  cudnnTensorDescriptor_t         tx, ty;
  cudnnFilterDescriptor_t         tw;
  cudnnConvolutionDescriptor_t    tconv;
  cudnnConvolutionBwdDataAlgo_t   bd_algo;
  cudnnConvolutionBwdFilterAlgo_t bf_algo;
  int                             bd_ok; /* a backward-data algorithm exists (may lack for a layer reading the model input) */
  float                          *wbw;   /* DIRECT: the weights as (cout,k,k,k,cin) for the backward data */
} cuda_layer;

typedef struct {
  int                 device;
  cudaStream_t        stream;
  cudnnHandle_t       cudnn;
  cublasHandle_t      cublas;
  nnk_dtype           dtype;
  cudnnDataType_t     dnn_type;
  cudaDataType_t      blas_type;
  cublasComputeType_t blas_compute;
  cudnnMathType_t     math;
  int                 nlayers;
  cuda_layer         *L;
  void               *ws; /* cuDNN workspace */
  size_t              wssize;
  void               *blasws;
  float              *stage; /* fp32 staging (fp16/bf16 only) */
  size_t              stagen;
  int                 verbose;
  int                 use_find; /* cuDNN algorithms by measurement (else heuristic) */
  size_t              wslimit;  /* bytes of workspace an algorithm may take */
  float              *hw;       /* host scratch: one layer's weights (reordering in setup, params_changed) */
  size_t              maxw;     /* largest layer: weights, output channels, voxels */
  int                 maxcout;
  size_t              maxvox;
  /* training (src/nn/impls/cuda/cuda_train.c) */
  float *dwdev; /* device: one layer's weight and bias gradients (maxw + maxcout) */
  float *ones;  /* device: maxvox ones (the bias gradient as a matrix-vector product) */
  float *hgrad; /* pinned host: the downloaded dwdev */
} cuda_state;

/* Channels-last (N=1, C, D, H, W) descriptor: c fastest, then x, y, z. */
nn_err cuda_ndhwc_desc(cudnnTensorDescriptor_t *t, cudnnDataType_t type, int C, int D, int H, int W);
/* Host fp32 <-> device element type, n elements; synchronises the stream. */
nn_err cuda_to_device(cuda_state *st, void *dst, const float *src, size_t n);
nn_err cuda_from_device(cuda_state *st, float *dst, const void *src, size_t n);
/* Whether a cuDNN result's math type may be used at this precision. */
int cuda_math_ok(nn_precision precision, cudnnMathType_t m);
/* The inference convolution of layer l (the ops table's conv). */
nn_err cuda_conv(nn_net *net, int l, const void *in, const void *in2, void *out, const int dims[3]);

/* src/nn/impls/cuda/cuda_train.c: called by setup (after every layer's forward setup,
   before the workspace is allocated: it raises st->wssize) and teardown. */
nn_err cuda_train_setup(nn_net *net, cuda_state *st);
void   cuda_train_teardown(cuda_state *st);
/* The training members of the ops table. */
nn_err cuda_conv_train(nn_net *net, int l, const void *in, const void *in2, void *out, void *mask, const int dims[3]);
nn_err cuda_conv_backward(nn_net *net, int l, const void *in, const void *dout, void *din, int accumulate, float *dw, float *db, const int dims[3]);
nn_err cuda_relu_backward(nn_net *net, void *d, const void *mask, size_t n);
nn_err cuda_grad_acc(nn_net *net, void *dst, const void *src, size_t n, int accumulate);
nn_err cuda_avgpool2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate);
nn_err cuda_upsample2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate);

#endif
