/* A float64 test oracle for whole networks: forward and backward on the
   nn_ref64_ kernels (the ref backend's own source built for double, see
   ref_kernels.inc), with a graph walk of its own that shares nothing with
   the executor: every tensor, gradient and mask in its own buffer, gradients
   zeroed and always accumulated. The gradient tests check it against finite
   differences in double, and the fp32 executor (both backends) against it. */
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nnimpl.h>

nn_err nn_ref64_net(const nn_model *m, const double *params, const int dims[3], const double *in, double *out, unsigned char *masks, const double *dout, double *din, double *dparams)
{
  const int       levels = m ? nn_model_levels(m) : 0;
  double        **t = NULL, **g = NULL, *pad = NULL, *work = NULL;
  unsigned char **mask = NULL;
  size_t         *size = NULL, maxpad = 0, maxwork = 0;
  nn_err          err = NN_SUCCESS;
  int             ld[16][3];

  NN_CHECK(m && params && dims && in && out, NN_ERR_ARG, "nn_ref64_net: NULL argument");
  NN_CALL(nn_model_validate(m));
  for (int d = 0; d < 3; d++) NN_CHECK(dims[d] > 0 && dims[d] % (1 << levels) == 0, NN_ERR_ARG, "nn_ref64_net: dims must be divisible by %d", 1 << levels);
  for (int l = 0; l <= levels; l++)
    for (int d = 0; d < 3; d++) ld[l][d] = dims[d] >> l;
#define FAIL(code, ...)                      \
  do {                                       \
    err = nn_error_set((code), __VA_ARGS__); \
    goto done;                               \
  } while (0)
  t    = calloc((size_t) m->ntensors, sizeof(*t));
  g    = calloc((size_t) m->ntensors, sizeof(*g));
  size = calloc((size_t) m->ntensors, sizeof(*size));
  mask = calloc((size_t) m->nlayers, sizeof(*mask));
  if (!t || !g || !size || !mask) FAIL(NN_ERR_MEM, "nn_ref64_net: out of memory");
  for (int i = 0; i < m->ntensors; i++) {
    const int *d = ld[m->tensors[i].level];

    size[i] = (size_t) d[0] * d[1] * d[2] * m->tensors[i].channels;
    t[i]    = calloc(size[i], sizeof(double));
    g[i]    = calloc(size[i], sizeof(double));
    if (!t[i] || !g[i]) FAIL(NN_ERR_MEM, "nn_ref64_net: out of memory");
  }
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    const int      *d = ld[m->tensors[L->in].level];

    if (L->op != NN_OP_CONV) continue;
    if ((size_t) (d[0] + 2) * (d[1] + 2) * (d[2] + 2) * L->cin > maxpad) maxpad = (size_t) (d[0] + 2) * (d[1] + 2) * (d[2] + 2) * L->cin;
    if ((size_t) L->cout * L->cin * L->k * L->k * L->k + L->cout > maxwork) maxwork = (size_t) L->cout * L->cin * L->k * L->k * L->k + L->cout;
    if (L->act == NN_ACT_RELU && !(mask[l] = calloc(size[L->out], 1))) FAIL(NN_ERR_MEM, "nn_ref64_net: out of memory");
  }
  pad  = malloc((maxpad ? maxpad : 1) * sizeof(double));
  work = malloc((maxwork ? maxwork : 1) * sizeof(double));
  if (!pad || !work) FAIL(NN_ERR_MEM, "nn_ref64_net: out of memory");

  memcpy(t[m->input], in, size[m->input] * sizeof(double));
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L    = &m->layers[l];
    const double   *s2   = L->in2 >= 0 ? t[L->in2] : NULL;
    const int      *din_ = ld[m->tensors[L->in].level], *dout_ = ld[m->tensors[L->out].level];

    switch (L->op) {
    case NN_OP_CONV:
      if (L->k == 3) {
        nn_ref64_pad(t[L->in], pad, din_, L->cin);
        nn_ref64_conv_mask(L, params + L->weight, params + L->bias, pad, s2, t[L->out], mask[l], dout_);
      } else
        nn_ref64_conv_mask(L, params + L->weight, params + L->bias, t[L->in], s2, t[L->out], mask[l], dout_);
      break;
    case NN_OP_ADD: nn_ref64_add(t[L->in], s2, t[L->out], size[L->out]); break;
    case NN_OP_AVGPOOL2: nn_ref64_avgpool2(t[L->in], t[L->out], din_, L->cin); break;
    case NN_OP_UPSAMPLE2: nn_ref64_upsample2(t[L->in], s2, t[L->out], dout_, L->cout); break;
    }
  }
  memcpy(out, t[m->output], size[m->output] * sizeof(double));
  if (masks)
    for (int l = 0; l < m->nlayers; l++)
      if (mask[l]) {
        memcpy(masks, mask[l], size[m->layers[l].out]);
        masks += size[m->layers[l].out];
      }
  if (!dout) goto done;

  memcpy(g[m->output], dout, size[m->output] * sizeof(double));
  for (int l = m->nlayers - 1; l >= 0; l--) {
    const nn_layer *L    = &m->layers[l];
    const int      *din_ = ld[m->tensors[L->in].level], *dout_ = ld[m->tensors[L->out].level];
    double         *go = g[L->out];

    if (L->in2 >= 0) nn_ref64_grad_acc(g[L->in2], go, size[L->out], 1);
    switch (L->op) {
    case NN_OP_CONV:
      if (mask[l]) nn_ref64_relu_backward(go, mask[l], size[L->out]);
      nn_ref64_conv_backward_data(L, params + L->weight, go, g[L->in], 1, dout_);
      if (dparams) {
        if (L->k == 3) {
          nn_ref64_pad(t[L->in], pad, din_, L->cin);
          nn_ref64_conv_backward_weights(L, pad, go, dparams + L->weight, dparams + L->bias, work, dout_);
        } else
          nn_ref64_conv_backward_weights(L, t[L->in], go, dparams + L->weight, dparams + L->bias, work, dout_);
      }
      break;
    case NN_OP_ADD: nn_ref64_grad_acc(g[L->in], go, size[L->out], 1); break;
    case NN_OP_AVGPOOL2: nn_ref64_avgpool2_backward(go, g[L->in], din_, L->cin, 1); break;
    case NN_OP_UPSAMPLE2: nn_ref64_upsample2_backward(go, g[L->in], dout_, L->cout, 1); break;
    }
  }
  if (din) memcpy(din, g[m->input], size[m->input] * sizeof(double));
#undef FAIL
done:
  for (int i = 0; t && i < m->ntensors; i++) free(t[i]);
  for (int i = 0; g && i < m->ntensors; i++) free(g[i]);
  for (int l = 0; mask && l < m->nlayers; l++) free(mask[l]);
  free(t);
  free(g);
  free(size);
  free(mask);
  free(pad);
  free(work);
  return err;
}
