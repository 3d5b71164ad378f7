/* Adam (Kingma & Ba 2015): the one update of the code base (private/adam.h),
   in float32 for the nn library and in double for src/moe and
   examples/mesh-fit, and nn_adam on a flat float32 parameter array.

   The moments are float32 like the parameters, updated element by element in
   a fixed order, so a run is reproducible bit for bit and a checkpoint of
   (params, m, v, t) resumes exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/adam.h>
#include <deepcd/private/nnimpl.h>

nn_err nn_adam_create(size_t n, nn_adam **adam)
{
  nn_adam *a;

  NN_CHECK(adam, NN_ERR_ARG, "nn_adam_create: NULL output");
  *adam = NULL;
  NN_CHECK(n > 0, NN_ERR_ARG, "nn_adam_create: no parameters");
  a = calloc(1, sizeof(*a));
  NN_CHECK(a, NN_ERR_MEM, "nn_adam_create: out of memory");
  a->m = calloc(n, sizeof(float));
  a->v = calloc(n, sizeof(float));
  if (!a->m || !a->v) {
    free(a->m);
    free(a->v);
    free(a);
    return nn_error_set(NN_ERR_MEM, "nn_adam_create: out of memory for %zu moments", n);
  }
  a->n            = n;
  a->beta1        = 0.9;
  a->beta2        = 0.999;
  a->eps          = 1e-8;
  a->weight_decay = 0;
  *adam           = a;
  return NN_SUCCESS;
}

/* The loop of deepcd_adam_update_f32/_f64 (private/adam.h), written once for the element type T;
   UPDATE(lr, mhat, den, wd, p) is the parameter's new value in double. */
#define DEEPCD_ADAM_DEFINE(NAME, T, UPDATE)                                                          \
  void NAME(const deepcd_adam_hparams *h, long t, double lr, size_t n, T *p, T *m, T *v, const T *g) \
  {                                                                                                  \
    const double c1 = 1.0 - pow(h->beta1, (double) t), c2 = 1.0 - pow(h->beta2, (double) t);         \
                                                                                                     \
    for (size_t i = 0; i < n; i++) {                                                                 \
      const double gi = g[i];                                                                        \
                                                                                                     \
      m[i] = (T) (h->beta1 * m[i] + (1.0 - h->beta1) * gi);                                          \
      v[i] = (T) (h->beta2 * v[i] + (1.0 - h->beta2) * gi * gi);                                     \
      p[i] = (T) UPDATE(lr, m[i] / c1, sqrt(v[i] / c2) + h->eps, h->weight_decay, p[i]);             \
    }                                                                                                \
  }

#define ADAM_UPDATE_F32(lr, mhat, den, wd, p) ((p) - (lr) * ((mhat) / (den) + (wd) * (p)))
#define ADAM_UPDATE_F64(lr, mhat, den, wd, p) ((p) - ((lr) * (mhat) / (den) + (lr) * (wd) * (p)))
DEEPCD_ADAM_DEFINE(deepcd_adam_update_f32, float, ADAM_UPDATE_F32)
DEEPCD_ADAM_DEFINE(deepcd_adam_update_f64, double, ADAM_UPDATE_F64)

nn_err nn_adam_step(nn_adam *a, float *params, const float *grad, double lr)
{
  deepcd_adam_hparams h;

  NN_CHECK(a && params && grad, NN_ERR_ARG, "nn_adam_step: NULL argument");
  NN_CHECK(lr >= 0 && isfinite(lr), NN_ERR_ARG, "nn_adam_step: learning rate %g is not a finite non-negative number", lr);
  for (size_t i = 0; i < a->n; i++) NN_CHECK(isfinite(grad[i]), NN_ERR_ARG, "nn_adam_step: gradient entry %zu is not finite", i);
  h.beta1        = a->beta1;
  h.beta2        = a->beta2;
  h.eps          = a->eps;
  h.weight_decay = a->weight_decay;
  deepcd_adam_update_f32(&h, ++a->t, lr, a->n, params, a->m, a->v, grad);
  return NN_SUCCESS;
}

nn_err nn_adam_destroy(nn_adam **adam)
{
  if (!adam || !*adam) return NN_SUCCESS;
  free((*adam)->m);
  free((*adam)->v);
  free(*adam);
  *adam = NULL;
  return NN_SUCCESS;
}
