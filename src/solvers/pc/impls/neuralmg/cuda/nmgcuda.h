/* CUDA versions of the PCNEURALMG kernels (include/deepcd/private/nmgkernels.h)
   on device arrays of the same padded layout: the box's d, cx, cy, cz and w
   and every array argument are device pointers. Each function launches on
   the stream and returns without waiting: cudaErrorInvalidValue (nothing
   launched) when the box fails nmg_box_check (the pair nmg_box_check_pair)
   or an array the kernel needs is NULL, otherwise the launch's status;
   errors of the execution come at the next synchronisation. Not used by the
   PC yet (its cycle runs on the CPU). */
#ifndef DEEPCD_NMGCUDA_H
#define DEEPCD_NMGCUDA_H

#include <cuda_runtime_api.h>
#include <deepcd/private/nmgkernels.h>

#ifdef __cplusplus
extern "C" {
#endif

cudaError_t nmg_cuda_residual(const nmg_box *B, const float *x, const float *b, float *r, cudaStream_t stream);
cudaError_t nmg_cuda_cheb_first(const nmg_box *B, float c, const float *b, float *x, cudaStream_t stream);
cudaError_t nmg_cuda_cheb_step(const nmg_box *B, float c1, float c2, const float *x, const float *b, const float *pin, float *pout, float *xo, cudaStream_t stream);
cudaError_t nmg_cuda_restrict(const nmg_box *F, const float *r, const nmg_box *C, float *bc, cudaStream_t stream);
cudaError_t nmg_cuda_prolong_add(const nmg_box *F, float alpha, float *x, const nmg_box *C, const float *xc, cudaStream_t stream);
cudaError_t nmg_cuda_zero(const nmg_box *B, float *x, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
