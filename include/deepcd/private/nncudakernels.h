/* Elementwise CUDA kernels of the "cuda" nn backend (src/nn/impls/cuda/kernels.cu),
   callable from C. Tensors are channels-last (z, y, x, c) with c fastest,
   stored in one element type (nnk_dtype); arithmetic is fp32. Each function
   launches on `stream` and returns the launch status (cudaSuccess, or the
   error of the launch; errors of the kernel itself show at the next
   synchronisation). Dims are int; element counts size_t. */
#ifndef DEEPCD_NN_KERNELS_CUDA_H
#define DEEPCD_NN_KERNELS_CUDA_H

#include <stddef.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NNK_F32  = 0,
               NNK_F16  = 1,
               NNK_BF16 = 2 } nnk_dtype;

/* Bytes of one element. */
size_t nnk_size(nnk_dtype t);

/* padded ((D+2)(H+2)(W+2)C) <- in (D H W C), zero border. */
cudaError_t nnk_pad(nnk_dtype t, const void *in, void *padded, int D, int H, int W, int C, cudaStream_t stream);

/* out = a + b, n elements. */
cudaError_t nnk_add(nnk_dtype t, const void *a, const void *b, void *out, size_t n, cudaStream_t stream);

/* out (D/2 H/2 W/2 C) = 2x2x2 average of in (D H W C); D, H, W: dims of in. */
cudaError_t nnk_avgpool2(nnk_dtype t, const void *in, void *out, int D, int H, int W, int C, cudaStream_t stream);

/* out (D H W C) = nearest upsampling of in (D/2 H/2 W/2 C) [+ skip (D H W C)];
   D, H, W: dims of out; skip may be NULL. */
cudaError_t nnk_upsample2(nnk_dtype t, const void *in, const void *skip, void *out, int D, int H, int W, int C, cudaStream_t stream);

/* The convolution epilogue, in place on y (n elements, C channels):
   y = act(y + bias[c]) [+ in2]; relu: 0 or 1; in2 may be NULL. */
cudaError_t nnk_epilogue(nnk_dtype t, void *y, const float *bias, const void *in2, size_t n, int C, int relu, cudaStream_t stream);

/* A direct 3x3x3 convolution for few input channels (the 1 -> 16 lift),
   fused with the epilogue: out (D H W cout) = act(conv(padded) + b) [+ in2].
   padded: ((D+2)(H+2)(W+2) cin); w: fp32 (cout, cin, 3, 3, 3); b: fp32 cout. */
cudaError_t nnk_conv3_direct(nnk_dtype t, const void *padded, const float *w, const float *b, const void *in2, void *out, int D, int H, int W, int cin, int cout, int relu, cudaStream_t stream);

/* dst (type td) = src (type ts), n elements, rounding to nearest even. */
cudaError_t nnk_convert(nnk_dtype td, void *dst, nnk_dtype ts, const void *src, size_t n, cudaStream_t stream);

/* ---- backward (training; fp32 tensors) ---- */

/* y (n elements): mask[i] = y[i] > 0 (when mask is not NULL), then y += in2
   (when in2 is not NULL): the ReLU mask of a convolution's output, and its
   residual added after it. */
cudaError_t nnk_mask_add(float *y, const float *in2, unsigned char *mask, size_t n, cudaStream_t stream);

/* d = 0 where mask is 0, n elements, in place. */
cudaError_t nnk_relu_backward(float *d, const unsigned char *mask, size_t n, cudaStream_t stream);

/* dst = src (accumulate 0) or dst += src, n elements. */
cudaError_t nnk_grad_acc(float *dst, const float *src, size_t n, int accumulate, cudaStream_t stream);

/* x = v, n elements. */
cudaError_t nnk_fill(float *x, float v, size_t n, cudaStream_t stream);

/* din (D H W C) (+)= dout (D/2 H/2 W/2 C) / 8; D, H, W: dims of din. */
cudaError_t nnk_avgpool2_backward(const float *dout, float *din, int D, int H, int W, int C, int accumulate, cudaStream_t stream);

/* din (D/2 H/2 W/2 C) (+)= sum of dout (D H W C) over the 8 children; D, H, W: dims of dout. */
cudaError_t nnk_upsample2_backward(const float *dout, float *din, int D, int H, int W, int C, int accumulate, cudaStream_t stream);

/* The device-pointer path (nn_net_forward_device), 1-channel tensors:
   dst (PD PH PW, type t) = (float) (scale * src) (D H W doubles) at the
   origin, zero elsewhere (PD >= D, PH >= H, PW >= W). */
cudaError_t nnk_import_f64(nnk_dtype t, void *dst, const double *src, double scale, int D, int H, int W, int PD, int PH, int PW, cudaStream_t stream);

/* dst (D H W doubles) = src (PD PH PW, type t) cropped at the origin, 0.0
   where mask (D H W bytes; may be NULL) is non-zero. */
cudaError_t nnk_export_f64(nnk_dtype t, double *dst, const void *src, const unsigned char *mask, int D, int H, int W, int PD, int PH, int PW, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
