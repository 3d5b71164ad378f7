/* Adam (Kingma & Ba 2015) on a flat float32 parameter array.

   The moments are float32 like the parameters, updated element by element in
   a fixed order, so a run is reproducible bit for bit and a checkpoint of
   (params, m, v, t) resumes exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
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

nn_err nn_adam_step(nn_adam *a, float *params, const float *grad, double lr)
{
  double c1, c2;

  NN_CHECK(a && params && grad, NN_ERR_ARG, "nn_adam_step: NULL argument");
  NN_CHECK(lr >= 0 && isfinite(lr), NN_ERR_ARG, "nn_adam_step: learning rate %g is not a finite non-negative number", lr);
  for (size_t i = 0; i < a->n; i++) NN_CHECK(isfinite(grad[i]), NN_ERR_ARG, "nn_adam_step: gradient entry %zu is not finite", i);
  a->t++;
  c1 = 1.0 - pow(a->beta1, (double) a->t);
  c2 = 1.0 - pow(a->beta2, (double) a->t);
  for (size_t i = 0; i < a->n; i++) {
    float g = grad[i];

    a->m[i] = (float) (a->beta1 * a->m[i] + (1.0 - a->beta1) * g);
    a->v[i] = (float) (a->beta2 * a->v[i] + (1.0 - a->beta2) * (double) g * g);
    /* decoupled weight decay (AdamW) */
    params[i] = (float) (params[i] - lr * ((a->m[i] / c1) / (sqrt(a->v[i] / c2) + a->eps) + a->weight_decay * params[i]));
  }
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
