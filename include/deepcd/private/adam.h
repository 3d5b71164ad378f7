/* The one Adam update (src/nn/optim/adam.c), shared by the nn library
   (nn_adam_step, float32), the MoE trainer (src/moe, double) and
   examples/mesh-fit (double). Plain C, no PETSc. */
#ifndef DEEPCD_ADAM_H
#define DEEPCD_ADAM_H

#include <stddef.h>

#if defined(__GNUC__)
#define DEEPCD_ADAM_INTERN __attribute__((visibility("hidden")))
#else
#define DEEPCD_ADAM_INTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The settings of Adam with decoupled weight decay (AdamW when weight_decay > 0). */
typedef struct {
  double beta1, beta2, eps, weight_decay;
} deepcd_adam_hparams;

/* Step t >= 1 (the caller counts) on n entries: with c1 = 1 - beta1^t and c2 = 1 - beta2^t,
     m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2,
     p = p - lr (m / c1) / (sqrt(v / c2) + eps) - lr weight_decay p,
   element by element in a fixed order, in double. The float32 variant rounds m, v and p to
   float and evaluates p - lr ((m / c1) / (sqrt(v / c2) + eps) + weight_decay p); the double
   variant evaluates p - (lr (m / c1) / (sqrt(v / c2) + eps) + lr weight_decay p). These
   associations are the ones each user had before the code was shared, so that their results
   stay bit for bit the same. No checks: the caller refuses non-finite input. */
DEEPCD_ADAM_INTERN void deepcd_adam_update_f32(const deepcd_adam_hparams *h, long t, double lr, size_t n, float *p, float *m, float *v, const float *g);
DEEPCD_ADAM_INTERN void deepcd_adam_update_f64(const deepcd_adam_hparams *h, long t, double lr, size_t n, double *p, double *m, double *v, const double *g);

#ifdef __cplusplus
}
#endif
#endif
