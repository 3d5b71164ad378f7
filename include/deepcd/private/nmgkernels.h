/* The per-level kernels of PCNEURALMG on padded single-precision boxes, in
   plain C (no PETSc): the CPU versions (src/solvers/pc/impls/neuralmg/kernels.c),
   which the PC calls, and the CUDA versions of the same kernels on device
   arrays of the same layout (src/solvers/pc/impls/neuralmg/cuda/nmgcuda.h). */
#ifndef DEEPCD_NMGKERNELS_H
#define DEEPCD_NMGKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One level's box: the rank's owned cells padded by one cell on each side,
   x fastest. The layer holds the neighbours' values after a halo exchange and
   zeros outside the domain, so the kernels run without branches. The
   operator is the symmetric 7-point stencil
     (A x)_i = d_i x_i + cx_i x_{i+1} + cx_{i-1} x_{i-1} + (same in y, z),
   cx_i being the coupling of cell i with its +x neighbour; w holds the
   smoother weights (1/d classically). The arrays have npad entries; the
   kernels use the owned cells, and their neighbours in the layer. */
typedef struct {
  int64_t      xs[3], xm[3];         /* owned box: first global cell, cells per direction */
  int64_t      sy, sz;               /* strides of the padded box: xm[0] + 2, (xm[0] + 2)(xm[1] + 2) */
  int64_t      npad;                 /* cells of the padded box: sz (xm[2] + 2) */
  const float *d, *cx, *cy, *cz, *w; /* host arrays (CPU kernels) or device arrays (CUDA kernels) */
} nmg_box;

/* Sets the geometry of B from its owned box (the arrays are left alone). */
void nmg_box_set_geometry(nmg_box *B, const int64_t xs[3], const int64_t xm[3]);

/* 0 when B's geometry is consistent (xm >= 1, xs >= 0, xs + xm < 2^31, the
   strides and npad those of nmg_box_set_geometry); -1 otherwise. */
int nmg_box_check(const nmg_box *B);

/* 0 when coarse C is a coarsening of fine F the transfer kernels can use:
   every child (2c, 2c+1 per direction) of a coarse owned cell lies in F's
   padded box, and the parent (g/2) of every fine owned cell in C's padded
   box; -1 otherwise. */
int nmg_box_check_pair(const nmg_box *F, const nmg_box *C);

/* Bytes moved per cell of the box (per fine cell for the transfers), 4-byte
   values, each array streamed once per kernel: the cost model of NMGCost
   (the PC's -pc_view) and of the GB/s that tests/gpu/test_nmg_cuda prints. */
#define NMG_BYTES_RESIDUAL                     28.0                                                        /* reads d, cx, cy, cz, x, b; writes r */
#define NMG_BYTES_CHEB_FIRST                   12.0                                                        /* reads w, b; writes x */
#define NMG_BYTES_CHEB_STEP(has_pin, has_pout) (32.0 + ((has_pin) ? 4.0 : 0.0) + ((has_pout) ? 4.0 : 0.0)) /* d, cx, cy, cz, w, b, x, xo (+ pin, pout) */
#define NMG_BYTES_RESTRICT                     4.5                                                         /* reads r; writes b_c (1/8 per fine cell) */
#define NMG_BYTES_PROLONG_ADD                  8.5                                                         /* reads and writes x; reads x_c (1/8) */
#define NMG_BYTES_ZERO                         4.0

/* The CPU kernels. They work on the owned box and read the layer; they do
   not check their arguments (the PC's hot path): B must pass nmg_box_check,
   and (F, C) nmg_box_check_pair. An output must not overlap the inputs,
   except that pin and pout of a Chebyshev step may be the same array (the
   direction updated in place, as the PC does). */

/* r = b - A x (x's layer current) */
void nmg_kernel_residual(const nmg_box *B, const float *x, const float *b, float *r);
/* first Chebyshev step from a zero guess: x = c W b (the direction p equals x) */
void nmg_kernel_cheb_first(const nmg_box *B, float c, const float *b, float *x);
/* one Chebyshev step: v = c1 pin + c2 W (b - A x), xo = x + v, pout = v;
   pin NULL: no previous direction (c1 unused); pout NULL: v is not stored */
void nmg_kernel_cheb_step(const nmg_box *B, float c1, float c2, const float *x, const float *b, const float *pin, float *pout, float *xo);
/* b_c = P^T r: each coarse cell sums its (up to) 8 children; a child beyond
   F's owned box is read from the +1 layer of r */
void nmg_kernel_restrict(const nmg_box *F, const float *r, const nmg_box *C, float *bc);
/* x += alpha P x_c: each fine cell adds its parent's value; a parent beyond
   C's owned box is read from the -1 layer of x_c */
void nmg_kernel_prolong_add(const nmg_box *F, float alpha, float *x, const nmg_box *C, const float *xc);
/* x = 0 on the owned box */
void nmg_kernel_zero(const nmg_box *B, float *x);

#ifdef __cplusplus
}
#endif

#endif
